"""The interface between the Kairos API layer and the places a time series is kept.

The API layer (:mod:`rillet.timeseries.api`) owns everything about time and meaning:
intervals, bucketing (fixed and Gregorian, in UTC), TTL by ``steps``, ``write_func`` and
``read_func``, transforms, joins, condense and collapse, return shapes.  A :class:`Store`
owns only keeping rows and giving them back, set-based: one :meth:`Store.write` per
``insert``/``bulk_insert`` (one transaction, all or nothing) and one :meth:`Store.fetch` per
``get``/``series`` (one round trip, all the names of a join at once).

Back ends are modules with a function ``open_store(target, spec) -> Store`` (see
:func:`rillet.timeseries.backends.open_store`, which picks the module from the target):

==========================================  ==================================
target                                      module
==========================================  ==================================
rillet Database, ``rillet://path``,         :mod:`rillet.timeseries.embedded`
``rillet://``
``sqlite:///...``, ``postgresql://...``,    :mod:`rillet.timeseries.sql`
a SQLAlchemy Engine
``redis://host/db``, a redis.Redis client   :mod:`rillet.timeseries.redis`
==========================================  ==================================

Keys.  Every row is keyed by ``(name, interval, i_time, r_time)``:

- ``name``: the statistic's name (text, any characters);
- ``interval``: the configured interval's name (``"minute"``, ``"daily"``, ...);
- ``i_time``: the start of the interval bucket, whole epoch seconds (UTC).  Fixed steps
  start at multiples of the step since the epoch; Gregorian steps at UTC midnight of the
  day, of the first day of the month / year, and for weeks at the Sunday that starts the
  ``%Y%U`` week, or January 1st for a year's first short week;
- ``r_time``: the start of the resolution bucket inside it, same units.  An interval
  without a resolution (or with ``resolution == step``) writes ``r_time == i_time``, never
  NULL (so unique keys work on every SQL engine).

What each type keeps per key (the API layer has already reduced a write to at most one row
per key for every type but ``series``, and to one row per key and value for ``histogram``
and ``set``):

- ``series``: a list of values in the order written.  Each row of a write is appended, in
  the order of the rows; :meth:`Store.fetch` gives a bucket's rows in that order.
- ``histogram``: counts by value.  A row carries ``value`` and ``count`` (int64, >= 1); the
  store adds ``count`` to the value's count in the bucket (upsert ``count = count + n``).
- ``count``: a running sum kept as a float (``1.5`` stays ``1.5``).  A row's ``value``
  (float64) is added to the bucket's sum (upsert ``value = value + v``).
- ``gauge``: the last value written.  A row's ``value`` replaces the bucket's.
- ``set``: the distinct values.  A row's ``value`` is added if absent (insert-or-ignore).

Values.  :attr:`Store.value_type` is the Arrow type the store keeps values as (``float64``
by default, like Kairos' SQL); the API layer casts every value to it before writing and
raises :class:`~rillet.errors.ValueTypeError` for one it cannot hold, so a store never sees a
value of another type.  ``None`` means the store keeps text (as Kairos' Redis did): values
come in as ``string`` (``str(value)``) and go out as strings; ``read_func`` casts them.
The ``count`` type's value column is always float64, whatever ``value_type`` says.

TTL.  An interval with ``steps = N`` keeps its newest N interval buckets: the bucket
starting at ``i_time`` is live until the start of the bucket N steps later, its ``expires``
(epoch seconds; for Gregorian steps N calendar steps later).  Each written row carries its
bucket's ``expires`` (NULL without ``steps``); the API layer never writes a row that has
already expired.  A store that has native expiry (Redis) sets it from ``expires`` (EXPIREAT).
Reads never depend on a store having dropped anything: the API layer asks only for live
buckets (``fetch`` ranges start at or after the first live bucket), and passes ``live_from``
(interval -> first live ``i_time``) to :meth:`Store.names` and :meth:`Store.bounds`, which
must leave out rows before it.  :meth:`Store.expire` deletes the dead rows of a name.

Errors.  A store translates its driver's errors at its boundary: a back end it cannot reach
is :class:`~rillet.errors.BackendUnavailableError`; an unknown or bad backend option
:class:`~rillet.errors.ConfigError`.  A write that fails changes nothing (SQL: one
transaction; rillet: one ``append_many`` per stream; Redis: MULTI/EXEC, see its module).

Examples:
    >>> write_schema("histogram", pa.float64()).names
    ['name', 'interval', 'i_time', 'r_time', 'value', 'count', 'expires']
    >>> fetch_schema("count", None).field("value").type
    DataType(double)
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from rillet.errors import ConfigError

#: the five Kairos types, in the reference's order
TYPES = ("series", "histogram", "count", "gauge", "set")

#: ``value_type`` option spellings (Kairos' SQL list, less the driver-specific ones) -> Arrow
VALUE_TYPES: dict[Any, pa.DataType] = {
    "float": pa.float64(),
    "double": pa.float64(),
    float: pa.float64(),
    "int": pa.int64(),
    "int64": pa.int64(),
    "integer": pa.int64(),
    "long": pa.int64(),
    int: pa.int64(),
    "bool": pa.bool_(),
    "boolean": pa.bool_(),
    bool: pa.bool_(),
    "str": pa.string(),
    "string": pa.string(),
    "unicode": pa.string(),
    "text": pa.string(),
    "clob": pa.string(),
    str: pa.string(),
    "blob": pa.binary(),
    "bytes": pa.binary(),
    bytes: pa.binary(),
    "decimal": pa.decimal128(38, 10),
    decimal.Decimal: pa.decimal128(38, 10),
    "date": pa.date32(),
    dt.date: pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    dt.datetime: pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"),
    dt.time: pa.time64("us"),
}


def arrow_value_type(option: Any) -> pa.DataType:
    """The Arrow type of a ``value_type`` option: a name (``"float"``, ``"str"``, ...), a
    Python type, or an Arrow type.

    Examples:
        >>> arrow_value_type("int"), arrow_value_type(str)
        (DataType(int64), DataType(string))
    """
    if isinstance(option, pa.DataType):
        return option
    key = option.lower() if isinstance(option, str) else option
    try:
        return VALUE_TYPES[key]
    except (KeyError, TypeError):
        names = sorted(k for k in VALUE_TYPES if isinstance(k, str))
        raise ConfigError(
            f"value_type {option!r} is not one of {', '.join(names)} (or a Python or Arrow type)",
            option="value_type",
            value=repr(option),
        ) from None


@dataclass(frozen=True)
class StoreSpec:
    """What a store is opened for: one time series' type, key prefix, intervals and the
    backend options the user passed (``table_name``, ``value_type``, ``client_config``, ...).

    ``prefix`` is ``""`` or ends with ``":"`` (Kairos appends it); two time series on one
    back end with different prefixes or types never see each other's rows.  ``intervals``
    names the configured intervals.  A store raises ConfigError for an option it does not
    know, naming it.
    """

    type: str
    prefix: str = ""
    intervals: tuple[str, ...] = ()
    options: Mapping[str, Any] = field(default_factory=dict)


def write_schema(kind: str, value_type: pa.DataType | None) -> pa.Schema:
    """The columns of the table handed to :meth:`Store.write` for a type."""
    value = pa.float64() if kind == "count" else (value_type or pa.string())
    fields = [
        pa.field("name", pa.string(), nullable=False),
        pa.field("interval", pa.string(), nullable=False),
        pa.field("i_time", pa.int64(), nullable=False),
        pa.field("r_time", pa.int64(), nullable=False),
        pa.field("value", value),
    ]
    if kind == "histogram":
        fields.append(pa.field("count", pa.int64(), nullable=False))
    fields.append(pa.field("expires", pa.int64()))
    return pa.schema(fields)


def fetch_schema(kind: str, value_type: pa.DataType | None) -> pa.Schema:
    """The columns of the table :meth:`Store.fetch` returns for a type (column order free)."""
    value = pa.float64() if kind == "count" else (value_type or pa.string())
    fields = [
        pa.field("name", pa.string()),
        pa.field("i_time", pa.int64()),
        pa.field("r_time", pa.int64()),
        pa.field("value", value),
    ]
    if kind == "histogram":
        fields.append(pa.field("count", pa.int64()))
    return pa.schema(fields)


#: Kairos' "Customized Reads" ``fetch``: called by the store with its native handles; returns
#: ``{i_time: {r_time: data}}`` (see :meth:`Store.fetch_with`)
CustomFetch = Callable[..., Mapping[int, Mapping[int, Any]]]


@runtime_checkable
class Store(Protocol):
    """Where the rows of one time series are kept.  Additive changes only."""

    @property
    def value_type(self) -> pa.DataType | None:
        """The Arrow type values are kept as; None: text (values in and out as strings)."""

    def write(self, rows: pa.Table) -> None:
        """Keep ``rows`` (:func:`write_schema` of the store's type and value type), all or
        nothing, in one transaction and as few round trips as the back end allows.

        What a row does depends on the type (module docstring): append (series), add
        ``count`` (histogram), add ``value`` (count), replace (gauge), insert if absent (set).
        Rows are in write order; for ``series`` that order is kept within each key.
        """

    def fetch(self, names: Sequence[str], interval: str, start: int, end: int) -> pa.Table:
        """The rows of ``names`` in ``interval`` with ``start <= i_time < end`` (epoch seconds),
        in one round trip: :func:`fetch_schema` columns, one row per key (series: one per value
        written, in write order within a key; histogram and set: one per key and value).
        Buckets and names may come in any order; an empty result is an empty table."""

    def fetch_with(
        self, fetch: CustomFetch, name: str, interval: str, first: int, last: int
    ) -> Mapping[int, Mapping[int, Any]]:
        """Kairos' customized read: call the user's ``fetch`` with the back end's own handles
        (SQL: ``fetch(connection, table, name, interval, first, last)``; Redis:
        ``fetch(handle, key)`` per key; rillet: ``fetch(db, stream, name, interval, first,
        last)``) for the buckets with ``first <= i_time <= last``, and return
        ``{i_time: {r_time: data}}``, data as the user's function made it."""

    def names(self, live_from: Mapping[str, int]) -> list[str]:
        """The names that hold a row, sorted; rows of an interval in ``live_from`` count only
        from ``i_time >= live_from[interval]`` on (TTL)."""

    def bounds(self, name: str, live_from: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """For each interval holding rows of ``name``: (least, greatest) ``i_time``, counting
        as :meth:`names` does.  Intervals without rows are left out."""

    def delete(self, name: str) -> None:
        """Delete every row of ``name``, in every interval."""

    def delete_all(self) -> None:
        """Delete every row of this time series (its prefix and type), nothing else."""

    def expire(self, name: str, live_from: Mapping[str, int]) -> None:
        """Delete the rows of ``name`` in each interval of ``live_from`` with
        ``i_time < live_from[interval]`` (a no-op where the back end expires keys itself)."""

    def close(self) -> None:
        """Release what the store opened itself (not a client or engine it was given)."""


@runtime_checkable
class RowWriter(Protocol):
    """Optional, beside :class:`Store`: a store that also has ``write_rows`` gets single
    inserts as tuples, sparing the Arrow round trip of a one-row table."""

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """What :meth:`Store.write` does, for rows given as tuples in :func:`write_schema`
        order (``name, interval, i_time, r_time, value[, count], expires``), values already
        of the store's value type as Python objects (float for count).  Rows of one call
        have distinct keys (they are one value's rows, one an interval)."""


@runtime_checkable
class PipelineWriter(Protocol):
    """Optional, beside :class:`Store`: a store whose client batches commands in a
    pipeline the caller executes (Kairos' ``pipeline=`` option of ``insert`` and
    ``bulk_insert`` on Redis).  Queued writes are applied when, and as, the caller's
    pipeline runs: with ``transaction=True`` (redis-py's default) all or none."""

    def queue_rows(self, pipe: Any, rows: Sequence[tuple[Any, ...]]) -> None:
        """Queue the commands of ``rows`` (as :meth:`RowWriter.write_rows` takes them, keys
        not necessarily distinct) on ``pipe`` without executing it."""

    def queue(self, pipe: Any, rows: pa.Table) -> None:
        """:meth:`queue_rows` for a table of :func:`write_schema` rows."""


def check_options(spec: StoreSpec, known: Sequence[str], backend: str) -> dict[str, Any]:
    """The ``client_config`` option of ``spec`` (a dict, ``{}`` without one), after checking
    that every option is one of ``known``: a ConfigError names the first that is not.

    Examples:
        >>> check_options(StoreSpec("count", options={"client_config": {"a": 1}}),
        ...               ("client_config",), "SQL")
        {'a': 1}
        >>> check_options(StoreSpec("count", options={"tabel": "x"}), ("table_name",), "SQL")
        Traceback (most recent call last):
        ...
        rillet.errors.ConfigError: unknown SQL back-end option 'tabel'; the options are table_name
    """
    unknown = sorted(set(spec.options) - set(known))
    if unknown:
        raise ConfigError(
            f"unknown {backend} back-end option {unknown[0]!r}; the options are "
            + ", ".join(known),
            option=unknown[0],
        )
    config = spec.options.get("client_config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(
            f"client_config must be a dict of the {backend} client's options, not {config!r}",
            option="client_config",
        )
    return dict(config)
