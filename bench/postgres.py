"""PostgreSQL, the peer for ingest and for queries, on the same 10M perf-log rows.

- COPY: ``COPY ... FROM STDIN (FORMAT csv)`` of every row in one statement, committed, into
  a normal (logged) table; the rows are CSV text made beforehand, as rillet's are Arrow tables
  made beforehand.  Set beside rillet's ``append_many`` (relaxed).
- Queries: those of :mod:`bench.query`, after ``VACUUM ANALYZE`` and with a BRIN index on the
  time column (PostgreSQL's counterpart of rillet's pruning of files by time); the median of 5
  runs taking turns with rillet's ``db.sql`` after a warm-up round.

Skipped, saying why, when the server on 127.0.0.1:5432 does not answer.  The table is
dropped at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

import rillet
from bench.figures import peer
from bench.perflog import STREAM
from bench.query import QUERIES, Rows, race, rillet_rows

DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=5"
TABLE = "rillet_bench_perf"
COLUMNS = '"timestamp", op_latency_ms, cpu_util, mem_avail, log_msg'
CREATE = (
    f'CREATE TABLE {TABLE} ("timestamp" timestamptz NOT NULL, op_latency_ms double precision, '
    "cpu_util double precision, mem_avail double precision, log_msg text)"
)


def csv(table: pa.Table) -> bytes:
    """``table`` as CSV rows.  Times are cast to text first: pyarrow's CSV writer is several
    times slower on zoned timestamps, and this is set-up, not the figure."""
    text = table.set_column(0, "timestamp", table["timestamp"].cast(pa.string()))
    sink = pa.BufferOutputStream()
    pacsv.write_csv(text, sink, pacsv.WriteOptions(include_header=False))
    return bytes(sink.getvalue().to_pybytes())


def copy_rate(cursor: psycopg.Cursor[tuple[object, ...]], chunks: Sequence[bytes]) -> float:
    """Rows/s of one COPY of ``chunks`` (one row a line), to the server's acknowledgement."""
    rows = sum(chunk.count(b"\n") for chunk in chunks)
    start = time.perf_counter()
    with cursor.copy(f"COPY {TABLE} ({COLUMNS}) FROM STDIN (FORMAT csv)") as copy:
        for chunk in chunks:
            copy.write(chunk)
    return rows / (time.perf_counter() - start)


def postgres_rows(cursor: psycopg.Cursor[tuple[object, ...]], query: str) -> Callable[[], Rows]:
    return lambda: cursor.execute(query).fetchall()


def run(tables: Sequence[pa.Table], append_many_rate: float, db: rillet.Database) -> None:
    """Print PostgreSQL's figures beside rillet's: ``append_many`` (relaxed) and ``db.sql``
    on ``db``, whose perf_log holds ``tables``."""
    try:
        connection = psycopg.connect(DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())
        print(f"peer PostgreSQL: skipped, cannot connect ({reason})")
        return
    chunks = [csv(table) for table in tables]
    with connection, connection.cursor() as cursor:
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(CREATE)
        try:
            rate = copy_rate(cursor, chunks)
            del chunks
            peer(
                f"PostgreSQL COPY csv (rillet append_many relaxed {append_many_rate:,.0f} rows/s)",
                rate,
                "rows/s",
                append_many_rate / rate,
            )
            cursor.execute(f'CREATE INDEX ON {TABLE} USING brin ("timestamp")')
            cursor.execute(f"VACUUM ANALYZE {TABLE}")
            for name, template in QUERIES.items():
                mine, theirs = race(
                    name,
                    rillet_rows(db, template.format(table=STREAM)),
                    postgres_rows(cursor, template.format(table=TABLE)),
                )
                peer(
                    f"PostgreSQL {name} (rillet db.sql {mine.seconds * 1e3:.1f} ms)",
                    theirs.seconds * 1e3,
                    "ms",
                    mine.seconds / theirs.seconds,
                )
        finally:
            cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
