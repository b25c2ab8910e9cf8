"""Each event format against hand-written text (and Avro bytes), malformed lines included."""

from __future__ import annotations

import datetime as dt
import io
import json
from decimal import Decimal
from typing import Any

import fastavro
import pytest

from rillet.datatypes import parse_type
from rillet.errors import ConfigError
from rillet.formats import Rejected, make_format
from rillet.schema import Column

UTC = dt.UTC


def columns(text: str) -> list[Column]:
    return [Column(n, parse_type(t)) for n, t in (p.strip().split(" ", 1) for p in text.split(","))]


def rows(
    fmt: str, cols: str, data: bytes, **props: str
) -> tuple[list[dict[str, Any]], list[Rejected]]:
    parsed = make_format(fmt, columns(cols), props).parse(data, 1)
    return parsed.table.to_pylist(), parsed.rejected


def test_delimited_reads_every_type_and_flumebase_null_rules() -> None:
    cols = (
        "i INT, b BIGINT, f FLOAT, d DOUBLE, ok BOOLEAN, s STRING, n STRING NOT NULL, "
        "t TIMESTAMP, p PRECISE(2), l LIST<INT>, bin BINARY"
    )
    data = (
        b"1,-5,1.5,2e3,true,x,y,1000,3.14159,1|2|3,raw\n"
        b",,,,,,,,,,\n"
        b"\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N,\\N\n"
        b"7\n"
    )
    got, rejected = rows("delimited", cols, data)
    assert rejected == []
    assert got[0] == {
        "i": 1, "b": -5, "f": 1.5, "d": 2000.0, "ok": True, "s": "x", "n": "y",
        "t": dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), "p": Decimal("3.14"),
        "l": [1, 2, 3], "bin": b"raw",
    }  # fmt: skip
    # empty: NULL for non-strings, '' for strings
    assert got[1] == {**dict.fromkeys(got[0], None), "s": "", "n": "", "bin": b""}
    # \N: NULL, except in a STRING NOT NULL column, which keeps it
    assert got[2] == {**dict.fromkeys(got[0], None), "n": "\\N"}
    # missing trailing fields are NULL
    assert got[3] == {**dict.fromkeys(got[0], None), "i": 7}


def test_delimited_properties() -> None:
    got, _ = rows(
        "delimited", "a INT, s STRING, l LIST<STRING>", b"1\t\tx;y\n2\tNULL\t\n",
        delimiter="\t", **{"null.sequence": "NULL", "list.delim": ";"},
    )  # fmt: skip
    assert got == [{"a": 1, "s": "", "l": ["x", "y"]}, {"a": 2, "s": None, "l": None}]
    got, _ = rows("delimited", "s STRING", b"a\n,\n", **{"null.sequence": ""})
    assert got == [{"s": "a"}, {"s": None}]


def test_a_list_column_needs_a_list_delim_other_than_the_delimiter() -> None:
    with pytest.raises(ConfigError) as info:
        make_format("delimited", columns("a INT, l LIST<INT>"), {"delimiter": "|"})
    assert str(info.value) == (
        "property 'list.delim' is '|', the delimiter too: the LIST column 'l' needs a "
        "list.delim of its own"
    )
    got, _ = rows("delimited", "a INT, l LIST<INT>", b"1|2;3\n", delimiter="|",
                  **{"list.delim": ";"})  # fmt: skip
    assert got == [{"a": 1, "l": [2, 3]}]
    got, _ = rows("delimited", "a INT, b INT", b"1|2\n", delimiter="|")  # no LIST: fine
    assert got == [{"a": 1, "b": 2}]


def test_delimited_rejects_malformed_lines_naming_line_and_field() -> None:
    data = b"1,2\nx,2\n3,99999999999\n\n4,5\n6,2.5\n"
    got, rejected = rows("delimited", "a INT, b INT", data)
    assert got == [{"a": 1, "b": 2}, {"a": 4, "b": 5}]
    assert rejected == [
        Rejected(2, "a", "'x' is not a valid INT", "x,2"),
        Rejected(3, "b", "'99999999999' is not a valid INT", "3,99999999999"),
        Rejected(6, "b", "'2.5' is not a valid INT", "6,2.5"),
    ]


def test_delimited_booleans_and_bad_list_items() -> None:
    got, rejected = rows(
        "delimited", "ok BOOLEAN, l LIST<INT>", b"TRUE,1|\nfalse,\nyes,1\nfalse,1|z\n"
    )
    assert got == [{"ok": True, "l": [1, None]}, {"ok": False, "l": None}]
    assert [(r.line, r.field) for r in rejected] == [(3, "ok"), (4, "l")]


def test_regex_one_group_per_column() -> None:
    cols = "host STRING, code INT, ms DOUBLE"
    pattern = r"^(\w+) \[(?:GET|POST)\] (\d+) ([0-9.]+)ms$"
    data = b"a [GET] 200 1.5ms\nb [POST] 500 20ms\ngarbage\nc [GET] 2x0 1ms\n"
    got, rejected = rows("regex", cols, data, regex=pattern)
    assert got == [
        {"host": "a", "code": 200, "ms": 1.5},
        {"host": "b", "code": 500, "ms": 20.0},
    ]
    assert [(r.line, r.field) for r in rejected] == [(3, None), (4, None)]
    assert "does not match" in rejected[0].reason


def test_regex_group_count_must_fit_the_columns() -> None:
    with pytest.raises(ConfigError, match="2 groups; the stream has 3 columns"):
        make_format("regex", columns("a INT, b INT, c INT"), {"regex": r"(\d+) (\d+)"})
    with pytest.raises(ConfigError, match="needs the property 'regex'"):
        make_format("regex", columns("a INT"), {})


