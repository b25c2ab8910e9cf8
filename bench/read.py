"""Point reads: the latency of ``Stream.read(offset)``.

- Recent records, still in memory (among the last 5,000 appended): the mean over 100,000
  random offsets, once after single-record appends (the records are still Python tuples in
  the append buffer) and once after ``append_many`` (Arrow batches in memory partitions).
- Records in sealed Parquet files: the mean and p99 over 1,000 random offsets of the
  10M-row stream, each read timed alone (a read may load and decode a whole row group).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Sequence

import pyarrow as pa

import rillet
from bench.figures import Target, figure
from bench.perflog import create_perf_log, perf_rows, temporary_database

RECENT = 5_000
MEMORY_READS = 100_000
FILE_READS = 1_000
APPENDED = 200_000  # records appended before the recent ones are read
MEMORY_TARGET = Target(5, at_least=False, unit="µs")
FILE_TARGET = Target(2, at_least=False, unit="ms")


def mean_recent_read_us(stream: rillet.Stream) -> float:
    """The mean µs of a read of one of the last ``RECENT`` records, over random offsets."""
    rng = random.Random(1)
    last = stream.next_offset - 1
    offsets = [last - rng.randrange(RECENT) for _ in range(MEMORY_READS)]
    read = stream.read
    start = time.perf_counter()
    for offset in offsets:
        read(offset)
    return (time.perf_counter() - start) / len(offsets) * 1e6


def file_read_ms(stream: rillet.Stream) -> list[float]:
    """The ms of each of ``FILE_READS`` reads at random offsets (all sealed)."""
    rng = random.Random(2)
    offsets = [rng.randrange(stream.next_offset) for _ in range(FILE_READS)]
    times = []
    for offset in offsets:
        start = time.perf_counter()
        stream.read(offset)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def run(tables: Sequence[pa.Table], sealed: rillet.Stream) -> None:
    """Print the read figures; ``sealed`` holds ``tables``, all in Parquet files."""
    rows = perf_rows(APPENDED)
    with temporary_database() as db:
        stream = create_perf_log(db, "relaxed")
        for row in rows:
            stream.append(row)
        figure(
            f"read recent record after append, in memory (mean of {MEMORY_READS:,})",
            mean_recent_read_us(stream),
            "µs",
            MEMORY_TARGET,
        )
    with temporary_database() as db:
        stream = create_perf_log(db, "relaxed")
        for table in tables[: APPENDED // tables[0].num_rows + 1]:
            stream.append_many(table)
        figure(
            f"read recent record after append_many, in memory (mean of {MEMORY_READS:,})",
            mean_recent_read_us(stream),
            "µs",
            MEMORY_TARGET,
        )
    times = file_read_ms(sealed)
    name = f"read random record in sealed Parquet, {sealed.next_offset:,} rows"
    figure(f"{name} (mean of {FILE_READS:,})", statistics.mean(times), "ms", FILE_TARGET)
    p99 = statistics.quantiles(times, n=100)[98]
    figure(f"{name} (p99 of {FILE_READS:,})", p99, "ms", FILE_TARGET)
