"""The benchmarks' data: Confluo's performance log (``commands.demo.perf_batch``), made once a run.

Every benchmark appends, reads and queries the same records, so its figures and its peers'
compare.  Event time starts at 2024-05-01T00:00:00Z and advances 3.6 ms a record: a million
records an hour, so 10M records fill 10 hourly partitions.  (The monitoring benchmarks also
make other rates: a day of records, or an hour at 1 kHz.)
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import rillet
from rillet.commands.demo import PERF_LOG, perf_batch

STREAM = "perf_log"
BATCH_ROWS = 65_536
STEP_US = 3_600
START_US = 1_714_521_600_000_000  # 2024-05-01T00:00:00Z
#: batches generated; they are cycled, each copy later in time, to make millions of rows fast
DISTINCT = 4
TIMESTAMP = pa.timestamp("us", tz="UTC")


def perf_tables(rows: int, seed: int = 0, step_us: int = STEP_US) -> list[pa.Table]:
    """``rows`` records ``step_us`` apart as Arrow tables of ``BATCH_ROWS`` rows (the last
    may be shorter)."""
    rng = np.random.default_rng(seed)
    distinct = [perf_batch(BATCH_ROWS, 0, step_us, rng) for _ in range(DISTINCT)]
    tables = []
    for i, first in enumerate(range(0, rows, BATCH_ROWS)):
        table = distinct[i % DISTINCT].slice(0, rows - first)
        times = pc.add(table["timestamp"].cast(pa.int64()), START_US + first * step_us)
        tables.append(table.set_column(0, "timestamp", times.cast(TIMESTAMP)))
    return tables


def perf_rows(rows: int) -> list[tuple[Any, ...]]:
    """The first ``rows`` records as tuples in schema order, event time in epoch nanoseconds."""
    table = pa.concat_tables(perf_tables(rows))
    nanos = (table["timestamp"].cast(pa.int64()).to_numpy() * 1000).tolist()
    others = [table[name].to_pylist() for name in table.column_names[1:]]
    return list(zip(nanos, *others, strict=True))


def create_perf_log(
    db: rillet.Database, durability: str, log_compression: str | None = None
) -> rillet.Stream:
    """The ``perf_log`` stream: hourly partitions, time column ``timestamp``; its log
    compressed as the ``log_compression`` setting says unless ``log_compression`` is given."""
    return db.create_stream(
        STREAM,
        PERF_LOG,
        time_column="timestamp",
        partition="1h",
        durability=durability,
        log_compression=log_compression,
    )


@contextmanager
def temporary_database() -> Iterator[rillet.Database]:
    """A database in a temporary folder, closed and deleted afterwards."""
    with (
        tempfile.TemporaryDirectory(prefix="rillet-bench-") as folder,
        rillet.connect(folder) as db,
    ):
        yield db


@contextmanager
def sealed_perf_log(tables: list[pa.Table]) -> Iterator[tuple[rillet.Database, rillet.Stream]]:
    """A database whose ``perf_log`` holds ``tables``, every record sealed in Parquet files."""
    with temporary_database() as db:
        stream = create_perf_log(db, "memory")
        for table in tables:
            stream.append_many(table)
        stream.seal(everything=True)
        yield db, stream


def sealed_paths(db: rillet.Database, stream: rillet.Stream) -> list[str]:
    """The absolute paths of the stream's sealed Parquet files."""
    return [p.parquet_path for p in stream.partitions() if p.parquet_path is not None]