def test_json_lines() -> None:
    data = (
        b'{"a": 1, "s": "x", "t": 2000, "l": [1, 2], "extra": true}\n'
        b'{"s": null}\n'
        b"not json\n"
        b'{"a": "one"}\n'
    )
    got, rejected = rows("json", "a BIGINT, s STRING, t TIMESTAMP, l LIST<INT>", data)
    assert got == [
        {"a": 1, "s": "x", "t": dt.datetime(1970, 1, 1, 0, 0, 2, tzinfo=UTC), "l": [1, 2]},
        {"a": None, "s": None, "t": None, "l": None},
    ]
    assert [(r.line, r.field) for r in rejected] == [(3, None), (4, "a")]


SCHEMA = {
    "type": "record",
    "name": "event",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": ["string", "null"]},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
    ],
}
RECORDS = [
    {"id": 1, "name": "aaron", "tags": ["a"]},
    {"id": 2, "name": None, "tags": []},
]


def test_avro_bare_records_and_container_files(tmp_path: Any) -> None:
    cols = "id BIGINT NOT NULL, name STRING, tags LIST<STRING>"
    bare = io.BytesIO()
    for record in RECORDS:
        fastavro.schemaless_writer(bare, fastavro.parse_schema(SCHEMA), record)
    fmt = make_format("avro", columns(cols), {"schema": json.dumps(SCHEMA)})
    assert fmt.parse(bare.getvalue(), 1).table.to_pylist() == RECORDS
    path = tmp_path / "events.avro"
    with open(path, "wb") as out:
        fastavro.writer(out, fastavro.parse_schema(SCHEMA), RECORDS)
    tables = [p.table for p in make_format("avro", columns(cols), {}).read_file(path)]
    assert [r for t in tables for r in t.to_pylist()] == RECORDS


def test_avro_schema_must_fit_the_columns() -> None:
    with pytest.raises(ConfigError, match="field 'name'"):
        make_format("avro", columns("name STRING NOT NULL"), {"schema": json.dumps(SCHEMA)})
    with pytest.raises(ConfigError, match="no field for column 'x'"):
        make_format("avro", columns("x INT"), {"schema": json.dumps(SCHEMA)})


def test_unknown_formats_and_properties_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown event format 'csv'"):
        make_format("csv", columns("a INT"), {})
    with pytest.raises(ConfigError, match="no property 'delim'"):
        make_format("delimited", columns("a INT"), {"delim": ";"})


PRECISE_TEXTS = ["3.35", "2.5", "-2.5", "0.125", "12345678901234567.89", "1e3"]


@pytest.mark.parametrize("scale", [0, 1, 2])
def test_precise_is_read_exactly_and_rounded_half_away_from_zero_in_every_format(
    scale: int,
) -> None:
    # the reference: Python's decimal from the text itself, rounded as Java's HALF_UP
    want = [
        {"p": Decimal(t).quantize(Decimal(1).scaleb(-scale), rounding="ROUND_HALF_UP")}
        for t in PRECISE_TEXTS
    ]
    cols = f"p PRECISE({scale})"
    got, rejected = rows("delimited", cols, "\n".join(PRECISE_TEXTS).encode())
    assert (got, rejected) == (want, [])
    numbers = "\n".join(f'{{"p": {t}}}' for t in PRECISE_TEXTS).encode()
    strings = "\n".join(f'{{"p": "{t}"}}' for t in PRECISE_TEXTS).encode()
    assert rows("json", cols, numbers) == (want, [])
    assert rows("json", cols, strings) == (want, [])
    schema = {"type": "record", "name": "r", "fields": [{"name": "p", "type": "string"}]}
    bare = io.BytesIO()
    for text in [*PRECISE_TEXTS, "abc"]:
        fastavro.schemaless_writer(bare, fastavro.parse_schema(schema), {"p": text})
    fmt = make_format("avro", columns(cols + " NOT NULL"), {"schema": json.dumps(schema)})
    parsed = fmt.parse(bare.getvalue(), 1)
    assert parsed.table.to_pylist() == want
    reason = f"'abc' does not read as PRECISE({scale}) NOT NULL: not a number"
    assert parsed.rejected == [Rejected(7, "p", reason, "'abc'")]


def test_a_json_value_that_does_not_read_as_its_column_names_the_field() -> None:
    data = b'{"a": 99999999999}\n{"p": "abc"}\n{"a": 1, "p": 2}\n{"p": 1e400}\n'
    got, rejected = rows("json", "a INT, p PRECISE(1)", data)
    assert got == [{"a": 1, "p": Decimal("2.0")}]
    assert [(r.line, r.field) for r in rejected] == [(1, "a"), (2, "p"), (4, None)]
    assert rejected[0].reason.startswith("the value of 'a' does not read as INT: ")
    assert rejected[1].reason.startswith("the value of 'p' does not read as PRECISE(1): ")
    assert rejected[2].reason.startswith("JSON parse error")  # the line itself, not a value


def test_a_json_value_of_the_wrong_kind_is_rejected_naming_field_and_type() -> None:
    got, rejected = rows("json", "a INT, s STRING", b'{"a": "one"}\n{"s": 2}\n{"a": 3}\n')
    assert got == [{"a": 3, "s": None}]
    assert rejected == [
        Rejected(1, "a", "the value of 'a' is a JSON string; its column is INT (a number)",
                 '{"a": "one"}'),
        Rejected(2, "s", "the value of 's' is a JSON number; its column is STRING (a string)",
                 '{"s": 2}'),
    ]  # fmt: skip
