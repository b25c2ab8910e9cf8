"""Continuous queries (flows): windowed aggregation, a filter's latency, a windowed join.

- Tumbling 1 s windows (``rillet.aggregation.buckets`` 1, continuous output) of COUNT(*),
  SUM and MAX grouped by 1,000 keys over 5,000,000 events (10,000 a second of event time, in
  order) replayed from a stream: the flow starts after the records are stored and reads
  them from the first, timed until its last output batch is read.  Beside DuckDB's one
  GROUP BY over the same rows (an Arrow table: the ceiling) and Bytewax's tumbling
  ``fold_window`` on an event clock (on 200,000 of the events: it takes a Python call a
  record), the results compared.
- The same with FlumeBase's default rolling window (100 buckets of 10 ms): one output row
  per group and non-empty bucket, each the aggregate over the trailing second; beside
  DuckDB's window functions over 10 ms buckets (one batch query: the ceiling), the results
  compared.
- Append-to-output latency of a filter flow at 100,000 events/s: 100-record ``append_many``
  calls every millisecond, each record carrying its send time; the wall time until the
  flow's output batch holding it is read, p50 and p99.
- A join of two streams (1,000,000 events each, 50,000 a second of event time, keys drawn
  from 1,000,000) over a 10 s window: events/s through the join, beside DuckDB's join of
  the same tables with the same time condition (pair counts compared).

Run only these: ``python bench/flows.py``.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

import rillet  # noqa: E402
from bench.figures import Target, figure, input_set_aside, peer, section  # noqa: E402
from rillet.flows import config  # noqa: E402

EVENTS = 5_000_000
KEYS = 1_000
RATE = 10_000  # events a second of event time
START_US = 1_700_000_000_000_000
BYTEWAX_EVENTS = 200_000
BATCH = 65_536


def events(count: int = EVENTS, seed: int = 1) -> pa.Table:
    rng = np.random.default_rng(seed)
    times = START_US + np.sort(rng.integers(0, count // RATE * 1_000_000, count))
    hosts = np.char.add("h", rng.integers(0, KEYS, count).astype(str))
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "host": pa.array(hosts),
            "v": pa.array(rng.integers(0, 1_000_000, count)),
        }
    )


def _stored(db: rillet.Database, name: str, schema: str, table: pa.Table) -> rillet.Stream:
    stream = db.create_stream(name, schema, time_column="ts", partition="1d", durability="memory")
    for batch in table.to_batches(max_chunksize=BATCH):
        stream.append_many(batch)
    stream.flush()
    return stream


def _run(db: rillet.Database, query: str) -> tuple[float, int, list[pa.RecordBatch]]:
    """Submit ``query``, end its input (the stored records), read all its output: the
    seconds it took, the output rows, and the output."""
    began = time.perf_counter()
    flow = db.execute(query)
    flow.finish()
    out = list(flow.batches())
    return time.perf_counter() - began, sum(b.num_rows for b in out), out


AGGREGATE = (
    "SELECT host, COUNT(*) AS n, SUM(v) AS total, MAX(v) AS top FROM events "
    "GROUP BY host OVER RANGE INTERVAL 1 SECONDS PRECEDING"
)


def windows(table: pa.Table) -> None:
    with rillet.connect() as db:
        _stored(db, "events", "ts TIMESTAMP, host STRING, v BIGINT", table)
        db.set(config.BUCKETS, 1)
        db.set(config.CONTINUOUS, True)
        with input_set_aside():
            seconds, rows, out = _run(db, AGGREGATE)
        rate = EVENTS / seconds
        figure(
            f"tumbling 1 s windows, COUNT/SUM/MAX by {KEYS:,} keys ({rows:,} rows out)",
            rate,
            "events/s",
            Target(5_000_000, at_least=True, unit="events/s"),
        )
        mine = pa.Table.from_batches(out)
        con = duckdb.connect()
        con.register("t", table)
        query = (
            "SELECT host, time_bucket(INTERVAL 1 second, ts) AS w, count(*) AS n, "
            "sum(v) AS total, max(v) AS top FROM t GROUP BY ALL"
        )
        con.sql(query).to_arrow_table()  # warm
        began = time.perf_counter()
        theirs: pa.Table = con.sql(query).to_arrow_table()
        duck = EVENTS / (time.perf_counter() - began)
        peer("DuckDB one GROUP BY (ceiling)", duck, "events/s", rate / duck)
        same = (
            theirs.num_rows == mine.num_rows
            and pc.sum(theirs["total"]).as_py() == pc.sum(mine["total"]).as_py()
        )
        print(f"  results equal DuckDB's (rows, totals): {same}")
        _bytewax(table, rate)

        db.set(config.BUCKETS, 100)
        db.set(config.CONTINUOUS, False)
        with input_set_aside():
            seconds, rows, out = _run(db, AGGREGATE)
        rate = EVENTS / seconds
        figure(
            f"rolling 1 s window of 100 buckets, same job ({rows:,} rows out)",
            rate,
            "events/s",
            Target(2_000_000, at_least=True, unit="events/s"),
        )
        _rolling_duckdb(con, pa.Table.from_batches(out), rate)


# one row per (host, non-empty 10 ms bucket): the aggregates of the host's buckets in the
# trailing second, as the rolling window's default output
ROLLING = """
WITH b AS (
    SELECT host, time_bucket(INTERVAL 10 millisecond, ts) AS w,
           count(*) AS n, sum(v) AS s, max(v) AS m
    FROM t GROUP BY ALL
)
SELECT host, w, sum(n) OVER r AS n, sum(s) OVER r AS total, max(m) OVER r AS top FROM b
WINDOW r AS (PARTITION BY host ORDER BY w RANGE BETWEEN INTERVAL 990 millisecond PRECEDING
             AND CURRENT ROW)
