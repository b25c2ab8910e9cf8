"""The one error tree of rillet.

Every error a user can see is a :class:`RilletError`.  Subclasses carry the fields a program
needs (column, row, position, ...) and a message a person can act on.  ``InputError`` and its
subclasses promise that nothing was changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class RilletError(Exception):
    """Base of every rillet error."""

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        for key, value in detail.items():
            setattr(self, key, value)

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: class name, message and detail fields."""
        return {"error": type(self).__name__, "message": self.message, "detail": self.detail}


class InputError(RilletError):
    """The request was rejected; nothing was changed."""


class SchemaError(InputError):
    """A schema, a column list or a stream option is wrong."""


class RecordError(InputError):
    """A record does not fit its stream's schema (wrong type, NULL in NOT NULL, ...)."""

    stream: str | None
    column: str | None
    row: int | None
    value: Any


class ParseError(InputError):
    """Text that could not be parsed; ``line`` and ``col`` are 1-based."""

    line: int | None
    col: int | None
    expected: str | None


class TypeCheckError(InputError):
    """An expression or query whose types do not fit; ``line`` and ``col`` are 1-based."""

    line: int | None
    col: int | None


class ConfigError(InputError):
    """A setting or option has a wrong name or value."""


class NotFoundError(RilletError):
    """A named thing (stream, column, record, ...) does not exist."""

    kind: str
    name: str
    suggestion: str | None


class ConflictError(RilletError):
    """A named thing already exists."""


class AccessError(RilletError):
    """The caller may not do this."""


class OverloadedError(RilletError):
    """Too much work right now; retry after ``retry_after`` seconds."""


class StorageError(RilletError):
    """Files on disk could not be read or written."""


class LockedError(StorageError):
    """Another process holds the data folder."""


class CorruptionError(StorageError):
    """A file is damaged beyond what recovery repairs."""


class FlowError(RilletError):
    """A running flow failed."""


class UnavailableError(RilletError):
    """A service rillet depends on cannot be reached."""


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, if one is close enough to be a likely typo."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def not_found(kind: str, name: str, candidates: Iterable[str], where: str = "") -> NotFoundError:
    """A NotFoundError whose message offers the closest existing name."""
    hint = suggest(name, candidates)
    message = f"unknown {kind} {name!r}{where}"
    if hint is not None:
        message += f"; did you mean {hint!r}?"
    return NotFoundError(message, kind=kind, name=name, suggestion=hint)


# -- time series (rillet.timeseries, the Kairos API) ----------------------------------------


class UnknownTypeError(ConfigError):
    """A time series type that is not one of series, histogram, count, gauge, set (or none)."""


class IntervalConfigError(ConfigError):
    """A malformed interval configuration (step, steps, resolution)."""

    interval: str | None
    key: str | None


class UnknownIntervalError(NotFoundError):
    """A read names an interval the time series was not configured with."""


class ValueTypeError(InputError):
    """A value the time series (its type, or its back end's value type) cannot hold;
    ``position`` counts the values of the insert from 0."""

    position: int


class BackendUnavailableError(UnavailableError):
    """A time-series back end (PostgreSQL, Redis, ...) cannot be reached."""
