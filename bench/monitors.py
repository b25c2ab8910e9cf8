"""Live monitoring: ingest with monitors installed, filter and aggregate queries, alert latency.

- Ingest with 10 filters, 10 aggregates over them and 5 triggers, as a share of the bare rate
  measured in the same run on the same tables, and single-record appends with them.
- ``query_filter`` over an hour (1M records) and ``get_aggregate`` over a day of 1 s buckets,
  each beside DuckDB computing the same predicate and aggregate over the same rows.
- Alert latency: wall time from the append that breaks a trigger's condition to the callback.
- ``execute_filter`` on a selective predicate with an index (the share of records it reads),
  without one (pushed down to DuckDB over the sealed files), and DuckDB's own ``WHERE``.
"""

from __future__ import annotations

import statistics
import threading
import time

import duckdb
import numpy as np
import pyarrow as pa

import rillet
from bench.figures import Target, figure, input_set_aside, medians, peer
from bench.perflog import START_US, create_perf_log, perf_rows, temporary_database
from rillet.cli import PERF_LOG, perf_batch
from rillet.expressions.check import check
from rillet.monitors.plan import candidates

HOUR_US = 3_600_000_000
LOW_CPU = "cpu_util < 0.3"  # about half the records
AGGREGATES = ["MAX(op_latency_ms)", "SUM(op_latency_ms)", "COUNT(*)", "AVG(cpu_util)",
              "APPROX_QUANTILE(op_latency_ms, 0.99)"]  # fmt: skip


def install(stream: rillet.Stream) -> None:
    """10 filters, 10 aggregates over them, 5 triggers."""
    for i in range(10):
        stream.add_filter(f"f{i}", f"cpu_util > 0.{i} || mem_avail < 0.0{i + 1}")
        stream.add_aggregate(f"a{i}", f"f{i}", AGGREGATES[i % len(AGGREGATES)])
    for i in range(5):
        stream.install_trigger(f"t{i}", f"a{i} > 1e12", period="1s")


def batch_rate(tables: list[pa.Table], monitored: bool) -> float:
    with temporary_database() as db, input_set_aside():
        stream = create_perf_log(db, "relaxed")
        if monitored:
            install(stream)
        start = time.perf_counter()
        for table in tables:
            stream.append_many(table)
        stream.flush()
        rows: int = sum(t.num_rows for t in tables)
        return rows / (time.perf_counter() - start)


def ingest(tables: list[pa.Table]) -> None:
    runs = [(batch_rate(tables, False), batch_rate(tables, True)) for _ in range(3)]
    bare = statistics.median(r[0] for r in runs)
    monitored = statistics.median(r[1] for r in runs)
    rows = sum(t.num_rows for t in tables)
    name = f"append_many with 10 filters, 10 aggregates, 5 triggers ({rows:,} rows)"
    share = Target(0.7, True, "of the bare rate")
    figure(name, monitored, "rows/s", share, judged=monitored / bare)
    print(f"  bare append_many on the same tables: {bare:,.0f} rows/s; kept {monitored / bare:.0%}")
    records = perf_rows(300_000)
    with temporary_database() as db, input_set_aside():
        stream = create_perf_log(db, "relaxed")
        install(stream)
        append = stream.append
        start = time.perf_counter()
        for record in records:
            append(record)
        stream.flush()
        rate = len(records) / (time.perf_counter() - start)
    figure("append tuples with the same monitors (300,000 records)", rate, "records/s",
           Target(300_000, True, "records/s"))  # fmt: skip


