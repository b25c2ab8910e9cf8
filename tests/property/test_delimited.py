"""The delimited format against a plain-Python reading of the same lines (FlumeBase's rules
written out one field at a time): same rows, same rejected lines, same fields."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.datatypes import INT_RANGE, parse_type
from rillet.formats import make_format
from rillet.schema import Column

TYPES = ["INT", "BIGINT", "STRING", "STRING NOT NULL", "BOOLEAN", "LIST<INT>", "DOUBLE"]
INTEGER = re.compile(r"[+-]?[0-9]+")


def reference(text: str | None, kind: str, null: str, list_delim: str) -> tuple[bool, Any]:
    """(valid, value) of one field (None: the field is missing)."""
    if kind.startswith("STRING"):
        if text is None or (kind == "STRING" and text == null):
            return True, None
        return True, text
    if text is None or text == "" or text == null:
        return True, None
    if kind in ("INT", "BIGINT"):
        if not INTEGER.fullmatch(text):
            return False, None
        low, high = INT_RANGE[kind]
        return low <= int(text) <= high, int(text)
    if kind == "BOOLEAN":
        return text.lower() in ("true", "false"), text.lower() == "true"
    if kind == "DOUBLE":
        try:
            return True, float(text)
        except ValueError:
            return False, None
    items = [reference(item, "INT", null, list_delim) for item in text.split(list_delim)]
    return all(ok for ok, _ in items), [v for _, v in items]


def read(
    lines: list[str], kinds: list[str], delimiter: str, null: str
) -> tuple[list[Any], list[Any]]:
    good, bad = [], []
    for n, line in enumerate(lines, start=1):
        if line == "":
            continue
        fields = line.split(delimiter)
        row = {}
        for i, kind in enumerate(kinds):
            ok, value = reference(fields[i] if i < len(fields) else None, kind, null, ";")
            if not ok:
                bad.append((n, f"c{i}"))
                break
            row[f"c{i}"] = value
        else:
            good.append(row)
    return good, bad


FIELD = st.one_of(
    st.integers(-(2**40), 2**40).map(str),
    st.sampled_from(["", "\\N", "NULL", "true", "False", "x", "1;2", "3;", "1.5", "-0", "+7"]),
    st.text(alphabet="ab01;-+.", max_size=4),
)


@settings(max_examples=150, deadline=None)
@given(
    kinds=st.lists(st.sampled_from(TYPES), min_size=1, max_size=4),
    rows=st.lists(st.lists(FIELD, min_size=0, max_size=5), max_size=12),
    delimiter=st.sampled_from([",", "\t", "::"]),
    null=st.sampled_from(["\\N", "NULL", ""]),
    trailing=st.booleans(),
)
def test_delimited_matches_the_reference(
    kinds: list[str], rows: list[list[str]], delimiter: str, null: str, trailing: bool
) -> None:
    lines = [delimiter.join(row) for row in rows]
    columns = [Column(f"c{i}", parse_type(k)) for i, k in enumerate(kinds)]
    fmt = make_format(
        "delimited", columns, {"delimiter": delimiter, "null.sequence": null, "list.delim": ";"}
    )
    data = "\n".join(lines) + ("\n" if trailing and lines else "")
    parsed = fmt.parse(data.encode(), 1)
    good, bad = read(lines, kinds, delimiter, null)
    assert parsed.table.to_pylist() == good
    assert [(r.line, r.field) for r in parsed.rejected] == bad
