"""Ad-hoc SQL: DuckDB over each stream's sealed files plus its memory records.

Each query runs on its own DuckDB cursor, in one transaction (so ``now()`` is one instant
throughout).  Every stream the query names becomes a temporary view over its partitions:
one ``read_parquet`` of those kept in Parquet files, so that DuckDB scans them itself, and
an Arrow table of the others (memory); partitions whose time range cannot meet the query's
conditions on the time column are left out of the view.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pyarrow as pa
import sqlglot
from sqlglot import exp

from rillet.aggregates import sqlfunctions
from rillet.errors import (
    AccessError,
    ConfigError,
    InputError,
    NotFoundError,
    ParseError,
    RilletError,
    StorageError,
    TypeCheckError,
    not_found,
)
from rillet.schema import OFFSET
from rillet.storage.partitions import overlapping

if TYPE_CHECKING:
    from rillet.stream import Stream


class Result:
    """The rows a query returned, held as an Arrow table.

    Examples:
        >>> r = Result(pa.table({"n": [1, 2]}))
        >>> r.columns, r.fetchall()
        (['n'], [(1,), (2,)])
    """

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    @property
    def columns(self) -> list[str]:
        """The column names, in order."""
        return list(self._table.column_names)

    def arrow(self) -> pa.Table:
        """The rows as a pyarrow Table."""
        return self._table

    def fetchall(self) -> list[tuple[Any, ...]]:
        """The rows as tuples."""
        columns = [c.to_pylist() for c in self._table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row, or None if there is none."""
        if self._table.num_rows == 0:
            return None
        return tuple(c[0].as_py() for c in self._table.columns)

    def df(self) -> Any:
        """The rows as a pandas DataFrame (needs pandas)."""
        try:
            return self._table.to_pandas()
        except ImportError as exc:
            raise ConfigError("Result.df() needs pandas: pip install 'rillet[pandas]'") from exc

    def pl(self) -> Any:
        """The rows as a polars DataFrame (needs polars)."""
        try:
            import polars
        except ImportError as exc:
            raise ConfigError("Result.pl() needs polars: pip install 'rillet[polars]'") from exc
        return polars.from_arrow(self._table)

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.fetchall())

    def __repr__(self) -> str:
        return f"Result(columns={self.columns}, rows={len(self)})"


@dataclass(slots=True)
class Bounds:
    """Inclusive bounds on a stream's time column (DuckDB expressions), None = open."""

    low: list[exp.Expression]
    high: list[exp.Expression]


