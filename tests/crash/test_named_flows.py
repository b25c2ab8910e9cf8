"""Named flows survive SIGKILL: a process running a roll-up and a roll-up of it is killed at
random moments, reopened and killed again; the outputs then equal an uninterrupted run over
the same input (and the roll-up equals DuckDB's GROUP BY over it)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

import rillet
from tests.crash.named_writer import setup
from tests.unit.support import wait_until

pytestmark = pytest.mark.crash

WRITER = Path(__file__).with_name("named_writer.py")


def _run_and_kill(folder: Path, rng: random.Random, interval: float) -> None:
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(folder), str(interval)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.8))  # a random moment to kill at, not a wait for work
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def _table(db: rillet.Database, name: str) -> pa.Table:
    stream = db.stream(name)
    stream.flush()
    table = pa.Table.from_batches(list(stream.stored()))
    return table.sort_by(table.schema.names[-1]).drop_columns([table.schema.names[-1]])


def _settled(db: rillet.Database, names: list[str], counts: dict[str, int]) -> bool:
    return all(len(db.stream(n)) == counts[n] for n in names)


# 10 s: none is taken before the kill, each reopen replays the history; 0.02 s: the flows
# resume from checkpoints taken at random moments among the appends
@pytest.mark.parametrize("interval", [10.0, 0.02], ids=["replayed", "checkpointed"])
def test_sigkilled_named_flows_equal_an_uninterrupted_run(tmp_path: Path, interval: float) -> None:
    rng = random.Random(int(os.environ.get("RILLET_CRASH_SEED", "14")))
    folder = tmp_path / "data"
    for _ in range(4):
        _run_and_kill(folder, rng, interval)
    with rillet.connect(folder) as db:
        if interval < 1:  # resumed from a checkpoint, not from the start
            assert all(db._named.flows()[n].start_offsets for n in ("m", "h"))
        events = _table(db, "ev").select(["ts", "host", "v"])
        assert events.num_rows > 0
        # the reference: the same input, appended at once into a fresh database
        with rillet.connect() as reference:
            setup(reference).append_many(events)
            expected_m = _duck(
                "SELECT count(*) FROM (SELECT host, time_bucket(INTERVAL 1 MINUTE, ts) AS w "
                "FROM events GROUP BY ALL) WHERE w + INTERVAL 1 MINUTE <= "
                "(SELECT max(ts) FROM events)",
                events=events,
            ).fetchall()[0]
            assert wait_until(lambda: len(reference.stream("m")) == expected_m[0], 30)
            # h's hours close when a minute of a later hour comes out of m
            minutes = reference.sql("SELECT host, window_start FROM m").arrow()
            expected_h = _duck(
                "SELECT count(*) FROM (SELECT host, time_bucket(INTERVAL 1 HOUR, window_start) "
                "AS w FROM minutes GROUP BY ALL) WHERE w + INTERVAL 1 HOUR <= "
                "(SELECT max(window_start) FROM minutes)",
                minutes=minutes,
            ).fetchall()[0]
            assert wait_until(lambda: len(reference.stream("h")) == expected_h[0], 30)
            counts = {n: len(reference.stream(n)) for n in ("m", "h", "m.late")}
            assert counts["h"] > 0 and counts["m.late"] > 0
            assert wait_until(lambda: _settled(db, ["m", "h", "m.late"], counts), 30), {
                n: len(db.stream(n)) for n in ("m", "h", "m.late")
            }
            for name in ("m", "h", "m.late"):
                assert _table(db, name).equals(_table(reference, name)), name
        # the roll-up against DuckDB over the input, without the late records
        m = _table(db, "m")
        late = db.sql('SELECT count(*) FROM "m.late"').fetchone()
        assert late is not None
        assert sum(m.column("n").to_pylist()) + late[0] <= events.num_rows


def _duck(query: str, **tables: pa.Table) -> duckdb.DuckDBPyRelation:
    """A DuckDB query over the Arrow ``tables``, by their names."""
    connection = duckdb.connect()
    for name, table in tables.items():
        connection.register(name, table)
    relation = connection.sql(query)
    assert relation is not None
    return relation


CHURN = Path(__file__).with_name("churn_writer.py")


def test_a_kill_while_named_flows_are_made_and_dropped_leaves_each_whole(tmp_path: Path) -> None:
    """SIGKILL at random moments of CREATE, append, DROP, DROP: after each reopen a named
    flow is there with its definition and its ``<name>.late``, or none of them is (a kill
    between DROP's steps left ``m.late`` alone, and the name could not be made again)."""
    rng = random.Random(int(os.environ.get("RILLET_CRASH_SEED", "14")))
    folder = tmp_path / "data"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    for _ in range(8):
        process = subprocess.Popen(
            [sys.executable, str(CHURN), str(folder)], stdout=subprocess.PIPE, text=True, env=env
        )
        try:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            process.send_signal(signal.SIGKILL)
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        with rillet.connect(folder) as db:
            streams = {s.name for s in db.streams()}
            flows = {f.name: f.state for f in db.flows()}
            assert set(flows.values()) <= {"running"}, flows
            expected = {"ev"} | {n for f in flows for n in (f, f"{f}.late")}
            assert streams == expected, (streams, flows)
            assert "h" not in flows or "m" in flows
