"""The Redis back end: a time series kept in Redis keys through redis-py, expiring by EXPIREAT.

Targets: a ``redis://host:port/db`` URL (``rediss://``, ``unix://`` too) or a
:class:`redis.Redis` client.  Every key starts with the time series' ``prefix`` (``""`` or
ending in ``":"``) and type, so two time series differing in either never touch each other's
keys, and every call (``list()`` included) reads only its own:

==============================================  =============================================
``{prefix}{type}:n``                            SET of the names that were written
``{prefix}{type}:v``                            SET of the intervals that were written
``{prefix}{type}:i:{interval}:{name}``          ZSET of the interval buckets (``i_time``)
                                                holding data, scored by ``i_time``
``{prefix}{type}:d:{interval}:{time}:{name}``   the data: ``time`` is the bucket's
                                                ``i_time`` (series, set), or the UTC day
                                                holding it (count, gauge, histogram)
==============================================  =============================================

- ``series``: a LIST per bucket of ``"{r_time}:{value}"`` in write order (RPUSH);
- ``set``: a SET per bucket of ``"{r_time}:{value}"`` (SADD);
- ``count``: a HASH per day of ``"{i_time}:{r_time}"`` -> the running sum (a float:
  ``1.5`` stays ``1.5``);
- ``gauge``: a HASH per day of ``"{i_time}:{r_time}"`` -> the last value;
- ``histogram``: a HASH per day of ``"{i_time}:{r_time}:{value}"`` -> occurrences.

A day's hash takes a bulk insert's rows of that day in two calls (HMGET, then HSET of the
sums), where a key per bucket would take a call per bucket.
``i_time`` and ``r_time`` are bucket starts in epoch seconds.  Values are text: ``str`` as
UTF-8, numbers as their shortest round-trip text, ``bytes`` as they are.  ``value_type``
says what they go out as: ``float`` by default, as on every back end (Kairos' Redis gave
strings; ``value_type="str"`` keeps text as written, for ``read_func`` to cast).

TTL.  Each data key gets ``EXPIREAT`` its (latest) bucket's expiry (the start of the bucket
``steps`` later; at least a minute after the write), and the index of a name and interval
the latest of its buckets' (``NX`` then ``GT``), so Redis drops dead data itself;
:meth:`RedisStore.expire` trims the index and deletes what is left of the dead buckets
(their fields, in a day's hash that still holds live ones).

Writes and their guarantee. One :meth:`RedisStore.write_rows` (a single ``insert``) is one
call of a Lua script, atomic as scripts are.  One :meth:`RedisStore.write` (a
``bulk_insert``) is one MULTI/EXEC transaction: a few Lua calls whose arguments are packed
column by column (:mod:`rillet.timeseries.resp`) group the commands per key (one RPUSH,
SADD or HSET of all a key's values) and set the index and expiries. Other clients see all
of the write or none of it, and if the connection fails before EXEC nothing is applied.
Redis does not roll back: a command failing inside EXEC (possible only if another program
replaced one of these keys with a key of another kind) leaves the others applied; the
store then raises :class:`~rillet.errors.StorageError` naming the error.

Reads.  :meth:`RedisStore.fetch` is one round trip: a pipeline of one Lua script per name
that ranges the index and reads the buckets found (the script reads keys it derives from the
index, which is fine on one Redis server; Redis Cluster is not supported).

Options: ``value_type`` and ``client_config`` (keyword arguments of
:meth:`redis.Redis.from_url` for a URL).

Examples:
    >>> keys = Keys("web:", "count")
    >>> keys.data("minute", 86_460, "cpu"), keys.index("minute", "cpu")
    (b'web:count:d:minute:86400:cpu', b'web:count:i:minute:cpu')
    >>> Keys("web:", "series").data("minute", 86_460, "cpu")
    b'web:series:d:minute:86460:cpu'
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
from redis.client import Pipeline
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
local span, last = tonumber(ARGV[6]), nil
local out = {}
for _, t in ipairs(times) do
  local holder = t
  if span > 0 then
    local n = tonumber(t)
    holder = string.format('%d', n - n % span)
  end
  if holder ~= last then
    last = holder
    local key = ARGV[3] .. holder .. ':' .. ARGV[4]
    local data
    if ARGV[5] == 'list' then
      data = redis.call('LRANGE', key, 0, -1)
    elseif ARGV[5] == 'set' then
      data = redis.call('SMEMBERS', key)
    else
      data = redis.call('HGETALL', key)
    end
    out[#out + 1] = holder
    out[#out + 1] = data
  end
end
return out
"""
#: a write's rows, run on the server.  ARGV = the command, the mode (``push``: one RPUSH or
#: SADD of a key's members; ``set``: one HSET of its fields; ``addf``/``addi``: its fields
#: summed with what the hash holds, one HMGET and one HSET), the soonest expiry, then six per
#: row: data key (on the first row of a key, else ""), index key (on the first row of a
#: bucket, else ""), i_time, field or member, value, expires (or "").  A key's rows are
#: together and each index gets one ZADD of all its buckets: a Redis call costs far more
#: than an argument, so a write makes few calls whatever its size.
_WRITE_SCRIPT = b"""
local cmd, mode, soonest = ARGV[1], ARGV[2], tonumber(ARGV[3])
local adding = mode == 'addf' or mode == 'addi'
local index, key, fields, values, seen, latest = {}, nil, {}, {}, {}, nil
local function flush()
  if key == nil then return end
  local n = #fields
  if mode == 'push' then
    for j = 1, n, 6000 do
      redis.call(cmd, key, unpack(fields, j, math.min(j + 5999, n)))
    end
  else
    for j = 1, n, 3000 do
      local k = math.min(j + 2999, n)
      local old = {}
      if adding then old = redis.call('HMGET', key, unpack(fields, j, k)) end
      local args = {}
      for x = j, k do
        args[#args + 1] = fields[x]
        if mode == 'set' then
          args[#args + 1] = values[x]
        else
          local sum = (tonumber(old[x - j + 1]) or 0) + values[x]
          if mode == 'addi' then
            args[#args + 1] = string.format('%d', sum)
          else
            args[#args + 1] = string.format('%.17g', sum)
          end
        end
      end
      redis.call('HSET', key, unpack(args))
    end
  end
  if latest ~= nil then
    -- never sooner than it was: a day's hash may hold a later bucket written before
    local at = math.max(latest, soonest)
    redis.call('EXPIREAT', key, at, 'NX')
    redis.call('EXPIREAT', key, at, 'GT')
  end
end
for i = 4, #ARGV, 6 do
  if ARGV[i] ~= '' then
    flush()
    key, fields, values, seen, latest = ARGV[i], {}, {}, {}, nil
  end
  if ARGV[i + 1] ~= '' then
    local members = index[ARGV[i + 1]]
    if members == nil then
      members = {}
      index[ARGV[i + 1]] = members
    end
    members[#members + 1] = ARGV[i + 2]
    members[#members + 1] = ARGV[i + 2]
    if ARGV[i + 5] ~= '' then
      local expires = tonumber(ARGV[i + 5])
      if latest == nil or expires > latest then latest = expires end
    end
  end
  local field = ARGV[i + 3]
  if adding then
    local at = seen[field]
    if at == nil then
      fields[#fields + 1] = field
      values[#fields] = tonumber(ARGV[i + 4])
      seen[field] = #fields
    else
      values[at] = values[at] + tonumber(ARGV[i + 4])
    end
  else
    fields[#fields + 1] = field
    values[#values + 1] = ARGV[i + 4]
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
#: a few rows (single inserts, a caller's pipeline) in one call, atomic as a script is.
#: ARGV = the type's command, the names and intervals SETs, when they expire ("": never),
#: then eight per row: data key, field or member, value ("" for a member), index key,
#: i_time, interval, name, expires ("": never).  Expiries only ever grow (NX, then GT): a
#: day's hash may hold a later bucket than the row's.
_ROWS_SCRIPT = b"""
local cmd, names, intervals, meta = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local function expire(key, at)
  redis.call('EXPIREAT', key, at, 'NX')
  redis.call('EXPIREAT', key, at, 'GT')
