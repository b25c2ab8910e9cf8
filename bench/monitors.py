"""Live monitoring (Confluo's monitors): their cost on ingest, their queries, alert latency.

- Ingest with 10 filters, 10 aggregates over them (COUNT, SUM, MAX, AVG, APPROX_QUANTILE)
  and 5 triggers installed: ``append_many`` of 65,536-row tables (relaxed) as a share of the
  bare rate measured in the same run on the same tables (the median share of 7 pairs in
  alternating order, after a warm-up pair), timed until ``flush()`` returns (the monitors
  have seen every record):
  once with event time at a live stream's pace (a table within one 1 s bucket), once with
  the perf log's (236 buckets a table); then both again with the triggers' period 100 ms
  (Confluo checks its triggers every few milliseconds), which makes the five aggregates
  they name keep 100 ms buckets (2,360 a table at the perf log's pace); and single-record
  ``append`` of tuples (relaxed).
- ``query_filter`` over an hour of records at 1 kHz (3.6M in the hour) returning offsets,
  and ``get_aggregate`` over a day of 1 s buckets (10 records a second; the day starts at
  6:17:23, so its range is merged from second, minute, hour and day states), each beside
  DuckDB computing the same predicate or aggregate over the same time range and the same
  rows, held as an Arrow table.  Results are compared; a difference is printed.
- Alert latency: a ``1s`` trigger on a live stream, records stamped with ingest time by a
  thread appending at a steady rate; a record that breaks the condition is appended at
  phases spread over the window, and the wall time to the ``on_alert`` callback is taken.
- ``execute_filter`` on a predicate matching ~0.1% of 1M records, with an index on its
  column and without one, with the records in memory and then sealed in Parquet, beside
  DuckDB's ``WHERE`` over the same rows (Arrow table, then the same Parquet files).  The
  share of the records the indexed path reads: none where the index answers exactly (a
  DOUBLE column's index keeps the values), else its candidates in memory, and in Parquet
  the rows of the row groups holding a candidate, which ``Stream.take`` decodes whole.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Sequence

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import rillet
from bench.figures import Target, figure, input_set_aside, medians, peer
from bench.perflog import (
    BATCH_ROWS,
    START_US,
    STEP_US,
    create_perf_log,
    perf_rows,
    perf_tables,
    sealed_paths,
    temporary_database,
)
from rillet.commands.demo import PERF_LOG
from rillet.monitors import Alert
from rillet.monitors.filter import predicate
from rillet.monitors.plan import candidates, exact
from rillet.time import us_to_datetime

SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US
DAY_US = 24 * HOUR_US
INGEST_ROWS = 2_097_152  # 32 tables of the shared perf log: 2.1 hours
TUPLES = 300_000
LOW_CPU = "cpu_util < 0.3"  # about 58% of the records
AGGREGATES = ["COUNT(*)", "SUM(op_latency_ms)", "MAX(op_latency_ms)", "AVG(cpu_util)",
              "APPROX_QUANTILE(op_latency_ms, 0.99)"]  # fmt: skip
HOUR_RATE_STEP_US = 1_000  # 1 kHz
LIVE_STEP_US = 1  # event time of a live stream at a million records a second
PAIRS = 7  # bare and monitored runs per ingest figure
HOUR_FROM_US = START_US + 5 * 60 * SECOND_US  # the hour queried, inside 70 minutes of records
DAY_STEP_US = 100_000  # 10 records a second
DAY_FROM_US = START_US + (6 * 3600 + 17 * 60 + 23) * SECOND_US  # aligned to no minute or hour
ALERT_PERIOD_S = 1.0
ALERT_REPEATS = 6
FEED_RATE = 10_000  # records a second in the live stream
SELECTIVE = "op_latency_ms > 440"  # about 0.1%: op_latency_ms is lognormal(3, 1)
INDEX_BUCKET = 50.0
READ_TARGET = Target(0.01, at_least=False, unit="of the records read")


def install(stream: rillet.Stream, period: str = "1s") -> None:
    """10 filters, 10 aggregates over them, 5 triggers (which never fire on this data) of
    ``period`` over the first five aggregates."""
    for i in range(10):
        stream.add_filter(f"f{i}", f"cpu_util > 0.{i} || mem_avail < 0.0{i + 1}")
        stream.add_aggregate(f"a{i}", f"f{i}", AGGREGATES[i % len(AGGREGATES)])
    for i in range(5):
        stream.install_trigger(f"t{i}", f"a{i} > 1e12", period=period)


def batch_rate(tables: Sequence[pa.Table], monitored: bool, period: str = "1s") -> float:
    """Rows/s of ``append_many`` of ``tables`` into a new relaxed stream, ``flush()`` included
    (with the monitors, triggers of ``period``)."""
    with temporary_database() as db, input_set_aside():
        stream = create_perf_log(db, "relaxed")
        if monitored:
            install(stream, period)
        start = time.perf_counter()
        for table in tables:
            stream.append_many(table)
        stream.flush()
        rows: int = sum(t.num_rows for t in tables)
        return rows / (time.perf_counter() - start)


def tuple_rate(records: Sequence[tuple[object, ...]]) -> float:
    """Records/s of single-record ``append`` into a new relaxed stream with the monitors."""
    with temporary_database() as db, input_set_aside():
        stream = create_perf_log(db, "relaxed")
        install(stream)
        append = stream.append
        start = time.perf_counter()
        for record in records:
            append(record)
        stream.flush()
        return len(records) / (time.perf_counter() - start)


def share_of_bare(tables: Sequence[pa.Table], what: str, period: str = "1s") -> None:
    """One figure: ``append_many`` of ``tables`` with the monitors (triggers of ``period``),
    as a share of bare.

    The bare rate swings with disk writeback, so the share is the median of the shares of
    seven pairs run back to back (in alternating order), after a warm-up pair.
    """
    pairs = []
    for i in range(PAIRS + 1):
        order = (False, True) if i % 2 else (True, False)
        rates = dict(
            zip(
                order,
                (batch_rate(tables, monitored, period) for monitored in order),
                strict=True,
            )
        )
        pairs.append((rates[False], rates[True]))
    pairs = pairs[1:]
    share = statistics.median(monitored / bare for bare, monitored in pairs)
    bare = statistics.median(pair[0] for pair in pairs)
    monitored = statistics.median(pair[1] for pair in pairs)
    shares = ", ".join(f"{m / b:.0%}" for b, m in pairs)
    rows = sum(t.num_rows for t in tables)
    figure(
        f"append_many 65,536-row tables, relaxed, with 10 filters, 10 aggregates, 5 triggers "
        f"of {period}, {what} ({rows:,} rows; bare {bare:,.0f} rows/s; shares of the pairs: "
        f"{shares})",
        monitored,
        "rows/s",
        Target(0.7, at_least=True, unit="of the bare rate"),
        judged=share,
    )


def monitored_ingest(tables: Sequence[pa.Table], periods: Sequence[str] = ("1s", "100ms")) -> None:
    """Ingest with the monitors installed, as a share of bare, for each trigger period."""
    rows = sum(t.num_rows for t in tables)
    live = perf_tables(rows, step_us=LIVE_STEP_US)
    seconds = BATCH_ROWS * STEP_US / SECOND_US
    for period in periods:
        share_of_bare(live, "event time 1 µs a record (a live stream: a table spans 66 ms)", period)
        share_of_bare(tables, f"the perf log's event time ({seconds:.0f} s a table)", period)


def ingest(tables: Sequence[pa.Table]) -> None:
    """Figures 1 and 2: ingest with the monitors installed."""
    monitored_ingest(tables)
    records = perf_rows(TUPLES)
    rate = statistics.median(tuple_rate(records) for _ in range(3))
    figure(
        f"append tuples, relaxed, with the same monitors ({TUPLES:,} records)",
        rate,
        "records/s",
        Target(300_000, at_least=True, unit="records/s"),
    )


def duck(table: pa.Table | None = None) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection (UTC, as rillet's cursors), with ``table`` registered as ``t``."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if table is not None:
        con.register("t", table)
    return con


def duckdb_offsets(con: duckdb.DuckDBPyConnection, sql: str) -> np.ndarray:
    """The first column of ``sql``'s result as numpy (as ``Matches.offsets``)."""
    offsets: np.ndarray = con.sql(sql).to_arrow_table().column(0).to_numpy()
    return offsets


