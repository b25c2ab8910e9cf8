"""Parsing rtsql statements: rillet's statement parser beside sqlglot's (``parse_one``, its
default dialect) on the closest SQL it reads.

Each figure is the time of one parse (text to tree, tokenizing included), from the median of
5 runs of ``PARSES`` parses, taking turns with sqlglot's after a warm-up round.  SQL has no
rolling windows, windowed joins or stream sources, so sqlglot is given what a SQL engine
would be asked instead: a window function with a RANGE frame (and QUALIFY for HAVING), a
join with the time bounds in its condition, a CREATE TABLE with its format in WITH options.
Run it alone with ``python bench/rtsql_parse.py``; a few seconds.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.figures import section  # noqa: E402
from bench.parser import compare  # noqa: E402
from rillet.rtsql.parser import parse  # noqa: E402

#: by name: the rtsql statement, and the closest SQL statement for sqlglot
STATEMENTS = {
    "filter": (
        "SELECT favcolor FROM data WHERE luckynumber = 42;",
        "SELECT favcolor FROM data WHERE luckynumber = 42;",
    ),
    "nested SELECT": (
        "SELECT doubled FROM (SELECT 2 * a AS doubled FROM foo) AS q WHERE doubled > 4",
        "SELECT doubled FROM (SELECT 2 * a AS doubled FROM foo) AS q WHERE doubled > 4",
    ),
    "windowed aggregate with GROUP BY and HAVING": (
        "SELECT event_src, COUNT(event_src) AS cnt FROM foo GROUP BY event_src "
        "OVER RANGE INTERVAL 5 SECONDS PRECEDING HAVING cnt > 10",
        "SELECT event_src, COUNT(event_src) OVER (PARTITION BY event_src ORDER BY ts "
        "RANGE BETWEEN INTERVAL '5' SECOND PRECEDING AND CURRENT ROW) AS cnt FROM foo "
        "QUALIFY cnt > 10",
    ),
    "windowed join": (
        "SELECT f.x, g.z FROM f JOIN g ON f.x = g.y OVER RANGE BETWEEN INTERVAL 1 SECONDS "
        "PRECEDING AND INTERVAL 5 SECONDS FOLLOWING WHERE g.z > 0",
        "SELECT f.x, g.z FROM f JOIN g ON f.x = g.y AND g.ts > f.ts - INTERVAL '1' SECOND "
        "AND g.ts <= f.ts + INTERVAL '5' SECOND WHERE g.z > 0",
    ),
    "CREATE STREAM with a source and properties": (
        "CREATE STREAM data (id INT, name STRING, favcolor STRING NOT NULL, luckynumber INT) "
        "FROM LOCAL FILE '/data/data.txt' EVENT FORMAT 'delimited' "
        "PROPERTIES ('delimiter' = '|', 'null.sequence' = '\\\\N')",
        "CREATE TABLE data (id INT, name TEXT, favcolor TEXT NOT NULL, luckynumber INT) "
        "WITH (location = '/data/data.txt', format = 'delimited', delimiter = '|', "
        "null_sequence = '\\\\N')",
    ),
}
#: aim: a statement parses at least as fast as sqlglot parses its SQL
RATIO = 1.0


def run() -> None:
    """Print, for each statement, the time of one parse in rillet and in sqlglot."""
    compare(STATEMENTS, parse, "statement, ", RATIO)


if __name__ == "__main__":
    section("parsing rtsql statements, beside sqlglot")
    run()
