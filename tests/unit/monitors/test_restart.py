"""Monitors across restarts: definitions come back from the catalog and their history is
rebuilt from the stored records (Parquet files and log), so every answer is the same after
db.close() and reopening, and after a process that exits without closing (a crash without
SIGKILL: the relaxed log was flushed, then os._exit)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rillet
from tests.unit.support import DAY, MANUAL, Endpoint, catalog_monitors, wait_until

SCHEMA = "ts TIMESTAMP, host STRING, lat DOUBLE, code INT"
D = dt.timedelta
Bound = dt.datetime | None
RANGES: list[tuple[Bound, Bound]] = [
    (None, None),
    (DAY + D(minutes=10, seconds=0.5), DAY + D(hours=1, minutes=3)),
    (DAY + D(hours=1), DAY + D(hours=2)),
    (DAY + D(hours=1, minutes=59, seconds=30), None),
]
FILTERS = {"slow": "lat > 80", "host_c": "host = 'c'", "late": "code >= 5"}
AGGREGATES = {  # name: (filter, expression)
    "n": (None, "COUNT(*)"),
    "slow_max": ("slow", "MAX(code)"),
    "slow_avg": ("slow", "AVG(lat)"),
    "c_sum": ("host_c", "SUM(code)"),
    "sd": (None, "STDDEV(lat)"),
    "distinct": (None, "APPROX_COUNT_DISTINCT(lat)"),
    "top": (None, "TOP_K(host, 2)"),
    "late_n": ("late", "COUNT(*)"),
}
PREDICATES = ["lat >= 90", "host = 'b' AND lat < 5", "code = 3 OR lat IS NULL", "lat != 50"]


def make_rows(seed: int, n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        ts = DAY + D(microseconds=rng.randrange(7200 * 1_000_000))
        host = rng.choices(["a", "b", "c", None], weights=[50, 30, 15, 5])[0]
        lat = None if rng.random() < 0.05 else rng.randrange(1000) / 10
        code = None if rng.random() < 0.05 else rng.randrange(10)
        rows.append((ts, host, lat, code))
    return rows


def hot_windows(batches: list[list[tuple[Any, ...]]]) -> list[dt.datetime]:
    """Starts of the 15 min windows where trigger 'hot' (slow_max >= 9) fires when records
    arrive in these batches: after each batch, every window with slow records (lat > 80)
    whose end event time has reached is judged once, over the records seen so far."""
    width = D(minutes=15)
    seen: list[tuple[Any, ...]] = []
    checked = DAY - D(days=1)
    fired = []
    for batch in batches:
        seen.extend(batch)
        newest = max(r[0] for r in seen)
        slow = [r for r in seen if r[2] is not None and r[2] > 80]
        starts = sorted({DAY + (r[0] - DAY) // width * width for r in slow})
        due = [w for w in starts if w + width <= newest and w >= checked]
        for w in due:
            codes = [r[3] for r in slow if w <= r[0] < w + width and r[3] is not None]
            if codes and max(codes) >= 9:
                fired.append(w)
        if due:
            checked = due[-1] + width
    return fired


def answers(s: rillet.Stream) -> dict[str, Any]:
    """Everything the monitors answer, over several ranges."""
    out: dict[str, Any] = {}
    for i, (start, end) in enumerate(RANGES):
        for name in FILTERS:
            out[f"filter {name} {i}"] = s.query_filter(name, start, end).offsets.tolist()
        for name in AGGREGATES:
            out[f"aggregate {name} {i}"] = s.get_aggregate(name, start, end)
        for expression in PREDICATES:
            out[f"execute {expression} {i}"] = s.execute_filter(expression, start, end).offsets
            out[f"execute {expression} {i}"] = out[f"execute {expression} {i}"].tolist()
    out["alerts"] = s.get_alerts()
    return out


def define(s: rillet.Stream, rows: list[tuple[Any, ...]]) -> None:
    """Monitors added at different moments: before data, after half of it (with and without
    backfill), over sealed files and memory."""
    s.add_index("lat", bucket_size=2.5)
    s.add_filter("slow", FILTERS["slow"])
    s.add_filter("host_c", FILTERS["host_c"], resolution="1m")
    s.add_aggregate("n", None, "COUNT(*)")
    s.add_aggregate("slow_max", "slow", "MAX(code)")
    s.add_aggregate("slow_avg", "slow", "AVG(lat)")
    s.install_trigger("hot", "slow_max >= 9", period="15m")
    s.append_many(rows[:1500])
    s.seal(everything=True)
    s.append_many(rows[1500:2000])
    s.add_index("host", backfill=True)
    s.add_index("code", bucket_size=1.0)  # from here on: not trusted for older records
    s.add_filter("late", FILTERS["late"])
    s.add_aggregate("c_sum", "host_c", "SUM(code)", backfill=True)
    s.add_aggregate("sd", None, "STDDEV(lat)", backfill=True)
    s.add_aggregate("distinct", None, "APPROX_COUNT_DISTINCT(lat)")
    s.add_aggregate("top", None, "TOP_K(host, 2)", backfill=True)
    s.add_aggregate("late_n", "late", "COUNT(*)")
    s.append_many(rows[2000:])


def test_monitors_and_their_history_survive_reopening(
    tmp_path: Path, endpoints: Callable[..., Endpoint]
) -> None:
    folder = tmp_path / "data"
    endpoint = endpoints()
    rows = make_rows(1, 3000)
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("m", SCHEMA, time_column="ts", partition="1h")
        define(s, rows)
        s.add_webhook(endpoint.url, trigger="hot")
        before = answers(s)
        catalog = catalog_monitors(folder)
    # spot checks against plain Python: the answers are right, not merely stable
    slow = [i for i, r in enumerate(rows) if r[2] is not None and r[2] > 80]
    assert before["filter slow 0"] == slow
    assert before["filter late 0"] == [
        i for i, r in enumerate(rows) if i >= 2000 and r[3] is not None and r[3] >= 5
    ]
    assert before["aggregate n 0"] == 3000
    assert before["aggregate c_sum 0"] == sum(r[3] for r in rows if r[1] == "c" and r[3])
    assert before["aggregate top 0"] == ["a", "b"]
    assert before["execute lat >= 90 0"] == [
        i for i, r in enumerate(rows) if r[2] is not None and r[2] >= 90
    ]
    batches = [rows[:1500], rows[1500:2000], rows[2000:]]
    assert [a.time for a in before["alerts"]] == hot_windows(batches)
    assert len(catalog) == 3 + 3 + 8 + 1 + 1  # indexes, filters, aggregates, trigger, webhook

    for _ in range(2):
        with rillet.connect(folder, **MANUAL) as db:
            s = db.stream("m")
            assert answers(s) == before
        assert catalog_monitors(folder) == catalog

    # the trigger's state and the webhook came back too: the next window fires once, and the
    # endpoint hears of it without being added again
    with rillet.connect(folder, **MANUAL) as db:
        s = db.stream("m")
        later = [(DAY + D(hours=2, minutes=1), "a", 99.0, 9)]
        closing = [(DAY + D(hours=2, minutes=16), "a", 1.0, 0)]
        s.append_many(later)
        s.append_many(closing)
        windows = hot_windows([*batches, later, closing])
        assert windows[: len(before["alerts"])] == [a.time for a in before["alerts"]]
        assert windows[-1] == DAY + D(hours=2)
        assert s.get_alerts() == [
            rillet.Alert("hot", w, 9, "slow_max >= 9", "slow_max", "m") for w in windows
        ]
        new = len(windows) - len(before["alerts"])
        assert wait_until(lambda: len(endpoint.received()) == new)
    assert endpoint.received()[-1:] == [
        {
            "stream": "m",
            "trigger": "hot",
            "time": "2024-05-01T02:00:00+00:00",
            "value": 9,
            "condition": "slow_max >= 9",
            "aggregate": "slow_max",
        }
    ]


def test_removed_monitors_stay_removed(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("m", SCHEMA, time_column="ts")
        define(s, make_rows(2, 2500))
        s.add_webhook("http://127.0.0.1:9/x")
        s.remove_webhook("http://127.0.0.1:9/x")
        s.remove_trigger("hot")
        s.remove_aggregate("slow_max")
        s.remove_index("code")
        s.remove_aggregate("late_n")
        s.remove_filter("late")
        kept = catalog_monitors(folder)
    assert [(k, n) for _, k, n, _, _ in kept] == [
        ("index", "lat"),
        ("filter", "slow"),
        ("filter", "host_c"),
        ("aggregate", "n"),
        ("aggregate", "slow_avg"),
        ("index", "host"),
        ("aggregate", "c_sum"),
        ("aggregate", "sd"),
        ("aggregate", "distinct"),
        ("aggregate", "top"),
    ]
    with rillet.connect(folder, **MANUAL) as db:
        s = db.stream("m")
        assert sorted(s.monitors.filters) == ["host_c", "slow"]
        assert sorted(s.monitors.aggregates) == ["c_sum", "distinct", "n", "sd", "slow_avg", "top"]
        assert sorted(s.monitors.indexes) == ["host", "lat"]
        assert s.monitors.triggers == {} and s.monitors.delivery.webhooks == []
        with pytest.raises(rillet.errors.NotFoundError):
            s.query_filter("late")
    assert catalog_monitors(folder) == kept


WRITER = """
import datetime as dt, json, os, sys
import rillet
folder, rows = sys.argv[1], json.loads(sys.argv[2])
db = rillet.connect(folder, maintenance_interval=3600.0)
s = db.create_stream("m", "ts TIMESTAMP, host STRING, lat DOUBLE, code INT",
                     time_column="ts", durability="relaxed")
