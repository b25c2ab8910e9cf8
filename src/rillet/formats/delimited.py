"""The delimited event format (FlumeBase's default): fields separated by ``delimiter``.

Properties: ``delimiter`` (default ``,``), ``null.sequence`` (default ``\\N``), ``list.delim``
(default ``|``).  A missing trailing field is NULL, fields beyond the columns are ignored
(as FlumeBase does), an empty line is no event.  Lines are split all at once
(``split_pattern``) and each column is picked out of the split by index arithmetic.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from rillet.errors import ConfigError
from rillet.formats.base import EventFormat, Parsed, split_rejected
from rillet.formats.text import TextRules, convert, lines_of, not_valid
from rillet.schema import Column


def text_rules(properties: Mapping[str, str]) -> TextRules:
    """``null.sequence`` and ``list.delim`` from a format's properties."""
    rules = TextRules(properties.get("null.sequence", "\\N"), properties.get("list.delim", "|"))
    if not rules.list_delimiter:
        raise ConfigError("property 'list.delim' must not be empty", property="list.delim")
    return rules


class Delimited(EventFormat):
    """``EVENT FORMAT 'delimited'``."""

    name = "delimited"
    keys = ("delimiter", "null.sequence", "list.delim")

    def __init__(self, columns: Sequence[Column], properties: Mapping[str, str]) -> None:
        super().__init__(columns, properties)
        self.delimiter = properties.get("delimiter", ",")
        if not self.delimiter or "\n" in self.delimiter:
            raise ConfigError(
                f"property 'delimiter' must be a non-empty text without a line end, not "
                f"{self.delimiter!r}",
                property="delimiter",
            )
        self.rules = text_rules(properties)
        lists = [c.name for c in self.columns if c.type.name == "LIST"]
        if lists and self.rules.list_delimiter == self.delimiter:
            # the fields are split first: a list could never hold more than one item, and
            # the rest of it would be read as the next columns
            raise ConfigError(
                f"property 'list.delim' is {self.delimiter!r}, the delimiter too: the LIST "
                f"column {lists[0]!r} needs a list.delim of its own",
                property="list.delim",
            )

    def parse(self, data: bytes, first_line: int) -> Parsed:
        if len(self.delimiter) == 1 and b"\r" not in data:
            fast = self._fast(data)
            if fast is not None:
                return fast
        return self.parse_lines(lines_of(data), first_line)

    def _fast(self, data: bytes) -> Parsed | None:
        """Arrow's (multithreaded) CSV reader splits the fields when every line has them
        all and none is bad; None sends the lines to :meth:`parse_lines`, which numbers the
        lines and finds the bad ones."""
        uneven = False

        def invalid(row: pcsv.InvalidRow) -> str:
            nonlocal uneven
            uneven = True
            return "skip"

        names = [f"c{i}" for i in range(len(self.columns))]
        try:
            table = pcsv.read_csv(
                pa.BufferReader(data),
                read_options=pcsv.ReadOptions(column_names=names, block_size=1 << 20),
                parse_options=pcsv.ParseOptions(
                    delimiter=self.delimiter, quote_char=False, escape_char=False,
                    ignore_empty_lines=True, invalid_row_handler=invalid,
                ),
                convert_options=pcsv.ConvertOptions(
                    column_types=dict.fromkeys(names, pa.string()), null_values=[],
                    strings_can_be_null=False, quoted_strings_can_be_null=False,
                ),
            )  # fmt: skip
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # not UTF-8, say
            return None
        if uneven:
            return None
        arrays = []
        for name, column in zip(names, self.columns, strict=True):
            field = table.column(name)
            text = field.combine_chunks() if field.num_chunks != 1 else field.chunk(0)
            converted = convert(text, column.type, self.rules)
            if converted.bad.any():
                return None
            arrays.append(converted.values)
        return Parsed(pa.Table.from_arrays(arrays, schema=self.arrow))

    def parse_lines(self, lines: pa.Array, first_line: int) -> Parsed:
        """Lines without their line ends, the first numbered ``first_line``."""
        numbers = np.arange(first_line, first_line + len(lines))
        nonempty = pc.not_equal(lines, "")
        if not pc.all(nonempty).as_py():
            keep = np.asarray(nonempty.to_numpy(zero_copy_only=False), dtype=bool)
            lines, numbers = lines.filter(pa.array(keep)), numbers[keep]
        split = pc.split_pattern(lines, self.delimiter)
        starts = np.asarray(split.offsets)[:-1]
        counts = np.asarray(pc.list_value_length(split).fill_null(0))
        values = split.values
        fields = []
        for i in range(len(self.columns)):
            missing = counts <= i
            index = pa.array(np.where(missing, 0, starts + i), mask=missing)
            fields.append(values.take(index) if len(values) else pa.nulls(len(lines), pa.string()))
        converted = [
            convert(f, c.type, self.rules) for f, c in zip(fields, self.columns, strict=True)
        ]

        def reason(column: int, row: int) -> tuple[str, str]:
            c = self.columns[column]
            return c.name, not_valid(fields[column][row].as_py(), c.type)

        return split_rejected(
            [c.values for c in converted],
            [c.bad for c in converted],
            reason,
            lines,
            numbers,
            self.arrow,
        )
