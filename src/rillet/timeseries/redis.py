"""The Redis back end: a time series kept in Redis keys through redis-py, expiring by EXPIREAT.

Targets: a ``redis://host:port/db`` URL (``rediss://``, ``unix://`` too) or a
:class:`redis.Redis` client.  Every key starts with the time series' ``prefix`` (``""`` or
ending in ``":"``) and type, so two time series differing in either never touch each other's
keys, and every call (``list()`` included) reads only its own:

==========================================  =================================================
``{prefix}{type}:n``                        SET of the names that were written
``{prefix}{type}:v``                        SET of the intervals that were written
``{prefix}{type}:i:{interval}:{name}``      ZSET of the interval buckets (``i_time``) holding
                                            data, scored by ``i_time``: the index ranges use
``{prefix}{type}:d:{interval}:{i_time}:{name}``  the data of one interval bucket, by type:
==========================================  =================================================

- ``series``: a LIST of ``"{r_time}:{value}"`` in write order (RPUSH);
- ``histogram``: a HASH of ``"{r_time}:{value}"`` -> occurrences (HINCRBY);
- ``count``: a HASH of ``"{r_time}"`` -> the running sum (HINCRBYFLOAT, so ``1.5`` stays);
- ``gauge``: a HASH of ``"{r_time}"`` -> the last value (HSET);
- ``set``: a SET of ``"{r_time}:{value}"`` (SADD).

``i_time`` and ``r_time`` are bucket starts in epoch seconds.  Values are text: ``str`` as
UTF-8, numbers as their shortest round-trip text, ``bytes`` as they are.  ``value_type``
says what they go out as: ``float`` by default, as on every back end (Kairos' Redis gave
strings; ``value_type="str"`` keeps text as written, for ``read_func`` to cast).

TTL.  Each data key gets ``EXPIREAT`` its bucket's expiry (the start of the bucket ``steps``
later; at least a minute after the write), and the index of a name and interval the latest
of its buckets' (``NX`` then ``GT``), so Redis drops dead data itself;
:meth:`RedisStore.expire` trims the index and deletes what is left of the dead buckets.

Writes and their guarantee.  One :meth:`RedisStore.write` (one ``insert`` or
``bulk_insert``) is one pipeline sent as one MULTI/EXEC transaction: commands are grouped per
key (one RPUSH, SADD or HSET of all a key's values), the index and expiries are set in the
same transaction.  Other clients see all of the write or none of it, and if the connection
fails before EXEC nothing is applied.  Redis does not roll back: a command failing inside
EXEC (possible only if another program replaced one of these keys with a key of another
kind) leaves the others applied; the store then raises
:class:`~rillet.errors.StorageError` naming the error.

Reads.  :meth:`RedisStore.fetch` is one round trip: a pipeline of one Lua script per name
that ranges the index and reads the buckets found (the script reads keys it derives from the
index, which is fine on one Redis server; Redis Cluster is not supported).

Options: ``value_type`` and ``client_config`` (keyword arguments of
:meth:`redis.Redis.from_url` for a URL).

Examples:
    >>> keys = Keys("web:", "count")
    >>> keys.data("minute", 60, "cpu"), keys.index("minute", "cpu")
    (b'web:count:d:minute:60:cpu', b'web:count:i:minute:cpu')
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from rillet.errors import BackendUnavailableError, ConfigError, StorageError, ValueTypeError
from rillet.timeseries.resp import as_binary, command, head, rows_bytes, transaction
from rillet.timeseries.store import (
    CustomFetch,
    StoreSpec,
    arrow_value_type,
    check_options,
    fetch_schema,
)

OPTIONS = ("value_type", "client_config")
#: seconds by which an EXPIREAT is kept from the present (see :func:`_soonest`)
SKEW = 60

#: one interval's buckets in ``[start, end)`` of one name, read in one call on the server:
#: ``[i_time, contents, i_time, contents, ...]`` (contents as LRANGE, SMEMBERS or HGETALL)
_FETCH = """
local times = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '(' .. ARGV[2])
local out = {}
for _, t in ipairs(times) do
  local key = ARGV[3] .. t .. ':' .. ARGV[4]
  local data
  if ARGV[5] == 'list' then
    data = redis.call('LRANGE', key, 0, -1)
  elseif ARGV[5] == 'set' then
    data = redis.call('SMEMBERS', key)
  else
    data = redis.call('HGETALL', key)
  end
  out[#out + 1] = t
  out[#out + 1] = data
end
return out
"""
#: a write's rows, run on the server: ARGV = the command, how many arguments it takes after
#: the key ("1" or "2"), the soonest expiry, then six per row: data key, index key (on the
#: first row of a data key and of a call, else ""), i_time, field or member, value, expires
#: (or "").  A key's rows are together: RPUSH, SADD and HSET take all of them in one call,
#: and each index gets one ZADD of all its buckets (a Redis call costs more than an argument)
_WRITE_SCRIPT = b"""
local cmd, two, soonest = ARGV[1], ARGV[2] == '2', tonumber(ARGV[3])
local variadic = cmd == 'RPUSH' or cmd == 'SADD' or cmd == 'HSET'
local index, key, args, expires = {}, nil, {}, ''
local function flush()
  if key == nil then return end
  if variadic then
    for j = 1, #args, 6000 do
      redis.call(cmd, key, unpack(args, j, math.min(j + 5999, #args)))
    end
  end
  if expires ~= '' then
    redis.call('EXPIREAT', key, math.max(tonumber(expires), soonest))
  end
end
for i = 4, #ARGV, 6 do
  if ARGV[i + 1] ~= '' then
    flush()
    key, args, expires = ARGV[i], {}, ARGV[i + 5]
    local members = index[ARGV[i + 1]]
    if members == nil then
      members = {}
      index[ARGV[i + 1]] = members
    end
    members[#members + 1] = ARGV[i + 2]
    members[#members + 1] = ARGV[i + 2]
  end
  if variadic then
    args[#args + 1] = ARGV[i + 3]
    if two then args[#args + 1] = ARGV[i + 4] end
  elseif two then
    redis.call(cmd, key, ARGV[i + 3], ARGV[i + 4])
  else
    redis.call(cmd, key, ARGV[i + 3])
  end
end
flush()
for k, members in pairs(index) do
  for j = 1, #members, 6000 do
    redis.call('ZADD', k, unpack(members, j, math.min(j + 5999, #members)))
  end
end
return (#ARGV - 3) / 6
"""
#: each type's command in the write script and how many arguments it takes after the key
_WRITE = {
    "series": (b"RPUSH", b"1"),
    "set": (b"SADD", b"1"),
    "histogram": (b"HINCRBY", b"2"),
    "count": (b"HINCRBYFLOAT", b"2"),
    "gauge": (b"HSET", b"2"),
}
#: rows per script call (one transaction holds them all)
CHUNK = 20_000
_COLON = pa.scalar(b":", pa.binary())
_NOTHING = pa.scalar(b"", pa.binary())
#: how each type's bucket is read by the script
_READ = {"series": "list", "set": "set", "histogram": "hash", "count": "hash", "gauge": "hash"}


class Keys:
    """The key names of one time series (prefix and type); see the module docstring."""

    def __init__(self, prefix: str, kind: str) -> None:
        self.base = f"{prefix}{kind}:".encode()
        self.names = self.base + b"n"
        self.intervals = self.base + b"v"

    def index(self, interval: str, name: str) -> bytes:
        """The ZSET of the buckets of ``name`` in ``interval``."""
        return self.base + f"i:{interval}:{name}".encode()

    def data_head(self, interval: str) -> bytes:
        """What the data keys of ``interval`` start with (the i_time and name follow)."""
        return self.base + f"d:{interval}:".encode()

    def data(self, interval: str, i_time: int, name: str) -> bytes:
        """The data key of one bucket."""
        return self.data_head(interval) + f"{i_time}:{name}".encode()


class RedisStore:
    """A time series' rows in Redis keys (see the module docstring)."""

    def __init__(self, client: redis.Redis, owned: bool, spec: StoreSpec) -> None:
        self._client, self._owned, self._spec = client, owned, spec
        self._value_type = arrow_value_type(spec.options.get("value_type", "float"))
        self._keys = Keys(spec.prefix, spec.type)
        self._fetch_sha: str | None = None
        with self._translated():
            client.ping()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            where = _where(self._client)
            raise BackendUnavailableError(
                f"Redis back end {where} cannot be reached: {exc}", url=where
            ) from exc
        except redis.RedisError as exc:
            raise StorageError(f"Redis back end {_where(self._client)}: {exc}") from exc

    # -- the Store protocol --------------------------------------------------------------

    @property
    def value_type(self) -> pa.DataType:
        """The Arrow type values go out as (float64 unless ``value_type`` says otherwise)."""
        return self._value_type

    def write(self, rows: pa.Table) -> None:
        """Keep ``rows`` in one MULTI/EXEC transaction (see the module docstring)."""
        if rows.num_rows == 0:
            return
        kind = self._spec.type
        if kind == "count" and not pc.all(pc.is_finite(rows["value"])).as_py():
            row = pc.index(pc.invert(pc.is_finite(rows["value"])), True).as_py()
            raise ValueTypeError(
                f"count {rows['value'][row].as_py()!r} (row {row}) is not a finite number",
                column="value",
                row=row,
            )
        keys = self._keys
        interval = rows["interval"].combine_chunks().cast(pa.binary())
        name = rows["name"].combine_chunks().cast(pa.binary())
        i_text = as_binary(rows["i_time"])
        data_key = pc.binary_join_element_wise(
            pa.scalar(keys.base + b"d:"), interval, _COLON, i_text, _COLON, name, _NOTHING
        )
        # each key's rows together, in write order; the first row of a key also adds the
        # bucket to the index and sets the key's expiry
        codes = data_key.dictionary_encode().indices.to_numpy(zero_copy_only=False)
        order = np.argsort(codes, kind="stable")
        first = np.ones(len(order), dtype=bool)
        first[1:] = codes[order][1:] != codes[order][:-1]
        first[::CHUNK] = True  # each script call starts its first key afresh
        take = pa.array(order)
        first_row = pa.array(first)
        index_key = pc.binary_join_element_wise(
            pa.scalar(keys.base + b"i:"), interval, _COLON, name, _NOTHING
        )
        expires = rows["expires"].combine_chunks()
        r_text = as_binary(rows["r_time"])
        if kind in ("series", "set", "histogram"):
            field = pc.binary_join_element_wise(r_text, self._encoded(rows["value"]), _COLON)
        else:
            field = r_text
        value = {
            "histogram": lambda: as_binary(rows["count"]),
            "count": lambda: as_binary(rows["value"]),
            "gauge": lambda: self._encoded(rows["value"]),
        }.get(kind, lambda: pa.nulls(rows.num_rows, pa.binary()).fill_null(b""))()
        columns = [
            data_key.take(take),
            pc.if_else(first_row, index_key.take(take), _NOTHING),
            i_text.take(take),
            field.take(take),
            value.take(take),
            pc.if_else(first_row, as_binary(expires.take(take)).fill_null(b""), _NOTHING),
        ]
        buffer, offsets = rows_bytes(columns)
        leading = [b"EVAL", _WRITE_SCRIPT, b"0", *_WRITE[kind], str(_soonest()).encode()]
        parts: list[bytes | memoryview] = []
        for start in range(0, rows.num_rows, CHUNK):
            stop = min(start + CHUNK, rows.num_rows)
            parts.append(head(len(leading) + 6 * (stop - start), *leading))
            parts.append(memoryview(buffer)[offsets[start] : offsets[stop]])
        scripts = len(parts) // 2
        tail = self._index_expiry(rows)
        parts.extend(tail)
        with self._translated():
            replies = transaction(self._client, parts, scripts + len(tail))
        failed = [r for r in replies if isinstance(r, Exception)]
        if failed:
            raise StorageError(
                f"Redis back end {_where(self._client)}: part of a write failed inside its "
                f"transaction (Redis does not roll back): {failed[0]}"
            )

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """What :meth:`write` does, for a few rows given as tuples (single inserts): one
        MULTI/EXEC pipeline of plain commands."""
        if not rows:
            return
        kind, keys = self._spec.type, self._keys
        values = [row[4] for row in rows]
        if kind == "count" and not all(math.isfinite(v) for v in values):
            bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
            raise ValueTypeError(
                f"count {values[bad]!r} (row {bad}) is not a finite number", column="value", row=bad
            )
        encoded = as_binary(pa.array(values, self._value_type)).to_pylist()
        soonest = _soonest()
        latest: dict[bytes, int] = {}
        pipe = self._client.pipeline(transaction=True)
        for row, value in zip(rows, encoded, strict=True):
            name, interval, i_time, r_time = row[:4]
            key, field = keys.data(interval, i_time, name), str(r_time).encode()
            if kind == "series":
                pipe.rpush(key, field + b":" + value)
            elif kind == "set":
                pipe.sadd(key, field + b":" + value)
            elif kind == "histogram":
                pipe.hincrby(key, field + b":" + value, row[5])
            elif kind == "count":
                pipe.hincrbyfloat(key, field, row[4])
            else:
                pipe.hset(key, field, value)
            index = keys.index(interval, name)
            pipe.zadd(index, {str(i_time): i_time})
            if row[-1] is not None:
                at = max(row[-1], soonest)
                pipe.expireat(key, at)
                latest[index] = max(at, latest.get(index, at))
        for index, at in latest.items():
            pipe.expireat(index, at, nx=True)
            pipe.expireat(index, at, gt=True)
        pipe.sadd(keys.names, *{row[0] for row in rows})
        pipe.sadd(keys.intervals, *{row[1] for row in rows})
        with self._translated():
            pipe.execute()

    def _encoded(self, values: pa.ChunkedArray) -> pa.Array:
        """Values as the bytes kept (see the module docstring)."""
        return as_binary(values)

    def _index_expiry(self, rows: pa.Table) -> list[bytes]:
        """The packed commands that set each index's expiry (its latest bucket's) and record
        the names and intervals written."""
        parts: list[bytes] = []
        if rows["expires"].null_count < rows.num_rows:
            latest = (
                rows.select(["interval", "name", "expires"])
                .group_by(["interval", "name"], use_threads=False)
                .aggregate([("expires", "max")])
            )
            soonest = _soonest()
            for interval, name, when in zip(
                latest["interval"].to_pylist(),
                latest["name"].to_pylist(),
                latest["expires_max"].to_pylist(),
                strict=True,
            ):
                if when is not None:
                    at = str(max(when, soonest)).encode()
                    key = self._keys.index(interval, name)
                    parts.append(command(b"EXPIREAT", key, at, b"NX"))
                    parts.append(command(b"EXPIREAT", key, at, b"GT"))
        names = pc.unique(rows["name"]).to_pylist()
        intervals = pc.unique(rows["interval"]).to_pylist()
        parts.append(command(b"SADD", self._keys.names, *(n.encode() for n in names)))
        parts.append(command(b"SADD", self._keys.intervals, *(i.encode() for i in intervals)))
        return parts

    def fetch(self, names: Sequence[str], interval: str, start: int, end: int) -> pa.Table:
        """The rows of ``names`` in ``interval`` with ``start <= i_time < end``, one round
        trip (a pipeline of the fetch script, one call per name)."""
        kind = self._spec.type
        head = self._keys.data_head(interval)
        names = list(names)
        with self._translated():
            replies = self._scripted(
                [
                    (self._keys.index(interval, name), start, end, head, name.encode(), _READ[kind])
                    for name in names
                ]
            )
        out: dict[str, list[Any]] = {"name": [], "i_time": [], "r_time": [], "value": []}
        counts: list[int] = []
        for name, reply in zip(names, replies, strict=True):
            for at in range(0, len(reply), 2):
                i_time, data = int(reply[at]), reply[at + 1]
                if _READ[kind] == "hash":
                    pairs = zip(data[::2], data[1::2], strict=True)
                    if kind == "histogram":
                        for member, count in pairs:
                            r_time, value = _split(member)
                            _add_row(out, name, i_time, r_time, value)
                            counts.append(int(count))
                    else:
                        for field, value in pairs:
                            _add_row(out, name, i_time, int(field), value)
                else:
                    for member in data:
                        r_time, value = _split(member)
                        _add_row(out, name, i_time, r_time, value)
        return self._table(out, counts)

    def _table(self, out: dict[str, list[Any]], counts: list[int]) -> pa.Table:
        schema = fetch_schema(self._spec.type, self._value_type)
        raw = pa.array([_bytes(v) for v in out["value"]], pa.binary())
        columns = {
            "name": pa.array(out["name"], pa.string()),
            "i_time": pa.array(out["i_time"], pa.int64()),
            "r_time": pa.array(out["r_time"], pa.int64()),
            "value": _decoded(raw, schema.field("value").type),
        }
        if self._spec.type == "histogram":
            columns["count"] = pa.array(counts, pa.int64())
        table = pa.table(columns, schema=schema)
        if self._spec.type == "set":  # SMEMBERS has no order: give the values sorted
            table = table.sort_by([("name", "ascending"), ("i_time", "ascending")])
        return table

    def _scripted(self, calls: list[tuple[Any, ...]]) -> list[Any]:
        """Run the fetch script once per call in one pipeline, loading it if Redis lost it."""
        for attempt in range(2):
            if self._fetch_sha is None or attempt:
                self._fetch_sha = self._client.script_load(_FETCH)
            pipe = self._client.pipeline(transaction=False)
            for key, *args in calls:
                pipe.evalsha(self._fetch_sha, 1, key, *args)
            try:
                replies: list[Any] = pipe.execute()
                return replies
            except redis.exceptions.NoScriptError:
                continue
        raise StorageError(f"Redis back end {_where(self._client)} lost the fetch script")

    def fetch_with(
        self, fetch: CustomFetch, name: str, interval: str, first: int, last: int
    ) -> Mapping[int, Mapping[int, Any]]:
        """Kairos' customized read: ``fetch(handle, key)`` on a pipeline, once per bucket of
        ``name`` with ``first <= i_time <= last``; the replies are grouped as
        ``{i_time: {r_time: data}}`` with ``r_time`` the bucket's (Redis keeps a bucket's
        resolution rows in one key, so a custom fetch sees the whole bucket, its raw
        members and fields being ``r_time:value`` and ``r_time``; see the module docstring)."""
        with self._translated():
            found: list[Any] = self._client.zrangebyscore(
                self._keys.index(interval, name), first, last
            )
            times = [int(t) for t in found]
            pipe = self._client.pipeline(transaction=False)
            for i_time in times:
                fetch(pipe, self._keys.data(interval, i_time, name))
            replies = pipe.execute()
        return {i_time: {i_time: data} for i_time, data in zip(times, replies, strict=True)}

    def _intervals(self) -> list[str]:
        """Every interval written (and configured)."""
        written = {_text(i) for i in self._client.smembers(self._keys.intervals)}
        return sorted(written | set(self._spec.intervals))

    def _live_counts(
        self, names: list[str], intervals: list[str], live_from: Mapping[str, int]
    ) -> list[int]:
        pipe = self._client.pipeline(transaction=False)
        for name in names:
            for interval in intervals:
                pipe.zcount(
                    self._keys.index(interval, name), live_from.get(interval, "-inf"), "+inf"
                )
        counts: list[int] = pipe.execute()
        return counts

    def names(self, live_from: Mapping[str, int]) -> list[str]:
        """The names holding live buckets, sorted (only this prefix and type's keys)."""
        with self._translated():
            names = sorted(_text(n) for n in self._client.smembers(self._keys.names))
            intervals = self._intervals()
            counts = self._live_counts(names, intervals, live_from)
        width = len(intervals)
        return [n for at, n in enumerate(names) if any(counts[at * width : (at + 1) * width])]

    def bounds(self, name: str, live_from: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """Per interval, the least and greatest live ``i_time`` of ``name``."""
        with self._translated():
            intervals = self._intervals()
            pipe = self._client.pipeline(transaction=False)
            for interval in intervals:
                key, low = self._keys.index(interval, name), live_from.get(interval, "-inf")
                pipe.zrangebyscore(key, low, "+inf", start=0, num=1)
                pipe.zrevrangebyscore(key, "+inf", low, start=0, num=1)
            replies = pipe.execute()
        out: dict[str, tuple[int, int]] = {}
        for at, interval in enumerate(intervals):
            first, last = replies[2 * at], replies[2 * at + 1]
            if first:
                out[interval] = (int(first[0]), int(last[0]))
        return out

    def _drop(self, names: list[str], before: Mapping[str, int] | None) -> None:
        """Delete the buckets of ``names`` (all, or those before ``before[interval]``)."""
        intervals = self._intervals() if before is None else list(before)
        with self._translated():
            pipe = self._client.pipeline(transaction=False)
            for name in names:
                for interval in intervals:
                    high = "+inf" if before is None else f"({before[interval]}"
                    pipe.zrangebyscore(self._keys.index(interval, name), "-inf", high)
            replies = iter(pipe.execute())
            pipe = self._client.pipeline(transaction=True)
            for name in names:
                for interval in intervals:
                    times = [int(t) for t in next(replies)]
                    index = self._keys.index(interval, name)
                    if times:
                        pipe.unlink(*(self._keys.data(interval, t, name) for t in times))
                    if before is None:
                        pipe.unlink(index)
                    else:
                        pipe.zremrangebyscore(index, "-inf", f"({before[interval]}")
            if before is None and names:
                pipe.srem(self._keys.names, *names)
            pipe.execute()
            if before is not None:  # forget the names that kept no bucket at all
                every = self._intervals()
                counts = self._live_counts(names, every, {})
                width = len(every)
                gone = [
                    n
                    for at, n in enumerate(names)
                    if not any(counts[at * width : (at + 1) * width])
                ]
                if gone:
                    self._client.srem(self._keys.names, *gone)

    def delete(self, name: str) -> None:
        """Delete every bucket of ``name``."""
        self._drop([name], None)

    def delete_all(self) -> None:
        """Delete every key of this prefix and type (found from the names written)."""
        with self._translated():
            names = [_text(n) for n in self._client.smembers(self._keys.names)]
        self._drop(names, None)
        with self._translated():
            self._client.unlink(self._keys.names, self._keys.intervals)

    def expire(self, name: str, live_from: Mapping[str, int]) -> None:
        """Delete what is left of the dead buckets of ``name`` (Redis expires most itself)."""
        if live_from:
            self._drop([name], live_from)

    def close(self) -> None:
        """Close the client if the store made it from a URL."""
        if self._owned:
            self._client.close()


def _soonest() -> int:
    """The earliest EXPIREAT a write sets: a minute from now, so a server clock a little
    ahead of ours never drops a bucket the API layer still reads (reads never depend on
    Redis having dropped anything: the API layer asks for live buckets only)."""
    return int(time.time()) + SKEW


def _add_row(out: dict[str, list[Any]], name: str, i_time: int, r_time: int, value: Any) -> None:
    out["name"].append(name)
    out["i_time"].append(i_time)
    out["r_time"].append(r_time)
    out["value"].append(value)


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _split(member: bytes | str) -> tuple[int, bytes]:
    """``b"{r_time}:{value}"`` -> (r_time, value bytes)."""
    r_time, _, value = _bytes(member).partition(b":")
    return int(r_time), value


def _decoded(raw: pa.Array, kind: pa.DataType) -> pa.Array:
    """Kept bytes back to values of ``kind`` (the inverse of ``RedisStore._encoded``)."""
    if pa.types.is_binary(kind):
        return raw
    text = raw.cast(pa.string())
    if pa.types.is_string(kind):
        return text
    if pa.types.is_time(kind):  # Arrow cannot parse times: few values, plain Python
        return pa.array([dt.time.fromisoformat(t) for t in text.to_pylist()], kind)
    return pc.cast(text, kind)


def _where(client: redis.Redis) -> str:
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}/{kwargs.get('db', 0)}"
    host, port = kwargs.get("host", "localhost"), kwargs.get("port", 6379)
    return f"redis://{host}:{port}/{kwargs.get('db', 0)}"


def open_store(target: Any, spec: StoreSpec) -> RedisStore:
    """The Redis store of ``spec`` on a URL or client (a server it cannot reach raises
    :class:`~rillet.errors.BackendUnavailableError`)."""
    config = check_options(spec, OPTIONS, "Redis")
    if isinstance(target, redis.Redis):
        return RedisStore(target, False, spec)
    # a big write is one EXEC that Redis may take long to run: no 5 s read timeout (redis-py's
    # default), and no retry (a resent MULTI/EXEC would count a write twice)
    options = {
        "socket_connect_timeout": 10,
        "socket_timeout": 300,
        "retry": Retry(NoBackoff(), 0),
        **config,
    }
    try:
        client = redis.Redis.from_url(target, **options)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"Redis back end {target!r}: {exc}", option="client") from None
    try:
        return RedisStore(client, True, spec)
    except BaseException:
        client.close()
        raise
