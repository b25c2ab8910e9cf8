"""Named flows: a roll-up's backfill over stored history, live roll-ups, a restart.

Records: ``ts`` (in order, ``RATE`` a second of event time), five dimensions (``host`` of
1,000, ``dc``, ``app``, ``os``, ``ver``) and a ``latency``.  ``RILLET_BENCH_NAMED_ROWS``
sets how many (default 10,000,000, the issue's figure: 30 s and 2.3 GB here; the live
roll-ups take the first 1,000,000).

- Backfill: ``CREATE STREAM r AS SELECT host, dc, app, os, ver, window_start, COUNT(*),
  SUM(latency), MAX(latency), DISTRIBUTION(latency) ... GROUP BY ..., TUMBLE(ts, INTERVAL
  '1' MINUTE)`` over the records stored in sealed Parquet files: records/s until its last
  closed window is stored (the median of three, after a warm-up; the roll-up is dropped
  after each), beside DuckDB's GROUP BY over the same Parquet files (alike; counts
  compared).
- Live: ``append_many`` of 10,000-record batches into a stream feeding a 1-minute and a
  1-hour roll-up, until both have stored their closed windows, as a share of the same
  appends into a bare stream (the median of three, taking turns); beside DuckDB's GROUP BY
  of both roll-ups over the same records in memory, and its rate as a share of bare ingest
  (how far any engine's roll-ups get on this machine).
- Restart: a folder with 10 named flows (over 100,000 and 1,000,000 records) closed,
  reopened: the time until every flow runs and has caught up from its checkpoint, beside
  the same reopen without checkpoints (every flow replays its input's history).

Run only these: ``python bench/named_flows.py``.
"""

from __future__ import annotations

import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

import rillet  # noqa: E402
from bench.figures import Target, figure, input_set_aside, peer, section  # noqa: E402

ROWS = int(os.environ.get("RILLET_BENCH_NAMED_ROWS", "10000000"))
RUNS = 3  # backfills timed (after one warm-up), the median printed; DuckDB's alike
RATE = 2_000  # records a second of event time
START_US = 1_700_000_000_000_000
BATCH = 10_000
SCHEMA = (
    "ts TIMESTAMP NOT NULL, host STRING, dc STRING, app STRING, os STRING, ver STRING, "
    "latency DOUBLE"
)
DIMENSIONS = "host, dc, app, os, ver"
ROLLUP = (
    "CREATE STREAM {name} AS SELECT {dims}, window_start, count(*) AS n, sum(latency) AS total, "
    "max(latency) AS top, distribution(latency) AS latencies FROM {source} "
    "GROUP BY {dims}, TUMBLE(ts, INTERVAL '1' {unit})"
)


def records(count: int, seed: int = 14) -> pa.Table:
    rng = np.random.default_rng(seed)
    times = START_US + np.arange(count, dtype=np.int64) * (1_000_000 // RATE)
    host = rng.integers(0, 1_000, count)
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "host": pa.array(np.char.add("h", host.astype(str))),
            "dc": pa.array(np.char.add("dc", (host % 4).astype(str))),
            "app": pa.array(np.char.add("a", (host % 7).astype(str))),
            "os": pa.array(np.char.add("o", (host % 2).astype(str))),
            "ver": pa.array(np.char.add("v", (host % 3).astype(str))),
            "latency": pa.array(rng.lognormal(3.0, 0.5, count)),
        }
    )


def _closed(table: pa.Table, seconds: int) -> int:
    """How many (dimensions, window) rows of ``seconds``-long windows are closed."""
    last = table.column("ts")[-1].value
    size = seconds * 1_000_000
    con = duckdb.connect()
    con.register("t", table)
    row = con.sql(
        f"SELECT count(*) FROM (SELECT {DIMENSIONS}, epoch_us(ts) // {size} AS w FROM t "
        f"GROUP BY ALL) WHERE (w + 1) * {size} <= {last}"
    ).fetchall()[0]
    return int(row[0])


