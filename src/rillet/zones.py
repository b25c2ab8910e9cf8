"""Python datetimes into Arrow without a call to their time zone a value.

pyarrow asks every datetime it converts for its UTC offset (``tzinfo.utcoffset``), naive ones
included: 110-250 ns a value, most of what a buffer of single records costs to become a
batch when people append datetimes.  Its ``PYARROW_IGNORE_TIMEZONE`` option skips the call
and reads the datetime's fields as UTC, which is exact when every value is naive (rillet
reads a naive datetime as UTC) or in UTC: :func:`utc_only` says so (a set of the values'
``tzinfo``, ~25 ns a value) and :func:`ignoring_time_zones` turns the option on for one
conversion.

The option is read from ``os.environ`` by each ``pa.array`` call.  It is set in the
mapping's dict only (no ``putenv``: C code reading the environment on another thread never
sees it change), under one lock, so no two conversions of rillet's overlap.  Another
thread converting aware datetimes of another zone with pyarrow in that window (a fraction of
a millisecond a buffer) would read them as UTC; rillet converts no others that way.
"""

from __future__ import annotations

import datetime as dt
import operator
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

_NAME = "PYARROW_IGNORE_TIMEZONE"
_environ: Any = os.environ
#: os.environ's own dict, encoded keys and values: writing it does not call putenv
_data: dict[Any, Any] = _environ._data
_key = _environ.encodekey(_NAME)
_on = _environ.encodevalue("1")
_lock = threading.Lock()
_tzinfo = operator.attrgetter("tzinfo")
_UTC_OR_NAIVE = frozenset({None, dt.UTC})


def utc_only(times: Iterable[Any]) -> bool:
    """True when every one of ``times`` is a naive datetime or one in UTC (``datetime.UTC``);
    False for anything else (another zone, None, another type).

    Examples:
        >>> utc_only([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, tzinfo=dt.UTC)])
        True
        >>> utc_only([dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2)))])
        False
    """
    try:
        return set(map(_tzinfo, times)) <= _UTC_OR_NAIVE
    except AttributeError:  # a None (a time to stamp) or not a datetime: ask every offset
        return False


@contextmanager
def ignoring_time_zones(ignore: bool) -> Iterator[None]:
    """pyarrow's conversions inside read datetimes' fields as UTC when ``ignore`` (see the
    module's docstring); held under the lock either way, so that no conversion of rillet's
    runs while another's has the option on."""
    with _lock:
        if not ignore or _key in _data:  # off, or the user set it for the whole process
            yield
            return
        _data[_key] = _on
        try:
            yield
        finally:
            del _data[_key]