end
for i = 5, #ARGV, 8 do
  local key, field, value, index = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if value == '' then
    redis.call(cmd, key, field)
  else
    redis.call(cmd, key, field, value)
  end
  redis.call('ZADD', index, ARGV[i + 4], ARGV[i + 4])
  redis.call('SADD', names, ARGV[i + 6])
  redis.call('SADD', intervals, ARGV[i + 5])
  if ARGV[i + 7] ~= '' then
    expire(key, ARGV[i + 7])
    expire(index, ARGV[i + 7])
  end
end
for _, key in ipairs({names, intervals}) do
  if meta == '' then
    redis.call('PERSIST', key)
  else
    expire(key, meta)
  end
end
return 1
"""
#: each type's command in :data:`_ROWS_SCRIPT`
_ROWS_COMMAND = {
    "series": b"RPUSH",
    "set": b"SADD",
    "histogram": b"HINCRBY",
    "count": b"HINCRBYFLOAT",
    "gauge": b"HSET",
}
#: each type's command and mode in the write script
_WRITE = {
    "series": (b"RPUSH", b"push"),
    "set": (b"SADD", b"push"),
    "histogram": (b"HSET", b"addi"),
    "count": (b"HSET", b"addf"),
    "gauge": (b"HSET", b"set"),
}
#: seconds of buckets one hash of a count, gauge or histogram holds (a UTC day): a bulk write
#: of many buckets then makes a few calls a hash, not one a bucket
SPAN = 86_400
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
        #: seconds of buckets a data key holds (0: one bucket)
        self.span = SPAN if _READ[kind] == "hash" else 0
        self.names = self.base + b"n"
        self.intervals = self.base + b"v"

    def index(self, interval: str, name: str) -> bytes:
        """The ZSET of the buckets of ``name`` in ``interval``."""
        return self.base + f"i:{interval}:{name}".encode()

    def data_head(self, interval: str) -> bytes:
        """What the data keys of ``interval`` start with (the i_time and name follow)."""
        return self.base + f"d:{interval}:".encode()

    def holder(self, i_time: int) -> int:
        """The time in the data key holding bucket ``i_time``: its UTC day for hashes."""
        return i_time - i_time % self.span if self.span else i_time

    def data(self, interval: str, i_time: int, name: str) -> bytes:
        """The data key holding bucket ``i_time``."""
        return self.data_head(interval) + f"{self.holder(i_time)}:{name}".encode()


class RedisStore:
    """A time series' rows in Redis keys (see the module docstring)."""

    def __init__(self, client: redis.Redis, owned: bool, spec: StoreSpec) -> None:
        self._client, self._owned, self._spec = client, owned, spec
        self._value_type = arrow_value_type(spec.options.get("value_type", "float"))
        self._keys = Keys(spec.prefix, spec.type)
        self._fetch_sha: str | None = None
        self._rows_script = client.register_script(_ROWS_SCRIPT)
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
        i_time = rows["i_time"].combine_chunks()
        i_numbers = i_time.to_numpy(zero_copy_only=False)
        holder = i_numbers - i_numbers % keys.span if keys.span else i_numbers
        data_key = pc.binary_join_element_wise(
            pa.scalar(keys.base + b"d:"),
            interval,
            _COLON,
            as_binary(pa.array(holder)),
            _COLON,
            name,
            _NOTHING,
        )
        # each key's rows together, its buckets in order, each bucket's rows in write order:
        # the first row of a key names it, the first of a bucket adds it to the index
        codes = data_key.dictionary_encode().indices.to_numpy(zero_copy_only=False)
        order = np.lexsort((i_numbers, codes))
        sorted_codes, sorted_times = codes[order], i_numbers[order]
        first_key = np.ones(len(order), dtype=bool)
        first_key[1:] = sorted_codes[1:] != sorted_codes[:-1]
        first_key[::CHUNK] = True  # each script call starts its first key afresh
        first_bucket = first_key.copy()
        first_bucket[1:] |= sorted_times[1:] != sorted_times[:-1]
        take = pa.array(order)
        index_key = pc.binary_join_element_wise(
            pa.scalar(keys.base + b"i:"), interval, _COLON, name, _NOTHING
        )
        expires = rows["expires"].combine_chunks()
        i_text = as_binary(i_time)
        r_text = as_binary(rows["r_time"])
        if kind in ("series", "set"):
            field = pc.binary_join_element_wise(r_text, self._encoded(rows["value"]), _COLON)
        elif kind == "histogram":
            encoded = self._encoded(rows["value"])
            field = pc.binary_join_element_wise(i_text, r_text, encoded, _COLON)
        else:
            field = pc.binary_join_element_wise(i_text, r_text, _COLON)
        value = {
            "histogram": lambda: as_binary(rows["count"]),
            "count": lambda: as_binary(rows["value"]),
            "gauge": lambda: self._encoded(rows["value"]),
        }.get(kind, lambda: pa.nulls(rows.num_rows, pa.binary()).fill_null(b""))()
        on_key, on_bucket = pa.array(first_key), pa.array(first_bucket)
        columns = [
            pc.if_else(on_key, data_key.take(take), _NOTHING),
            pc.if_else(on_bucket, index_key.take(take), _NOTHING),
            i_text.take(take),
            field.take(take),
            value.take(take),
            pc.if_else(on_bucket, as_binary(expires.take(take)).fill_null(b""), _NOTHING),
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
        call of a script (atomic, as a MULTI/EXEC is; no rollback either)."""
        if not rows:
            return
        args = self._rows_args(rows)
        with self._translated():
            self._rows_script(args=args)

    def queue_rows(self, pipe: Pipeline, rows: Sequence[tuple[Any, ...]]) -> None:
        """Queue the write of ``rows`` (as :meth:`write_rows` takes them) on ``pipe``
        without executing it: Kairos' ``pipeline=`` option, the caller runs ``execute()``."""
        if rows:
            self._rows_script(args=self._rows_args(rows), client=pipe)

    def _rows_args(self, rows: Sequence[tuple[Any, ...]]) -> list[Any]:
        """The arguments of :data:`_ROWS_SCRIPT` for ``rows``."""
        kind, keys = self._spec.type, self._keys
        values = [row[4] for row in rows]
        if kind == "count" and not all(math.isfinite(v) for v in values):
            bad = next(i for i, v in enumerate(values) if not math.isfinite(v))
            raise ValueTypeError(
                f"count {values[bad]!r} (row {bad}) is not a finite number", column="value", row=bad
            )
        # a count's increment goes out as a float (HINCRBYFLOAT): no text to make for it
        encoded = (
            values if kind == "count" else as_binary(pa.array(values, self._value_type)).to_pylist()
        )
        soonest = _soonest()
        ends = [row[-1] for row in rows]
        meta = (
            b""
            if any(end is None for end in ends)
            else max(max(e for e in ends if e is not None), soonest)
        )
        args: list[Any] = [_ROWS_COMMAND[kind], keys.names, keys.intervals, meta]
        for row, value in zip(rows, encoded, strict=True):
            name, interval, i_time, r_time = row[:4]
            field = str(r_time).encode()
            if keys.span:  # a hash holds many buckets: its fields name theirs
                field = str(i_time).encode() + b":" + field
            if kind in ("series", "set"):
                field, value = field + b":" + value, b""
            elif kind == "histogram":
                field, value = field + b":" + value, row[5]
            elif kind == "count":
                value = b"%.17g" % value
            expires = b"" if row[-1] is None else max(row[-1], soonest)
            args += [
                keys.data(interval, i_time, name),
                field,
                value,
                keys.index(interval, name),
                i_time,
                interval,
                name,
                expires,
            ]
        return args

    def queue(self, pipe: Pipeline, rows: pa.Table) -> None:
        """:meth:`queue_rows` for a table of :func:`write_schema` rows (a bulk insert)."""
        columns = [rows.column(i).to_pylist() for i in range(rows.num_columns)]
        self.queue_rows(pipe, list(zip(*columns, strict=True)))

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
        expires = rows["expires"]
        for key in (self._keys.names, self._keys.intervals):
            # the names stay listed as long as the data: for ever if a row is kept for ever
            if expires.null_count:
                parts.append(command(b"PERSIST", key))
            else:
                at = str(max(pc.max(expires).as_py(), _soonest())).encode()
                parts.append(command(b"EXPIREAT", key, at, b"NX"))
                parts.append(command(b"EXPIREAT", key, at, b"GT"))
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
                    (
                        self._keys.index(interval, name),
                        start,
                        end,
                        head,
                        name.encode(),
                        _READ[kind],
                        self._keys.span,
                    )
                    for name in names
                ]
            )
        out: dict[str, list[Any]] = {"name": [], "i_time": [], "r_time": [], "value": []}
        counts: list[int] = []
        for name, reply in zip(names, replies, strict=True):
            for at in range(0, len(reply), 2):
                i_time, data = int(reply[at]), reply[at + 1]
                if _READ[kind] == "hash":  # a day of buckets: keep those in the range
                    for field, value in zip(data[::2], data[1::2], strict=True):
                        i_text, r_text, member = _bytes(field).split(b":", 2) + [b""] * (
                            kind != "histogram"
                        )
                        bucket = int(i_text)
                        if start <= bucket < end:
                            if kind == "histogram":
                                _add_row(out, name, bucket, int(r_text), member)
                                counts.append(int(value))
                            else:
                                _add_row(out, name, bucket, int(r_text), value)
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
        ``name`` with ``first <= i_time <= last``, ``key`` being the key that holds the
        bucket; the replies are grouped as ``{i_time: {i_time: data}}``.  Unlike Kairos',
        a key holds all the bucket's resolution rows (series, set: members
        ``r_time:value``) or, for count, gauge and histogram, a UTC day of buckets (fields
        ``i_time:r_time[:value]``): see the module docstring."""
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
            partial: list[tuple[bytes, int]] = []  # hashes holding dead and live buckets
            for name in names:
                for interval in intervals:
                    times = [int(t) for t in next(replies)]
                    index = self._keys.index(interval, name)
                    dead = []
                    for holder in sorted({self._keys.holder(t) for t in times}):
                        key = self._keys.data(interval, holder, name)
                        if before is None or holder + self._keys.span <= before[interval]:
                            dead.append(key)
                        else:
                            partial.append((key, before[interval]))
                    if dead:
                        pipe.unlink(*dead)
                    if before is None:
                        pipe.unlink(index)
                    else:
                        pipe.zremrangebyscore(index, "-inf", f"({before[interval]}")
            if before is None and names:
                pipe.srem(self._keys.names, *names)
            pipe.execute()
            self._drop_fields(partial)
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

    def _drop_fields(self, partial: list[tuple[bytes, int]]) -> None:
        """Delete the fields of buckets before ``before`` from hashes that also hold later
        buckets (a field starts with its bucket's ``i_time``)."""
        if not partial:
            return
        pipe = self._client.pipeline(transaction=False)
        for key, _ in partial:
            pipe.hkeys(key)
        found = pipe.execute()
        pipe = self._client.pipeline(transaction=True)
        for (key, before), fields in zip(partial, found, strict=True):
            dead = [f for f in fields if int(_bytes(f).split(b":", 1)[0]) < before]
            if dead:
                pipe.hdel(key, *dead)
        pipe.execute()

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
    except TypeError as exc:  # redis-py checks client_config only when it first connects
        client.close()
        raise ConfigError(
            f"Redis back end {target!r}: client_config: {exc}", option="client_config"
        ) from None
    except BaseException:
        client.close()
        raise
