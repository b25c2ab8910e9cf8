"""The Redis back end on this machine's Redis: ``prefix`` is honoured by every call
(``list()`` included, which Kairos' Redis ignored), names may hold ``:``, EXPIREAT for TTL,
counts keep floats, a write is one MULTI/EXEC (and says so when Redis fails part of it), and
an unreachable server is a BackendUnavailableError."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pytest
import redis

from rillet.errors import BackendUnavailableError, ConfigError, StorageError, ValueTypeError
from rillet.timeseries import Timeseries
from rillet.timeseries import redis as redis_module
from rillet.timeseries.store import StoreSpec
from tests.timeseries.conformance import REDIS_URL, rows, unique_prefix

T0 = 1_714_521_600  # 2024-05-01T00:00:00Z


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    """A client of this machine's Redis (the tests' own db); skipped, saying why, without."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis at {REDIS_URL} is not reachable: {exc}")
    yield client
    client.close()


def _keys(client: redis.Redis, prefix: str) -> list[bytes]:
    return sorted(client.scan_iter(match=prefix.replace("*", r"\*") + "*", count=1000))


def test_list_and_every_key_honour_the_prefix(client: redis.Redis) -> None:
    """Kairos' ``list()`` read every key of the database and cut names at the first ``:``."""
    intervals: dict[str, dict[str, Any]] = {
        "minute": {"step": 60},
        "hour": {"step": "1h", "resolution": 60},
    }
    a, b = unique_prefix(), unique_prefix()
    first = Timeseries(client, type="count", intervals=intervals, prefix=a)
    second = Timeseries(client, type="count", intervals=intervals, prefix=b)
    try:
        first.insert("web:cpu", 1, timestamp=T0)
        first.insert("db", 2, timestamp=T0)
        second.insert("other", 3, timestamp=T0)
        assert first.list() == ["db", "web:cpu"]
        assert second.list() == ["other"]
        assert all(key.startswith(a.encode()) for key in _keys(client, a))
        assert _keys(client, a) and _keys(client, b)
        assert dict(first.get("web:cpu", "minute", timestamp=T0)) == {T0: 1.0}
        assert first.properties("web:cpu") == {
            "minute": {"first": T0, "last": T0},
            "hour": {"first": T0, "last": T0},
        }
        first.delete("web:cpu")
        assert first.list() == ["db"]
        first.delete_all()
        assert _keys(client, a) == []
        assert second.list() == ["other"]
    finally:
        for one in (first, second):
            one.delete_all()


def test_ttl_is_expireat_and_counts_keep_floats(client: redis.Redis) -> None:
    """A bucket's keys expire at the start of the bucket ``steps`` later (a hash holding a
    day of buckets, at its latest bucket's); an interval without ``steps`` keeps its keys."""
    prefix = unique_prefix()
    series = Timeseries(
        client,
        type="count",
        intervals={"minute": {"step": 60, "steps": 5}, "forever": {"step": 60}},
        prefix=prefix,
    )
    try:
        now = time.time()
        bucket = int(now) // 60 * 60
        series.insert("x", 1.5, timestamp=now)
        series.insert("x", 1.25, timestamp=now)
        assert dict(series.get("x", "minute", timestamp=now)) == {bucket: 2.75}
        day = bucket - bucket % redis_module.SPAN  # a count's hash holds a UTC day of buckets
        data = f"{prefix}count:d:minute:{day}:x"
        index = f"{prefix}count:i:minute:x"
        expected = max(bucket + 5 * 60, int(now) + redis_module.SKEW)
        assert client.expiretime(data) in (expected, expected + 1)
        assert client.expiretime(index) in (expected, expected + 1)
        assert client.ttl(f"{prefix}count:d:forever:{day}:x") == -1
    finally:
        series.delete_all()


def test_a_failure_inside_the_transaction_is_a_storage_error(client: redis.Redis) -> None:
    """Redis does not roll back a command that fails inside EXEC: when another program put a
    key of another kind where a bucket goes, the write says so instead of passing silently."""
    prefix = unique_prefix()
    store = redis_module.open_store(client, StoreSpec("count", prefix, ("minute",), {}))
    try:
        client.set(f"{prefix}count:d:minute:{T0}:x", "not a hash")
        with pytest.raises(StorageError, match="WRONGTYPE"):
            store.write(rows("count", store.value_type, [("x", "minute", T0, T0, 1.0, None)]))
        with pytest.raises(StorageError, match="WRONGTYPE"):  # a single insert's path
            store.write_rows([("x", "minute", T0, T0, 1.0, None)])
        with pytest.raises(ValueTypeError, match="not a finite number"):
            store.write(
                rows("count", store.value_type, [("y", "minute", T0, T0, float("inf"), None)])
            )
    finally:
        store.delete_all()
        client.delete(f"{prefix}count:d:minute:{T0}:x")