s.add_index("lat", bucket_size=1.0)
s.add_filter("slow", "lat > 80")
s.add_aggregate("slow_max", "slow", "MAX(code)")
s.add_aggregate("n", None, "COUNT(*)")
s.install_trigger("hot", "slow_max >= 9", period="15m")
for row in rows[:500]:
    s.append(tuple(row))          # single appends: buffered, logged by group commit
s.append_many([tuple(r) for r in rows[500:]])
s.flush()                         # everything acknowledged is fsynced
out = {
    "slow": s.query_filter("slow").offsets.tolist(),
    "slow_max": s.get_aggregate("slow_max"),
    "n": s.get_aggregate("n"),
    "execute": s.execute_filter("lat >= 90").offsets.tolist(),
    "alerts": [a.time.isoformat() for a in s.get_alerts()],
}
print(json.dumps(out), flush=True)
os._exit(0)                       # no close(): what a crash leaves
"""


def test_reopen_after_exit_without_close(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    rows = sorted(
        make_rows(3, 1000), key=lambda r: r[0]
    )  # in event-time order: windows close complete
    text = [[r[0].isoformat(), r[1], r[2], r[3]] for r in rows]
    done = subprocess.run(
        [sys.executable, "-c", WRITER, str(folder), json.dumps(text)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    assert done.returncode == 0, done.stderr
    written = json.loads(done.stdout)
    slow = [i for i, r in enumerate(rows) if r[2] is not None and r[2] > 80]
    assert written["slow"] == slow
    assert written["n"] == 1000
    with rillet.connect(folder, **MANUAL) as db:
        s = db.stream("m")
        assert len(s) == 1000
        assert s.query_filter("slow").offsets.tolist() == slow
        assert (
            s.get_aggregate("slow_max")
            == written["slow_max"]
            == max(rows[i][3] for i in slow if rows[i][3] is not None)
        )
        assert s.get_aggregate("n") == 1000
        assert s.execute_filter("lat >= 90").offsets.tolist() == written["execute"]
        assert [a.time.isoformat() for a in s.get_alerts()] == written["alerts"]
        assert written["alerts"] == [w.isoformat() for w in hot_windows([rows])]
        assert len(written["alerts"]) >= 3


def test_backfilled_aggregate_over_a_newer_filter_survives_reopening(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("m", "ts TIMESTAMP, x DOUBLE", time_column="ts")
        s.append_many([(DAY + D(minutes=10 * i), float(i)) for i in range(10)])
        s.add_filter("f", "x >= 0")
        s.add_aggregate("b", "f", "SUM(x)", backfill=True)
        s.append_many([(DAY + D(minutes=10 * i, seconds=1), float(10 + i)) for i in range(10)])
        assert s.get_aggregate("b") == 190.0
    with rillet.connect(folder, **MANUAL) as db:
        assert db.stream("m").get_aggregate("b") == 190.0


def test_catalog_written_before_automatic_resolutions(tmp_path: Path) -> None:
    """Specs without "version" stored "1s" whether it was given or the default: read as not
    given (automatic), other resolutions as given; an aggregate over a filter took the
    filter's resolution whatever its own said, and takes it again."""
    folder = tmp_path / "data"
    rows = [(DAY + D(seconds=i / 4), "a", float(i), i) for i in range(40)]
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("m", SCHEMA, time_column="ts")
        s.add_filter("per_second", "lat >= 0")
        s.add_filter("per_minute", "lat >= 0", resolution="1m")
        s.add_aggregate("plain", None, "COUNT(*)")
        s.add_aggregate("five", None, "COUNT(*)", resolution="5s")
        s.add_aggregate("over_second", "per_second", "COUNT(*)")
        s.add_aggregate("over_minute", "per_minute", "COUNT(*)", resolution="2s")
        s.append_many(rows)
    legacy = {  # name: the spec an older rillet wrote for the same call
        "per_second": {"expression": "lat >= 0", "resolution": "1s"},
        "per_minute": {"expression": "lat >= 0", "resolution": "1m"},
        "plain": {"filter": None, "expression": "COUNT(*)", "resolution": "1s"},
        "five": {"filter": None, "expression": "COUNT(*)", "resolution": "5s"},
        "over_second": {"filter": "per_second", "expression": "COUNT(*)", "resolution": "1s"},
        "over_minute": {"filter": "per_minute", "expression": "COUNT(*)", "resolution": "2s"},
    }
    con = sqlite3.connect(folder / "catalog.sqlite")
    with con:
        for name, spec in legacy.items():
            con.execute("UPDATE monitors SET spec = ? WHERE name = ?", (json.dumps(spec), name))
    con.close()
    with rillet.connect(folder, **MANUAL) as db:
        s = db.stream("m")
        kept = {n: (a.resolution_us, a.fixed_by) for n, a in s.monitors.aggregates.items()}
        assert kept == {
            "plain": (1_000_000, None),
            "five": (5_000_000, "aggregate"),
            "over_second": (1_000_000, None),
            "over_minute": (60_000_000, "filter"),  # as it was before: the filter's
        }
        assert s.get_aggregate("over_minute", DAY, DAY + D(seconds=2)) == 40
        assert s.get_aggregate("five", DAY, DAY + D(seconds=2)) == 20
        # the automatic ones take a 250 ms trigger, the given ones refuse it
        s.install_trigger("fast", "plain > 100 AND over_second > 100", period="250ms")
        assert s.get_aggregate("plain", DAY, DAY + D(seconds=2)) == 8
        assert s.get_aggregate("over_second", DAY, DAY + D(seconds=0.3)) == 2
        for name in ("five", "over_minute"):
            with pytest.raises(rillet.errors.ConfigError, match="must be whole buckets"):
                s.install_trigger("t", f"{name} > 100", period="250ms")
