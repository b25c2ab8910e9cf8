"""A stream's schema: its columns, its time column, and how a Python row is checked.

A row that is a tuple of already-stored values passes one generated type check and is kept
as it is.  :meth:`Schema.prepare` takes the other common forms (a mapping, the time left out,
the time as a datetime or ISO-8601 text) with a few more checks: their times stay as given
(a datetime, or None to be stamped) and become Arrow values in bulk when the buffer becomes a
batch.  Anything else (promotions, lists, bad values) goes through :meth:`Schema.normalize`,
which converts or raises a RecordError naming column, row and value.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, TypeAlias

import pyarrow as pa

from rillet.datatypes import SCALARS, DataType, TypeParser
from rillet.errors import ParseError, RecordError, SchemaError, suggest
from rillet.time import UTC, to_ns, us_to_datetime

IMPLICIT_TIME = "_time"
OFFSET = "_offset"
# The forms of a row's time, as Schema.classify tells them (0: not a row of stored values);
# LEFT_OUT is a tuple one value short, without its time
EPOCH, DATETIME, TEXT, UNTIMED, LEFT_OUT = 1, 2, 3, 4, 5

SchemaSpec: TypeAlias = str | Sequence[tuple[str, str | DataType]] | pa.Schema


@dataclass(frozen=True, slots=True)
class Column:
    """One column: a name and an rtsql type."""

    name: str
    type: DataType

    def __str__(self) -> str:
        return f"{_quote(self.name)} {self.type}"


def _quote(name: str) -> str:
    plain = re.fullmatch(r"[a-z_][a-z0-9_]*", name) is not None
    return name if plain else '"' + name.replace('"', '""') + '"'


def parse_columns(text: str) -> list[Column]:
    """Columns from rtsql text: ``"ts TIMESTAMP, host STRING NOT NULL, ..."``."""
    parser = TypeParser(text)
    columns = []
    while True:
        name = parser.name()
        columns.append(Column(name, parser.datatype()))
        if parser.token.text != ",":
            break
        parser.advance()
    parser.end()
    return columns


def _kept(dtype: DataType) -> bool:
    """Whether a stream's column can be of type ``dtype``."""
    if dtype.name == "LIST":
        return dtype.item is not None and _kept(dtype.item)
    return dtype.name in SCALARS or dtype.name == "PRECISE"


