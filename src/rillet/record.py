"""Record: one stored record, a read-only mapping from column name to value, with its offset."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class Record(Mapping[str, Any]):
    """A read-only mapping column -> value, plus the record's ``offset`` in its stream.

    Examples:
        >>> r = Record({"host": 0, "ms": 1}, ("a", 2.5), offset=7)
        >>> r["ms"], r.offset, dict(r)
        (2.5, 7, {'host': 'a', 'ms': 2.5})
    """

    __slots__ = ("_index", "_values", "offset")

    def __init__(self, index: Mapping[str, int], values: tuple[Any, ...], offset: int) -> None:
        self._index = index
        self._values = values
        self.offset = offset

    def __getitem__(self, name: str) -> Any:
        return self._values[self._index[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._values)

    def values_tuple(self) -> tuple[Any, ...]:
        """The values in schema order."""
        return self._values

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={value!r}" for name, value in zip(self._index, self._values, strict=True)
        )
        return f"Record(offset={self.offset}, {fields})"
