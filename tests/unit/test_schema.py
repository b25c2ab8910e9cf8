"""Schema: the three spec forms, names, the time column, errors, and row normalization."""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from rillet import errors
from rillet.datatypes import DataType
from rillet.schema import Schema

FULL = (
    "ts TIMESTAMP, b BOOLEAN, i INT NOT NULL, g BIGINT, f FLOAT, d DOUBLE, p PRECISE(2), "
    "s STRING, y BINARY, l LIST<INT NOT NULL>, ll LIST<LIST<STRING>>"
)


def test_rtsql_text_gives_columns_arrow_and_storage_schemas() -> None:
    s = Schema.build(FULL, "ts")
    assert s.names == ("ts", "b", "i", "g", "f", "d", "p", "s", "y", "l", "ll")
    assert (s.time_column, s.time_index, s.implicit_time) == ("ts", 0, False)
    assert str(s) == FULL.replace("ts TIMESTAMP", "ts TIMESTAMP NOT NULL")
    assert s.arrow == pa.schema(
        [
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("b", pa.bool_()),
            pa.field("i", pa.int32(), nullable=False),
            pa.field("g", pa.int64()),
            pa.field("f", pa.float32()),
            pa.field("d", pa.float64()),
            pa.field("p", pa.decimal128(38, 2)),
            pa.field("s", pa.string()),
            pa.field("y", pa.binary()),
            pa.field("l", pa.list_(pa.field("item", pa.int32(), nullable=False))),
            pa.field("ll", pa.list_(pa.list_(pa.string()))),
        ]
    )
    assert s.storage == s.arrow.append(pa.field("_offset", pa.int64(), nullable=False))
    assert s.index == {name: i for i, name in enumerate(s.names)}
    assert Schema.build(str(s), "ts") == s  # the text form round-trips
    assert hash(Schema.build(str(s), "ts")) == hash(s)


def test_names_are_lower_cased_unless_quoted() -> None:
    s = Schema.build('TS Timestamp, "Host" string not null, "a ""b""" int', "ts")
    assert s.names == ("ts", "Host", 'a "b"')
    assert str(s) == 'ts TIMESTAMP NOT NULL, "Host" STRING NOT NULL, "a ""b""" INT'
    assert Schema.build(str(s), "ts") == s


def test_the_time_column_is_matched_case_insensitively_and_made_not_null() -> None:
    s = Schema.build("v INT, Stamp TIMESTAMP", "STAMP")
    assert (s.time_column, s.time_index) == ("stamp", 1)
    assert s.columns[1].type == DataType("TIMESTAMP", nullable=False)


def test_without_a_time_column_an_implicit_one_comes_first() -> None:
    s = Schema.build("v INT, w STRING", None)
    assert s.names == ("_time", "v", "w")
    assert (s.time_column, s.time_index, s.implicit_time) == ("_time", 0, True)
    assert str(s) == "v INT, w STRING"  # the implicit column is not part of the text form
    assert s.arrow.field("_time").type == pa.timestamp("us", tz="UTC")


def test_pairs_and_arrow_schemas_give_the_same_schema() -> None:
    text = Schema.build("ts TIMESTAMP, host STRING NOT NULL, ms DOUBLE, tags LIST<STRING>", "ts")
    pairs = Schema.build(
        [
            ("ts", "TIMESTAMP"),
            ("host", DataType("STRING", nullable=False)),
            ("ms", "double"),
            ("tags", "LIST<STRING>"),
        ],
        "ts",
    )
    arrow = Schema.build(
        pa.schema(
            [
                ("ts", pa.timestamp("ns")),
                pa.field("host", pa.large_string(), nullable=False),
                ("ms", pa.float64()),
                ("tags", pa.list_(pa.string())),
            ]
        ),
        "ts",
    )
    assert pairs == text
    assert arrow == text


