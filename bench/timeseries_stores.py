"""The SQL and Redis back ends beside the original's own methods, re-run in the same run on the
same data: the issue's Kairos figures were measured on a quiet machine, these are measured
side by side under whatever load the machine has now.

Data: the first hours of :mod:`bench.timeseries`' day (1,000 names, one value a name a
minute), type ``count``, one interval of a minute, no TTL.

- Redis ``bulk_insert``: rillet (one MULTI/EXEC of column-packed script calls) against
  Kairos' method: a redis-py pipeline without transaction of one INCRBYFLOAT a value on the
  key ``{name}:minute:{bucket}``, executed once a bulk insert.
- Redis ``series`` of a day of one name: rillet against Kairos' read, a pipeline of one GET
  for each of the 1,440 minute keys; the median of 50 names.
- SQL ``bulk_insert`` (SQLite, PostgreSQL): rillet (one transaction of set-based upserts)
  against Kairos' method on the same table layout: an UPDATE of the bucket and, when it
  changed no row, an INSERT, each committed (Kairos had no bulk path for SQL), on the first
  2,000 values (it is that slow).

Run alone: ``python bench/timeseries_stores.py``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from bench.figures import peer, section  # noqa: E402
from bench.timeseries import DAY0, INTERVALS, MINUTES, day_of_minutes  # noqa: E402
from rillet.errors import RilletError  # noqa: E402
from rillet.timeseries import Timeseries  # noqa: E402

HOURS = 4
SQL_VALUES = 2_000
REDIS_URL = "redis://127.0.0.1:6379/3"
SQL_URLS = [
    ("sqlite", "sqlite:///{tmp}/ts.sqlite"),
    ("postgresql", "postgresql://postgres@127.0.0.1:5432/test"),
]
Hours = list[dict[float, dict[str, list[float]]]]


def rate(hours: Hours, insert: Callable[[dict[float, dict[str, list[float]]]], None]) -> float:
    """Values a second of ``insert`` called on each hour."""
    values = sum(len(v) for chunk in hours for by_name in chunk.values() for v in by_name.values())
    start = time.perf_counter()
    for chunk in hours:
        insert(chunk)
    return values / (time.perf_counter() - start)


def kairos_redis_insert(client: redis.Redis, chunk: dict[float, dict[str, list[float]]]) -> None:
    pipe = client.pipeline(transaction=False)
    for timestamp, by_name in chunk.items():
        bucket = int(timestamp) // 60
        for name, values in by_name.items():
            for value in values:
                pipe.incrbyfloat(f"kairos-bench:{name}:minute:{bucket}", value)
    pipe.execute()


def kairos_redis_series(client: redis.Redis, name: str) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for minute in range(MINUTES):
        pipe.get(f"kairos-bench:{name}:minute:{DAY0 // 60 + minute}")
    found: list[Any] = pipe.execute()
    return found


def median_ms(read: Callable[[str], Any], names: list[str]) -> float:
    took = []
    for name in names:
        start = time.perf_counter()
        read(name)
        took.append(time.perf_counter() - start)
    return statistics.median(took) * 1000


def bench_redis(hours: Hours) -> None:
    try:
        client = redis.Redis.from_url(REDIS_URL, socket_timeout=300)
        t = Timeseries(client, type="count", intervals=INTERVALS, prefix="bench-stores")
    except (RilletError, redis.RedisError) as exc:
        print(f"redis: skipped, {exc}", flush=True)
        return
    try:
        t.delete_all()
        mine = rate(hours, t.bulk_insert)
        theirs = rate(hours, lambda chunk: kairos_redis_insert(client, chunk))
        print(f"redis count bulk_insert, {HOURS} hours of 1,000 names: {mine:,.0f} values/s")
        peer(
            "Kairos' method (pipeline of INCRBYFLOAT), same run", theirs, "values/s", mine / theirs
        )
        names = [f"host{n:04d}.cpu" for n in range(0, 1_000, 20)]
        end = DAY0 + 86_399
        ours = median_ms(lambda name: t.series(name, "minute", start=DAY0, end=end), names)
        kairos = median_ms(lambda name: kairos_redis_series(client, name), names)
        print(f"redis count series, a day of one name, median: {ours:.2f} ms")
        peer("Kairos' read (pipeline of 1,440 GETs), same run", kairos, "ms", kairos / ours)
    finally:
        t.delete_all()
        t.close()
        for key in client.scan_iter(match="kairos-bench:*", count=10_000):
            client.unlink(key)
        client.close()


def kairos_sql_insert(
    engine: sa.Engine, table: sa.Table, name: str, bucket: int, value: float
) -> None:
    """Kairos' SqlCount._insert_data: UPDATE, and INSERT when no row changed, committed."""
    c = table.c
    key = (c.prefix == "kairos", c.name == name, c.interval == "minute", c.i_time == bucket)
    with engine.begin() as connection:
        changed = connection.execute(
            table.update().where(*key, c.r_time == bucket).values(count=c.count + value)
        ).rowcount
        if not changed:
            connection.execute(
                table.insert().values(
                    prefix="kairos",
                    name=name,
                    interval="minute",
                    i_time=bucket,
                    r_time=bucket,
                    count=value,
                )
            )


def bench_sql(label: str, url: str, hours: Hours) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            t = Timeseries(
                url.replace("{tmp}", tmp),
                type="count",
                intervals=INTERVALS,
                prefix="bench-stores",
                table_name="bench_stores_count",
            )
        except RilletError as exc:
            print(f"{label}: skipped, {exc}", flush=True)
            return
        store: Any = t.store
        try:
            t.delete_all()
            mine = rate(hours, t.bulk_insert)
            rows = [
                (name, int(timestamp) // 60 * 60, values[0])
                for chunk in hours
                for timestamp, by_name in chunk.items()
                for name, values in by_name.items()
            ][:SQL_VALUES]
            start = time.perf_counter()
            for name, bucket, value in rows:
                kairos_sql_insert(store._engine, store.table, name, bucket, value)
            theirs = len(rows) / (time.perf_counter() - start)
            print(f"{label} count bulk_insert, {HOURS} hours of 1,000 names: {mine:,.0f} values/s")
            peer(
                f"Kairos' method (UPDATE, else INSERT, each committed; {SQL_VALUES:,} values), "
                "same run",
                theirs,
                "values/s",
                mine / theirs,
            )
        finally:
            with store._engine.begin() as connection:
                connection.execute(sa.text("DROP TABLE IF EXISTS bench_stores_count"))
            t.close()


def main() -> None:
    section("time-series SQL and Redis back ends beside Kairos' own methods, same run")
    hours = day_of_minutes()[:HOURS]
    bench_redis(hours)
    for label, url in SQL_URLS:
        bench_sql(label, url, hours)


if __name__ == "__main__":
    main()