@pytest.mark.parametrize(
    ("value_type", "values"),
    [("int", [3, -7]), ("str", ["GET /", "ünï", "a:b"]), (bytes, [b"\x00:\xff"]), ("bool", [True])],
    ids=["int", "str", "bytes", "bool"],
)
def test_value_types_keep_their_values(
    client: redis.Redis, value_type: object, values: list[object]
) -> None:
    spec = StoreSpec("series", unique_prefix(), ("minute",), {"value_type": value_type})
    store = redis_module.open_store(client, spec)
    try:
        written = [("a", "minute", T0, T0 + 60, v, None) for v in values]
        store.write(rows("series", store.value_type, written))
        got = store.fetch(["a"], "minute", T0, T0 + 1)
        assert got["value"].to_pylist() == values
        assert set(got["r_time"].to_pylist()) == {T0 + 60}
    finally:
        store.delete_all()


def test_a_bulk_insert_of_many_chunks(client: redis.Redis) -> None:
    """More rows than one script call takes: all of them arrive, series in write order."""
    store = redis_module.open_store(client, StoreSpec("series", unique_prefix(), ("m",), {}))
    try:
        count = redis_module.CHUNK * 2 + 7
        data = [
            ("a", "m", T0 + 60 * (i % 3), T0 + 60 * (i % 3), float(i), None) for i in range(count)
        ]
        store.write(rows("series", store.value_type, data))
        got = store.fetch(["a"], "m", T0, T0 + 180)
        expected = sorted(data, key=lambda row: row[2])  # stable: write order in a bucket
        assert got["value"].to_pylist() == [row[4] for row in expected]
    finally:
        store.delete_all()


def test_url_options_and_unreachable_server() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        Timeseries(f"redis://127.0.0.1:{port}/3", type="count", intervals={"m": {"step": 60}})
    with pytest.raises(ConfigError, match="unknown Redis back-end option 'table_name'"):
        redis_module.open_store(REDIS_URL, StoreSpec("count", "", (), {"table_name": "x"}))
    with pytest.raises(ConfigError, match="client_config: .*'socket_tiemout'"):
        Timeseries(
            REDIS_URL,
            type="count",
            intervals={"m": {"step": 60}},
            client_config={"socket_tiemout": 5},
        )


def test_a_kairos_custom_fetch(client: redis.Redis) -> None:
    """Kairos' ``fetch(handle, key)`` is called on a pipeline once per bucket key."""
    series = Timeseries(
        client, type="series", intervals={"minute": {"step": 60}}, prefix=unique_prefix()
    )
    try:
        series.bulk_insert({T0: {"a": [5.0, 6.0]}, T0 + 60: {"a": [7.0]}})
        got = series.series(
            "a", "minute", start=T0, steps=2, fetch=lambda handle, key: handle.lrange(key, 0, 0)
        )
        assert dict(got) == {T0: [f"{T0}:5".encode()], T0 + 60: [f"{T0 + 60}:7".encode()]}
    finally:
        series.delete_all()


def test_a_day_hash_keeps_its_buckets_apart(client: redis.Redis) -> None:
    """Counts, gauges and histograms keep a UTC day of buckets in one hash: reads take only
    the buckets asked for, repeated fields of one write add up, and ``expire`` removes the
    dead buckets' fields (and the hashes of wholly dead days)."""
    prefix = unique_prefix()
    store = redis_module.open_store(client, StoreSpec("count", prefix, ("m",), {}))
    histogram = redis_module.open_store(
        client, StoreSpec("histogram", prefix, ("m",), {"value_type": "str"})
    )
    try:
        day = 86_400
        written = [("a", "m", T0 + 60 * k, T0 + 60 * k, float(k + 1), None) for k in range(4)]
        written += [("a", "m", T0 - day, T0 - day, 9.0, None), ("a", "m", T0, T0, 0.5, None)]
        store.write(rows("count", store.value_type, written))
        got = store.fetch(["a"], "m", T0 + 60, T0 + 180)
        assert dict(zip(got["i_time"].to_pylist(), got["value"].to_pylist(), strict=True)) == {
            T0 + 60: 2.0,
            T0 + 120: 3.0,
        }
        assert store.fetch(["a"], "m", T0, T0 + 1)["value"].to_pylist() == [1.5]
        store.expire("a", {"m": T0 + 120})
        assert client.exists(f"{prefix}count:d:m:{T0 - day}:a") == 0
        fields = sorted(client.hkeys(f"{prefix}count:d:m:{T0}:a"))
        assert fields == [f"{T0 + 120}:{T0 + 120}".encode(), f"{T0 + 180}:{T0 + 180}".encode()]
        histogram.write(rows("histogram", pa.string(), [("h", "m", T0, T0, "a:b", 2, None)]))
        got = histogram.fetch(["h"], "m", T0, T0 + 60)
        assert got.select(["value", "count"]).to_pylist() == [{"value": "a:b", "count": 2}]
    finally:
        store.delete_all()
        histogram.delete_all()


