"""Roll-ups: a TUMBLE flow making a 1-minute roll-up, and the query over it.

A day of latencies from 1,000 hosts, ``ROLLUP_PER_MINUTE`` records a host and minute
(default 4: 5,760,000 records) in a stream.

- TUMBLE flow: ``SELECT host, window_start, COUNT(*), MAX(latency), APPROX_QUANTILE(latency,
  0.99) ... GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)`` with ``sketches = 'state'`` (the
  quantile kept as a KLL state, as a roll-up stores it) over the stored records: events/s,
  beside DuckDB's GROUP BY host, time_bucket over the same rows (an Arrow table: the
  ceiling; no quantile state there, only the counts compared).
- Query: the p99 per host per hour from the roll-up's 1,440,000 minute states
  (``kll_merge_quantile(list(latency), 0.99)`` in ``db.sql``), beside DuckDB's
  ``quantile_cont`` over the raw records; the speed-up printed, the worst rank error of
  the roll-up's answers against the exact ones, and the same GROUP BY counting the rows
  alone, reading no state (the floor under any answer from the minute rows).
- The same p99s from an hourly roll-up kept over the minute one (``kll_merge`` in a flow, a
  roll-up over a roll-up): the flow's states/s, then the query over its 24,000 states,
  and the p99 per host over the day merged from them (states past k, compacted).

Run only these: ``python bench/rollups.py``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402

import rillet  # noqa: E402
from bench.figures import (  # noqa: E402
    Target,
    figure,
    input_set_aside,
    medians,
    number,
    peer,
    section,
)
from rillet.flows.planner import submit  # noqa: E402
from rillet.rtsql import ast  # noqa: E402
from rillet.rtsql.parser import parse  # noqa: E402

HOSTS = 1_000
MINUTES = 1_440
PER_MINUTE = int(os.environ.get("ROLLUP_PER_MINUTE", "4"))
DAY_US = 19_675 * 86_400_000_000  # a day start
BATCH = 65_536

ROLLUP = (
    "SELECT host, window_start, COUNT(*) AS n, MAX(latency) AS worst, "
    "APPROX_QUANTILE(latency, 0.99) AS latency FROM raw "
    "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
)
P99 = (
    "SELECT host, time_bucket(INTERVAL 1 HOUR, window_start) AS hour, "
    "kll_merge_quantile(list(latency), 0.99) AS p99 FROM minutely GROUP BY ALL"
)
GROUPS_ONLY = (
    "SELECT host, time_bucket(INTERVAL 1 HOUR, window_start) AS hour, count(latency) AS n "
    "FROM minutely GROUP BY ALL"
)
REROLL = (
    "SELECT host, window_start, kll_merge(latency) AS latency FROM minutely "
    "GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
)
HOURLY_P99 = "SELECT host, window_start AS hour, kll_quantile(latency, 0.99) AS p99 FROM hourly"
DAILY_P99 = "SELECT host, kll_merge_quantile(list(latency), 0.99) AS p99 FROM hourly GROUP BY ALL"
RAW_P99 = (
    "SELECT host, time_bucket(INTERVAL 1 HOUR, ts) AS hour, quantile_cont(latency, 0.99) AS p99 "
    "FROM raw GROUP BY ALL"
)


def records(seed: int = 3) -> pa.Table:
    """A day of latencies (ms, lognormal) of every host, in time order."""
    rng = np.random.default_rng(seed)
    count = HOSTS * MINUTES * PER_MINUTE
    minute = np.repeat(np.arange(MINUTES, dtype=np.int64), HOSTS * PER_MINUTE)
    times = DAY_US + minute * 60_000_000 + rng.integers(0, 60_000_000, count)
    order = np.argsort(times, kind="stable")
    hosts = np.char.add("h", (np.arange(count) % HOSTS).astype(str))
    return pa.table(
        {
            "ts": pa.array(times[order], pa.timestamp("us", tz="UTC")),
            "host": pa.array(hosts[order]),
            "latency": pa.array(rng.lognormal(3, 0.6, count)[order]),
        }
    )


def _select(text: str) -> ast.Select:
    statement = parse(text)
    assert isinstance(statement, ast.Select)
    return statement


def run() -> None:
    section(f"roll-ups: TUMBLE windows and sketch states, {HOSTS:,} hosts over a day")
    table = records()
    count = table.num_rows
    with rillet.connect() as db:
        raw = db.create_stream(
            "raw", "ts TIMESTAMP, host STRING, latency DOUBLE", time_column="ts", partition="1d"
        )
        for batch in table.to_batches(max_chunksize=BATCH):
            raw.append_many(batch)
        raw.flush()

        with input_set_aside():
            began = time.perf_counter()
            flow = submit(db, _select(ROLLUP), ROLLUP, {"sketches": "state"})
            flow.finish()
            out = pa.Table.from_batches(list(flow.batches()))
            seconds = time.perf_counter() - began
        rate = count / seconds
        figure(
            f"TUMBLE 1 min flow, COUNT/MAX/APPROX_QUANTILE state by {HOSTS:,} hosts "
            f"({out.num_rows:,} rows out of {count:,} records)",
            rate,
            "events/s",
            Target(1_000_000, at_least=True, unit="events/s"),
        )
        con = duckdb.connect()
        con.register("raw", table)
        grouped = (
            "SELECT host, time_bucket(INTERVAL 1 MINUTE, ts) AS w, count(*) AS n, "
            "max(latency) AS worst FROM raw GROUP BY ALL"
        )
        [(duck_s, theirs)] = medians([lambda: con.sql(grouped).to_arrow_table()], repeat=3)
        duck = count / duck_s
        peer(
            "DuckDB GROUP BY host, time_bucket (no quantile state; ceiling)",
            duck,
            "events/s",
            rate / duck,
        )
        same = theirs.num_rows == out.num_rows and pc.sum(theirs["n"]) == pc.sum(out["n"])
        print(f"  rows and counts equal DuckDB's: {same}")

        minutely = db.create_stream(
            "minutely",
            "ts TIMESTAMP, host STRING, window_start TIMESTAMP, n BIGINT, worst DOUBLE, "
            "latency BINARY",
            time_column="ts",
            partition="1d",
        )
        stored = out.select(["timestamp", "host", "window_start", "n", "worst", "latency"])
        for batch in stored.rename_columns(["ts", *stored.column_names[1:]]).to_batches(BATCH):
            minutely.append_many(batch)
        minutely.flush()

        [(mine_s, mine), (raw_s, exact)] = medians(
            [lambda: db.sql(P99).arrow(), lambda: con.sql(RAW_P99).to_arrow_table()], repeat=5
        )
        figure(
            f"p99 per host per hour from {out.num_rows:,} minute KLL states "
            f"({mine.num_rows:,} rows)",
            mine_s * 1000,
            "ms",
            Target(50, at_least=False, unit="ms"),
        )
        peer(
            f"DuckDB quantile_cont over the {count:,} raw records",
            raw_s * 1000,
            "ms",
            mine_s / raw_s,
        )
        print(f"  speed-up over the raw records: {raw_s / mine_s:.1f}x")
        [(floor_s, _)] = medians([lambda: db.sql(GROUPS_ONLY).arrow()], repeat=5)
        print(f"  the same GROUP BY in db.sql counting the minute rows, no state read: "
              f"{floor_s * 1000:.1f} ms (the floor under any answer from them)")  # fmt: skip
        print(f"  worst rank error against the exact p99: {_rank_error(con, mine):.4f}")
        hourly(db, con, count, mine_s)


def hourly(
    db: rillet.Database, con: duckdb.DuckDBPyConnection, count: int, minute_s: float
) -> None:
    """The same p99s from an hourly roll-up over the minute one (``kll_merge`` in a flow,
    as a user keeps one): the flow's cost, then the query over its 24,000 states."""
    began = time.perf_counter()
    flow = submit(db, _select(REROLL), REROLL, {"sketches": "state"})
    flow.finish()
    out = pa.Table.from_batches(list(flow.batches()))
    seconds = time.perf_counter() - began
    states = len(db.stream("minutely"))
    rate = number(states / seconds)
    print(f"  an hourly roll-up over the minute one, merging its {states:,} KLL states into "
          f"{out.num_rows:,} (kll_merge in a flow): {rate} states/s")  # fmt: skip
    kept = db.create_stream(
        "hourly", "ts TIMESTAMP, host STRING, window_start TIMESTAMP, latency BINARY",
        time_column="ts",
    )  # fmt: skip
    stored = out.select(["timestamp", "host", "window_start", "latency"])
    kept.append_many(stored.rename_columns(["ts", *stored.column_names[1:]]))
    kept.flush()
    [(hour_s, answers)] = medians([lambda: db.sql(HOURLY_P99).arrow()], repeat=5)
    print(f"  p99 per host per hour from that hourly roll-up's {answers.num_rows:,} states: "
          f"{hour_s * 1000:.1f} ms")  # fmt: skip
    print(f"  against the query over the minute states: {minute_s / hour_s:.0f}x faster; "
          f"worst rank error against the exact p99: {_rank_error(con, answers):.4f}")  # fmt: skip
    [(day_s, days)] = medians([lambda: db.sql(DAILY_P99).arrow()], repeat=5)
    print(f"  p99 per host over the day, merging the hourly roll-up's compacted states "
          f"(kll_merge_quantile, {days.num_rows:,} rows): {day_s * 1000:.1f} ms")  # fmt: skip


def _rank_error(con: duckdb.DuckDBPyConnection, mine: pa.Table) -> float:
    """The largest distance in rank between the roll-up's p99 and 0.99, over every host
    and hour, counted in the raw records (0: each is a value of rank 0.99 exactly)."""
    con.register("mine", mine)
    found = con.sql(
        """
        SELECT greatest(max(greatest(0.99 - hi, lo - 0.99)), 0) FROM (
            SELECT m.host, m.hour,
                   avg((r.latency < m.p99)::INT) AS lo, avg((r.latency <= m.p99)::INT) AS hi
            FROM raw r JOIN mine m
              ON r.host = m.host AND time_bucket(INTERVAL 1 HOUR, r.ts) = m.hour
            GROUP BY ALL)
        """
    ).fetchall()[0]
    return float(found[0]) if found and found[0] is not None else float("nan")


if __name__ == "__main__":
    run()