def test_arrow_types_map_along_the_promotions() -> None:
    s = Schema.build(
        pa.schema(
            [
                ("a", pa.int8()),
                ("b", pa.int16()),
                ("c", pa.int64()),
                ("d", pa.float16()),
                ("e", pa.decimal128(10, 3)),
                ("f", pa.large_binary()),
                ("g", pa.large_list(pa.int32())),
                ("t", pa.timestamp("s", tz="Europe/Paris")),
            ]
        ),
        "t",
    )
    assert str(s) == (
        "a INT, b INT, c BIGINT, d FLOAT, e PRECISE(3), f BINARY, g LIST<INT>, t TIMESTAMP NOT NULL"
    )


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        (
            "ts TIMESTAMP,\n  v DUBLE",
            2,
            5,
            "expected a type (BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, STRING, BINARY, TIMESTAMP, "
            "PRECISE(n), LIST<t>) at 2:5, found 'DUBLE'",
        ),
        ("ts TIMESTAMP v INT", 1, 14, "expected end of input at 1:14, found 'v'"),
        ("", 1, 1, "expected a column name at 1:1, found end of input"),
        ("ts TIMESTAMP,", 1, 14, "expected a column name at 1:14, found end of input"),
        ("v PRECISE(x)", 1, 11, "expected the scale of PRECISE, an integer at 1:11, found 'x'"),
        ("v PRECISE(39)", 1, 11, "expected a scale of at most 38 at 1:11, found '39'"),
        ("v LIST<INT", 1, 11, "expected '>' at 1:11, found end of input"),
        ("v INT NOT", 1, 10, "expected 'NULL' at 1:10, found end of input"),
        ("v INT; DROP", 1, 6, "expected end of input at 1:6, found ';'"),
        ("a INT,\n\n   b  VARCHAR", 3, 7, "found 'VARCHAR'"),
    ],
)
def test_unparsable_schema_text_is_a_parse_error_with_position(
    text: str, line: int, col: int, message: str
) -> None:
    with pytest.raises(errors.ParseError) as info:
        Schema.build(text, None)
    assert (info.value.line, info.value.col) == (line, col)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("spec", "time_column", "message", "detail"),
    [
        ("a INT, A INT", None, "duplicate or reserved column name 'a'", {"column": "a"}),
        ('a INT, "a" INT', None, "duplicate or reserved column name 'a'", {"column": "a"}),
        ("_offset INT", None, "duplicate or reserved column name '_offset'", {"column": "_offset"}),
        (
            "_time TIMESTAMP",
            "_time",
            "duplicate or reserved column name '_time'",
            {"column": "_time"},
        ),
        ("ts INT, v INT", "ts", "time column 'ts' must be TIMESTAMP, not INT", {"column": "ts"}),
        (
            "ts LIST<TIMESTAMP>",
            "ts",
            "time column 'ts' must be TIMESTAMP, not LIST<TIMESTAMP>",
            {"column": "ts"},
        ),
        (
            "ts TIMESTAMP",
            "tss",
            "time column 'tss' is not in the schema; did you mean 'ts'?",
            {"column": "tss"},
        ),
        ("ts TIMESTAMP", "when", "time column 'when' is not in the schema", {"column": "when"}),
        ([], None, "a schema needs at least one column", {}),
        ([("v", "DUBLE")], None, "column 'v': expected a type", {"column": "v"}),
        ([("v",)], None, "schema entry 0 must be a (name, type) pair, got ('v',)", {}),
        ([(1, "INT")], None, "schema entry 0 must be a (name, type) pair", {}),
        (42, None, "a schema is rtsql text, (name, type) pairs or a pyarrow schema, not 42", {}),
    ],
)
def test_bad_schemas_are_schema_errors(
    spec: Any, time_column: str | None, message: str, detail: dict[str, Any]
) -> None:
    with pytest.raises(errors.SchemaError) as info:
        Schema.build(spec, time_column)
    assert message in str(info.value)
    assert info.value.detail == detail


def test_an_unsupported_arrow_type_is_a_schema_error_naming_the_column() -> None:
    with pytest.raises(errors.SchemaError, match="'day'"):
        Schema.build(pa.schema([("ts", pa.timestamp("us")), ("day", pa.date32())]), "ts")


# -- normalize -----------------------------------------------------------------------------------

S = Schema.build(FULL, "ts")
T0 = 1714564800_000000000  # 2024-05-01T12:00:00Z in epoch ns