def between(start_us: int, end_us: int) -> str:
    """DuckDB's condition for event time in ``[start, end)``."""
    start, end = (us_to_datetime(us).isoformat() for us in (start_us, end_us))
    return f"\"timestamp\" >= TIMESTAMPTZ '{start}' AND \"timestamp\" < TIMESTAMPTZ '{end}'"


def with_offsets(tables: Sequence[pa.Table]) -> pa.Table:
    """The rows of ``tables`` with the offsets a new stream gives them, as ``_offset``."""
    data = pa.concat_tables(tables)
    return data.append_column("_offset", pa.array(np.arange(data.num_rows, dtype=np.int64)))


def monitored_stream(db: rillet.Database, tables: Sequence[pa.Table]) -> rillet.Stream:
    """``perf_log`` (durability memory) with filter ``low_cpu`` and aggregate ``max_ms`` over
    it, holding ``tables``."""
    stream = create_perf_log(db, "memory")
    stream.add_filter("low_cpu", LOW_CPU)
    stream.add_aggregate("max_ms", "low_cpu", "MAX(op_latency_ms)")
    for table in tables:
        stream.append_many(table)
    return stream


def mismatch(what: str, ours: object, theirs: object) -> None:
    print(f"  MISMATCH {what}: rillet {ours!r} != DuckDB {theirs!r}", flush=True)


