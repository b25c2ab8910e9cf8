"""Any input to ``append_many`` -> an Arrow table with exactly the stream's schema.

Arrow, pandas and polars inputs are converted column by column with vectorized casts along
rtsql's promotions; Python rows go through the schema's row check.  A failing cast is narrowed
down to its first bad row, so the error names column, row and value.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.datatypes import FLOAT_MAX, DataType
from rillet.errors import RecordError, SchemaError, suggest
from rillet.schema import OFFSET, Schema
from rillet.time import EPOCH, to_ns

US_TZ = pa.timestamp("us", tz="UTC")
TimeForm = Literal["epoch", "datetime", "text", "left out", "mixed"]
HALF_AWAY = "half_towards_infinity"  # Arrow's name for rounding half away from zero
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
_DURATION_US = pa.duration("us")


def rows_to_batch(
    schema: Schema,
    rows: Sequence[tuple[Any, ...]],
    first_offset: int,
    time_form: TimeForm = "epoch",
    stamp: int | None = None,
) -> pa.RecordBatch:
    """Prepared rows (see :meth:`Schema.prepare`) as one batch with offsets.

    ``time_form`` says what the time column holds besides None: epoch ns, datetimes or
    ISO-8601 text, or a mix; or that every row leaves it out (is one value short).  A
    missing time becomes ``stamp`` (epoch ns; if not given, now).
    """
    try:
        if time_form == "mixed":
            raise pa.ArrowInvalid("times of several forms: converted value by value")
        if time_form == "datetime":
            children = _others(schema, rows)
            times = list(map(operator.itemgetter(schema.time_index), rows))
            children.insert(schema.time_index, datetimes_to_us(times))
        else:
            # pyarrow transposes tuples into a struct's children in C++: several times faster
            # than zip(*rows) and one Python-list conversion per column
            children = pa.array(rows, type=_row_struct(schema, time_form)).flatten()
        if time_form == "left out":
            children.insert(schema.time_index, pa.nulls(len(rows), US_TZ))
        stamps = _timestamps(schema)
        arrays = [
            _ns_to_us(a) if i in stamps and a.type == pa.int64() else a
            for i, a in enumerate(children)
        ]
        if time_form == "text":  # Arrow parses ISO-8601 in C++, a tenth of a datetime's cost
            arrays[schema.time_index] = _parse_times(children[schema.time_index])
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
        # a time outside int64 nanoseconds, or times of several forms
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema.columns]
        arrays = [
            _column_from_values(c.type, v) for c, v in zip(schema.columns, columns, strict=True)
        ]
    ti = schema.time_index
    if arrays[ti].null_count:  # left out: the ingest time, stamped once for the buffer
        now = time.time_ns() if stamp is None else stamp
        arrays[ti] = arrays[ti].fill_null(pa.scalar(now // 1000, US_TZ))
    arrays.append(pa.array(np.arange(first_offset, first_offset + len(rows), dtype=np.int64)))
    return pa.RecordBatch.from_arrays(arrays, schema=schema.storage)


@functools.cache
def _row_struct(schema: Schema, time_form: TimeForm) -> pa.DataType:
    """The struct a buffered row converts to: top-level TIMESTAMPs as their int64 ns, the
    time column as what its values are."""
    fields = []
    for i, c in enumerate(schema.columns):
        if i == schema.time_index and time_form == "left out":
            continue
        dtype = c.type.arrow
        if c.type.name == "TIMESTAMP":
            dtype = pa.int64()
            if i == schema.time_index:
                dtype = _TIME_FIELD.get(time_form, dtype)
        fields.append(pa.field(c.name, dtype))
    return pa.struct(fields)


_TIME_FIELD: dict[str, pa.DataType] = {"datetime": US_TZ, "text": pa.string()}


def _others(schema: Schema, rows: Sequence[tuple[Any, ...]]) -> list[pa.Array[Any]]:
    """The columns of full ``rows`` but their time, converted as a struct (see _row_struct)."""
    ti = schema.time_index
    others = [i for i in range(len(schema.columns)) if i != ti]
    if not others:
        return []
    struct = _row_struct(schema, "left out")  # the struct of the columns but the time
    if len(others) == 1:  # itemgetter of one index gives the values, not 1-tuples
        return [pa.array(list(map(operator.itemgetter(others[0]), rows)), struct.field(0).type)]
    rest = list(map(operator.itemgetter(*others), rows))
    return list(pa.array(rest, type=struct).flatten())


def datetimes_to_us(times: list[Any]) -> pa.Array[Any]:
    """Datetimes (naive means UTC) as microsecond timestamps, in bulk.

    Subtracting the epoch is one C call a value (an aware value's offset comes from its
    tzinfo in C too), and pyarrow reads timedeltas' fields directly: three to five times
    faster than pyarrow's datetime conversion, which asks every value for its nanoseconds
    and its offset through Python.  Naive and aware values mixed, or None among them, go
    through pyarrow.

    Examples:
        >>> import datetime as dt
        >>> datetimes_to_us([dt.datetime(1970, 1, 1, 0, 0, 1)]).cast(pa.int64()).to_pylist()
        [1000000]
        >>> tz = dt.timezone(dt.timedelta(hours=2))
        >>> datetimes_to_us([dt.datetime(1970, 1, 1, 2, tzinfo=tz), None]).null_count
        1
    """
    for epoch in (_NAIVE_EPOCH, EPOCH):
        try:
            deltas = list(map(operator.sub, times, repeat(epoch)))
        except TypeError:  # aware against naive (or the other way), None, another form
            continue
        return pa.array(deltas, _DURATION_US).view(US_TZ)
    if not all(t is None or isinstance(t, dt.datetime) for t in times):
        # pyarrow would read an int as microseconds: the caller converts value by value
        raise pa.ArrowInvalid("times of several forms among datetimes")
    return pa.array(times, US_TZ)


@functools.cache
def _timestamps(schema: Schema) -> frozenset[int]:
    return frozenset(i for i, c in enumerate(schema.columns) if c.type.name == "TIMESTAMP")


def _ns_to_us(ints: pa.Array[Any]) -> pa.Array[Any]:
    """Epoch nanoseconds as microsecond timestamps: one numpy floor division."""
    if ints.null_count == 0:
        return pa.array(ints.to_numpy() // 1000).view(US_TZ)
    filled = ints.fill_null(0).to_numpy() // 1000
    mask = ints.is_null().to_numpy(zero_copy_only=False)
    return pa.array(filled, mask=mask).view(US_TZ)


def _column_from_values(dtype: DataType, values: Sequence[Any]) -> pa.Array[Any]:
    if dtype.name != "TIMESTAMP":
        return pa.array(values, type=dtype.arrow)
    values = [v if v is None or type(v) is int else to_ns(v) for v in values]
    try:
        return _ns_to_us(pa.array(values, type=pa.int64()))
    except (OverflowError, pa.ArrowInvalid):
        # a time beyond the years 1677-2262 has no int64 nanoseconds, but does have microseconds
        micros = [None if v is None else v // 1000 for v in values]
        return pa.array(micros, type=pa.int64()).view(US_TZ)


def with_offsets(table: pa.Table, schema: Schema, first_offset: int) -> pa.RecordBatch:
    """A conformed table as one batch carrying offsets first_offset, first_offset + 1, ..."""
    offsets = pa.array(np.arange(first_offset, first_offset + table.num_rows, dtype=np.int64))
    # conform has copied the caller's data already: one chunk is taken as it is
    columns = [_one_array(table.column(i)) for i in range(table.num_columns)]
    return pa.RecordBatch.from_arrays([*columns, offsets], schema=schema.storage)


def _one_array(column: pa.ChunkedArray) -> pa.Array:
    return column.chunk(0) if column.num_chunks == 1 else column.combine_chunks()


def to_table(data: Any, schema: Schema, stream: str, stamp: int | None = None) -> pa.Table:
    """``append_many``'s input as a table of exactly ``schema.arrow``, or a RecordError.

    Missing times become ``stamp`` (epoch ns; if not given, now)."""
    if isinstance(data, pa.RecordBatch):
        return conform(pa.Table.from_batches([data]), schema, stream, stamp)
    if isinstance(data, pa.Table):
        return conform(data, schema, stream, stamp)
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and hasattr(data, "columns"):
        columns = {str(name): data[name] for name in data.columns}
        return conform(_arrow(columns, pa.Array.from_pandas, stream), schema, stream, stamp)
    if module == "polars" and hasattr(data, "to_arrow"):
        return conform(data.to_arrow(), schema, stream, stamp)
    if isinstance(data, Mapping):
        return _from_column_dict(data, schema, stream, stamp)
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        rows = [schema.normalize(row, stream, i) for i, row in enumerate(data)]
        return pa.Table.from_batches(
            [rows_to_batch(schema, rows, 0, stamp=stamp).drop_columns([OFFSET])]
        )
    raise RecordError(
        f"append_many(): data for stream {stream!r} must be rows, a dict of columns, an Arrow "
        f"table or batch, or a pandas or polars DataFrame, not {type(data).__name__}",
        stream=stream,
        column=None,
        row=None,
        value=None,
        argument="data",
    )


def _arrow(columns: Mapping[str, Any], convert: Callable[[Any], Any], stream: str) -> pa.Table:
    """Columns (numpy arrays, pandas series, Arrow arrays) as an Arrow table; a column Arrow
    cannot convert (e.g. objects of mixed types) is a RecordError naming it."""
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = (
                values if isinstance(values, pa.Array | pa.ChunkedArray) else convert(values)
            )
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise RecordError(
                f"column {name!r} of stream {stream!r} cannot be read as Arrow values: {exc}",
                stream=stream, column=name, row=None, value=None,
            ) from None  # fmt: skip
    return pa.table(arrays)


def _from_column_dict(
    data: Mapping[str, Any], schema: Schema, stream: str, stamp: int | None
) -> pa.Table:
    lengths = {name: len(values) for name, values in data.items()}
    if len(set(lengths.values())) > 1:
        raise SchemaError(f"columns for stream {stream!r} differ in length: {lengths}")
    if all(isinstance(v, pa.Array | pa.ChunkedArray | np.ndarray) for v in data.values()):
        return conform(_arrow(data, pa.array, stream), schema, stream, stamp)
    # Python lists: the per-value promotion rules (and row numbers in errors) of single rows;
    # an Arrow or numpy column among them gives its values as Python's
    names = list(data)
    columns = [
        v.to_pylist() if isinstance(v, pa.Array | pa.ChunkedArray) else v for v in data.values()
    ]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    return to_table(rows, schema, stream, stamp)


def conform(table: pa.Table, schema: Schema, stream: str, stamp: int | None = None) -> pa.Table:
    """``table`` with the stream's columns, in order, cast along rtsql's promotions."""
    given = {name: i for i, name in enumerate(table.column_names)}
    for name in table.column_names:
        if name not in schema.index:
            hint = suggest(name, schema.names)
            raise SchemaError(
                f"unknown column {name!r} for stream {stream!r}"
                + (f"; did you mean {hint!r}?" if hint else ""),
                stream=stream,
                column=name,
            )
    n = table.num_rows
    now_us = (time.time_ns() if stamp is None else stamp) // 1000
    arrays = []
    for i, column in enumerate(schema.columns):
        if column.name not in given:
            if i == schema.time_index:
                arrays.append(pa.array(np.full(n, now_us, dtype=np.int64)).view(US_TZ))
                continue
            if not column.type.nullable:
                raise SchemaError(
                    f"column {column.name!r} ({column.type}) of stream {stream!r} is missing",
                    stream=stream,
                    column=column.name,
                )
            arrays.append(pa.nulls(n, type=column.type.arrow))
            continue
        values = _one_array(table.column(given[column.name]))
        array = _cast(values, column.type, column.name, stream)
        if array.null_count:
            if i == schema.time_index:
                array = array.fill_null(pa.scalar(now_us, pa.int64()).cast(US_TZ))
            elif not column.type.nullable:
                row = pc.index(array.is_null(), True).as_py()
                raise RecordError(
                    f"column {column.name!r} of row {row} in stream {stream!r}: NULL in a NOT NULL "
                    f"column (column type {column.type})",
                    stream=stream,
                    column=column.name,
                    row=row,
                    value=None,
                )
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=schema.arrow)


def _cast(values: pa.Array[Any], dtype: DataType, name: str, stream: str) -> pa.Array[Any]:
    values = plain(values)
    target = dtype.arrow
    if values.type == target:
        return values
    convert = _converter(values.type, dtype)
    if convert is None:
        raise RecordError(
            f"column {name!r} of stream {stream!r}: cannot store {values.type} values in a "
            f"{dtype} column",
            stream=stream,
            column=name,
            row=None,
            value=None,
        )
    try:
        return convert(values)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError) as exc:
        row = _first_failing_row(values, convert)
        value = values[row].as_py() if row is not None else None
        raise RecordError(
            f"column {name!r} of row {row} in stream {stream!r}: {value!r} does not fit "
            f"{dtype} ({exc})",
            stream=stream,
            column=name,
            row=row,
            value=value,
        ) from None


Converter = Callable[["pa.Array[Any]"], "pa.Array[Any]"]


def _converter(source: pa.DataType, dtype: DataType) -> Converter | None:
    """How values of Arrow type ``source`` become ``dtype``, or None if rtsql forbids it."""
    target = dtype.arrow
    kind = dtype.name
    t = pa.types
    if kind == "TIMESTAMP":
        if t.is_timestamp(source):
            # naive means UTC; storage keeps microseconds, so finer digits are cut off
            as_utc = pa.timestamp(source.unit, tz="UTC")
            return lambda a: (a.cast(as_utc) if a.type.tz is None else a).cast(US_TZ, safe=False)
        if t.is_integer(source):  # epoch nanoseconds
            return _epoch_ns
        if t.is_date(source):
            return lambda a: a.cast(pa.timestamp("us")).cast(US_TZ)
        if t.is_string(source) or t.is_large_string(source):
            return _parse_times
        return None
    if kind in ("INT", "BIGINT"):
        return (lambda a: a.cast(target)) if t.is_integer(source) else None
    if kind == "FLOAT" and t.is_float64(source):
        return _to_float32
    if kind in ("FLOAT", "DOUBLE"):
        if t.is_integer(source) or t.is_floating(source):
            return lambda a: a.cast(target, safe=False)
        return None
    if kind == "PRECISE":
        scale = dtype.scale or 0
        if t.is_integer(source):
            return lambda a: a.cast(target)
        if t.is_decimal(source) or t.is_floating(source):
            # rounded half away from zero, as single values are; NaN and overflow are errors
            return lambda a: pc.round(a, scale, round_mode=HALF_AWAY).cast(target)
        return None
    if kind == "STRING":
        ok = t.is_string(source) or t.is_large_string(source) or t.is_string_view(source)
        return (lambda a: a.cast(target)) if ok else None
    if kind == "BINARY":
        ok = t.is_binary(source) or t.is_large_binary(source) or t.is_fixed_size_binary(source)
        return (lambda a: a.cast(target)) if ok or t.is_binary_view(source) else None
    if kind == "BOOLEAN":
        return (lambda a: a) if t.is_boolean(source) else None
    if kind == "LIST":
        if t.is_list(source) or t.is_large_list(source) or t.is_fixed_size_list(source):
            assert dtype.item is not None
            lossy_ok = dtype.item.name in ("FLOAT", "DOUBLE")  # ints widen to floats, as in rtsql
            return lambda a: a.cast(target, safe=not lossy_ok)
        return None
    return None


def _parse_times(values: pa.Array[Any]) -> pa.Array[Any]:
    """ISO-8601 text as times: with a zone offset, or naive and then UTC."""
    for target in (US_TZ, pa.timestamp("us")):
        try:
            return pc.cast(values, target).cast(US_TZ)
        except pa.ArrowInvalid:
            pass
    # forms mixed within the column: one value at a time, as single records are read
    micros = [None if v is None else to_ns(v) // 1000 for v in values.to_pylist()]
    return pa.array(micros, type=pa.int64()).view(US_TZ)


def _to_float32(values: pa.Array[Any]) -> pa.Array[Any]:
    """DOUBLE values as FLOAT; a finite value beyond FLOAT's range is an error, not inf."""
    finite = pc.is_finite(values)
    too_big = pc.and_(finite, pc.greater(pc.abs(values), FLOAT_MAX))
    if pc.any(too_big).as_py():
        raise ValueError(f"a value is out of range for FLOAT (|x| > {FLOAT_MAX})")
    return values.cast(pa.float32(), safe=False)


