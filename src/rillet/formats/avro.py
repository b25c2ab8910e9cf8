"""The avro event format: records in Avro's binary encoding, read with fastavro.

``schema`` (the writer schema, one record) is required for a file of bare records one after
another (FlumeBase's events); a file that is an Avro object container (it starts with
``Obj\\x01``) carries its own schema, and ``schema``, when given, is the reader schema.  A
nullable column is a union with ``"null"``.  The records are decoded by fastavro (in C) and
turned into Arrow columns in bulk.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.datatypes import DataType
from rillet.errors import ConfigError
from rillet.formats.base import EventFormat, Parsed, Rejected
from rillet.formats.text import US_TZ
from rillet.schema import Column

BATCH = 65_536  # records per Arrow batch
_AVRO = {
    "BOOLEAN": {"boolean"},
    "INT": {"int"},
    "BIGINT": {"long", "int"},
    "FLOAT": {"float"},
    "DOUBLE": {"double", "float"},
    "STRING": {"string"},
    "BINARY": {"bytes"},
    "TIMESTAMP": {"long"},
    "PRECISE": {"string", "double"},
}


def _check(column: Column, avro: Any) -> None:
    """The Avro type of a field fits the column (a union with null for a nullable one)."""
    kinds = avro if isinstance(avro, list) else [avro]
    names = [k if isinstance(k, str) else k.get("type") for k in kinds]
    others = [k for k, n in zip(kinds, names, strict=True) if n != "null"]
    fits = len(others) == 1
    if fits:
        name = names[kinds.index(others[0])]
        fits = name == "array" if column.type.name == "LIST" else name in _AVRO[column.type.name]
    if not fits or ("null" in names and not column.type.nullable):
        raise ConfigError(
            f"property 'schema': field {column.name!r} has Avro type {json.dumps(avro)}, which "
            f"does not fit the column's type {column.type} (a nullable column is a union "
            'with "null")',
            property="schema",
            column=column.name,
        )


class Avro(EventFormat):
    """``EVENT FORMAT 'avro'``."""

    name = "avro"
    keys = ("schema",)
    line_based = False

    def __init__(self, columns: Sequence[Column], properties: Mapping[str, str]) -> None:
        super().__init__(columns, properties)
        self.schema: Any = None
        if "schema" in properties:
            try:
                raw = json.loads(properties["schema"])
                self.schema = fastavro.parse_schema(raw)
            except (ValueError, fastavro.schema.SchemaParseException) as exc:
                raise ConfigError(
                    f"property 'schema' is not an Avro schema: {exc}", property="schema"
                ) from None
            except (KeyError, TypeError, AttributeError) as exc:  # fastavro's for a missing part
                why = f"it has no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
                raise ConfigError(
                    f"property 'schema' is not an Avro schema: {why}", property="schema"
                ) from None
            if not isinstance(raw, dict) or raw.get("type") != "record":
                raise ConfigError("property 'schema' must be one Avro record", property="schema")
            fields = {f["name"]: f["type"] for f in raw.get("fields", [])}
            for column in self.columns:
                if column.name not in fields:
                    raise ConfigError(
                        f"property 'schema' has no field for column {column.name!r}",
                        property="schema",
                        column=column.name,
                    )
                _check(column, fields[column.name])

    def parse(self, data: bytes, first_line: int) -> Parsed:
        return self._batch(list(self._records(io.BytesIO(data), "<bytes>")), [])

    def read_file(self, path: Path) -> Iterator[Parsed]:
        with open(path, "rb") as handle:
            records: list[dict[str, Any]] = []
            rejected: list[Rejected] = []
            try:
                for record in self._records(handle, str(path)):
                    records.append(record)
                    if len(records) >= BATCH:
                        yield self._batch(records, [])
                        records = []
            except (ValueError, EOFError, TypeError, StopIteration) as exc:
                # binary records cannot be resynchronized after a bad one: the rest is one
                # rejected "line"
                rejected.append(
                    Rejected(-1, None, f"undecodable Avro data after record "
                             f"{len(records)}: {exc}", ""),
                )  # fmt: skip
            yield self._batch(records, rejected)

    def _records(self, handle: Any, where: str) -> Iterator[Any]:
        start = handle.read(4)
        handle.seek(0)
        if start == b"Obj\x01":
            yield from fastavro.reader(handle, reader_schema=self.schema)
            return
        if self.schema is None:
            raise ConfigError(
                f"{where} holds bare Avro records: event format 'avro' needs the property 'schema'",
                property="schema",
            )
        end = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        while handle.tell() < end:
            yield fastavro.schemaless_reader(handle, self.schema, None)

    def _batch(self, records: list[dict[str, Any]], rejected: list[Rejected]) -> Parsed:
        bad: dict[int, Rejected] = {}  # the first bad field of each bad record, by index
        arrays = []
        for c in self.columns:
            values = [r.get(c.name) for r in records]
            if c.type.name == "PRECISE":
                values = _decimals(values, c, bad)
            arrays.append(_column(values, c.type))
        table = pa.Table.from_arrays(arrays, schema=self.arrow)
        if bad:
            keep = np.ones(len(records), dtype=bool)
            keep[list(bad)] = False
            table = table.filter(pa.array(keep))
            rejected = [*(bad[i] for i in sorted(bad)), *rejected]
        return Parsed(table, rejected)


def _decimals(values: list[Any], column: Column, bad: dict[int, Rejected]) -> list[Any]:
    """A PRECISE column's values (Avro strings or doubles) as Decimals of its scale; a value
    that is not a number, or does not fit, rejects its record (numbered from 1)."""
    dtype = column.type.with_nullable(True)
    out: list[Any] = []
    for i, value in enumerate(values):
        try:
            out.append(None if value is None else dtype.coerce(_number(value)))
        except (ValueError, TypeError, InvalidOperation) as exc:
            out.append(None)
            why = "not a number" if isinstance(exc, InvalidOperation) else str(exc)
            reason = f"{value!r} does not read as {column.type}: {why}"
            bad.setdefault(i, Rejected(i + 1, column.name, reason, repr(value)))
    return out


def _number(value: Any) -> Any:
    """An Avro string holding a decimal number as a Decimal (the text's own digits)."""
    if isinstance(value, str):
        number = Decimal(value.strip())
        if not number.is_finite():
            raise ValueError("not a finite number")
        return number
    return value


def _column(values: list[Any], dtype: DataType) -> pa.Array:
    if dtype.name == "TIMESTAMP":  # epoch milliseconds, as in the text formats
        if any(isinstance(v, dt.datetime) for v in values):  # a timestamp-millis logical type
            return pa.array(values, US_TZ)
        return pc.multiply(pa.array(values, pa.int64()), 1000).cast(US_TZ)
    return pa.array(values, dtype.arrow)