def duck(table: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("t", table)
    return con


def queries(tables: list[pa.Table]) -> None:
    """query_filter over the first hour; get_aggregate over a day of 1 s buckets."""
    with temporary_database() as db:
        stream = create_perf_log(db, "memory")
        stream.add_filter("low_cpu", LOW_CPU)
        stream.add_aggregate("max_ms", "low_cpu", "MAX(op_latency_ms)")
        for table in tables:
            stream.append_many(table)
        hour = (START_US * 1000, (START_US + HOUR_US) * 1000)
        data = pa.concat_tables(tables)
        data = data.append_column("_offset", pa.array(np.arange(data.num_rows)))
        con = duck(data)
        where = f"{LOW_CPU} AND epoch_us(timestamp) >= {START_US} AND " \
                f"epoch_us(timestamp) < {START_US + HOUR_US}"  # fmt: skip

        def ours() -> int:
            return len(stream.query_filter("low_cpu", *hour).offsets)

        def theirs() -> int:
            sql = f"SELECT _offset FROM t WHERE {where}"
            return len(con.sql(sql).to_arrow_table().column(0).to_numpy())

        (mine, n), (peer_time, m) = medians([ours, theirs])
        figure(f"query_filter over an hour ({n:,} matching offsets)", n / mine, "offsets/s",
               Target(10_000_000, True, "offsets/s"))  # fmt: skip
        peer("DuckDB SELECT _offset ... WHERE (same filter and hour)", m / peer_time,
             "offsets/s", (n / mine) / (m / peer_time))  # fmt: skip
        con.close()

    day = perf_batch(864_000, START_US, 100_000, np.random.default_rng(7))  # 10 a second
    with temporary_database() as db:
        stream = create_perf_log(db, "memory")
        stream.add_filter("low_cpu", LOW_CPU)
        stream.add_aggregate("max_ms", "low_cpu", "MAX(op_latency_ms)")
        stream.append_many(day)
        span = (START_US * 1000, (START_US + 24 * HOUR_US) * 1000)
        con = duck(day)

        def aggregate() -> object:
            return stream.get_aggregate("max_ms", *span)

        def duck_aggregate() -> object:
            return con.sql(f"SELECT max(op_latency_ms) FROM t WHERE {LOW_CPU}").fetchall()[0][0]

        (mine, got), (theirs_time, want) = medians([aggregate, duck_aggregate], repeat=21)
        same = "same value" if got == want else f"values differ: {got} vs {want}"
        figure(f"get_aggregate over a day of 1 s buckets ({same})", mine * 1000, "ms",
               Target(5, False, "ms"))  # fmt: skip
        peer("DuckDB max(...) WHERE (same filter and day)", theirs_time * 1000, "ms",
             mine / theirs_time)  # fmt: skip
        con.close()


def alert_latency(repeats: int = 3) -> None:
    """A live stream (records stamped at ingest) with a 1 s trigger; a spike record, and
    the wall time until the alert callback runs."""
    with temporary_database() as db:
        stream = create_perf_log(db, "relaxed")
        stream.add_aggregate("max_ms", None, "MAX(op_latency_ms)")
        stream.install_trigger("slow", "max_ms > 1000", period="1s")
        arrived: list[float] = []
        stream.on_alert(lambda alert: arrived.append(time.perf_counter()))
        stop = threading.Event()

        def feed() -> None:  # steady background traffic, well under the threshold
            while not stop.is_set():
                for _ in range(100):
                    stream.append((10.0, 0.5, 0.5, "INFO: ok"))
                time.sleep(0.001)

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        latencies = []
        try:
            for _ in range(repeats):
                time.sleep(1.2)  # a fresh window
                seen = len(arrived)
                sent = time.perf_counter()
                stream.append((5000.0, 0.9, 0.1, "WARN: slow"))
                deadline = sent + 5
                while len(arrived) == seen and time.perf_counter() < deadline:
                    time.sleep(0.001)
                if len(arrived) > seen:
                    latencies.append(arrived[seen] - sent)
        finally:
            stop.set()
            thread.join()
    if not latencies:
        print("alert latency: no alert arrived within 5 s (missed)", flush=True)
        return
    figure(f"alert latency, period 1 s (mean of {len(latencies)})",
           statistics.mean(latencies) * 1000, "ms", Target(1050, False, "ms"))  # fmt: skip
    figure("alert latency, period 1 s (max)", max(latencies) * 1000, "ms",
           Target(1050, False, "ms"))  # fmt: skip


def indexed_filter(tables: list[pa.Table]) -> None:
    """A selective predicate with an index, without one (push-down) and in DuckDB."""
    predicate = "op_latency_ms > 500"  # about 0.07% of the records
    with temporary_database() as db:
        plain = create_perf_log(db, "memory")
        indexed = db.create_stream("indexed", PERF_LOG, time_column="timestamp")
        indexed.add_index("op_latency_ms", bucket_size=50.0)
        for table in tables:
            plain.append_many(table)
            indexed.append_many(table)
        plain.seal(everything=True)
        data = pa.concat_tables(tables)
        con = duck(data)
        node = check(predicate, {c.name: c.type for c in indexed.schema.columns})
        read = candidates(node, indexed.monitors.indexes)
        share = (len(read) if read is not None else data.num_rows) / data.num_rows

        def with_index() -> int:
            return len(indexed.execute_filter(predicate))

        def pushed_down() -> int:
            return len(plain.execute_filter(predicate))

        def in_duckdb() -> int:
            return int(con.sql(f"SELECT count(*) FROM t WHERE {predicate}").fetchall()[0][0])

        timed = medians([with_index, pushed_down, in_duckdb])
        (t_index, n), (t_push, n2), (t_duck, n3) = timed
        figure(f"execute_filter '{predicate}' with an index ({n:,} of {data.num_rows:,}; "
               f"reads {share:.2%} of the records)", t_index * 1000, "ms",
               Target(0.05, False, "of the records read", ), judged=share)  # fmt: skip
        print(f"  the same without an index (DuckDB push-down over Parquet): "
              f"{t_push * 1000:.1f} ms, {n2:,} records", flush=True)  # fmt: skip
        peer(f"DuckDB count(*) WHERE ({n3:,} records)", t_duck * 1000, "ms", t_index / t_duck)
        con.close()


def run(tables: list[pa.Table]) -> None:
    ingest(tables[:32])
    queries(tables[:16])
    alert_latency()
    indexed_filter(tables[:16])
