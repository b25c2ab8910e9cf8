"""Writing a Kairos time series: inserts flattened into columns, bucketed by every interval
(with their copies into earlier or later buckets), reduced to one row a key where the type
keeps one, and handed to the store in one write.  Values are converted strictly: a value the
type cannot hold is a ValueTypeError naming it, before anything is written."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from itertools import chain
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.errors import ConfigError, InputError, ValueTypeError
from rillet.timeseries.intervals import Interval, seconds
from rillet.timeseries.kinds import Kind
from rillet.timeseries.store import PipelineWriter, RowWriter, Store, write_schema


class Writer:
    """The write path of one time series (its type, intervals, store and write_func)."""

    def __init__(
        self,
        kind: Kind,
        intervals: Mapping[str, Interval],
        store: Store,
        write_func: Callable[[Any], Any] | None,
    ) -> None:
        self.kind = kind
        self.type = kind.name
        self.intervals = intervals
        self.store = store
        self.write_func = write_func
        self._schema = write_schema(kind.name, store.value_type)
        self._rows_writer = store if isinstance(store, RowWriter) else None
        #: a Redis pipeline the write in progress queues its commands on (Kairos' option)
        self._pipeline: Any = None

    def bulk(
        self, inserts: Mapping[Any, Mapping[str, Any]], intervals: int, pipeline: Any = None
    ) -> None:
        """Write ``{timestamp: {name: [value, ...]}}``, also into the ``intervals`` buckets
        after (> 0) or before (< 0) each timestamp's.  ``pipeline`` (Redis only): queue the
        commands on it, for the caller to execute."""
        now = time.time()
        if pipeline is not None:
            self._pipeline = pipeline
            try:
                self.bulk(inserts, intervals)
            finally:
                self._pipeline = None
            return
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
        if self._pipeline is not None:
            self._queuer().queue(self._pipeline, table)
            return
        self.store.write(table)

    def _queuer(self) -> PipelineWriter:
        if not isinstance(self.store, PipelineWriter):  # checked by Timeseries.bulk_insert
            raise ConfigError(
                "pipeline= is an option of the Redis back end only", option="pipeline"
            )
        return self.store

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
        if self._pipeline is not None:
            self._queuer().queue_rows(self._pipeline, rows)
            return
        if self._rows_writer is not None:
            self._rows_writer.write_rows(rows)
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
        if target == pa.float64() and (kind is float or kind is int) and math.isfinite(value):
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
        if column is not None and pa.types.is_floating(target) and column.null_count == 0:
            finite = pc.is_finite(column)
            if not pc.all(finite).as_py():
                # NaN and infinities: SQLite keeps NaN as NULL and Redis' HINCRBYFLOAT
                # refuses both, so no back end takes them (nor a histogram keys by NaN)
                position = pc.index(finite, False).as_py()
                what = "a count's increment" if self.type == "count" else f"a {self.type} value"
                raise ValueTypeError(
                    f"{values[position]!r} (value {position} of the insert) cannot be {what}: "
                    "not a finite number",
                    position=position,
                    value=repr(values[position]),
                    type=str(target),
                )
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


def _shift(interval: Interval, starts: np.ndarray, steps: int) -> np.ndarray:
    """Bucket starts moved ``steps`` buckets."""
    if interval.step.calendar is None:
        out: np.ndarray = starts + steps * interval.step.seconds
        return out
    unique, inverse = np.unique(starts, return_inverse=True)
    moved = np.array([interval.shift(int(s), steps) for s in unique], dtype=np.int64)
    result: np.ndarray = moved[inverse]
    return result


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
