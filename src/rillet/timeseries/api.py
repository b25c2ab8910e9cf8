"""``Timeseries``: the Kairos API (names, arguments, return shapes), on any back end.

Everything about time and meaning is here; where rows are kept is a
:class:`~rillet.timeseries.store.Store`, chosen by the first argument
(:mod:`rillet.timeseries.backends`).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np
import pyarrow as pa

from rillet.errors import (
    ConfigError,
    InputError,
    UnknownIntervalError,
    UnknownTypeError,
    ValueTypeError,
    suggest,
)
from rillet.time import to_ns
from rillet.timeseries import transforms
from rillet.timeseries.backends import open_store
from rillet.timeseries.intervals import Interval, parse_intervals
from rillet.timeseries.kinds import KINDS, Kind
from rillet.timeseries.store import TYPES, RowWriter, Store, StoreSpec, write_schema

#: what ``series(..., format=...)`` returns: ordered dicts, an Arrow table, a pandas frame
FORMATS = ("dict", "arrow", "pandas")


class Timeseries:
    """A Kairos time series: ``insert``/``bulk_insert`` values, read them back per interval
    with ``get``, ``series`` and ``iterate``, and ``list``, ``properties``, ``delete``,
    ``delete_all``, ``expire``.

    ``client_or_url``: a rillet Database, ``rillet://path`` or ``rillet://`` (memory);
    ``sqlite:///...``, ``postgresql://...`` or a SQLAlchemy engine; ``redis://host/db`` or a
    redis.Redis client.  ``type``: series, histogram, count, gauge or set (required).
    ``intervals``: {name: {step, steps, resolution}}.  ``read_func``/``write_func`` map
    values read/written; ``prefix`` separates time series on one back end; the other keyword
    arguments configure the back end (``value_type``, ``table_name``, ``client_config``, ...).

    Examples:
        >>> t = Timeseries("rillet://", type="count", intervals={"minute": {"step": 60}})
        >>> t.insert("hits", 1.5, timestamp=120)
        >>> t.insert("hits", timestamp=150)
        >>> dict(t.get("hits", "minute", timestamp=130))
        {120: 2.5}
        >>> dict(t.series("hits", "minute", start=60, end=180, transform="rate"))
        {60: 0.0, 120: 0.041666666666666664, 180: 0.0}
        >>> t.close()
    """

    def __init__(
        self,
        client_or_url: Any,
        type: str | None = None,  # noqa: A002 - Kairos' name
        intervals: Mapping[str, Mapping[str, Any]] | None = None,
        read_func: Callable[[Any], Any] | None = None,
        write_func: Callable[[Any], Any] | None = None,
        prefix: str | None = None,
        **backend_options: Any,
    ) -> None:
        if type is None:
            raise UnknownTypeError(
                f"type is required: one of {', '.join(TYPES)} (rillet has no default type)",
                option="type",
            )
        if type not in TYPES:
            hint = suggest(str(type), TYPES)
            raise UnknownTypeError(
                f"unknown time-series type {type!r}: expected one of {', '.join(TYPES)}"
                + (f"; did you mean {hint!r}?" if hint else ""),
                option="type",
                value=repr(type),
            )
        self.type = type
        self.kind: Kind = KINDS[type]
        self.intervals: dict[str, Interval] = parse_intervals(intervals)
        for option, fn in (("read_func", read_func), ("write_func", write_func)):
            if fn is not None and not callable(fn):
                raise ConfigError(f"{option} must be callable, got {fn!r}", option=option)
        self.read_func = read_func
        self.write_func = write_func
        if prefix is not None and not isinstance(prefix, str):
            raise ConfigError(f"prefix must be text, got {prefix!r}", option="prefix")
        self.prefix = "" if not prefix else prefix if prefix.endswith(":") else prefix + ":"
        spec = StoreSpec(type, self.prefix, tuple(self.intervals), dict(backend_options))
        self.store: Store = open_store(client_or_url, spec)
        self._schema = write_schema(type, self.store.value_type)

    # -- writing --------------------------------------------------------------------------------

    def insert(
        self,
        name: str,
        value: Any = None,
        timestamp: Any = None,
        intervals: int = 0,
        **kwargs: Any,
    ) -> None:
        """Insert a value (a list, tuple or set of values: a bulk insert) at ``timestamp``
        (epoch seconds, a datetime or ISO-8601 text; now without one), also into the
        ``intervals`` buckets after (> 0) or before (< 0) it.  A count's value defaults to 1."""
        values = list(value) if isinstance(value, list | tuple | set) else [value]
        self.bulk_insert({timestamp: {name: values}}, intervals, **kwargs)

    def bulk_insert(
        self, inserts: Mapping[Any, Mapping[str, Any]], intervals: int = 0, **kwargs: Any
    ) -> None:
        """Insert ``{timestamp: {name: [value, ...]}}`` (timestamp None: now) in one write
        to the back end: all of it, or nothing (a value the type cannot hold is a
        ValueTypeError naming it, and nothing is written)."""
        _no_options("bulk_insert", kwargs)
        if isinstance(intervals, bool) or not isinstance(intervals, int):
            raise InputError(f"intervals must be a whole number, got {intervals!r}")
        if not isinstance(inserts, Mapping):
            raise InputError(
                "bulk_insert(): inserts must be {timestamp: {name: [value, ...]}}, "
                f"got {type(inserts).__name__}"
            )
        now = time.time()
        if len(inserts) == 1 and not intervals:
            ((stamp, by_name),) = inserts.items()
            if isinstance(by_name, Mapping) and len(by_name) == 1:
                ((name, held),) = by_name.items()
                if isinstance(name, str) and (
                    type(held) is not list or len(held) == 1  # noqa: E721 - exactly a list
                ):
                    one = held[0] if type(held) is list else held  # noqa: E721
                    if not isinstance(one, list | tuple | set | frozenset | Mapping):
                        at = now if stamp is None else seconds(stamp)
                        self._one(name, one, at, now)
                        return
        flat = _flatten(inserts, now)
        if flat is None:
            return
        labels, codes, stamps, pairs, lengths, values = flat
        if self.write_func is not None:
            values = [self.write_func(v) for v in values]
        column = self._values(values)
        times = np.repeat(np.repeat(stamps, pairs), lengths)
        codes = np.repeat(codes, lengths)
        rows = self._rows(times, codes, column, intervals, now)
        if rows is None:
            return
        if intervals or not self._distinct(stamps, pairs, lengths):
            rows = self.kind.reduce_writes(rows)
        table = pa.table(
            {
                "name": pa.array(labels, pa.string()).take(rows.column("name")),
                "interval": pa.array(list(self.intervals), pa.string()).take(
                    rows.column("interval")
                ),
                "i_time": rows.column("i_time"),
                "r_time": rows.column("r_time"),
                "value": rows.column("value"),
                **({"count": rows.column("count")} if self.type == "histogram" else {}),
                "expires": rows.column("expires"),
            },
            schema=self._schema,
        )
        self.store.write(table)

    def _distinct(self, stamps: np.ndarray, pairs: np.ndarray, lengths: np.ndarray) -> bool:
        """Whether no two values of a write share a bucket of a name, so that there is
        nothing to reduce: one value a name a timestamp, and no two timestamps in one
        resolution bucket of any interval (names are distinct within a timestamp)."""
        if self.type == "series":
            return True  # a series keeps every value: nothing is ever reduced
        if not bool((lengths == 1).all()):
            return False
        held = stamps[pairs > 0]
        for config in self.intervals.values():
            starts = config.resolution.floor(held)
            if len(np.unique(starts)) != len(starts):
                return False
        return True

    def _one(self, name: str, value: Any, at: float, now: float) -> None:
        """Write the rows of one value (one an interval; nothing to reduce), built directly."""
        if self.write_func is not None:
            value = self.write_func(value)
        value = self._scalar(value)
        rows: list[tuple[Any, ...]] = []
        histogram = self.type == "histogram"
        for label, config in self.intervals.items():
            i_time = config.step.start(at)
            r_time = i_time if config.coarse else config.resolution.start(at)
            if config.steps is None:
                expires = None
            else:
                live = config.live_from(now)
                if live is not None and i_time < live:
                    continue  # already past its TTL: never written
                expires = config.shift(i_time, config.steps)
            if histogram:
                rows.append((name, label, i_time, r_time, value, 1, expires))
            else:
                rows.append((name, label, i_time, r_time, value, expires))
        if not rows:
            return
        if isinstance(self.store, RowWriter):
            self.store.write_rows(rows)
            return
        columns = list(zip(*rows, strict=True))
        self.store.write(
            pa.table(
                {f.name: pa.array(c, f.type) for f, c in zip(self._schema, columns, strict=True)},
                schema=self._schema,
            )
        )

    def _scalar(self, value: Any) -> Any:
        """One value as the store keeps it (a Python object), or a ValueTypeError."""
        target = pa.float64() if self.type == "count" else self.store.value_type
        kind = type(value)
        if target == pa.float64() and (kind is float or kind is int):
            return float(value)
        if target == pa.int64() and kind is int:
            return value
        if (target == pa.string() and kind is str) or (target is None and value is not None):
            return str(value)
        return self._values([value])[0].as_py()

    def _values(self, values: list[Any]) -> pa.Array:
        """The values as the store's value column, or a ValueTypeError naming the first one
        the type cannot hold."""
        if self.type == "count":
            target: pa.DataType = pa.float64()
            values = [1 if v is None else v for v in values]
        else:
            target = self.store.value_type or pa.string()
            if self.store.value_type is None:  # a text store: values as Kairos' Redis kept them
                values = [v if v is None else str(v) for v in values]
        try:
            column = _strict(values, target)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            column = None
        if column is None or column.null_count:
            position, bad = _first_bad(values, target)
            what = "a count's increment" if self.type == "count" else f"a {self.type} value"
            raise ValueTypeError(
                f"{bad!r} (value {position} of the insert) cannot be {what} of type {target}",
                position=position,
                value=repr(bad),
                type=str(target),
            )
        return column

    def _rows(
        self, times: np.ndarray, names: np.ndarray, values: pa.Array, copies: int, now: float
    ) -> pa.Table | None:
        """The rows of every interval, with their copies into the ``copies`` buckets
        before or after (at those buckets' starts), less those already expired."""
        parts = []
        positions = np.arange(len(times))
        for number, interval in enumerate(self.intervals.values()):
            i_time = interval.step.floor(times)
            r_time = i_time if interval.coarse else interval.resolution.floor(times)
            take = positions
            if copies:
                sign = 1 if copies > 0 else -1
                shifted = [_shift(interval, i_time, sign * k) for k in range(1, abs(copies) + 1)]
                i_time = np.concatenate([i_time, *shifted])
                r_time = np.concatenate([r_time, *shifted])
                take = np.tile(positions, abs(copies) + 1)
            expires = interval.expires(i_time)
            live = interval.live_from(now)
            if live is not None:
                keep = i_time >= live
                i_time, r_time, take = i_time[keep], r_time[keep], take[keep]
                expires = expires[keep] if expires is not None else None
            parts.append(
                pa.table(
                    {
                        "name": names[take],
                        "interval": np.full(len(take), number, dtype=np.int64),
                        "i_time": i_time,
                        "r_time": r_time,
                        "value": values if take is positions else values.take(pa.array(take)),
                        "count": np.ones(len(take), dtype=np.int64),
                        "expires": pa.array(expires, pa.int64())
                        if expires is not None
                        else pa.nulls(len(take), pa.int64()),
                    }
                )
            )
        rows = pa.concat_tables(parts)
        return rows if rows.num_rows else None

    # -- reading --------------------------------------------------------------------------------

    def get(
        self,
        name: str | Sequence[str],
        interval: str,
        timestamp: Any = None,
        condense: bool | Callable[..., Any] = False,
        transform: Any = None,
        fetch: Callable[..., Any] | None = None,
        process_row: Callable[[Any], Any] | None = None,
        join_rows: Callable[[list[Any]], Any] | None = None,
        **kwargs: Any,
    ) -> OrderedDict[int, Any]:
        """The data of the interval bucket holding ``timestamp`` (now without one):
        ``{interval_timestamp: data}``, or with a resolution ``{resolution_timestamp: data}``
        for the resolution buckets holding data (``condense``: one row for the interval).
        ``name`` may be a list of names, whose data is joined."""
        condense = kwargs.pop("condensed", condense)  # Kairos' deprecated spelling
        _no_options("get", kwargs)
        config = self._interval(interval)
        transforms.check(transform)
        names, joined = _names(name)
        at = time.time() if timestamp is None else seconds(timestamp)
        start = config.i_start(at)
        cells = self._read(names, config, start, start, fetch, process_row)
        shaped = self._shaped(names, joined, cells, config, [start], join_rows)[start]
        width = config.step
        if config.coarse:
            rval: OrderedDict[int, Any] = OrderedDict([(start, shaped)])
        elif condense:
            rval = OrderedDict([(start, self._condense(condense, shaped, joined))])
        else:
            rval, width = shaped, config.resolution
        if transform is not None:
            for key, data in rval.items():
                rval[key] = transforms.apply(self.type, data, transform, _length(width, key))
        return rval

    def series(
        self,
        name: str | Sequence[str],
        interval: str,
        start: Any = None,
        end: Any = None,
        steps: int | None = None,
        condense: bool | Callable[..., Any] = False,
        collapse: bool | Callable[..., Any] = False,
        transform: Any = None,
        fetch: Callable[..., Any] | None = None,
        process_row: Callable[[Any], Any] | None = None,
        join_rows: Callable[[list[Any]], Any] | None = None,
        *,
        format: str = "dict",  # noqa: A002 - reads as the argument it is
        **kwargs: Any,
    ) -> Any:
        """The data of a range of interval buckets: ``{interval_timestamp: data}``, or with
        a resolution ``{interval_timestamp: {resolution_timestamp: data}}`` (every interval
        in the range, empty ones too).  The range: ``start`` to ``end``; or ``steps``
        buckets from ``start`` or up to ``end`` (or now); ``steps`` defaults to the
        interval's ``steps``, else 1.  ``collapse``: one row for the whole range.
        ``format``: ``"dict"`` (ordered dicts), ``"arrow"`` (a table: interval, resolution,
        value or one column per transform) or ``"pandas"``."""
        condense = kwargs.pop("condensed", condense)
        _no_options("series", kwargs)
        if format not in FORMATS:
            raise ConfigError(
                f"format {format!r} is not one of {', '.join(FORMATS)}", option="format"
            )
        config = self._interval(interval)
        transforms.check(transform)
        names, joined = _names(name)
        count = steps or config.steps or 1
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InputError(f"steps must be a whole number >= 1, got {steps!r}")
        first, last = _range(config, start, end, count)
        buckets = config.buckets(first, last)
        cells = self._read(names, config, first, last, fetch, process_row)
        rval = self._shaped(names, joined, cells, config, buckets, join_rows)
        condense = condense or bool(collapse)
        nested = not config.coarse and not condense
        if not config.coarse and condense:
            for key in rval:
                rval[key] = self._condense(condense, rval[key], joined)
        width = config.resolution if nested else config.step
        whole: float | None = None  # the step of a collapsed series: all of it
        if collapse:
            data = (
                collapse(rval)
                if callable(collapse)
                else condense(rval)
                if callable(condense)
                else self.kind.condense(rval, joined)
            )
            rval = OrderedDict([(buckets[0], data)])
            whole = float(config.step.next(last) - first)
        if transform is not None:
            for key, data in rval.items():
                if nested:
                    rval[key] = OrderedDict(
                        (r, transforms.apply(self.type, d, transform, _length(width, r)))
                        for r, d in data.items()
                    )
                else:
                    size = whole if whole is not None else _length(width, key)
                    rval[key] = transforms.apply(self.type, data, transform, size)
        if format == "dict":
            return rval
        table = self._arrow(rval, nested, isinstance(transform, Mapping | list | tuple | set))
        return table if format == "arrow" else table.to_pandas()

    def iterate(
        self, name: str | Sequence[str], interval: str, **kwargs: Any
    ) -> Iterator[tuple[int, Any]]:
        """``(timestamp, data)`` for every bucket from the first to the last interval holding
        data (as ``get`` gives them, the empty ones too); keyword arguments as ``get``'s."""
        config = self._interval(interval)
        if "timestamp" in kwargs:
            raise InputError("iterate() takes no timestamp: it walks every interval with data")
        transforms.check(kwargs.get("transform"))
        names, _ = _names(name)
        bounds = [self.properties(n)[config.name] for n in names]
        held = [b for b in bounds if b]
        if not held:
            return iter(())
        first = min(b["first"] for b in held)
        last = max(b["last"] for b in held)

        def walk() -> Iterator[tuple[int, Any]]:
            for bucket in config.buckets(first, last):
                yield from self.get(name, interval, timestamp=bucket, **kwargs).items()

        return walk()

    def _interval(self, interval: Any) -> Interval:
        config = self.intervals.get(interval) if isinstance(interval, str) else None
        if config is None:
            hint = suggest(str(interval), self.intervals)
            raise UnknownIntervalError(
                f"unknown interval {interval!r}: this time series has "
                f"{', '.join(repr(i) for i in self.intervals)}"
                + (f"; did you mean {hint!r}?" if hint else ""),
                kind="interval",
                name=str(interval),
                suggestion=hint,
            )
        return config

    def _read(
        self,
        names: list[str],
        config: Interval,
        first: int,
        last: int,
        fetch: Callable[..., Any] | None,
        process_row: Callable[[Any], Any] | None,
    ) -> dict[str, dict[Any, Any]]:
        """The live data of ``names`` in the buckets ``first`` to ``last``, processed."""
        live = config.live_from(time.time())
        if live is not None:
            first = max(first, live)
        if first > last:
            return {}
        if fetch is not None:
            cells = {}
            for name in names:
                found = self.store.fetch_with(fetch, name, config.name, first, last)
                cells[name] = {
                    int(i) if config.coarse else (int(i), int(i) if r is None else int(r)): data
                    for i, rows in found.items()
                    if first <= int(i) <= last
                    for r, data in rows.items()
                }
        else:
            table = self.store.fetch(names, config.name, first, config.step.next(last))
            single = names[0] if len(names) == 1 else None
            cells = self.kind.decode(table, single, config.coarse)
        if process_row is not None:
            return {n: {k: process_row(d) for k, d in c.items()} for n, c in cells.items()}
        if fetch is not None or self.read_func is not None:
            read = self.read_func
            return {
                n: {k: self.kind.process_row(d, read) for k, d in c.items()}
                for n, c in cells.items()
            }
        return cells

    def _shaped(
        self,
        names: list[str],
        joined: bool,
        cells: dict[str, dict[Any, Any]],
        config: Interval,
        buckets: list[int],
        join_rows: Callable[[list[Any]], Any] | None,
    ) -> OrderedDict[int, Any]:
        """Each bucket's data, names joined: ``{i: data}``, or ``{i: {r: data}}`` with a
        resolution (only the resolution buckets that hold data)."""
        empty = self.kind.empty(joined)
        if config.coarse:
            if not joined:
                held = cells.get(names[0], {})
                return OrderedDict(zip(buckets, map(held.get, buckets, repeat(empty)), strict=True))
            join = join_rows or self.kind.join
            return OrderedDict(
                (i, join([cells.get(n, {}).get(i, empty) for n in names])) for i in buckets
            )
        per_name = []
        for name in names:
            nested: dict[int, dict[int, Any]] = {}
            for (i, r), data in sorted(cells.get(name, {}).items()):
                nested.setdefault(i, {})[r] = data
            per_name.append(nested)
        rval: OrderedDict[int, Any] = OrderedDict()
        for i in buckets:
            if not joined:
                rval[i] = OrderedDict(per_name[0].get(i, {}))
                continue
            join = join_rows or self.kind.join
            r_keys = sorted({r for nested in per_name for r in nested.get(i, {})})
            rval[i] = OrderedDict(
                (r, join([nested.get(i, {}).get(r) for nested in per_name])) for r in r_keys
            )
        return rval

    def _condense(
        self, condense: bool | Callable[..., Any], rows: Mapping[int, Any], joined: bool
    ) -> Any:
        if callable(condense):
            return condense(rows)
        return self.kind.condense(rows, joined)

    def _arrow(self, rval: Mapping[int, Any], nested: bool, several: bool) -> pa.Table:
        """A series as a table: ``interval`` (and ``resolution``) timestamps, then ``value``,
        or a column per transform when ``several`` (the transform was a list or dict)."""
        keys: list[tuple[int, ...]] = []
        data: list[Any] = []
        for i, row in rval.items():
            if nested:
                for r, d in row.items():
                    keys.append((i, r))
                    data.append(d)
            else:
                keys.append((i,))
                data.append(row)
        stamp = pa.timestamp("s", tz="UTC")
        columns: dict[str, Any] = {"interval": pa.array([k[0] for k in keys], stamp)}
        if nested:
            columns["resolution"] = pa.array([k[1] for k in keys], stamp)
        if several and data:
            for key in data[0]:
                label = key if isinstance(key, str) else getattr(key, "__name__", str(key))
                columns[label] = _column([d.get(key) for d in data])
        else:
            columns["value"] = _column(data)
        return pa.table(columns)

    # -- metadata and deleting ------------------------------------------------------------------

    def _live(self) -> dict[str, int]:
        now = time.time()
        out = {}
        for name, config in self.intervals.items():
            live = config.live_from(now)
            if live is not None:
                out[name] = live
        return out

    def list(self) -> list[str]:
        """The names holding (live) data."""
        return self.store.names(self._live())

    def properties(self, name: str) -> dict[str, dict[str, int]]:
        """``{interval: {'first': timestamp, 'last': timestamp}}``: the first and last
        interval buckets holding (live) data; ``{}`` for an interval without any."""
        if not isinstance(name, str):
            raise InputError(f"a time-series name must be text, got {name!r}")
        bounds = self.store.bounds(name, self._live())
        return {
            interval: {"first": bounds[interval][0], "last": bounds[interval][1]}
            if interval in bounds
            else {}
            for interval in self.intervals
        }

    def delete(self, name: str) -> None:
        """Delete all the data of ``name``, in every interval."""
        if not isinstance(name, str):
            raise InputError(f"a time-series name must be text, got {name!r}")
        self.store.delete(name)

    def delete_all(self) -> None:
        """Delete every name of this time series."""
        self.store.delete_all()

    def expire(self, name: str) -> None:
        """Delete the data of ``name`` past its intervals' ``steps`` (reads never return it
        anyway; back ends that expire keys themselves have nothing left to do)."""
        if not isinstance(name, str):
            raise InputError(f"a time-series name must be text, got {name!r}")
        self.store.expire(name, self._live())

    def close(self) -> None:
        """Release the back end's connection, if this time series opened it."""
        self.store.close()

    def __enter__(self) -> Timeseries:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Timeseries(type={self.type!r}, intervals={list(self.intervals)}, "
            f"prefix={self.prefix!r}, store={type(self.store).__name__})"
        )


