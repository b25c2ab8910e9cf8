"""Every benchmark in one run (``make bench``): rillet's figures beside its peers'.

Expression parsing (against sqlglot), then ingest, live monitoring, point reads, queries
(against DuckDB on the same files) and PostgreSQL, on one generated performance log of 10M
records.  Each figure prints as soon as it is measured.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

import rillet  # noqa: E402
from bench import (  # noqa: E402
    cli_ingest,
    flows,
    ingest,
    monitors,
    named_flows,
    parser,
    postgres,
    query,
    read,
    rollups,
    rtsql_parse,
    server,
    sources,
    timeseries,
    timeseries_stores,
)
from bench.figures import section  # noqa: E402
from bench.perflog import perf_tables, sealed_perf_log  # noqa: E402

ROWS = 10_000_000


def main() -> None:
    began = time.perf_counter()
    print(
        f"rillet {rillet.__version__}, DuckDB {duckdb.__version__}, Python "
        f"{platform.python_version()}, {os.cpu_count()} cores, {ROWS:,} perf-log records, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    section("parsing expressions, beside sqlglot")
    parser.run()  # first: it needs no records
    section("parsing rtsql statements, beside sqlglot")
    rtsql_parse.run()
    tables = perf_tables(ROWS)
    section("ingest")
    append_many_rate = ingest.run(tables)
    section("live monitoring (Confluo's monitors), beside DuckDB on the same rows")
    monitors.run(tables)
    with sealed_perf_log(tables) as (db, stream):
        section("point reads")
        read.run(tables, stream)
        section("queries, rillet db.sql against DuckDB on the same Parquet files")
        query.run(db, stream)
        section("PostgreSQL")
        postgres.run(tables, append_many_rate, db)
    timeseries.main()  # its own data: 1,000 names x a day of minutes
    flows.run()  # its own data: 5M events replayed from a stream, two streams joined
    sources.run()  # its own file: 20 MB of delimited text (RILLET_BENCH_SOURCES_MB)
    rollups.run()  # its own data: a day of 1,000 hosts' latencies, a 1-minute roll-up
    named_flows.run()  # its own data: a roll-up's backfill, live roll-ups, a restart
    timeseries_stores.main()  # SQL and Redis beside Kairos' own methods, same run
    cli_ingest.run()  # its own file: a 1M-line CSV through rillet ingest, beside DuckDB
    server.run()  # a server on loopback, 8 client processes, PostgreSQL COPY beside
    print(
        f"\nall benchmarks ran in {time.perf_counter() - began:.0f} s; load average "
        f"{os.getloadavg()[0]:.2f} (other work on the machine slows every figure)"
    )


if __name__ == "__main__":
    main()