def row(**values: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = {"ts": T0, "i": 1}
    base.update(values)
    return tuple(base.get(name) for name in S.names)


def test_a_row_of_stored_values_is_kept_as_it_is() -> None:
    plain = Schema.build("ts TIMESTAMP, b BOOLEAN, i INT NOT NULL, f FLOAT, s STRING", "ts")
    given = (T0, True, 1, 1.5, None)
    assert plain.normalize(given, "x", 0) is given
    assert plain.fast_check(given)
    assert not plain.fast_check((T0, True, None, 1.5, None))  # NULL in NOT NULL: checked
    assert not plain.fast_check((T0, 1, 1, 1.5, None))  # a number for a BOOLEAN: checked


@pytest.mark.parametrize(
    ("column", "value", "stored"),
    [
        ("b", False, False),
        ("i", np.int16(-7), -7),
        ("i", -(2**31), -(2**31)),
        ("g", 2**63 - 1, 2**63 - 1),
        ("g", np.uint8(200), 200),
        ("f", 3, 3.0),  # INT -> FLOAT
        ("f", np.float32(1.5), 1.5),
        ("f", 3.4e38, 3.4e38),
        ("d", 2**53, float(2**53)),  # BIGINT -> DOUBLE
        ("d", np.float64(0.25), 0.25),
        ("p", 7, Decimal("7.00")),  # integers -> PRECISE
        ("p", 2.675, Decimal("2.68")),  # half-up on the decimal text, not the binary value
        ("p", -1.005, Decimal("-1.01")),
        ("p", Decimal("0.125"), Decimal("0.13")),
        ("p", Decimal("0.124"), Decimal("0.12")),
        ("s", "ü", "ü"),
        ("y", bytearray(b"\x00"), b"\x00"),
        ("y", memoryview(b"ab"), b"ab"),
        ("l", (1, 2), [1, 2]),
        ("l", [], []),
        ("ll", [["a", None], None], [["a", None], None]),
    ],
)
def test_values_convert_only_along_the_promotions(column: str, value: Any, stored: Any) -> None:
    got = S.normalize(row(**{column: value}), "x", 0)[S.index[column]]
    assert got == stored
    assert type(got) is type(stored)


def test_special_floats_are_kept() -> None:
    got = S.normalize(row(f=float("inf"), d=float("nan")), "x", 0)
    assert got[S.index["f"]] == math.inf
    assert math.isnan(got[S.index["d"]])


@pytest.mark.parametrize(
    ("value", "ns"),
    [
        (T0, T0),
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T12:00:00", T0),  # naive text is UTC
        ("2024-05-01 14:00:00+02:00", T0),
        (dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC), T0),
        (dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC).replace(tzinfo=None), T0),  # naive is UTC
        (dt.datetime(2024, 5, 1, 8, tzinfo=zoneinfo.ZoneInfo("America/New_York")), T0),
        (np.datetime64("2024-05-01T12:00:00", "s"), T0),
        (np.int64(T0 + 1), T0 + 1),
        (dt.date(2024, 5, 1), T0 - 12 * 3600 * 10**9),
    ],
)
def test_time_values_become_epoch_nanoseconds(value: Any, ns: int) -> None:
    assert S.normalize(row(ts=value), "x", 0)[0] == ns


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("b", 1, "expected BOOLEAN, got int"),
        ("i", True, "expected INT, got bool"),
        ("i", 1.0, "expected INT, got float"),
        ("i", 2**31, "2147483648 is out of range for INT"),
        ("g", -(2**63) - 1, "is out of range for BIGINT"),
        ("f", 3.5e38, "3.5e+38 is out of range for FLOAT"),
        ("d", True, "expected DOUBLE, got bool"),
        ("d", "1.5", "expected DOUBLE, got str"),
        ("p", "1", "expected PRECISE(2), got str"),
        ("p", True, "expected PRECISE(2), got bool"),
        ("p", float("nan"), "nan is not a finite number"),
        ("s", 5, "expected STRING, got int"),
        ("s", b"x", "expected STRING, got bytes"),
        ("y", "x", "expected BINARY, got str"),
        ("l", 5, "expected LIST, got int"),
        ("l", "12", "expected LIST, got str"),
        ("l", [None], "NULL in a NOT NULL column"),
        ("l", ["1"], "expected INT, got str"),
        ("i", None, "NULL in a NOT NULL column"),
        ("ts", True, "expected a TIMESTAMP, got bool"),
        ("ts", 1.5, "expected a time (datetime, ISO-8601 text or epoch ns), got float"),
        ("ts", "noon", "'noon' is not an ISO-8601 time"),
    ],
)
def test_values_off_the_promotions_are_record_errors(column: str, value: Any, message: str) -> None:
    with pytest.raises(errors.RecordError) as info:
        S.normalize(row(**{column: value}), "perf", 7)
    assert message in str(info.value)
    assert str(info.value).startswith(f"column {column!r} of row 7 in stream 'perf': ")
    assert (info.value.stream, info.value.column, info.value.row) == ("perf", column, 7)
    assert info.value.value == value or (value != value and info.value.value != info.value.value)


def test_mappings_and_short_rows() -> None:
    assert S.normalize({"ts": T0, "i": 2, "s": "x"}, "x", 0) == row(i=2, s="x")
    stamped = S.normalize([True, 2, 3, 4.0, 5.0, 6, "s", b"y", [7], [["z"]]], "x", 0)
    assert stamped[1:] == (True, 2, 3, 4.0, 5.0, Decimal("6.00"), "s", b"y", [7], [["z"]])
    # the left-out time column stays None: the buffer stamps it with the ingest time in bulk
    assert stamped[0] is None
    assert S.normalize(row(ts=None), "x", 0)[0] is None  # so does a NULL time
