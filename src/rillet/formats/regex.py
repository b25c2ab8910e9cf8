"""The regex event format: ``regex`` with one capturing group per column, in column order.

The whole batch of lines goes through Arrow's ``extract_regex`` (RE2) at once; the pattern's
plain groups are given names for it.  A line the pattern does not match is rejected.
``null.sequence`` and ``list.delim`` apply as in the delimited format.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.errors import ConfigError
from rillet.formats.base import EventFormat, Parsed, split_rejected
from rillet.formats.delimited import text_rules
from rillet.formats.text import convert, lines_of, not_valid
from rillet.schema import Column


def name_groups(pattern: str) -> tuple[str, int]:
    """``pattern`` with each capturing group named ``c0``, ``c1``, ...; and their count.
    Escapes, character classes and ``(?...)`` groups are left as they are."""
    out: list[str] = []
    groups = 0
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if pattern[i + 1 : i + 2] == "]":  # a literal ']' first in the class
                out.append("[]")
                i += 2
                continue
        elif ch == "(" and not pattern.startswith("(?", i):
            out.append(f"(?P<c{groups}>")
            groups += 1
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), groups


class Regex(EventFormat):
    """``EVENT FORMAT 'regex'``."""

    name = "regex"
    keys = ("regex", "null.sequence", "list.delim")

    def __init__(self, columns: Sequence[Column], properties: Mapping[str, str]) -> None:
        super().__init__(columns, properties)
        if "regex" not in properties:
            raise ConfigError("event format 'regex' needs the property 'regex'", property="regex")
        self.regex = properties["regex"]
        self.pattern, groups = name_groups(self.regex)
        if groups != len(self.columns):
            raise ConfigError(
                f"property 'regex' {self.regex!r} has {groups} groups; the stream has "
                f"{len(self.columns)} columns (one group per column)",
                property="regex",
            )
        try:
            re.compile(self.regex)
            pc.extract_regex(pa.array([""]), self.pattern)
        except (re.error, pa.ArrowInvalid) as exc:
            raise ConfigError(
                f"property 'regex' {self.regex!r} is not a valid regular expression: {exc}",
                property="regex",
            ) from None
        self.rules = text_rules(properties)

    def parse(self, data: bytes, first_line: int) -> Parsed:
        lines = lines_of(data)
        numbers = np.arange(first_line, first_line + len(lines))
        nonempty = np.asarray(pc.not_equal(lines, "").to_numpy(zero_copy_only=False), dtype=bool)
        if not nonempty.all():
            lines, numbers = lines.filter(pa.array(nonempty)), numbers[nonempty]
        matched = pc.extract_regex(lines, self.pattern)
        unmatched = np.asarray(matched.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        fields = [matched.field(f"c{i}") for i in range(len(self.columns))]
        converted = [
            convert(f, c.type, self.rules) for f, c in zip(fields, self.columns, strict=True)
        ]
        bad = [unmatched] + [c.bad for c in converted]
        arrays = [c.values for c in converted]

        def reason(column: int, row: int) -> tuple[str | None, str]:
            if column == 0:
                return None, f"the line does not match the regex {self.regex!r}"
            c = self.columns[column - 1]
            return c.name, not_valid(fields[column - 1][row].as_py(), c.type)

        return split_rejected(arrays, bad, reason, lines, numbers, self.arrow)
