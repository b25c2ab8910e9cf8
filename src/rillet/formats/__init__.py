"""Event formats: how the lines (or bytes) of a source become a stream's records.

One module per format behind :class:`EventFormat`; :func:`make_format` picks one by the name
``EVENT FORMAT`` gives (``delimited`` when there is none) and checks its properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rillet.errors import ConfigError, suggest
from rillet.formats.avro import Avro
from rillet.formats.base import EventFormat, Parsed, Rejected
from rillet.formats.delimited import Delimited
from rillet.formats.jsonlines import JsonLines
from rillet.formats.regex import Regex
from rillet.schema import Column

FORMATS: dict[str, type[EventFormat]] = {
    "delimited": Delimited,
    "regex": Regex,
    "json": JsonLines,
    "avro": Avro,
}


def make_format(
    name: str | None, columns: Sequence[Column], properties: Mapping[str, str]
) -> EventFormat:
    """The event format ``name`` (None: delimited) for ``columns``; ConfigError if the name
    or a property is wrong."""
    key = (name or "delimited").lower()
    if key not in FORMATS:
        hint = suggest(key, FORMATS)
        raise ConfigError(
            f"unknown event format {name!r} (formats: {', '.join(FORMATS)})"
            + (f"; did you mean {hint!r}?" if hint else ""),
            format=name,
        )
    return FORMATS[key](columns, properties)


__all__ = ["FORMATS", "EventFormat", "Parsed", "Rejected", "make_format"]
