"""Parsing expressions: rillet's hand-written rtsql parser beside sqlglot's (``parse_one``,
its default dialect), on the same expressions.

Each figure is the time of one parse (text to tree, tokenizing included), from the median of
5 runs of ``PARSES`` parses, taking turns with sqlglot's after a warm-up round.  sqlglot
reads ``||`` as string concatenation, so it is given Confluo's ``a || b`` as ``a OR b``; the
other expressions are SQL as written.  sqlglot's figures say whether its parser is the
pure-Python one (what rillet installs) or the mypyc-compiled one of ``sqlglot[c]``, about
three times as fast here.  A few seconds in all.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version

import sqlglot
import sqlglot.parser

from bench.figures import Target, figure, medians, peer
from rillet.expressions.parser import parse

#: by name: the rtsql text, and the same expression in SQL for sqlglot
EXPRESSIONS = {
    "OR of comparisons": (
        "cpu_util > 0.8 || mem_avail < 0.1",
        "cpu_util > 0.8 OR mem_avail < 0.1",
    ),
    "arithmetic, a function and LIKE": (
        "length(log_msg) + 3 * op_latency_ms >= 100 AND host LIKE 'a%'",
        "length(log_msg) + 3 * op_latency_ms >= 100 AND host LIKE 'a%'",
    ),
    "NOT, IS NULL, nested parentheses": (
        "(bytes_in - bytes_out) / 1024 % 7 <> 0 AND NOT (status = 'ok' OR status IS NULL)",
        "(bytes_in - bytes_out) / 1024 % 7 <> 0 AND NOT (status = 'ok' OR status IS NULL)",
    ),
    "time window": (
        "event_timestamp() > now() - INTERVAL '5' MINUTE",
        "event_timestamp() > now() - INTERVAL '5' MINUTE",
    ),
}
PARSES = 300
#: the hand-written parser is kept while it is at least twice as fast as sqlglot's
RATIO = 0.5


def sqlglot_name() -> str:
    """sqlglot's version, and whether its parser is compiled (``sqlglot[c]``)."""
    compiled = not sqlglot.parser.__file__.endswith(".py")
    return f"sqlglot {version('sqlglot')} ({'compiled' if compiled else 'pure Python'})"


def parses(parser: Callable[[str], object], text: str) -> Callable[[], None]:
    def run() -> None:
        for _ in range(PARSES):
            parser(text)

    return run


def compare(
    cases: dict[str, tuple[str, str]], parser: Callable[[str], object], what: str, ratio: float
) -> None:
    """Print, for each case (rillet's text, sqlglot's text), the time of one parse in each."""
    peer_name = sqlglot_name()
    for name, (rtsql, sql) in cases.items():
        (mine, _), (theirs, _) = medians([parses(parser, rtsql), parses(sqlglot.parse_one, sql)])
        figure(
            f"parse {what}{name}",
            mine / PARSES * 1e6,
            "µs",
            Target(ratio, at_least=False, unit="", label="ratio rillet/sqlglot"),
            judged=mine / theirs,
        )
        peer(f"{peer_name} parse_one, {name}", theirs / PARSES * 1e6, "µs", mine / theirs)


def run() -> None:
    """Print, for each expression, the time of one parse in rillet and in sqlglot."""
    compare(EXPRESSIONS, parse, "", RATIO)
