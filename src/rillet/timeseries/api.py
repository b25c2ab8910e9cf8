"""``Timeseries``: the Kairos API (names, arguments, return shapes), on any back end.

Everything about time and meaning is here; where rows are kept is a
:class:`~rillet.timeseries.store.Store`, chosen by the first argument
(:mod:`rillet.timeseries.backends`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

from rillet.errors import (
    ConfigError,
    InputError,
    UnknownIntervalError,
    UnknownTypeError,
    suggest,
)
from rillet.timeseries import transforms
from rillet.timeseries.backends import open_store
from rillet.timeseries.frames import to_table
from rillet.timeseries.intervals import Interval, parse_intervals, seconds
from rillet.timeseries.kinds import KINDS, Kind
from rillet.timeseries.store import TYPES, PipelineWriter, Store, StoreSpec
from rillet.timeseries.writes import Writer

#: what ``series(..., format=...)`` returns: ordered dicts, an Arrow table, a pandas frame
FORMATS = ("dict", "arrow", "pandas")


class Timeseries:
    """A Kairos time series: ``insert``/``bulk_insert`` values, read them back per interval
    with ``get``, ``series`` and ``iterate``, and ``list``, ``properties``, ``delete``,
    ``delete_all``, ``expire``.

    ``client_or_url``: a rillet Database (embedded or remote), ``rillet://path`` or
    ``rillet://`` (memory); ``sqlite:///...``, ``postgresql://...`` or a SQLAlchemy engine;
    ``redis://host/db`` or a redis.Redis client.  ``type``: series, histogram, count, gauge
    or set (required).  ``intervals``: {name: {step, steps, resolution}}.
    ``read_func``/``write_func`` map values read/written; ``prefix`` separates time series on
    one back end; the other keyword arguments configure the back end (``value_type``,
    ``table_name``, ``client_config``, ...).

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
        self._writer = Writer(self.kind, self.intervals, self.store, write_func)

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
        ValueTypeError naming it, and nothing is written).  On Redis, ``pipeline=`` (a
        redis-py pipeline) queues the write's commands on it without executing them, as
        Kairos did: the caller calls ``execute()``."""
        pipeline = kwargs.pop("pipeline", None)
        _no_options("bulk_insert", kwargs)
        if pipeline is not None and not isinstance(self.store, PipelineWriter):
            raise ConfigError(
                "pipeline= is an option of the Redis back end only (this time series is kept "
                f"by {type(self.store).__name__})",
                option="pipeline",
            )
        if isinstance(intervals, bool) or not isinstance(intervals, int):
            raise InputError(f"intervals must be a whole number, got {intervals!r}")
        if not isinstance(inserts, Mapping):
            raise InputError(
                "bulk_insert(): inserts must be {timestamp: {name: [value, ...]}}, "
                f"got {type(inserts).__name__}"
            )
        self._writer.bulk(inserts, intervals, pipeline)

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
        shaped = self._shaped(names, joined, cells, config, [start], join_rows, process_row)[start]
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
        count = steps if steps is not None else config.steps or 1
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InputError(f"steps must be a whole number >= 1, got {steps!r}")
        first, last = _range(config, start, end, count)
        buckets = config.buckets(first, last)
        cells = self._read(names, config, first, last, fetch, process_row)
        rval = self._shaped(names, joined, cells, config, buckets, join_rows, process_row)
        condense = condense or bool(collapse)
        nested = not config.coarse and not condense
        if not config.coarse and condense:
            for key in rval:
                rval[key] = self._condense(condense, rval[key], joined)
        width = config.resolution if nested else config.step
        whole: float | None = None  # the step of a collapsed series: all of it
        if collapse:
            basis = rval
            if self.type == "gauge" and not callable(collapse) and not callable(condense):
                # the last value written in the range: a bucket without data (read as 0
                # alone) must not hide the buckets before it
                join = join_rows if joined else None
                basis = self._shaped(names, True, cells, config, buckets, join, process_row)
                if not config.coarse:
                    for key in basis:
                        basis[key] = self.kind.condense(basis[key], True)
            data = (
                collapse(rval)
                if callable(collapse)
                else condense(rval)
                if callable(condense)
                else self.kind.condense(basis, joined)
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
        table = to_table(rval, nested, isinstance(transform, Mapping | list | tuple | set))
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
        process_row: Callable[[Any], Any] | None,
    ) -> OrderedDict[int, Any]:
        """Each bucket's data, names joined: ``{i: data}``, or ``{i: {r: data}}`` with a
        resolution (only the resolution buckets that hold data).  An interval bucket without
        data holds the type's empty data, through a custom ``process_row`` as Kairos' did."""
        empty = self.kind.empty(joined)
        if process_row is not None:
            empty = process_row(self.kind.empty(True))
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