def _epoch_ns(values: pa.Array[Any]) -> pa.Array[Any]:
    ints = values.cast(pa.int64())
    numbers = ints.fill_null(0).to_numpy() // 1000
    mask = ints.is_null().to_numpy(zero_copy_only=False) if ints.null_count else None
    return pa.array(numbers, mask=mask).view(US_TZ)


def _first_failing_row(values: pa.Array[Any], convert: Converter) -> int | None:
    """The first row whose value ``convert`` rejects: bisection, O(log n) casts."""

    def fails(start: int, stop: int) -> bool:
        try:
            convert(values.slice(start, stop - start))
            return False
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, OverflowError):
            return True

    low, high = 0, len(values)
    if high == 0 or not fails(low, high):
        return None
    while high - low > 1:
        mid = (low + high) // 2
        if fails(low, mid):
            high = mid
        else:
            low = mid
    return low


def ipc_bytes(table: pa.Table) -> bytes:
    """A table as Arrow IPC stream bytes."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def plain(column: pa.Array[Any]) -> pa.Array[Any]:
    """``column`` with its values spelt out, if it is dictionary-encoded."""
    if pa.types.is_dictionary(column.type):
        return column.dictionary_decode()
    return column


def decoded(batch: pa.RecordBatch) -> pa.RecordBatch:
    """``batch`` with every dictionary-encoded column spelt out (what a stream holds).

    Examples:
        >>> batch = pa.record_batch({"a": pa.array(["x", "y", "x"]).dictionary_encode()})
        >>> decoded(batch).schema.field("a").type
        DataType(string)
    """
    if not any(pa.types.is_dictionary(t) for t in batch.schema.types):
        return batch
    return pa.record_batch([plain(c) for c in batch.columns], schema=_plain_schema(batch.schema))


def _plain_schema(schema: pa.Schema) -> pa.Schema:
    return pa.schema(
        [f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema],
        metadata=schema.metadata,
    )
