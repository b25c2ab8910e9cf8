"""Ingest: records a second into a fresh ``perf_log`` stream, each figure the median of 3 runs.

- ``append`` of tuples / of dicts (relaxed durability): a loop of single-record appends of
  pre-built records (event time as int epoch nanoseconds), then ``flush()``: the clock stops
  once every record is logged and fsynced.  Then the same with the time in the forms people
  append: a naive and an aware ``datetime``, ISO-8601 text, and left out (stamped at
  ingest), each beside the epoch form.
- ``append_many`` of 65,536-row Arrow tables, relaxed and durable: the same, a table a call,
  10M rows spread over 10 hourly partitions (closed ones are sealed in the background as
  ingest goes on, as they would be in service).  Relaxed runs with each log compression
  (lz4, the default, beside zstd and none) and durable with lz4; these runs take turns, so
  that the disk's swings touch each alike, and each prints the bytes it wrote to the log per
  row.  Relaxed should never be slower than durable: their ratio is a figure too.

The input is built before the clock starts and hidden from the garbage collector.  An untimed
warm-up run comes first: the first run in a process pays the OS for fresh memory (on this VM
about 1.3 s a GB, a third of a cold 10M-row run), which a service in steady state reuses.
"""

from __future__ import annotations

import datetime as dt
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa

import rillet
from bench.figures import Target, figure, input_set_aside, peer
from bench.perflog import create_perf_log, perf_rows, temporary_database

TUPLES = 1_500_000
DICTS = 1_000_000
#: records of each other form of time (fewer: eight more figures)
FORM_RECORDS = 600_000
RUNS = 3

Feed = Callable[[rillet.Stream], int]
#: a stream's durability and its log compression
Config = tuple[str, str]


def rate(durability: str, feed: Feed) -> float:
    """The median records/s of ``RUNS`` runs of ``feed`` after a warm-up run."""
    return statistics.median([one_run(durability, feed)[0] for _ in range(1 + RUNS)][1:])


def taking_turns(configs: Sequence[Config], feed: Feed) -> list[tuple[float, float]]:
    """For each configuration, the median records/s of ``RUNS`` runs of ``feed`` and the
    bytes it wrote to the log per record.  The configurations take turns, after a warm-up
    round, each round starting one further on, so that what a run leaves to the next (files
    to delete, pages to write back) falls on every configuration alike."""
    runs: list[list[tuple[float, float]]] = [[] for _ in configs]
    for round_ in range(1 + RUNS):
        for i in range(len(configs)):
            k = (round_ + i) % len(configs)
            durability, compression = configs[k]
            result = one_run(durability, feed, compression)
            if round_:
                runs[k].append(result)
    # the bytes are the same every run: compression is deterministic
    return [(statistics.median(r for r, _ in each), each[-1][1]) for each in runs]


def one_run(durability: str, feed: Feed, log_compression: str | None = None) -> tuple[float, float]:
    """Records/s of ``feed`` (which returns how many records it put) into a new stream,
    ``flush()`` included, and the bytes written to its log per record."""
    with temporary_database() as db, input_set_aside():
        stream = create_perf_log(db, durability, log_compression)
        start = time.perf_counter()
        count = feed(stream)
        stream.flush()
        elapsed = time.perf_counter() - start
        return count / elapsed, stream.log_bytes_written / count


def one_by_one(records: Sequence[Any]) -> Feed:
    def feed(stream: rillet.Stream) -> int:
        append = stream.append
        for record in records:
            append(record)
        return len(records)

    return feed


def in_tables(tables: Sequence[pa.Table]) -> Feed:
    def feed(stream: rillet.Stream) -> int:
        for table in tables:
            stream.append_many(table)
        return sum(table.num_rows for table in tables)

    return feed


def time_forms(rows: Sequence[tuple[Any, ...]], names: Sequence[str]) -> None:
    """The single-append rates with the time as a datetime, ISO text or left out, tuples
    and dicts, each beside the epoch-ns form measured in the same breath."""
    epoch = dt.datetime(1970, 1, 1)  # noqa: DTZ001 (a naive datetime means UTC)
    naive = [epoch + dt.timedelta(microseconds=row[0] // 1000) for row in rows]
    forms: dict[str, list[Any]] = {
        "datetime (naive)": naive,
        "datetime (aware, UTC)": [when.replace(tzinfo=dt.UTC) for when in naive],
        "ISO-8601 text": [when.isoformat() + "Z" for when in naive],
    }
    del naive
    for shape in ("tuple", "dict"):
        as_dicts = shape == "dict"
        plain = [dict(zip(names, r, strict=True)) for r in rows] if as_dicts else list(rows)
        base = rate("relaxed", one_by_one(plain))
        del plain
        for form, times in [*forms.items(), ("left out", [])]:
            records: list[Any] = [
                (when, *row[1:]) if times else row[1:]
                for when, row in zip(times or [None] * len(rows), rows, strict=True)
            ]
            if as_dicts:
                records = [
                    dict(zip(names if times else names[1:], r, strict=True)) for r in records
                ]
            value = rate("relaxed", one_by_one(records))
            figure(
                f"append {shape}, time as {form}, relaxed ({len(rows):,} records; "
                f"{value / base:.0%} of epoch ns at {base:,.0f}/s)",
                value,
                "records/s",
                Target(600_000 if as_dicts else 1_000_000, at_least=True, unit="records/s"),
            )


def run(tables: Sequence[pa.Table]) -> float:
    """Print the ingest figures; return append_many's relaxed rows/s (PostgreSQL's peer)."""
    rows = perf_rows(TUPLES)
    figure(
        f"append tuple, relaxed ({TUPLES:,} records)",
        rate("relaxed", one_by_one(rows)),
        "records/s",
        Target(1_000_000, at_least=True, unit="records/s"),
    )
    names = [field.name for field in tables[0].schema]
    dicts = [dict(zip(names, row, strict=True)) for row in rows[:DICTS]]
    figure(
        f"append dict, relaxed ({DICTS:,} records)",
        rate("relaxed", one_by_one(dicts)),
        "records/s",
        Target(600_000, at_least=True, unit="records/s"),
    )
    del dicts
    time_forms(rows[:FORM_RECORDS], names)
    del rows
    total = sum(table.num_rows for table in tables)
    configs = [("relaxed", "lz4"), ("relaxed", "zstd"), ("relaxed", "none"), ("durable", "lz4")]
    results = taking_turns(configs, in_tables(tables))
    (relaxed, relaxed_bytes), (zstd, zstd_bytes), (plain, plain_bytes), (durable, _) = results
    name = "append_many 65,536-row tables"
    figure(
        f"{name}, relaxed ({total:,} rows; lz4 log: {relaxed_bytes:.1f} bytes a row)",
        relaxed,
        "rows/s",
        Target(10_000_000, at_least=True, unit="rows/s"),
    )
    peer(
        f"{name}, relaxed, zstd log ({zstd_bytes:.1f} bytes a row)", zstd, "rows/s", relaxed / zstd
    )
    peer(
        f"{name}, relaxed, uncompressed log ({plain_bytes:.1f} bytes a row)",
        plain,
        "rows/s",
        relaxed / plain,
    )
    figure(
        f"{name}, durable ({total:,} rows; lz4 log)",
        durable,
        "rows/s",
        Target(8_000_000, at_least=True, unit="rows/s"),
    )
    figure(f"{name}, relaxed rate over durable rate", relaxed / durable, "×", Target(1, True, "×"))
    return relaxed