def query_filter() -> None:
    """Figure 3: ``query_filter`` over an hour of 1 kHz records, and DuckDB's ``WHERE``."""
    tables = perf_tables(70 * 60 * 1000, step_us=HOUR_RATE_STEP_US)
    start, end = HOUR_FROM_US, HOUR_FROM_US + HOUR_US
    with temporary_database() as db:
        stream = monitored_stream(db, tables)
        con = duck(with_offsets(tables))
        sql = f"SELECT _offset FROM t WHERE {LOW_CPU} AND {between(start, end)}"

        def ours() -> np.ndarray:
            return stream.query_filter("low_cpu", start * 1000, end * 1000).offsets

        def theirs() -> np.ndarray:
            return duckdb_offsets(con, sql)

        (mine, got), (other, want) = medians([ours, theirs])
        if not np.array_equal(got, np.sort(want)):
            mismatch("query_filter offsets", len(got), len(want))
        n = len(got)
        figure(
            f"query_filter over an hour at 1 kHz ({len(stream):,} records stored; "
            f"{n:,} matching offsets in the hour, in {mine * 1000:.0f} ms)",
            n / mine,
            "offsets/s",
            Target(10_000_000, at_least=True, unit="offsets/s"),
        )
        peer(
            f"DuckDB SELECT _offset ... WHERE (same filter and hour; Arrow table), "
            f"{other * 1000:.0f} ms",
            len(want) / other,
            "offsets/s",
            (n / mine) / (len(want) / other),
        )
        con.close()