class Schema:
    """The columns of a stream, one of which is its event-time column.

    A schema without a time column gets an implicit first column ``_time`` stamped with the
    ingest time, as Confluo does.

    Examples:
        >>> s = Schema.build("ts TIMESTAMP, host STRING NOT NULL, ms DOUBLE", "ts")
        >>> str(s)
        'ts TIMESTAMP NOT NULL, host STRING NOT NULL, ms DOUBLE'
        >>> s.normalize(("2024-01-01T00:00:00Z", "a", 3), "perf", 0)
        (1704067200000000000, 'a', 3.0)
    """

    def __init__(self, columns: Sequence[Column], time_column: str | None) -> None:
        seen: dict[str, str] = {}
        for column in columns:
            key = column.name.lower()
            if key in seen or column.name in (OFFSET, IMPLICIT_TIME):
                raise SchemaError(
                    f"duplicate or reserved column name {column.name!r}", column=column.name
                )
            if not _kept(column.type):  # an INTERVAL or a bare NULL (a query's, not a column's)
                raise SchemaError(
                    f"column {column.name!r} is {column.type.name}, which a stream cannot keep "
                    f"(its types: {', '.join(SCALARS)}, PRECISE(s) and LIST<type>)",
                    column=column.name,
                )
            seen[key] = column.name
        if not columns:
            raise SchemaError("a schema needs at least one column")
        columns = list(columns)
        if time_column is None:
            columns.insert(0, Column(IMPLICIT_TIME, DataType("TIMESTAMP", nullable=False)))
            time_column = IMPLICIT_TIME
        names = [c.name for c in columns]
        if time_column not in names:
            raise SchemaError(
                f"time column {time_column!r} is not in the schema"
                + (f"; did you mean {hint!r}?" if (hint := suggest(time_column, names)) else ""),
                column=time_column,
            )
        self.time_index = names.index(time_column)
        time_type = columns[self.time_index].type
        if time_type.name != "TIMESTAMP":
            raise SchemaError(
                f"time column {time_column!r} must be TIMESTAMP, not {time_type}",
                column=time_column,
            )
        # The time column is never NULL in storage: a NULL is replaced by the ingest time.
        columns[self.time_index] = Column(time_column, DataType("TIMESTAMP", nullable=False))
        self.columns: tuple[Column, ...] = tuple(columns)
        self.names: tuple[str, ...] = tuple(names)
        self.time_column = time_column
        self.implicit_time = time_column == IMPLICIT_TIME
        self.index = {name: i for i, name in enumerate(names)}
        self.arrow = pa.schema(
            [pa.field(c.name, c.type.arrow, nullable=c.type.nullable) for c in columns]
        )
        self.storage = self.arrow.append(pa.field(OFFSET, pa.int64(), nullable=False))
        self.classify = self._compile_classify()
        n = len(names)
        self.from_dict: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            itemgetter(*names) if n > 1 else lambda row: (row[names[0]],)
        )
        others = [name for name in names if name != time_column]
        # a mapping without the time: its other values, the time left out as from a tuple
        self._from_dict_untimed: Callable[[Mapping[str, Any]], tuple[Any, ...]] = (
            itemgetter(*others)
            if len(others) > 1
            else (lambda row: (row[others[0]],))
            if others
            else (lambda row: ())
        )
        self._readers = [
            (i, f) for i, c in enumerate(columns) if (f := _reader(c.type)) is not None
        ]

    @classmethod
    def build(cls, spec: SchemaSpec, time_column: str | None = None) -> Schema:
        """A schema from rtsql text, a list of (name, type) pairs or a pyarrow schema."""
        if isinstance(spec, str):
            columns = parse_columns(spec)
        elif isinstance(spec, pa.Schema):
            columns = []
            for f in spec:
                try:
                    columns.append(Column(f.name, DataType.from_arrow(f.type, f.nullable)))
                except ParseError:
                    raise SchemaError(
                        f"column {f.name!r}: Arrow type {f.type} has no rtsql type", column=f.name
                    ) from None
        elif isinstance(spec, Sequence):
            columns = []
            for i, pair in enumerate(spec):
                if not (
                    isinstance(pair, tuple | list) and len(pair) == 2 and isinstance(pair[0], str)
                ):
                    raise SchemaError(f"schema entry {i} must be a (name, type) pair, got {pair!r}")
                name, kind = str(pair[0]), pair[1]
                dtype = kind if isinstance(kind, DataType) else _parse_type_named(name, str(kind))
                columns.append(Column(name, dtype))
        else:
            raise SchemaError(
                f"a schema is rtsql text, (name, type) pairs or a pyarrow schema, not {spec!r}"
            )
        if time_column is not None and time_column not in {c.name for c in columns}:
            lowered = time_column.lower()
            if lowered in {c.name for c in columns}:
                time_column = lowered
        return cls(columns, time_column)

    def __str__(self) -> str:
        return ", ".join(
            str(c) for c in self.columns if c.name != IMPLICIT_TIME or not self.implicit_time
        )

    def __repr__(self) -> str:
        return f"Schema({str(self)!r}, time_column={self.time_column!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Schema)
            and self.columns == other.columns
            and self.time_column == other.time_column
        )

    def __hash__(self) -> int:
        return hash((self.columns, self.time_column))

    def _compile_classify(self) -> Callable[[tuple[Any, ...]], int]:
        # One generated expression is several times faster than a loop over columns, and
        # single-record appends run it for every record.
        n = len(self.columns)
        t = self.time_index
        others = [i for i in range(n) if i != t]
        checks = " and ".join(self.columns[i].type.fast_check(f"v{i}") for i in others) or "True"
        source = f"""
def classify(row):
    size = len(row)
    if size == {n}:
        {"".join(f"v{i}, " for i in range(n))}= row
        if not ({checks}):
            return 0
        kind = type(v{t})
        if kind is int:
            return {EPOCH} if {-(2**63)} <= v{t} <= {2**63 - 1} else 0
        if kind is datetime:
            return {DATETIME}
        if kind is str:
            return {TEXT}
        return {UNTIMED} if v{t} is None else 0
    if size == {n - 1}:
        {"".join(f"v{i}, " for i in others) or "()"} = row
        return {LEFT_OUT} if {checks} else 0
    return 0
"""
        namespace: dict[str, Any] = {"datetime": dt.datetime}
        exec(compile(source, f"<schema {self}>", "exec"), namespace)
        return namespace["classify"]  # type: ignore[no-any-return]

    def fast_check(self, row: tuple[Any, ...]) -> bool:
        """True when ``row`` is a tuple of stored values, its time in epoch nanoseconds."""
        return self.classify(row) == EPOCH

    def prepare(self, row: Any, stream: str, index: int) -> tuple[tuple[Any, ...], int]:
        """``row`` as a tuple of stored values and the form of its time: :data:`EPOCH`
        (nanoseconds), :data:`DATETIME`, :data:`TEXT` (ISO-8601, checked here),
        :data:`UNTIMED` (None) or :data:`LEFT_OUT` (the tuple is one value short); the last
        two are stamped with the ingest time.  A RecordError (from :meth:`normalize`) if the
        row cannot be stored.

        The forms people append most take a few checks here: a tuple or mapping, its time
        as epoch nanoseconds, a datetime or ISO-8601 text, or left out.  Their times are
        converted in bulk when the buffer becomes a batch.

        Examples:
            >>> s = Schema.build("ts TIMESTAMP, v INT", "ts")
            >>> s.prepare({"v": 1}, "t", 0)
            ((1,), 5)
            >>> s.prepare(("2024-01-01T00:00:00Z", 2), "t", 0)
            (('2024-01-01T00:00:00Z', 2), 3)
        """
        ti = self.time_index
        candidate = row
        if type(row) is dict:
            candidate = None
            try:
                if len(row) == len(self.columns):
                    candidate = self.from_dict(row)
                elif len(row) == len(self.columns) - 1:
                    candidate = self._from_dict_untimed(row)
            except KeyError:
                pass
        kind = self.classify(candidate) if type(candidate) is tuple else 0
        if kind == TEXT:
            try:
                dt.datetime.fromisoformat(candidate[ti])
            except ValueError:  # normalize reads more forms, or says what is wrong
                kind = 0
        if kind:
            return candidate, kind
        stored = self.normalize(row, stream, index)
        return stored, UNTIMED if stored[ti] is None else EPOCH

    def normalize(self, row: Any, stream: str, index: int) -> tuple[Any, ...]:
        """``row`` (tuple, list or mapping) as a tuple of stored values, or a RecordError.

        A time left out (or None) stays None: it is stamped when the buffer becomes a batch.
        """
        if type(row) is tuple and self.fast_check(row):
            return row
        n = len(self.columns)
        if isinstance(row, Mapping):
            unknown = [key for key in row if key not in self.index]
            if unknown:
                key = unknown[0]
                hint = suggest(str(key), self.names)
                raise RecordError(
                    f"unknown column {key!r} in row {index} of stream {stream!r}"
                    + (f"; did you mean {hint!r}?" if hint else ""),
                    stream=stream,
                    column=key,
                    row=index,
                    value=row[key],
                )
            values = [row.get(name) for name in self.names]
        elif isinstance(row, tuple | list):
            values = list(row)
            if len(values) == n - 1:  # the time column left out: stamp with ingest time
                values.insert(self.time_index, None)
            elif len(values) != n:
                raise RecordError(
                    f"row {index} of stream {stream!r} has {len(values)} values; the schema "
                    f"has {n} columns ({', '.join(self.names)}), or {n - 1} without the time "
                    f"column {self.time_column!r}",
                    stream=stream,
                    column=None,
                    row=index,
                    value=row,
                )
        else:
            raise RecordError(
                f"row {index} of stream {stream!r} must be a tuple, list or mapping, not "
                f"{type(row).__name__}",
                stream=stream,
                column=None,
                row=index,
                value=row,
            )
        for i, column in enumerate(self.columns):
            value = values[i]
            if i == self.time_index and value is None:
                continue  # stamped with the ingest time when the buffer becomes a batch
            try:
                values[i] = column.type.coerce(value)
            except (TypeError, ValueError, OverflowError) as exc:
                raise RecordError(
                    f"column {column.name!r} of row {index} in stream {stream!r}: {exc} "
                    f"(value {value!r}, column type {column.type})",
                    stream=stream,
                    column=column.name,
                    row=index,
                    value=value,
                ) from None
        return tuple(values)

    def read_values(self, stored: tuple[Any, ...]) -> tuple[Any, ...]:
        """Buffered (prepared) values as a reader sees them: what Arrow gives back for them."""
        if not self._readers:
            return stored
        values = list(stored)
        for i, convert in self._readers:
            if values[i] is not None:
                values[i] = convert(values[i])
        return tuple(values)


def _parse_type_named(name: str, text: str) -> DataType:
    from rillet.datatypes import parse_type

    try:
        return parse_type(text)
    except Exception as exc:
        raise SchemaError(f"column {name!r}: {exc}", column=name) from exc


_FLOAT32 = struct.Struct("f")


def _read_time(value: int | dt.datetime | str) -> dt.datetime:
    """A buffered time (epoch ns, a datetime, naive meaning UTC, or ISO-8601 text) as
    storage returns it."""
    if type(value) is int or type(value) is str:
        return us_to_datetime(to_ns(value) // 1000)
    assert isinstance(value, dt.datetime)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _reader(dtype: DataType) -> Callable[[Any], Any] | None:
    if dtype.name == "TIMESTAMP":
        return _read_time
    if dtype.name == "FLOAT":
        return lambda x: _FLOAT32.unpack(_FLOAT32.pack(x))[0]
    if dtype.name == "LIST" and ("FLOAT" in str(dtype) or "TIMESTAMP" in str(dtype)):
        arrow = dtype.arrow  # nested values: let Arrow round them exactly as storage will
        return lambda items: pa.array([items], type=arrow).to_pylist()[0]
    return None