def _wait(db: rillet.Database, targets: dict[str, int], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while any(len(db.stream(n)) < c for n, c in targets.items()):
        if time.monotonic() > deadline:
            raise TimeoutError({n: len(db.stream(n)) for n in targets})
        time.sleep(0.002)


def backfill(table: pa.Table, folder: Path) -> None:
    with rillet.connect(folder) as db:
        stream = db.create_stream("ev", SCHEMA, time_column="ts", partition="1h")
        for start in range(0, table.num_rows, 1_000_000):
            stream.append_many(table.slice(start, 1_000_000))
        stream.seal(everything=True)
        files = [p.parquet_path for p in stream.partitions() if p.parquet_path is not None]
        expected = _closed(table, 60)
        paths = ", ".join(f"'{p}'" for p in files)
        duck_query = (
            f"SELECT {DIMENSIONS}, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*), "
            f"sum(latency), max(latency) FROM read_parquet([{paths}]) GROUP BY ALL"
        )
        mine: list[float] = []
        theirs: list[float] = []
        stored = 0
        for run in range(1 + RUNS):  # the first of each is a warm-up, not counted
            began = time.perf_counter()
            db.execute(ROLLUP.format(name="r", dims=DIMENSIONS, source="ev", unit="MINUTE"))
            _wait(db, {"r": expected})
            took = time.perf_counter() - began
            stored = db.sql("SELECT sum(n) FROM r").fetchall()[0][0]
            db.execute("DROP STREAM r")
            began = time.perf_counter()
            groups = duckdb.connect().execute(duck_query).fetchall()
            their = time.perf_counter() - began
            if run:
                mine.append(took)
                theirs.append(their)
        rate = table.num_rows / statistics.median(mine)
        figure(
            f"backfill of a 1-minute roll-up over {table.num_rows:,} stored records "
            f"(median of {RUNS})",
            rate,
            "records/s",
            Target(10_000_000, True, "records/s"),
        )
        duck = table.num_rows / statistics.median(theirs)
        peer("DuckDB GROUP BY over the same Parquet files", duck, "records/s", rate / duck)
        print(f"  rows: roll-up {expected:,} closed windows holding {stored:,} records; "
              f"DuckDB {len(groups):,} groups (the last minute's open in the roll-up)")  # fmt: skip


def live(table: pa.Table) -> None:
    def run(rollups: bool) -> float:
        with rillet.connect() as db:
            stream = db.create_stream("ev", SCHEMA, time_column="ts")
            targets: dict[str, int] = {}
            if rollups:
                for name, unit, seconds in (("m1", "MINUTE", 60), ("h1", "HOUR", 3600)):
                    db.execute(ROLLUP.format(name=name, dims=DIMENSIONS, source="ev", unit=unit))
                    targets[name] = _closed(table, seconds)
            began = time.perf_counter()
            for start in range(0, table.num_rows, BATCH):
                stream.append_many(table.slice(start, BATCH))
            _wait(db, targets)
            return time.perf_counter() - began

    con = duckdb.connect()
    con.register("t", table)

    def duck() -> float:
        began = time.perf_counter()
        for unit in ("MINUTE", "HOUR"):
            con.sql(
                f"SELECT {DIMENSIONS}, time_bucket(INTERVAL 1 {unit}, ts), count(*), "
                "sum(latency), max(latency) FROM t GROUP BY ALL"
            ).fetchall()
        return time.perf_counter() - began

    runs: dict[str, list[float]] = {"bare": [], "fed": [], "duck": []}
    for _ in range(RUNS):  # taking turns: a drift in the machine's speed touches each alike
        runs["bare"].append(run(False))
        runs["fed"].append(run(True))
        runs["duck"].append(duck())
    bare, fed, peer_rate = (table.num_rows / statistics.median(runs[k]) for k in runs)
    figure(
        f"live append_many feeding a 1-minute and a 1-hour roll-up (median of {RUNS})",
        fed,
        "records/s",
        Target(70, True, "% of bare ingest"),
        judged=fed / bare * 100,
    )
    print(f"  bare ingest {bare:,.0f} records/s; share {fed / bare * 100:.0f} %")
    peer(
        "DuckDB GROUP BY of both roll-ups over the same records in memory "
        "(COUNT/SUM/MAX, no DISTRIBUTION)",
        peer_rate,
        "records/s",
        fed / peer_rate,
    )
    print(f"  DuckDB's rate as a share of bare ingest: {peer_rate / bare * 100:.0f} %")


def restart(folder: Path, count: int) -> None:
    """10 named flows over ``count`` records, closed and reopened: the time until every flow
    runs and has caught up, from its checkpoint; then the same without the checkpoints (each
    flow replays its input's history), as the peer."""
    table = records(count, seed=3)
    targets: dict[str, int] = {}
    with rillet.connect(folder) as db:
        stream = db.create_stream("ev", SCHEMA, time_column="ts")
        for first in range(0, count, 100_000):
            stream.append_many(table.slice(first, 100_000))
        for i in range(10):
            unit, seconds = ("MINUTE", 60) if i % 2 == 0 else ("HOUR", 3600)
            dims = DIMENSIONS.split(", ")[i % 5]
            db.execute(ROLLUP.format(name=f"f{i}", dims=dims, source="ev", unit=unit))
            con = duckdb.connect()
            con.register("t", table)
            last = table.column("ts")[-1].value
            size = seconds * 1_000_000
            targets[f"f{i}"] = int(
                con.sql(
                    f"SELECT count(*) FROM (SELECT {dims}, epoch_us(ts) // {size} AS w FROM t "
                    f"GROUP BY ALL) WHERE (w + 1) * {size} <= {last}"
                ).fetchall()[0][0]
            )
        _wait(db, targets)
        while any(f.lag for f in db.flows()):  # close checkpoints what they have read
            time.sleep(0.002)

    def reopen() -> tuple[float, float]:
        began = time.perf_counter()
        with rillet.connect(folder) as db:
            opened = time.perf_counter() - began
            _wait(db, targets)
            while not db._named.replayed() or any(f.lag for f in db.flows()):
                time.sleep(0.002)
            resumed = time.perf_counter() - began
            assert len(db.flows()) == 10
        return opened, resumed

    opened, resumed = reopen()
    catalog = sqlite3.connect(folder / "catalog.sqlite")
    with catalog:
        catalog.execute("DELETE FROM checkpoints")
    catalog.close()
    _, replayed = reopen()
    what = f"restart of a folder with 10 named flows over {count:,} records"
    figure(f"{what} (open)", opened, "s", Target(1, False, "s"))
    figure(
        f"{what} (open, every flow caught up from its checkpoint)",
        resumed,
        "s",
        Target(1, False, "s"),
    )
    peer(
        f"{what}, every flow replaying its history (no checkpoint)",
        replayed,
        "s",
        resumed / replayed,
    )


def run() -> None:
    section(f"named flows: roll-up backfill ({ROWS:,} records), live roll-ups, restart")
    table = records(ROWS)
    with input_set_aside(), tempfile.TemporaryDirectory() as tmp:
        backfill(table, Path(tmp) / "backfill")
        live(table.slice(0, min(ROWS, 1_000_000)))
        for count in (100_000, 1_000_000):
            restart(Path(tmp) / f"restart-{count}", count)


if __name__ == "__main__":
    run()
