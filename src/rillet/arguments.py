"""Argument checks at the public entry points: a wrong Python type is a rillet error.

A public method states what each argument must be with one :func:`check` call at its top,
before anything changes.  A mismatch raises the most specific :class:`~rillet.errors.InputError`
for the argument's role (the class follows the argument, not the method):

- :class:`~rillet.errors.SchemaError`: stream names, schemas, column names;
- :class:`~rillet.errors.ConfigError`: stream options, monitor names and definitions, flags,
  callbacks and subscribers;
- :class:`~rillet.errors.InputError` itself where no subclass fits: offsets, counts, time
  bounds, ad-hoc expressions and SQL.

Records (``append``, ``append_many``) are checked where they are converted and stay
:class:`~rillet.errors.RecordError`.  The message names the method, the argument and what was
expected; the detail fields ``method``, ``argument`` and ``expected`` say the same to programs.

Examples:
    >>> def read(offset: object, count: object = None) -> None:
    ...     check("read", offset=(offset, INT), count=(count, INT | None))
    >>> read(1, 2)
    >>> read("a")
    Traceback (most recent call last):
    ...
    rillet.errors.InputError: read(): offset must be an int, not str ('a')
    >>> read(1, 2.5)
    Traceback (most recent call last):
    ...
    rillet.errors.InputError: read(): count must be an int or None, not float (2.5)
"""

from __future__ import annotations

import datetime as dt
import functools
import reprlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from rillet.errors import ConfigError, InputError, SchemaError

_REPR = reprlib.Repr()  # a value in a message is cut short: "'aaaaaaaaaaaaaaa...aaaaaaaaaaaaaaaa'"
_REPR.maxstring = _REPR.maxother = 40


@dataclass(frozen=True, slots=True, eq=False)
class Kind:
    """What an argument must be: a test, the words for it, and the error a mismatch raises.

    ``KIND | None`` is the same kind that also takes None (made once: kinds hash by
    identity, so the checks at the top of a method cost about a microsecond).
    """

    expected: str
    test: Callable[[Any], bool]
    error: type[InputError]

    def __or__(self, other: None) -> Kind:
        return _optional(self)


@functools.cache
def _optional(kind: Kind) -> Kind:
    test = kind.test
    return Kind(f"{kind.expected} or None", lambda v: v is None or test(v), kind.error)


def check(method: str, **arguments: tuple[Any, Kind]) -> None:
    """Raise the error of the first argument (in the order given) whose value is not of its
    kind; ``arguments`` maps each name to ``(value, kind)``."""
    for argument, (value, kind) in arguments.items():
        if not kind.test(value):
            raise mismatch(method, argument, value, kind)


def mismatch(method: str, argument: str, value: Any, kind: Kind) -> InputError:
    """The error for ``value`` given as ``argument`` of ``method`` where ``kind`` is needed."""
    got = "None" if value is None else f"{type(value).__name__} ({_REPR.repr(value)})"
    return kind.error(
        f"{method}(): {argument} must be {kind.expected}, not {got}",
        method=method,
        argument=argument,
        expected=kind.expected,
    )


_INTS = (int, np.integer)  # a tuple: isinstance takes it faster than a union


def _is_int(value: Any) -> bool:
    return isinstance(value, _INTS) and value is not True and value is not False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool | np.bool_)


def _is_time(value: Any) -> bool:
    """What :func:`rillet.time.to_ns` reads."""
    if isinstance(value, str):
        try:
            dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return False
        return True
    return isinstance(value, dt.date | np.datetime64) or _is_int(value)


def _is_offsets(value: Any) -> bool:
    if isinstance(value, np.ndarray):
        return value.ndim == 1 and value.dtype.kind in "iu"
    return isinstance(value, list | tuple | range) and all(_is_int(v) for v in value)


def _is_schema(value: Any) -> bool:
    return isinstance(value, str | pa.Schema | list | tuple)


def _is_params(value: Any) -> bool:
    return isinstance(value, Mapping) or (
        isinstance(value, Sequence) and not isinstance(value, str | bytes)
    )


def _is_subscriber(value: Any) -> bool:
    return callable(getattr(value, "observe", None)) and callable(
        getattr(value, "forget_before", None)
    )


# -- SchemaError: names of streams and columns, schemas
#: a stream or column name
SCHEMA_NAME = Kind("a str", _is_str, SchemaError)
SCHEMA = Kind(
    "rtsql text, a list of (name, type) pairs or a pyarrow schema", _is_schema, SchemaError
)