def get_aggregate() -> None:
    """Figure 4: ``get_aggregate`` over a day of 1 s buckets, and DuckDB's aggregate."""
    tables = perf_tables(36 * 3600 * SECOND_US // DAY_STEP_US, seed=1, step_us=DAY_STEP_US)
    start, end = DAY_FROM_US, DAY_FROM_US + DAY_US
    with temporary_database() as db:
        stream = monitored_stream(db, tables)
        con = duck(pa.concat_tables(tables))
        sql = f"SELECT max(op_latency_ms) FROM t WHERE {LOW_CPU} AND {between(start, end)}"

        def ours() -> object:
            return stream.get_aggregate("max_ms", start * 1000, end * 1000)

        def theirs() -> object:
            return con.sql(sql).fetchall()[0][0]

        (mine, got), (other, want) = medians([ours, theirs], repeat=21)
        if got != want:
            mismatch("get_aggregate", got, want)
        keys = stream.monitors.aggregates["max_ms"].keys_between(None, None)
        held = int(((keys >= start) & (keys < end)).sum())
        figure(
            f"get_aggregate MAX over a day of 1 s buckets ({held:,} in the day hold a "
            f"match, of the aggregate's {len(keys):,}; {len(stream):,} records in 36 h)",
            mine * 1000,
            "ms",
            Target(5, at_least=False, unit="ms"),
        )
        peer(
            "DuckDB max(...) WHERE (same filter and day; Arrow table)",
            other * 1000,
            "ms",
            mine / other,
        )
        con.close()


def alert_latency() -> None:
    """Figure 5: wall time from the append that breaks a ``1s`` trigger to its callback."""
    with temporary_database() as db:
        stream = create_perf_log(db, "relaxed")
        stream.add_aggregate("max_ms", None, "MAX(op_latency_ms)")
        stream.install_trigger("slow", "max_ms > 1000", period="1s")
        arrived: list[tuple[float, Alert]] = []
        signal = threading.Event()

        def on_alert(alert: Alert) -> None:
            arrived.append((time.perf_counter(), alert))
            signal.set()

        stream.on_alert(on_alert)
        stop = threading.Event()

        def feed() -> None:  # steady traffic well under the threshold, stamped at ingest
            began, sent = time.perf_counter(), 0
            while not stop.is_set():
                due = int((time.perf_counter() - began) * FEED_RATE)
                while sent < due:
                    stream.append((10.0, 0.5, 0.5, "INFO: ok"))
                    sent += 1
                time.sleep(0.001)

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        latencies, wrong = [], 0
        try:
            time.sleep(1.5)  # the trigger's first window holds the feed's records only
            for k in range(ALERT_REPEATS):
                # at a phase of the window from its start (1%) to its last sixth
                phase = 0.01 + k / ALERT_REPEATS
                window = math.floor(time.time() / ALERT_PERIOD_S) + 1
                time.sleep(max(0.0, (window + phase) * ALERT_PERIOD_S - time.time()))
                signal.clear()
                seen = len(arrived)
                sent = time.perf_counter()
                stream.append((5000.0, 0.9, 0.1, "WARN: slow"))
                if signal.wait(timeout=5):
                    received, alert = arrived[seen]
                    latencies.append(received - sent)
                    window_start = us_to_datetime(int(window * ALERT_PERIOD_S * SECOND_US))
                    wrong += alert.trigger != "slow" or alert.value != 5000.0
                    wrong += alert.time != window_start
        finally:
            stop.set()
            thread.join()
    name = f"alert latency, period 1 s, {FEED_RATE:,} records/s stamped at ingest"
    if len(latencies) < ALERT_REPEATS:
        print(f"{name}: {ALERT_REPEATS - len(latencies)} alert(s) of {ALERT_REPEATS} not "
              "received within 5 s (missed)", flush=True)  # fmt: skip
    if wrong:
        print(f"  {wrong} alert(s) not for the breaking record and its window", flush=True)
    if latencies:
        figure(
            f"{name} (max of {len(latencies)}; mean {statistics.mean(latencies) * 1000:,.0f} ms)",
            max(latencies) * 1000,
            "ms",
            Target(ALERT_PERIOD_S * 1000 + 50, at_least=False, unit="ms"),
        )


def row_groups_read(paths: Sequence[str], wanted: np.ndarray) -> tuple[int, int, int]:
    """The Parquet row groups ``Stream.take`` decodes whole to read the offsets ``wanted``
    (sorted), those whose offset range holds one: (their rows, their number, all groups)."""
    rows = groups = total = 0
    for path in paths:
        meta = pq.read_metadata(path)
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            stats = group.column(meta.num_columns - 1).statistics  # _offset is the last column
            low, high = np.searchsorted(wanted, [stats.min, stats.max + 1])
            if low < high:
                rows, groups = rows + group.num_rows, groups + 1
            total += 1
    return rows, groups, total


def race_filters(
    where: str,
    reads: tuple[float, str],
    indexed: rillet.Stream,
    plain: rillet.Stream,
    con: duckdb.DuckDBPyConnection,
    source: str,
) -> None:
    """One state of figure 6: ``execute_filter`` with an index (which reads ``reads``: the
    share of the records, and how), without one, and DuckDB's ``WHERE`` over ``source``."""
    sql = f"SELECT _offset FROM {source} WHERE {SELECTIVE}"

    def with_index() -> np.ndarray:
        return indexed.execute_filter(SELECTIVE).offsets

    def without() -> np.ndarray:
        return plain.execute_filter(SELECTIVE).offsets

    def in_duckdb() -> np.ndarray:
        return duckdb_offsets(con, sql)

    timed: list[tuple[float, np.ndarray]] = medians([with_index, without, in_duckdb])
    (t_index, got), (t_plain, plain_got), (t_duck, want) = timed
    for what, offsets in (("with an index", got), ("without an index", plain_got)):
        if not np.array_equal(offsets, np.sort(want)):
            mismatch(f"execute_filter {what}", len(offsets), len(want))
    share, how = reads
    figure(
        f"execute_filter '{SELECTIVE}' with an index, {where} ({len(got):,} of "
        f"{len(indexed):,} records match; {how})",
        t_index * 1000,
        "ms",
        READ_TARGET,
        judged=share,
    )
    pushed = "the Arrow kernel over every record" if source == "t" else "DuckDB over the files"
    print(f"  the same without an index ({pushed}): {t_plain * 1000:.1f} ms", flush=True)
    peer(f"DuckDB SELECT _offset ... WHERE, {where}", t_duck * 1000, "ms", t_index / t_duck)


def indexed_filter(tables: Sequence[pa.Table]) -> None:
    """Figure 6: ``execute_filter`` on a selective predicate, in memory and in Parquet."""
    with temporary_database() as db:
        plain = create_perf_log(db, "memory")
        indexed = db.create_stream(
            "indexed", PERF_LOG, time_column="timestamp", partition="1h", durability="memory"
        )
        indexed.add_index("op_latency_ms", bucket_size=INDEX_BUCKET)
        for table in tables:
            plain.append_many(table)
            indexed.append_many(table)
        total = len(indexed)
        node = predicate(SELECTIVE, {c.name: c.type for c in indexed.schema.columns})
        found = candidates(node, indexed.monitors.indexes)
        wanted = np.arange(total) if found is None else found
        if exact(node, indexed.monitors.indexes):  # the values beside the offsets decide
            wanted = wanted[:0]
            reads = "the index answers exactly from the values beside its offsets"
        else:
            reads = f"reads its {len(wanted):,} index candidates"
        share = len(wanted) / total
        con = duck(with_offsets(tables))
        reads += f": reads {share:.2%} of the records"
        race_filters("in memory", (share, reads), indexed, plain, con, "t")
        con.close()
        plain.seal(everything=True)
        indexed.seal(everything=True)
        rows, groups, all_groups = row_groups_read(sealed_paths(db, indexed), wanted)
        reads = (
            f"the {len(wanted):,} records it reads lie in {groups} of {all_groups} row "
            f"groups, read whole: {rows / total:.2%} of the records"
        )
        files = ", ".join(f"'{path}'" for path in sealed_paths(db, plain))
        con = duck()
        race_filters("sealed in Parquet", (rows / total, reads), indexed, plain, con,
                     f"read_parquet([{files}])")  # fmt: skip
        con.close()


def run(tables: Sequence[pa.Table]) -> None:
    """Print the monitoring figures; ``tables`` are the shared perf log's."""
    figures: list[Callable[[], None]] = [
        lambda: ingest(tables[: INGEST_ROWS // tables[0].num_rows]),
        query_filter,
        get_aggregate,
        alert_latency,
        lambda: indexed_filter(tables[:16]),
    ]
    for each in figures:
        each()
