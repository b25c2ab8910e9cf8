"""The one interface of event formats: lines (or a file's bytes) in, an Arrow table out.

A format turns many lines into one table at once and says which lines it could not read
(:class:`Rejected`: line number, field, reason, text); the source decides what a rejected
line does to the stream (its policy), the format only finds them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from rillet.errors import ConfigError
from rillet.schema import Column

#: properties every format takes (the source reads them, not the format)
COMMON = ("timestamp.col", "malformed")


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that could not be read: its 1-based number, the field, why, and its text."""

    line: int
    field: str | None
    reason: str
    text: str


@dataclass(slots=True)
class Parsed:
    """What a format made of some lines: the good ones as a table (the columns, in order),
    and the rejected ones in line order."""

    table: pa.Table
    rejected: list[Rejected] = field(default_factory=list)


class EventFormat(ABC):
    """An event format: ``columns`` (the stream's declared columns) and its properties."""

    name: str = ""
    keys: tuple[str, ...] = ()  # the properties it takes besides COMMON
    line_based = True  # False: read a whole file with :meth:`read_file`

    def __init__(self, columns: Sequence[Column], properties: Mapping[str, str]) -> None:
        unknown = sorted(set(properties) - set(self.keys) - set(COMMON))
        if unknown:
            known = ", ".join(repr(k) for k in (*self.keys, *COMMON))
            raise ConfigError(
                f"event format {self.name!r} has no property {unknown[0]!r} (it takes {known})",
                property=unknown[0],
            )
        self.columns = list(columns)
        self.arrow = pa.schema([pa.field(c.name, c.type.arrow) for c in self.columns])

    @abstractmethod
    def parse(self, data: bytes, first_line: int) -> Parsed:
        """Complete lines of text (the last line end optional); ``first_line`` numbers the
        first of them."""

    def read_file(self, path: Path) -> Iterator[Parsed]:
        """A whole file, in parts (the binary formats override this)."""
        raise NotImplementedError  # pragma: no cover

    def empty(self) -> pa.Table:
        return self.arrow.empty_table()


def split_rejected(
    arrays: list[pa.Array],
    bad: list[np.ndarray],
    reason: Callable[[int, int], tuple[str | None, str]],
    texts: pa.Array,
    line_numbers: np.ndarray,
    schema: pa.Schema,
) -> Parsed:
    """The rows no column found bad as a table; for every other row, its first bad field
    (``reason(column, row)`` gives the field's name and what is wrong with it)."""
    n = len(texts)
    any_bad = np.zeros(n, dtype=bool)
    for mask in bad:
        any_bad |= mask
    table = pa.Table.from_arrays(arrays, schema=schema)
    if not any_bad.any():
        return Parsed(table)
    rejected = []
    for row in np.flatnonzero(any_bad).tolist():
        for i, mask in enumerate(bad):
            if mask[row]:
                name, why = reason(i, row)
                rejected.append(Rejected(int(line_numbers[row]), name, why, texts[row].as_py()))
                break
    return Parsed(table.filter(pa.array(~any_bad)), rejected)
