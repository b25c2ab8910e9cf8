"""Aggregates over 10M stored rows: ``db.sql`` against DuckDB reading the same Parquet files.

rillet runs DuckDB too: each query gets a view over the stream's files (those the time
condition leaves) and its memory records, so the ratio is what rillet adds to a bare
``read_parquet([...])`` of every file.  Each time is the median of 5 runs, taking turns with
the peer's after a warm-up round, results fetched; counts that differ from rillet's are
reported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import duckdb

import rillet
from bench.figures import Target, figure, medians, peer
from bench.perflog import STREAM, sealed_paths

#: by name, each with ``{table}`` where the stream (or the peer's table) goes
QUERIES = {
    "group by log_msg": (
        "SELECT log_msg, count(*) AS n, avg(op_latency_ms) AS avg_ms, max(cpu_util) AS max_cpu "
        "FROM {table} GROUP BY log_msg ORDER BY log_msg"
    ),
    "group by log_msg, 2 of 10 hours": (
        "SELECT log_msg, count(*) AS n, avg(op_latency_ms) AS avg_ms, max(cpu_util) AS max_cpu "
        "FROM {table} WHERE \"timestamp\" >= TIMESTAMPTZ '2024-05-01 03:00:00+00' "
        "AND \"timestamp\" < TIMESTAMPTZ '2024-05-01 05:00:00+00' "
        "GROUP BY log_msg ORDER BY log_msg"
    ),
}
RATIO = 1.3

Rows = list[tuple[Any, ...]]


class Timed(NamedTuple):
    """A query's median time and the rows it returned."""

    seconds: float
    rows: Rows


def rillet_rows(db: rillet.Database, query: str) -> Callable[[], Rows]:
    return lambda: db.sql(query).fetchall()


def duckdb_rows(con: duckdb.DuckDBPyConnection, query: str) -> Callable[[], Rows]:
    return lambda: con.sql(query).fetchall()


def counts(rows: Rows) -> list[tuple[Any, Any]]:
    """The (group, count) pairs of a result, sorted (collations may order them differently)."""
    return sorted((row[0], row[1]) for row in rows)


def race(name: str, ours: Callable[[], Rows], theirs: Callable[[], Rows]) -> tuple[Timed, Timed]:
    """rillet's and a peer's median times for one query, taking turns; says so when the
    peer's counts differ from rillet's, as its figure would then mean nothing."""
    mine, other = (Timed(*timing) for timing in medians([ours, theirs]))
    if counts(mine.rows) != counts(other.rows):
        print(f"  MISMATCH {name}: rillet {counts(mine.rows)} != peer {counts(other.rows)}")
    return mine, other


def run(db: rillet.Database, stream: rillet.Stream) -> None:
    """Print each query's time in rillet and in DuckDB."""
    files = ", ".join(f"'{path}'" for path in sealed_paths(db, stream))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as rillet's cursors
    for name, template in QUERIES.items():
        mine, theirs = race(
            name,
            rillet_rows(db, template.format(table=STREAM)),
            duckdb_rows(con, template.format(table=f"read_parquet([{files}])")),
        )
        ratio = mine.seconds / theirs.seconds
        figure(
            f"db.sql {name}, {len(stream):,} rows",
            mine.seconds * 1e3,
            "ms",
            Target(RATIO, at_least=False, unit="", label="ratio rillet/DuckDB"),
            judged=ratio,
        )
        peer(f"DuckDB read_parquet, {name}", theirs.seconds * 1e3, "ms", ratio)
    con.close()