def seconds(value: Any) -> float:
    """A timestamp as epoch seconds: a number (Kairos' form), a datetime (naive is UTC), a
    date or ISO-8601 text.

    Examples:
        >>> import datetime as dt
        >>> seconds(90), seconds("1970-01-01T00:01:30Z"), seconds(dt.date(1970, 1, 2))
        (90.0, 90.0, 86400.0)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise InputError(f"timestamp {value!r} is not a finite number of seconds")
        return float(value)
    try:
        return to_ns(value) / 1e9
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"timestamp {value!r}: expected epoch seconds, a datetime or ISO-8601 text ({exc})",
            value=repr(value),
        ) from None


Flat = tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[Any]]


def _flatten(inserts: Mapping[Any, Mapping[str, Any]], now: float) -> Flat | None:
    """``{timestamp: {name: [value, ...]}}`` as flat columns: the names (labels), then per
    (timestamp, name) pair its name's code, per timestamp its time and number of pairs, per
    pair its number of values, and the values in order.  One pass of C-speed calls a
    timestamp in the usual case (lists of values, names seen before)."""
    labels: list[str] = []
    codes: dict[str, int] = {}
    pair_codes: list[int] = []
    stamps: list[float] = []
    pairs: list[int] = []
    lengths: list[int] = []
    values: list[Any] = []
    lookup = codes.__getitem__
    for stamp, by_name in inserts.items():
        stamps.append(now if stamp is None else seconds(stamp))
        if not isinstance(by_name, Mapping):
            raise InputError(
                f"bulk_insert(): at {stamp!r}, expected {{name: [value, ...]}}, "
                f"got {type(by_name).__name__}"
            )
        pairs.append(len(by_name))
        before = len(pair_codes)
        try:
            pair_codes.extend(map(lookup, by_name))
        except KeyError:
            for name in by_name:
                if name not in codes:
                    if not isinstance(name, str):
                        raise InputError(f"a time-series name must be text, got {name!r}") from None
                    codes[name] = len(labels)
                    labels.append(name)
            del pair_codes[before:]  # extend kept the codes before the new name
            pair_codes.extend(map(lookup, by_name))
        held = by_name.values()
        if set(map(type, held)) <= {list, tuple}:
            lengths.extend(map(len, held))
            values.extend(chain.from_iterable(held))
            continue
        for each in held:
            if isinstance(each, list | tuple | set | frozenset):
                lengths.append(len(each))
                values.extend(each)
            else:
                lengths.append(1)
                values.append(each)
    if not values:
        return None
    return (
        labels,
        np.array(pair_codes, dtype=np.int64),
        np.array(stamps, dtype=np.float64),
        np.array(pairs, dtype=np.int64),
        np.array(lengths, dtype=np.int64),
        values,
    )


def _names(name: Any) -> tuple[list[str], bool]:
    if isinstance(name, str):
        return [name], False
    if isinstance(name, list | tuple | set | frozenset) and name:
        names = sorted(name) if isinstance(name, set | frozenset) else list(name)
        if all(isinstance(n, str) for n in names):
            return names, True
    raise InputError(f"name must be text or a non-empty list of names, got {name!r}")


def _no_options(method: str, kwargs: Mapping[str, Any]) -> None:
    if kwargs:
        key = next(iter(kwargs))
        raise ConfigError(f"{method}() got an unexpected keyword argument {key!r}", option=key)


def _shift(interval: Interval, starts: np.ndarray, steps: int) -> np.ndarray:
    """Bucket starts moved ``steps`` buckets."""
    if interval.step.calendar is None:
        out: np.ndarray = starts + steps * interval.step.seconds
        return out
    unique, inverse = np.unique(starts, return_inverse=True)
    moved = np.array([interval.shift(int(s), steps) for s in unique], dtype=np.int64)
    result: np.ndarray = moved[inverse]
    return result


def _length(width: Any, start: int) -> float:
    return float(width.next(start) - start)


def _range(config: Interval, start: Any, end: Any, steps: int) -> tuple[int, int]:
    """The first and last interval buckets of a series (Kairos' rules)."""
    if end is None:
        if start is None:
            last = config.i_start(time.time())
            return config.shift(last, 1 - steps), last
        first = config.i_start(seconds(start))
        return first, config.shift(first, steps - 1)
    last = config.i_start(seconds(end))
    if start is None:
        return config.shift(last, 1 - steps), last
    first = config.i_start(seconds(start))
    if first > last:
        raise InputError(f"series(): start {start!r} is after end {end!r}")
    return first, last


def _strict(values: list[Any], target: pa.DataType) -> pa.Array:
    """The values as ``target``, inferred first and then cast safely, so that a float is
    never cut to an int, nor text or a bool read as a number (pyarrow's typed conversion
    does both quietly)."""
    column = pa.array(values)
    if column.type == target:
        return column
    textual = pa.types.is_string(column.type) or pa.types.is_binary(column.type)
    if (
        pa.types.is_boolean(column.type) != pa.types.is_boolean(target)
        or textual != (pa.types.is_string(target) or pa.types.is_binary(target))
        or pa.types.is_null(column.type)
    ):
        raise TypeError(f"{column.type} is not {target}")
    return column.cast(target, safe=True)


def _first_bad(values: list[Any], target: pa.DataType) -> tuple[int, Any]:
    for position, value in enumerate(values):
        try:
            if value is None or _strict([value], target).null_count:
                return position, value
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return position, value
    return 0, values[0]


def _column(data: list[Any]) -> pa.Array:
    """One column of a series table: dicts (histograms, their rates) as maps, sets as
    sorted lists, the rest as Arrow infers them."""
    if any(isinstance(d, Mapping) for d in data):
        items = [list(d.items()) if d is not None else None for d in data]
        pairs = [pair for row in items if row for pair in row]
        keys = pa.array([k for k, _ in pairs]).type if pairs else pa.float64()
        counts = pa.array([v for _, v in pairs]).type if pairs else pa.int64()
        return pa.array(items, pa.map_(keys, counts))
    if any(isinstance(d, set | frozenset) for d in data):
        return pa.array([sorted(d) if d is not None else None for d in data])
    return pa.array(data)