"""


def _rolling_duckdb(con: Any, mine: pa.Table, rate: float) -> None:
    """DuckDB's window functions over the same rows, one batch query: the ceiling."""
    con.sql("SET enable_progress_bar = false")  # its bar would break the one-line figures
    con.sql(ROLLING).to_arrow_table()  # warm
    began = time.perf_counter()
    theirs: pa.Table = con.sql(ROLLING).to_arrow_table()
    duck = EVENTS / (time.perf_counter() - began)
    peer("DuckDB window functions, one query (ceiling)", duck, "events/s", rate / duck)
    same = (
        theirs.num_rows == mine.num_rows
        and pc.sum(theirs["total"]).as_py() == pc.sum(mine["total"]).as_py()
        and pc.sum(theirs["n"]).as_py() == pc.sum(mine["n"]).as_py()
    )
    print(f"  results equal DuckDB's (rows, counts, totals): {same}")


def _bytewax(table: pa.Table, rate: float) -> None:
    try:
        import bytewax.operators as op
        import bytewax.operators.windowing as win
        from bytewax.dataflow import Dataflow
        from bytewax.operators.windowing import EventClock, TumblingWindower
        from bytewax.testing import TestingSink, TestingSource, run_main
    except ImportError:
        print("  peer Bytewax: not installed (pip install -e '.[bench]')")
        return
    import datetime as dt

    part = table.slice(0, BYTEWAX_EVENTS)
    items = list(
        zip(
            part["host"].to_pylist(),
            part["ts"].to_pylist(),
            part["v"].to_pylist(),
            strict=True,
        )
    )
    flow = Dataflow("tumbling")
    source = op.input("in", flow, TestingSource(items, batch_size=10_000))
    keyed = op.key_on("key", source, lambda item: item[0])
    clock: EventClock[Any] = EventClock(
        lambda item: item[1], wait_for_system_duration=dt.timedelta(0)
    )
    windower = TumblingWindower(
        length=dt.timedelta(seconds=1), align_to=dt.datetime(2023, 1, 1, tzinfo=dt.UTC)
    )

    def fold(acc: tuple[int, int, int], item: Any) -> tuple[int, int, int]:
        return acc[0] + 1, acc[1] + item[2], max(acc[2], item[2])

    def merge(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
        return a[0] + b[0], a[1] + b[1], max(a[2], b[2])

    windows = win.fold_window("agg", keyed, clock, windower, lambda: (0, 0, -1), fold, merge)
    out: list[Any] = []
    op.output("out", windows.down, TestingSink(out))
    began = time.perf_counter()
    run_main(flow)  # type: ignore[no-untyped-call]
    theirs = BYTEWAX_EVENTS / (time.perf_counter() - began)
    peer(f"Bytewax fold_window (on {BYTEWAX_EVENTS:,} events)", theirs, "events/s", rate / theirs)


def latency() -> None:
    """A filter flow at 100,000 events/s: send time to the output batch being read."""
    with rillet.connect() as db:
        stream = db.create_stream(
            "lat", "ts TIMESTAMP, sent BIGINT, v BIGINT", time_column="ts", durability="memory"
        )
        flow = db.execute("SELECT sent, v FROM lat WHERE v % 10 = 0")
        seconds, per_call, period = 3.0, 100, 0.001
        delays: list[np.ndarray] = []

        def read() -> None:
            for batch in flow.batches():
                now = time.time_ns()
                delays.append(now - batch.column(0).to_numpy())

        reader = threading.Thread(target=read)
        reader.start()
        v = np.arange(per_call)
        began = time.perf_counter()
        calls = int(seconds / period)
        for i in range(calls):
            due = began + i * period
            while (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            now = time.time_ns()
            stream.append_many(
                {"ts": np.full(per_call, now), "sent": np.full(per_call, now), "v": v}
            )
        rate = calls * per_call / (time.perf_counter() - began)
        stream.caught_up()
        flow.cancel()
        reader.join()
        ms = np.concatenate(delays) / 1e6
        p50, p99 = np.percentile(ms, [50, 99])
        figure(f"filter flow latency p50 at {rate:,.0f} events/s", p50, "ms",
               Target(10, at_least=False, unit="ms"))  # fmt: skip
        figure("filter flow latency p99", p99, "ms", Target(10, at_least=False, unit="ms"))


JOIN_EVENTS = 1_000_000  # a side
JOIN_RATE = 50_000  # a side, a second of event time


def _side(seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    times = START_US + np.sort(rng.integers(0, JOIN_EVENTS // JOIN_RATE * 1_000_000, JOIN_EVENTS))
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "k": pa.array(rng.integers(0, 1_000_000, JOIN_EVENTS)),
            "v": pa.array(rng.integers(0, 1000, JOIN_EVENTS)),
        }
    )


def join() -> None:
    left, right = _side(2), _side(3)
    with rillet.connect() as db:
        _stored(db, "f", "ts TIMESTAMP, k BIGINT, v BIGINT", left)
        _stored(db, "g", "ts TIMESTAMP, k BIGINT, v BIGINT", right)
        query = (
            "SELECT f.v, g.v FROM f JOIN g ON f.k = g.k OVER RANGE INTERVAL 10 SECONDS PRECEDING"
        )
        with input_set_aside():
            seconds, pairs, _ = _run(db, query)
        rate = 2 * JOIN_EVENTS / seconds
        figure(f"10 s window join of two streams ({pairs:,} pairs)", rate, "events/s",
               Target(1_000_000, at_least=True, unit="events/s"))  # fmt: skip
    con = duckdb.connect()
    con.register("f", left)
    con.register("g", right)
    query = (
        "SELECT count(*) FROM f JOIN g ON f.k = g.k "
        "AND g.ts > f.ts - INTERVAL 10 second AND g.ts <= f.ts"
    )
    began = time.perf_counter()
    (count,) = con.execute(query).fetchone() or (0,)
    duck = 2 * JOIN_EVENTS / (time.perf_counter() - began)
    peer("DuckDB join, one batch query (ceiling)", duck, "events/s", rate / duck)
    print(f"  pairs equal DuckDB's: {count == pairs}")


def run() -> None:
    section("continuous queries (flows), beside DuckDB and Bytewax")
    windows(events())
    latency()
    join()


if __name__ == "__main__":
    run()
