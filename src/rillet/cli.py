"""The ``rillet`` command.  Until the server exists, ``rillet demo`` is the main job."""

from __future__ import annotations

import argparse
import random
import sys
import time

import numpy as np
import pyarrow as pa

import rillet
from rillet.errors import RilletError

PERF_LOG = (
    "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, log_msg STRING"
)
MESSAGES = ["INFO: Launched 1 tasks", "WARN: Server {2} down", "WARN: Server {2, 4, 5} down"]


def perf_batch(rows: int, start_us: int, step_us: int, rng: np.random.Generator) -> pa.Table:
    """A generated slice of Confluo's performance log: ``rows`` records ``step_us`` apart."""
    times = start_us + np.arange(rows, dtype=np.int64) * step_us
    cpu = rng.beta(2, 5, rows)
    return pa.table(
        {
            "timestamp": pa.array(times).view(pa.timestamp("us", tz="UTC")),
            "op_latency_ms": pa.array(rng.lognormal(3.0, 1.0, rows)),
            "cpu_util": pa.array(cpu),
            "mem_avail": pa.array(rng.beta(5, 2, rows)),
            "log_msg": pa.array(rng.choice(MESSAGES, rows)),
        }
    )


def demo(path: str, seconds: float) -> None:
    """Feed a generated performance log into ``path`` and print live figures and a query."""
    rng = np.random.default_rng()
    with rillet.connect(path) as db:
        try:
            stream = db.stream("perf_log")
        except RilletError:
            stream = db.create_stream(
                "perf_log", PERF_LOG, time_column="timestamp", partition="1m", retention="1h"
            )
        print(f"rillet {rillet.__version__}: stream perf_log in {path!r} ({len(stream)} records)")
        began = time.monotonic()
        appended = 0
        last = began
        while (now := time.monotonic()) - began < seconds:
            # half the records come one at a time, the rest as Arrow batches, as sources would
            for _ in range(2000):
                stream.append(
                    (
                        time.time_ns(),
                        random.lognormvariate(3.0, 1.0),
                        random.betavariate(2, 5),
                        random.betavariate(5, 2),
                        random.choice(MESSAGES),
                    )
                )
            stream.append_many(perf_batch(50_000, time.time_ns() // 1000, 1, rng))
            appended += 52_000
            if now - last >= 1.0:
                rate = appended / (now - began)
                print(f"  {now - began:5.1f}s  {appended:>10,} appended  {rate:>12,.0f} records/s")
                last = now
        result = db.sql(
            "SELECT log_msg, count(*) AS n, round(avg(op_latency_ms), 2) AS avg_ms, "
            "round(max(op_latency_ms), 1) AS max_ms FROM perf_log "
            "WHERE timestamp > now() - INTERVAL 1 MINUTE GROUP BY 1 ORDER BY 1"
        )
        print("\nlast minute, by message:")
        print(f"  {'log_msg':<30}{'n':>10}{'avg_ms':>10}{'max_ms':>10}")
        for msg, n, avg_ms, max_ms in result.fetchall():
            print(f"  {msg:<30}{n:>10,}{avg_ms:>10}{max_ms:>10}")
        print(f"\n{len(stream):,} records stored; next offset {stream.next_offset:,}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rillet", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("demo", help="feed a generated performance log and query it")
    run.add_argument("--path", default="data", help="data folder (default: ./data)")
    run.add_argument("--seconds", type=float, default=10.0, help="how long to feed (default 10)")
    args = parser.parse_args(argv)
    try:
        demo(args.path, args.seconds)
    except RilletError as exc:
        print(f"rillet: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
