"""The json event format: one JSON object per line, its keys the column names.

Lines are read in bulk by Arrow's JSON reader against the columns' types; when a block
holds a malformed line, the block is read again line by line to find which (and why), and
the good lines are read in bulk once more.  TIMESTAMP values are epoch milliseconds, as in
the delimited format; keys that are not columns are ignored, a missing key is NULL.
"""

from __future__ import annotations

import io
import re

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from rillet.datatypes import MAX_PRECISION, DataType
from rillet.formats.base import EventFormat, Parsed, Rejected
from rillet.formats.text import US_TZ
from rillet.schema import Column


def _read_type(dtype: DataType) -> pa.DataType:
    """The type the JSON reader reads a column as (converted to the column's after)."""
    if dtype.name in ("TIMESTAMP",):
        return pa.int64()
    if dtype.name in ("BINARY",):
        return pa.string()
    if dtype.name == "PRECISE":  # read exactly from a JSON number or string, rounded after
        return pa.decimal256(2 * MAX_PRECISION, MAX_PRECISION)
    if dtype.name == "LIST":
        assert dtype.item is not None
        return pa.list_(_read_type(dtype.item))
    return dtype.arrow


def _to_column(values: pa.Array, dtype: DataType) -> pa.Array:
    if dtype.name == "TIMESTAMP":
        return pc.multiply_checked(values, 1000).cast(US_TZ)
    if dtype.name == "PRECISE":  # half away from zero, as rtsql (and the delimited format) round
        rounded = pc.round(values, dtype.scale or 0, round_mode="half_towards_infinity")
        return rounded.cast(dtype.arrow)
    if dtype.name == "LIST":
        assert dtype.item is not None
        inner = _to_column(values.flatten(), dtype.item)
        return pa.ListArray.from_arrays(
            values.offsets, inner, type=dtype.arrow, mask=values.is_null()
        )
    return values.cast(dtype.arrow)


_FIELD = re.compile(r"Column\(/([^)/]*)")
_KINDS = re.compile(r"Column\(/[^)]*\) changed from (\w+) to (\w+)")


def _reason(message: str, field: str | None, columns: dict[str, DataType]) -> str:
    """Arrow's reason, said in the stream's terms when it is a value of the wrong JSON kind
    (Arrow says "Column(/a) changed from number to string" for a string where the column's
    type reads a number)."""
    kinds = _KINDS.search(message)
    if kinds is None or field not in columns:
        return message
    wanted, found = kinds.groups()
    return f"the value of {field!r} is a JSON {found}; its column is {columns[field]} (a {wanted})"


class JsonLines(EventFormat):
    """``EVENT FORMAT 'json'``: JSON lines."""

    name = "json"
    keys = ()

    def _read(self, data: bytes, columns: list[Column] | None = None) -> pa.Table:
        """The lines as a table of ``columns`` (all the stream's by default)."""
        columns = self.columns if columns is None else columns
        schema = pa.schema([pa.field(c.name, _read_type(c.type)) for c in columns])
        options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        block = max(1 << 20, len(data) + 1)
        table = pj.read_json(
            io.BytesIO(data), read_options=pj.ReadOptions(block_size=block, use_threads=True),
            parse_options=options,
        )  # fmt: skip
        arrays = [
            _to_column(pa.concat_arrays(table.column(c.name).chunks) if table.num_rows else
                       pa.array([], _read_type(c.type)), c.type)
            for c in columns
        ]  # fmt: skip
        if columns is self.columns:
            return pa.Table.from_arrays(arrays, schema=self.arrow)
        return pa.Table.from_arrays(arrays, names=[c.name for c in columns])

    def _field(self, line: bytes) -> str | None:
        """The first column a bad line's value of does not read as (Arrow's reading of a
        value, rather than of the JSON, does not name it)."""
        for column in self.columns:
            try:
                self._read(line, [column])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                return column.name
        return None

    def parse(self, data: bytes, first_line: int) -> Parsed:
        if not data.strip():
            return Parsed(self.empty())
        try:
            return Parsed(self._read(data))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
            pass
        good: list[bytes] = []
        rejected: list[Rejected] = []
        for n, line in enumerate(data.split(b"\n"), start=first_line):
            if not line.strip():
                continue
            try:
                self._read(line)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                match = _FIELD.search(str(exc))
                name = match.group(1) if match else None
                types = {c.name: c.type for c in self.columns}
                reason = _reason(str(exc), name, types)
                if name is None and not str(exc).startswith("JSON parse error"):
                    name = self._field(line)
                    if name is not None:
                        reason = f"the value of {name!r} does not read as {types[name]}: {exc}"
                text = line.decode("utf-8", "replace")
                rejected.append(Rejected(n, name, reason, text))
                continue
            good.append(line)
        table = self._read(b"\n".join(good)) if good else self.empty()
        return Parsed(table, rejected)