@pytest.mark.parametrize("kind", ["series", "histogram", "count", "gauge", "set"])
def test_a_callers_pipeline_queues_the_write_for_it_to_execute(
    client: redis.Redis, kind: str
) -> None:
    """Kairos' ``pipeline=`` of ``insert`` and ``bulk_insert``: the commands are queued on
    the caller's pipeline and nothing is written until the caller executes it."""
    intervals: dict[str, dict[str, Any]] = {"minute": {"step": 60}, "hour": {"step": "1h"}}
    series = Timeseries(client, type=kind, intervals=intervals, prefix=unique_prefix())
    try:
        pipe = client.pipeline()
        series.insert("x", 2, timestamp=T0 + 5, pipeline=pipe)
        series.insert("x", [3, 2], timestamp=T0 + 65, pipeline=pipe)
        series.bulk_insert({T0 + 10: {"x": [4], "y": [1]}}, pipeline=pipe)
        assert series.list() == []  # queued, not yet sent
        pipe.execute()
        expected = {
            "series": ([2.0, 4.0], [3.0, 2.0], [2.0, 3.0, 2.0, 4.0]),
            "histogram": ({2.0: 1, 4.0: 1}, {3.0: 1, 2.0: 1}, {2.0: 2, 3.0: 1, 4.0: 1}),
            "count": (6.0, 5.0, 11.0),
            "gauge": (4.0, 2.0, 4.0),
            "set": ({2.0, 4.0}, {2.0, 3.0}, {2.0, 3.0, 4.0}),
        }[kind]
        assert dict(series.series("x", "minute", start=T0, end=T0 + 60)) == {
            T0: expected[0],
            T0 + 60: expected[1],
        }
        assert dict(series.get("x", "hour", timestamp=T0)) == {T0: expected[2]}
        assert series.list() == ["x", "y"]
    finally:
        series.delete_all()


def test_pipeline_is_a_redis_option_only() -> None:
    series = Timeseries("rillet://", type="count", intervals={"minute": {"step": 60}})
    with pytest.raises(ConfigError, match="pipeline= is an option of the Redis back end"):
        series.insert("x", 1, pipeline=object())
    assert series.list() == []


@pytest.mark.parametrize("queued", [False, True], ids=["write", "pipeline"])
def test_every_key_expires_with_steps(client: redis.Redis, queued: bool) -> None:
    """With ``steps`` on every interval, every key of the time series expires (the names
    and intervals written, at the latest data's expiry); one interval without keeps them."""
    prefix, other = unique_prefix(), unique_prefix()
    expiring = Timeseries(
        client, type="set", intervals={"minute": {"step": 60, "steps": 5}}, prefix=prefix
    )
    kept = Timeseries(
        client,
        type="set",
        intervals={"minute": {"step": 60, "steps": 5}, "forever": {"step": 60}},
        prefix=other,
    )
    try:
        now = time.time()
        bucket = int(now) // 60 * 60
        for one in (expiring, kept):
            pipe = client.pipeline() if queued else None
            one.insert("a", [1, 2], timestamp=now - 60, pipeline=pipe)  # a bulk write
            one.insert("b", 1, timestamp=now, pipeline=pipe)  # a single insert
            if pipe is not None:
                pipe.execute()
        latest = max(bucket + 5 * 60, int(now) + redis_module.SKEW)
        for key in _keys(client, prefix):
            assert client.expiretime(key.decode()) in (latest - 60, latest, latest + 1), key
        assert client.expiretime(f"{prefix}set:n") in (latest, latest + 1)
        assert client.ttl(f"{other}set:n") == -1
        assert client.ttl(f"{other}set:v") == -1
        assert expiring.list() == kept.list() == ["a", "b"]
    finally:
        expiring.delete_all()
        kept.delete_all()


@pytest.mark.parametrize("path", ["insert", "bulk_insert", "pipeline"])
@pytest.mark.parametrize("kind", ["histogram", "count", "gauge"])
def test_an_earlier_bucket_never_shortens_a_day_hash_s_expiry(
    client: redis.Redis, kind: str, path: str
) -> None:
    """A day's hash holds many buckets: writing an earlier one after a later one keeps the
    later one's expiry (it was cut to the earlier's, dropping live data early)."""
    prefix = unique_prefix()
    series = Timeseries(
        client, type=kind, intervals={"minute": {"step": 60, "steps": 10}}, prefix=prefix
    )
    try:
        now = time.time()
        bucket = int(now) // 60 * 60
        if bucket % redis_module.SPAN < 300:
            pytest.skip("the earlier bucket would fall in the previous UTC day's hash")
        for at in (now, now - 300):
            if path == "bulk_insert":
                series.bulk_insert({at: {"a": [1, 2]}})
            elif path == "pipeline":
                pipe = client.pipeline()
                series.insert("a", 1, timestamp=at, pipeline=pipe)
                pipe.execute()
            else:
                series.insert("a", 1, timestamp=at)
        day = bucket - bucket % redis_module.SPAN
        assert client.expiretime(f"{prefix}{kind}:d:minute:{day}:a") == bucket + 600
        assert client.expiretime(f"{prefix}{kind}:i:minute:a") == bucket + 600
    finally:
        series.delete_all()