class QueryEngine:
    """Runs DuckDB SQL over streams."""

    def __init__(self) -> None:
        self._con = duckdb.connect(":memory:")
        sqlfunctions.register(self._con)  # kll_quantile, hll_merge_count, ... over roll-ups
        self._lock = threading.Lock()

    def run(
        self,
        query: str,
        streams: Mapping[str, Stream],
        params: Sequence[Any] | None,
        extra: Callable[[Sequence[str]], Mapping[str, Added]] | None = None,
    ) -> Result:
        """Run ``query``; ``extra`` gives, for the streams it reads, rows to add to theirs
        (the open windows of named flows, with ``include_open``).  The sealed files it lists
        stay on disk until it ends, whatever retention drops meanwhile."""
        with ExitStack() as reading:
            for stream in streams.values():
                reading.enter_context(stream._reading())
            return self._run(query, streams, params, extra)

    def _run(
        self,
        query: str,
        streams: Mapping[str, Stream],
        params: Sequence[Any] | None,
        extra: Callable[[Sequence[str]], Mapping[str, Added]] | None,
    ) -> Result:
        with self._lock:  # making a cursor touches the shared connection
            cursor = self._con.cursor()
        try:
            names = _streams_read(cursor, query, streams)
            added = extra(list(names)) if extra is not None else {}
            cursor.execute("SET TimeZone = 'UTC'")
            cursor.begin()
            times = {name: self._bounds(cursor, bounds) for name, bounds in names.items()}
            for i, name in enumerate(names):
                self._define_view(cursor, i, streams[name], times[name], added.get(name))
            relation = cursor.sql(query, params=params) if params is not None else cursor.sql(query)
            table = relation.to_arrow_table() if relation is not None else pa.table({})
            cursor.commit()
            return Result(table)
        except duckdb.Error as exc:
            where = (
                self._syntax_position(query) if isinstance(exc, duckdb.ParserException) else None
            )
            raise _translate(exc, streams, query, where) from exc
        finally:
            cursor.close()

    def _syntax_position(self, query: str) -> tuple[int, int] | None:
        """Where DuckDB's parser fails on ``query``, as 1-based (line, column).

        Its message shows the line with a caret under the place, but cuts long lines short
        and gives a tab no width; parsed again with ``errors_as_json`` (on a cursor of its
        own: the setting is the session's), it gives the byte offset itself.
        """
        with self._lock:
            cursor = self._con.cursor()
        try:
            cursor.execute("SET errors_as_json = true")
            cursor.extract_statements(query)
        except duckdb.Error as exc:
            try:
                position = int(json.loads(str(exc).partition(": ")[2])["position"])
            except (ValueError, KeyError, TypeError):
                return None
            return line_col(query, position)
        finally:
            cursor.close()
        return None

    @staticmethod
    def _bounds(
        cursor: duckdb.DuckDBPyConnection, bounds: Bounds | None
    ) -> tuple[int | None, int | None]:
        """Bounds as epoch microseconds, in the query's transaction (the same ``now()``).

        A bound DuckDB cannot evaluate prunes nothing; the failure aborted the transaction,
        so a new one begins.
        """
        if bounds is None:
            return None, None
        try:
            return _evaluate(cursor, bounds)
        except duckdb.Error:
            cursor.rollback()
            cursor.begin()
            return None, None

    def _define_view(
        self,
        cursor: duckdb.DuckDBPyConnection,
        i: int,
        stream: Stream,
        bounds: tuple[int | None, int | None],
        added: Added | None = None,
    ) -> None:
        stream._ingest_buffer()
        low, high = bounds  # inclusive: [low, high + 1) in whole microseconds
        partitions = overlapping(stream.partitions(), low, None if high is None else high + 1)
        files = [p.parquet_path for p in partitions if p.parquet_path is not None]
        batches = [b for p in partitions if p.parquet_path is None for b in p.scan()]
        columns = ", ".join(_quote(name) for name in stream.schema.names)
        memory = f"__rillet_memory_{i}"
        cursor.register(memory, pa.Table.from_batches(batches, schema=stream.schema.storage))
        # with rows added, the stream's own as they were then: none twice, none missing
        held = f" WHERE {_quote(OFFSET)} < {int(added.before)}" if added is not None else ""
        parts = [f"SELECT {columns} FROM {memory}{held}"]
        if added is not None and added.rows.num_rows:
            more = f"__rillet_added_{i}"
            offsets = pa.nulls(added.rows.num_rows, pa.int64())
            table = added.rows.append_column(stream.schema.storage.names[-1], offsets)
            cursor.register(more, table)
            parts.append(f"SELECT {columns} FROM {more}")
        if files:
            paths = ", ".join(_literal(path) for path in files)
            parts.insert(0, f"SELECT {columns} FROM read_parquet([{paths}]){held}")
        cursor.execute(f"CREATE TEMP VIEW {_quote(stream.name)} AS {' UNION ALL '.join(parts)}")

    def matching_offsets(self, paths: Sequence[str], condition: str) -> np.ndarray:
        """Offsets of the rows in Parquet ``paths`` where a DuckDB ``condition`` holds."""
        with self._lock:
            cursor = self._con.cursor()
        try:
            cursor.execute("SET TimeZone = 'UTC'")
            files = ", ".join(_literal(str(p)) for p in paths)
            table = cursor.sql(
                f"SELECT _offset FROM read_parquet([{files}]) WHERE {condition}"
            ).to_arrow_table()
            return table.column(0).to_numpy()  # type: ignore[no-any-return]
        except duckdb.Error as exc:
            raise _translate(exc, ()) from exc
        finally:
            cursor.close()

    def confine(self, directories: Sequence[Path | str]) -> None:
        """From now on, SQL reads no file outside ``directories`` (the streams' own), and
        cannot attach databases or install or load extensions: DuckDB's
        ``enable_external_access``, which cannot be turned back on."""
        allowed = [str(Path(d).resolve()) + "/" for d in directories]
        with self._lock:
            self._con.execute("SET allowed_directories = ?", [allowed])
            self._con.execute("SET enable_external_access = false")

    def close(self) -> None:
        self._con.close()


@dataclass(frozen=True, slots=True)
class Added:
    """Rows a query reads as a stream's besides its own (a named flow's open windows'),
    and how many rows of its own it held when they were taken: it reads only those."""

    rows: pa.Table
    before: int


def _streams_read(
    cursor: duckdb.DuckDBPyConnection, query: str, streams: Mapping[str, Stream]
) -> dict[str, Bounds | None]:
    """:func:`referenced`, without its sqlglot parse (a millisecond, a small query's
    third) when no stream the query reads has a partition for time bounds to skip: the
    names then come from DuckDB (50 us).  Asked on the query's own cursor: DuckDB binds
    table functions to find them (it opens files), so a confined engine's limits apply."""
    try:
        named = {name.lower() for name in cursor.get_table_names(query)}
    except duckdb.Error:
        return referenced(query, streams)
    names = _by_lower(streams)
    used = [names[name] for name in sorted(named) if name in names]
    if all(len(streams[name].partitions()) <= 1 for name in used):
        return dict.fromkeys(used)
    return referenced(query, streams)