# -- ConfigError: options, monitors, flags, callbacks
#: a monitor's name, expression, condition, duration, url; a stream option
TEXT_OPTION = Kind("a str", _is_str, ConfigError)
INT_OPTION = Kind("an int", _is_int, ConfigError)
NUMBER_OPTION = Kind("a number", _is_number, ConfigError)
FLAG = Kind("a bool", _is_bool, ConfigError)
SETTING_VALUE = Kind("a str, int or bool", lambda v: isinstance(v, str | int | bool), ConfigError)
CALLBACK = Kind("callable", callable, ConfigError)
SUBSCRIBER = Kind(
    "a subscriber (with observe and forget_before methods)", _is_subscriber, ConfigError
)
FOLDER = Kind("a str or a pathlib.Path", lambda v: isinstance(v, str | Path), ConfigError)

# -- InputError: what a call asks for
INT = Kind("an int", _is_int, InputError)
COUNT = Kind("an int of 0 or more", lambda v: _is_int(v) and v >= 0, InputError)
#: event-time bounds of reads and monitor queries
TIME = Kind("a time (datetime, ISO-8601 text or epoch ns)", _is_time, InputError)
#: ad-hoc SQL or filter expression text
QUERY = Kind("a str", _is_str, InputError)
PARAMS = Kind("a sequence or mapping of parameters", _is_params, InputError)
OFFSETS = Kind("a 1-d array or list of int offsets", _is_offsets, InputError)
TABLE = Kind("a pyarrow Table", lambda v: isinstance(v, pa.Table), InputError)

# -- the public methods the embedded classes and the remote client both have
#: each one's arguments and their kinds, in the order they are checked: written once, so that
#: a wrong type is the same error embedded and remote (tests/client runs the table of
#: tests/unit/test_arguments.py on both)
SIGNATURES: dict[str, dict[str, Kind]] = {
    "add_aggregate": {
        "name": TEXT_OPTION,
        "filter": TEXT_OPTION | None,
        "expression": TEXT_OPTION,
        "resolution": TEXT_OPTION | None,
        "backfill": FLAG,
    },
    "add_filter": {
        "name": TEXT_OPTION,
        "expression": TEXT_OPTION,
        "resolution": TEXT_OPTION | None,
        "backfill": FLAG,
    },
    "add_index": {"column": SCHEMA_NAME, "bucket_size": NUMBER_OPTION, "backfill": FLAG},
    "add_webhook": {"url": TEXT_OPTION, "trigger": TEXT_OPTION | None},
    "create_stream": {
        "name": SCHEMA_NAME,
        "schema": SCHEMA,
        "time_column": SCHEMA_NAME | None,
        "partition": TEXT_OPTION,
        "retention": TEXT_OPTION | None,
        "max_bytes": INT_OPTION | None,
        "durability": TEXT_OPTION,
        "log_compression": TEXT_OPTION | None,
    },
    "drop_stream": {"name": SCHEMA_NAME},
    "execute": {"text": QUERY},
    "execute_filter": {"expression": QUERY, "start": TIME | None, "end": TIME | None},
    "flow": {"flow_id": INT},
    "get_aggregate": {"name": TEXT_OPTION, "start": TIME | None, "end": TIME | None},
    "get_alerts": {"start": TIME | None, "end": TIME | None, "trigger": TEXT_OPTION | None},
    "install_trigger": {"name": TEXT_OPTION, "condition": TEXT_OPTION, "period": TEXT_OPTION},
    "name_flow": {"flow_id": INT, "name": SCHEMA_NAME},
    "on_alert": {"callback": CALLBACK},
    "query_filter": {"name": TEXT_OPTION, "start": TIME | None, "end": TIME | None},
    "read": {"offset": INT, "count": COUNT | None},
    "remove_aggregate": {"name": TEXT_OPTION},
    "remove_filter": {"name": TEXT_OPTION},
    "remove_index": {"column": SCHEMA_NAME},
    "remove_trigger": {"name": TEXT_OPTION},
    "remove_webhook": {"url": TEXT_OPTION, "trigger": TEXT_OPTION | None},
    "scan": {"start": TIME | None, "end": TIME | None},
    "set": {"key": TEXT_OPTION, "value": SETTING_VALUE},
    "sql": {"query": QUERY, "params": PARAMS | None, "include_open": FLAG},
    "stream": {"name": SCHEMA_NAME},
    "unname_flow": {"flow_id": INT},
}


def check_arguments(method: str, values: Mapping[str, Any]) -> None:
    """:func:`check` of ``method``'s arguments as :data:`SIGNATURES` lists them, their
    values read from ``values`` (the method's ``locals()``)."""
    for argument, kind in SIGNATURES[method].items():
        value = values[argument]
        if not kind.test(value):
            raise mismatch(method, argument, value, kind)
