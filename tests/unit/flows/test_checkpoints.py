"""Named flows' checkpoints: a reopen resumes each flow from its last checkpoint (input
offsets, open windows, late counts) instead of replaying its input's history, and its output
equals a run that was never interrupted; a checkpoint its streams no longer back is ignored
(the flow replays)."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pyarrow as pa
import pytest

import rillet
from rillet.flows.checkpoint import Checkpoint
from tests.unit.support import wait_until

BASE_US = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
SCHEMA = "ts TIMESTAMP NOT NULL, host STRING, zone INT, v DOUBLE, n BIGINT"
METRICS = (
    "count(*) AS c, count(zone) AS cz, sum(n) AS sn, sum(v) AS sv, avg(v) AS av, "
    "min(v) AS lo, max(n) AS hi, first(host) AS f, last(v) AS l, "
    "approx_quantile(v, 0.5) AS p50, approx_count_distinct(n) AS d, top_k(host, 2) AS top, "
    "min(host) AS least_host"
)
WINDOWS = {
    "tumble": "TUMBLE(ts, INTERVAL '1' MINUTE)",
    "hop": "HOP(ts, INTERVAL '20' SECOND, INTERVAL '1' MINUTE)",
    "session": "SESSION(ts, INTERVAL '30' SECOND)",
}


def records(first: int, count: int) -> pa.Table:
    """Records ``first`` .. ``first + count - 1``: every 3 s, one in 40 five minutes late, some
    hosts and zones NULL (NULL keys), runs of 300 in one zone (wider than a sketch's k)."""
    offsets = range(first, first + count)
    times = [BASE_US + i * 3_000_000 - (300_000_000 if i % 40 == 39 else 0) for i in offsets]
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "host": [None if i % 17 == 0 else f"h{i % 5}" for i in offsets],
            "zone": [None if i % 23 == 0 else (i // 300) % 3 for i in offsets],
            "v": [float((i * 7919) % 1000) / 4 for i in offsets],  # sums exact in any order
            "n": [i % 50 for i in offsets],
        }
    )


def _query(window: str, keys: str = "host, zone") -> str:
    return (
        f"CREATE STREAM r WITH (sketches = 'value') AS SELECT {keys}, window_start, "
        f"window_end, {METRICS} FROM ev GROUP BY {keys}, {WINDOWS[window]}"
    )


def _caught_up(db: rillet.Database) -> None:
    """Wait until the named flows have read every record appended (close checkpoints
    what they have read)."""
    for stream in db.streams():
        stream.flush()
    assert wait_until(lambda: all(f.lag == 0 for f in db._named.flows().values()), 30)


def _kept(db: rillet.Database) -> int:
    """The input offset of the checkpoint of ``r`` (-1: none)."""
    parts = db._catalog.checkpoint("r")
    return int(json.loads(parts["meta"])["offsets"]["ev"]) if parts else -1


def _open(folder: Path | None, interval: float = 10.0) -> rillet.Database:
    return rillet.connect(folder, checkpoint_interval=interval) if folder else rillet.connect()


def _filled(folder: Path, query: str, count: int) -> None:
    """A database in ``folder`` with the stream ``ev`` of ``count`` records, read by the
    named flow ``query``, closed once the flow read them all (checkpointed there)."""
    with _open(folder) as db:
        db.create_stream("ev", SCHEMA, time_column="ts")
        db.execute(query)
        db.stream("ev").append_many(records(0, count))
        _caught_up(db)


def _rows(db: rillet.Database, name: str, count: int) -> pa.Table:
    assert wait_until(lambda: len(db.stream(name)) >= count, 30), len(db.stream(name))
    table = pa.Table.from_batches(list(db.stream(name).stored()))
    return table.sort_by("_offset").drop_columns(["_offset"])


def _reference(query: str, total: int) -> tuple[pa.Table, int]:
    """The output of an uninterrupted run over records 0 .. total - 1, and its late count."""
    with rillet.connect() as db:
        db.create_stream("ev", SCHEMA, time_column="ts")
        db.execute(query)
        db.stream("ev").append_many(records(0, total))
        db.stream("ev").flush()
        flow = db._named.flows()["r"]
        assert wait_until(lambda: flow.lag == 0 and db._named.replayed(), 30)
        time.sleep(0.2)
        rows = _rows(db, "r", 1)
        late = len(db.stream("r.late")) if "r.late" in {s.name for s in db.streams()} else 0
        return rows, late


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_a_reopen_resumes_from_the_checkpoint_and_equals_an_uninterrupted_run(
    tmp_path: Path, window: str
) -> None:
    query = _query(window)
    expected, late = _reference(query, 3000)
    folder = tmp_path / "data"
    db = _open(folder)
    db.create_stream("ev", SCHEMA, time_column="ts")
    db.execute(query)
    for first in range(0, 3000, 250):
        if first in (1000, 2250):  # closed between batches: checkpointed there
            _caught_up(db)
            db.close()
            db = _open(folder)
            flow = db._named.flows()["r"]
            assert flow.start_offsets == {"ev": first}  # no replay of the history
        db.stream("ev").append_many(records(first, 250))
    db.stream("ev").flush()
    assert wait_until(lambda: db._named.flows()["r"].lag == 0, 30)
    time.sleep(0.2)
    got = _rows(db, "r", expected.num_rows)
    assert got.equals(expected)
    assert len(db.stream("r.late")) == late > 0
    assert db._named.flows()["r"].late_events == late
    db.close()


def test_group_keys_keep_their_numbers_and_rounds_their_order(tmp_path: Path) -> None:
    """An integer key with NULLs among new values: a restored run numbers the keys as the
    run it continues did, so a round's rows come in the same order."""
    query = _query("tumble", keys="zone")
    expected, _ = _reference(query, 2400)
    folder = tmp_path / "data"
    db = _open(folder)
    db.create_stream("ev", SCHEMA, time_column="ts")
    db.execute(query)
    db.stream("ev").append_many(records(0, 1200))
    _caught_up(db)
    db.close()
    with _open(folder) as db:
        db.stream("ev").append_many(records(1200, 1200))
        db.stream("ev").flush()
        assert _rows(db, "r", expected.num_rows).equals(expected)


def test_checkpoints_are_taken_while_it_runs(tmp_path: Path) -> None:
    """After batches, and once the input went quiet (the last batches' checkpoint falls
    due with no batch after it): the checkpoint accounts for every row stored."""
    folder = tmp_path / "data"
    with _open(folder, interval=0.001) as db:
        db.create_stream("ev", SCHEMA, time_column="ts")
        db.execute(_query("tumble"))
        for first in range(0, 1000, 100):
            db.stream("ev").append_many(records(first, 100))
        db.stream("ev").flush()
        assert wait_until(lambda: _kept(db) == 1000, 30), _kept(db)
        checkpoint = Checkpoint.decode(db._catalog.checkpoint("r"))
        assert checkpoint is not None
        assert {"keys", "state"} <= set(checkpoint.tables["windows"])
        assert checkpoint.output == len(db.stream("r"))
        assert checkpoint.late == len(db.stream("r.late")) == checkpoint.late_events


def _broken(folder: Path, change: dict[str, object]) -> None:
    """Make the stored checkpoint of ``r`` claim what its streams do not hold."""
    with _open(folder) as db:
        parts = db._catalog.checkpoint("r")
        meta = {**json.loads(parts["meta"]), **change}
        if meta.pop("tables", None):  # every table's bytes damaged
            parts = {name: b"\x00" * 9 for name in parts}
        # kept after close's own checkpoint: the flows stop first, and are forgotten
        db._flows.cancel_all()
        db._catalog.set_checkpoint("r", {**parts, "meta": json.dumps(meta).encode()})
        db._named._flows.clear()
        db._named._sinks.clear()


@pytest.mark.parametrize(
    "change",
    [
        {"offsets": {"ev": 10**9}},
        {"output": 10**9},
        {"late": 10**9},
        {"version": 0},
        {"offsets": {"other": 0}},
        {"operators": {}},
        {"late_events": "many"},
        {"tables": True},
    ],
    ids=["input", "output", "late", "version", "inputs", "operators", "meta", "tables"],
)
def test_a_checkpoint_its_streams_do_not_back_is_ignored(
    tmp_path: Path, change: dict[str, object]
) -> None:
    query = _query("tumble")
    expected, _ = _reference(query, 1500)
    folder = tmp_path / "data"
    _filled(folder, query, 1000)
    _broken(folder, change)
    with _open(folder) as db:
        assert db._named.flows()["r"].start_offsets == {}  # replayed from the start
        db.stream("ev").append_many(records(1000, 500))
        db.stream("ev").flush()
        assert _rows(db, "r", expected.num_rows).equals(expected)


def test_drop_and_refresh_forget_the_checkpoint(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    _filled(folder, _query("tumble"), 1000)
    with _open(folder) as db:
        assert db._catalog.checkpoint("r")
        db.execute("REFRESH STREAM r")
        assert db._catalog.checkpoint("r") == {}
        db.execute("DROP STREAM r")
    with _open(folder) as db:
        assert db._catalog.checkpoint("r") == {}
        db.execute(_query("tumble"))  # the same name again starts from nothing
        assert db._named.flows()["r"].start_offsets == {}


def test_a_flow_without_windows_resumes_by_its_checkpoint(tmp_path: Path) -> None:
    query = "CREATE STREAM r AS SELECT host, v * 2 AS w FROM ev WHERE v > 50"
    folder = tmp_path / "data"
    _filled(folder, query, 600)
    with _open(folder) as db:
        assert db._named.flows()["r"].start_offsets == {"ev": 600}
        db.stream("ev").append_many(records(600, 600))
        db.stream("ev").flush()
        source = records(0, 1200)
        expected = [
            (h, v * 2)
            for h, v in zip(source["host"].to_pylist(), source["v"].to_pylist(), strict=True)
            if v > 50
        ]
        got = _rows(db, "r", len(expected))
        assert list(zip(got["host"].to_pylist(), got["w"].to_pylist(), strict=True)) == expected


JOINS = {
    "integer key": (
        "CREATE STREAM r AS SELECT ev.host, ev.v, zones.name FROM ev JOIN zones "
        "ON ev.zone = zones.zone OVER RANGE INTERVAL 10 SECONDS PRECEDING"
    ),
    "text key, then windows": (
        "CREATE STREAM r AS SELECT ev.host, count(*) AS c, sum(ev.v) AS total, "
        "max(zones.name) AS top FROM ev JOIN zones ON ev.host = zones.host "
        "OVER RANGE INTERVAL 10 SECONDS PRECEDING GROUP BY ev.host, "
        "TUMBLE(ev.ts, INTERVAL '1' MINUTE)"
    ),
}
ZONES = "ts TIMESTAMP NOT NULL, zone INT, host STRING, name STRING"


def _zones(first: int, count: int) -> pa.Table:
    """The other side: every 5 s, zones 0-2 and hosts h0-h4 (some NULL) by turns."""
    offsets = range(first, first + count)
    return pa.table(
        {
            "ts": pa.array(
                [BASE_US + i * 5_000_000 for i in offsets], pa.timestamp("us", tz="UTC")
            ),
            "zone": [i % 3 for i in offsets],
            "host": [None if i % 11 == 0 else f"h{i % 5}" for i in offsets],
            "name": [f"z{i % 7}" for i in offsets],
        }
    )


def _joined(db: rillet.Database, cut: int | None, folder: Path | None) -> pa.Table:
    """Feed both sides by turns (the database closed and reopened at ``cut``); the
    output's rows, sorted (a join's pairs come in the order its two inputs interleave)."""
    for step in range(12):
        if step == cut:
            _caught_up(db)
            db.close()
            db = _open(folder)
            flow = db._named.flows()["r"]
            assert flow.start_offsets == {"ev": step * 150, "zones": step * 90}
        db.stream("ev").append_many(records(step * 150, 150))
        _caught_up(db)
        db.stream("zones").append_many(_zones(step * 90, 90))
        _caught_up(db)
    time.sleep(0.2)
    table = pa.Table.from_batches(list(db.stream("r").stored())).drop_columns(["_offset"])
    db.close()
    return table.sort_by([(n, "ascending") for n in table.column_names])


@pytest.mark.parametrize("query", sorted(JOINS))
def test_a_join_resumes_from_its_checkpoint(tmp_path: Path, query: str) -> None:
    def fresh(folder: Path | None) -> rillet.Database:
        db = _open(folder)
        db.create_stream("ev", SCHEMA, time_column="ts")
        db.create_stream("zones", ZONES, time_column="ts")
        db.execute(JOINS[query])
        return db

    expected = _joined(fresh(None), None, None)
    assert expected.num_rows > 0
    folder = tmp_path / "data"
    got = _joined(fresh(folder), 6, folder)
    assert got.equals(expected)


ROLLING = (
    "CREATE STREAM r AS SELECT host, count(*) AS c, sum(n) AS total, max(v) AS top, "
    "approx_quantile(v, 0.5) AS p50 FROM ev GROUP BY host "
    "OVER RANGE INTERVAL 1 MINUTES PRECEDING"
)


def test_a_rolling_window_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    expected, _ = _reference(ROLLING, 2000)
    folder = tmp_path / "data"
    _filled(folder, ROLLING, 900)
    with _open(folder) as db:
        assert db._named.flows()["r"].start_offsets == {"ev": 900}
        db.stream("ev").append_many(records(900, 1100))
        _caught_up(db)
        time.sleep(0.2)
        assert _rows(db, "r", expected.num_rows).equals(expected)


def test_a_join_whose_other_side_is_empty_still_resumes_from_its_checkpoint(
    tmp_path: Path,
) -> None:
    """A side that has read nothing is at its start offset: the checkpoint is taken all
    the same, and the join goes on from it as an uninterrupted one does."""

    def run(folder: Path | None) -> pa.Table:
        db = _open(folder)
        db.create_stream("ev", SCHEMA, time_column="ts")
        db.create_stream("zones", ZONES, time_column="ts")
        db.execute(JOINS["integer key"])
        db.stream("ev").append_many(records(0, 300))
        _caught_up(db)
        if folder is not None:
            db.close()
            db = _open(folder)
            assert db._named.flows()["r"].start_offsets == {"ev": 300, "zones": 0}
        db.stream("zones").append_many(_zones(170, 10))  # within 10 s after ev's last ones
        _caught_up(db)
        time.sleep(0.2)
        table = pa.Table.from_batches(list(db.stream("r").stored())).drop_columns(["_offset"])
        db.close()
        return table.sort_by([(n, "ascending") for n in table.column_names])

    expected = run(None)
    assert expected.num_rows > 0
    assert run(tmp_path / "data").equals(expected)


def test_a_self_join_keeps_no_checkpoint_and_replays(tmp_path: Path) -> None:
    """Its two sides read one stream at two offsets: a checkpoint, which keeps an offset a
    stream, cannot tell them apart."""
    query = (
        "CREATE STREAM r AS SELECT a.host, b.v FROM ev a JOIN ev b ON a.zone = b.zone "
        "OVER RANGE INTERVAL 6 SECONDS PRECEDING"
    )
    folder = tmp_path / "data"
    _filled(folder, query, 300)
    with _open(folder) as db:
        assert db._catalog.checkpoint("r") == {}
        assert db._named.flows()["r"].start_offsets == {}
        before = len(db.stream("r"))
        assert before > 0
        _caught_up(db)
        time.sleep(0.2)
        assert len(db.stream("r")) == before  # the replay added nothing twice


def test_a_flow_resumed_with_nothing_to_make_again_is_stored_at_once(tmp_path: Path) -> None:
    """Reopened from its checkpoint with no row stored after it, a roll-up has nothing to
    make again: it counts as replayed, and goes on checkpointing."""
    folder = tmp_path / "data"
    _filled(folder, _query("tumble"), 1000)
    with _open(folder, interval=0.001) as db:
        assert db._named.flows()["r"].start_offsets == {"ev": 1000}
        assert db._named.replayed()
        db.stream("ev").append_many(records(1000, 10))
        _caught_up(db)
        assert wait_until(lambda: _kept(db) == 1010, 30), _kept(db)