def referenced(query: str, streams: Mapping[str, Stream]) -> dict[str, Bounds | None]:
    """The streams ``query`` reads, each with the time bounds all its uses agree on.

    A query sqlglot cannot parse gets every stream, unbounded: DuckDB then has its say.
    """
    try:
        trees = [t for t in sqlglot.parse(query, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError:
        return dict.fromkeys(streams)
    if any(isinstance(tree, exp.Command) for tree in trees):
        return dict.fromkeys(streams)  # EXPLAIN, SHOW, ...: sqlglot does not look inside
    found: dict[str, Bounds | None] = {}
    names = _by_lower(streams)
    for tree in trees:
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        for table in tree.find_all(exp.Table):
            lowered = table.name.lower()
            if lowered not in names or lowered in ctes or table.args.get("db"):
                continue
            name = names[lowered]
            bounds = _bounds(table, streams[name].schema.time_column)
            if name not in found:
                found[name] = bounds
            else:
                found[name] = _union(found[name], bounds)
    return found


def _by_lower(streams: Mapping[str, Stream]) -> dict[str, str]:
    """Each stream's name by its lower case: SQL names them in any case (a quoted stream
    name that keeps its case, ``"PerMin"``, too; names differing only in case are refused)."""
    return {name.lower(): name for name in streams}


def _union(a: Bounds | None, b: Bounds | None) -> Bounds | None:
    """Bounds covering two uses of one stream: a side is bounded only if both uses bound it."""
    if a is None or b is None:
        return None
    # each operand becomes a time before comparing: text literals must not compare as text
    low_parts = [_as_time(e) for e in (*a.low, *b.low)]
    high_parts = [_as_time(e) for e in (*a.high, *b.high)]
    low = [exp.Least(this=low_parts[0], expressions=low_parts[1:])] if a.low and b.low else []
    high = (
        [exp.Greatest(this=high_parts[0], expressions=high_parts[1:])] if a.high and b.high else []
    )
    return Bounds(low, high)  # type: ignore[arg-type]


_LOWER = {exp.GT: True, exp.GTE: True, exp.LT: False, exp.LTE: False}


def _bounds(table: exp.Table, time_column: str) -> Bounds | None:
    """Conditions on the time column in the WHERE of the SELECT that reads only ``table``."""
    select = table.parent.parent if isinstance(table.parent, exp.From) else None
    if (
        not isinstance(select, exp.Select)
        or select.args.get("joins")
        or not select.args.get("where")
    ):
        return None
    alias = table.alias_or_name.lower()

    def is_time(node: exp.Expression) -> bool:
        return (
            isinstance(node, exp.Column)
            and node.name.lower() == time_column.lower()
            and node.table.lower() in ("", alias)
        )

    def constant(node: exp.Expression) -> bool:
        variable = exp.Column | exp.Subquery | exp.Select | exp.Placeholder | exp.Parameter
        return not any(isinstance(n, variable) for n in node.walk())

    low: list[exp.Expression] = []
    high: list[exp.Expression] = []
    where = select.args["where"].this
    for condition in where.flatten() if isinstance(where, exp.And) else [where]:
        if isinstance(condition, exp.Between) and is_time(condition.this):
            if constant(condition.args["low"]) and constant(condition.args["high"]):
                low.append(condition.args["low"])
                high.append(condition.args["high"])
            continue
        kind = type(condition)
        if kind is exp.EQ:
            for left, right in (
                (condition.this, condition.expression),
                (condition.expression, condition.this),
            ):
                if is_time(left) and constant(right):
                    low.append(right)
                    high.append(right)
            continue
        if kind not in _LOWER:
            continue
        left, right = condition.this, condition.expression
        if is_time(left) and constant(right):
            (low if _LOWER[kind] else high).append(right)
        elif is_time(right) and constant(left):
            (high if _LOWER[kind] else low).append(left)
    return Bounds(low, high) if low or high else None


def _as_time(node: exp.Expression) -> exp.Expression:
    return exp.cast(node, exp.DataType.build("TIMESTAMPTZ"))


def _evaluate(cursor: duckdb.DuckDBPyConnection, bounds: Bounds) -> tuple[int | None, int | None]:
    """The bounds as epoch microseconds, in the query's own transaction (same ``now()``)."""

    def value(parts: list[exp.Expression], pick: str) -> int | None:
        if not parts:
            return None
        terms = ", ".join(
            f"epoch_us(CAST(({p.sql(dialect='duckdb')}) AS TIMESTAMPTZ))" for p in parts
        )
        rows = cursor.execute(f"SELECT {pick}({terms})").fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    return value(bounds.low, "greatest"), value(bounds.high, "least")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def line_col(text: str, position: int) -> tuple[int, int]:
    r"""The 1-based line and column (in characters) of byte ``position`` of ``text``.

    Examples:
        >>> line_col("SELECT 'é',\n  x FRM t", 17)
        (2, 5)
    """
    before = text.encode()[:position].decode(errors="ignore")
    return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1


_KIND = re.compile(r"^[A-Za-z ]*Error: ")
#: a function of ours (:mod:`rillet.aggregates.sqlfunctions`) refused its input
_UDF = re.compile(r"Python exception occurred while executing the UDF: (?:\w+: )?(.*)", re.S)
#: DuckDB's context: ``LINE n: <the line, maybe cut short by ...>`` and a caret line under it
_CONTEXT = re.compile(r"\n\nLINE (\d+): (.*)\n( *)\^")
_SUGGESTION = re.compile(r'(?:Did you mean|Candidate bindings:[ :]*) "([^"]+)"')
_COLUMN = re.compile(r'Referenced column "([^"]+)" not found')
_MISSING = re.compile(r'^(.+?) with name "?([^"]+?)"? does not exist')


def _caret_position(message: str, query: str) -> tuple[int, int] | None:
    """The (line, column) DuckDB's caret points at, found in ``query``: the caret line counts
    display width (a tab is none, a wide character two) from where the shown text starts."""
    context = _CONTEXT.search(message)
    if context is None:
        return None
    line = int(context.group(1))
    shown, width = context.group(2), len(context.group(3)) - len(f"LINE {line}: ")
    lines = query.split("\n")
    if not 0 < line <= len(lines):
        return None
    start = 0
    if shown.startswith("..."):  # a long line, cut short on the left
        shown, width = shown[3:], width - 3
        start = lines[line - 1].find(shown.removesuffix("..."))
        if start < 0:
            return None
    col = 0
    while col < len(shown) and width > 0:
        width -= _display_width(shown[col])
        col += 1
    return line, start + col + 1


def _display_width(char: str) -> int:
    if unicodedata.category(char) in ("Cc", "Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def _translate(
    exc: duckdb.Error,
    streams: Iterable[str],
    query: str | None = None,
    where: tuple[int, int] | None = None,
) -> RilletError:
    """DuckDB's error as rillet's: the class for its kind, the place in ``query`` (``where``
    if known, else from DuckDB's caret) and the name DuckDB suggests, if it does."""
    message = str(exc)
    refused = _UDF.search(message)
    if refused is not None:
        return InputError(refused.group(1))
    if where is None and query is not None:
        where = _caret_position(message, query)
    line, col = where if where is not None else (None, None)
    at = f" at {line}:{col}" if where is not None else ""
    summary = _KIND.sub("", message, count=1).split("\n", 1)[0].rstrip("!")
    hint = _SUGGESTION.search(message)
    suggestion = hint.group(1) if hint is not None else None
    did_you_mean = f"; did you mean {suggestion!r}?" if suggestion is not None else ""
    if isinstance(exc, duckdb.ParserException):
        return ParseError(f"{summary}{at}{did_you_mean}", line=line, col=col, expected=None)
    if isinstance(exc, duckdb.CatalogException):
        missing = _MISSING.search(summary)
        if missing is not None and missing.group(1) == "Table":
            return not_found("stream", missing.group(2), streams)
        if missing is not None:
            kind, name = missing.group(1).lower().removeprefix("scalar "), missing.group(2)
            return NotFoundError(
                f"unknown {kind} {name!r}{at}{did_you_mean}",
                kind=kind,
                name=name,
                suggestion=suggestion,
            )
        return NotFoundError(message, kind="table", name="", suggestion=None)
    if isinstance(exc, duckdb.PermissionException):
        return AccessError(summary)
    if isinstance(exc, duckdb.IOException):
        return StorageError(message)
    if isinstance(exc, duckdb.BinderException):
        column = _COLUMN.search(summary)
        if column is not None:
            return TypeCheckError(
                f"unknown column {column.group(1)!r}{at}{did_you_mean}",
                line=line,
                col=col,
                name=column.group(1),
                suggestion=suggestion,
            )
        return TypeCheckError(
            f"{summary}{at}{did_you_mean}", line=line, col=col, suggestion=suggestion
        )
    if isinstance(
        exc, duckdb.ConversionException | duckdb.InvalidInputException | duckdb.OutOfRangeException
    ):
        return InputError(message)
    return RilletError(message)
