"""``rillet demo``: feed a generated performance log into a data folder and query it."""

from __future__ import annotations

import random
import time

import click
import numpy as np
import pyarrow as pa

import rillet
from rillet.aggregates import AggregateValue
from rillet.errors import RilletError
from rillet.monitors import Alert

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
            # Confluo's example monitors: evaluated on every record as it arrives
            stream.add_index("op_latency_ms", bucket_size=100.0)
            stream.add_filter("low_resources", "cpu_util > 0.8 || mem_avail < 0.1")
            stream.add_aggregate("max_latency_ms", "low_resources", "MAX(op_latency_ms)")
            stream.add_aggregate("p99_latency_ms", None, "APPROX_QUANTILE(op_latency_ms, 0.99)")
            stream.install_trigger("high_latency_trigger", "max_latency_ms > 500", period="1s")
        alerts: list[Alert] = []
        stream.on_alert(alerts.append)
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
                second = time.time_ns() - 1_000_000_000
                worst = _number(stream.get_aggregate("max_latency_ms", second, None))
                p99 = _number(stream.get_aggregate("p99_latency_ms", second, None))
                print(
                    f"  {now - began:5.1f}s  {appended:>10,} appended  {rate:>12,.0f} records/s"
                    f"  last second: p99 {p99 or 0:7.1f} ms, max low-resource {worst or 0:7.1f} ms"
                    f"  alerts {len(alerts)}"
                )
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
        slow = stream.execute_filter("op_latency_ms > 2000", time.time_ns() - 60_000_000_000)
        print(f"\n{len(slow):,} records over 2 s in the last minute (found via the index)")
        for alert in alerts[-3:]:
            when = f"{alert.time:%H:%M:%S}"
            print(f"  alert {alert.trigger} at {when}: {alert.condition} ({alert.value:.1f})")
        print(f"\n{len(stream):,} records stored; next offset {stream.next_offset:,}")


def _number(value: AggregateValue) -> float:
    """An aggregate's value as a number to print (0 over no records)."""
    return float(value) if isinstance(value, int | float) else 0.0


@click.command("demo")
@click.option("--path", "--data", "path", default="data", show_default=True, help="data folder")
@click.option("--seconds", type=float, default=10.0, show_default=True, help="how long to feed")
def demo_command(path: str, seconds: float) -> None:
    """Feed a generated performance log, with Confluo's monitors, and query it."""
    try:
        demo(path, seconds)
    except RilletError as exc:
        raise click.ClickException(str(exc)) from exc
