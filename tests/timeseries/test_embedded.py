"""The rillet back end: kept as streams (queryable with db.sql), rebuilt on open with its
deletions, shared by every Timeseries on one database, all or nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rillet
from rillet.errors import BackendUnavailableError, ConfigError, LockedError, ValueTypeError
from rillet.timeseries import Timeseries
from rillet.timeseries.embedded import stream_name
from rillet.timeseries.store import StoreSpec
from tests.timeseries.conformance import count_writes
from tests.unit.support import MANUAL

T = 1_714_557_600  # 2024-05-01T10:00:00Z
MINUTE = {"minute": {"step": 60}, "hour": {"step": 3600, "resolution": 60}}


def fill(t: Timeseries) -> None:
    t.bulk_insert({T: {"a": [1.5, 2.0], "b": [4.0]}, T + 60: {"a": [3.0]}})
    t.insert("a", 0.5, timestamp=T + 5)


def test_the_data_is_queryable_with_db_sql() -> None:
    with rillet.connect(**MANUAL) as db:
        t = Timeseries(db, type="count", intervals=MINUTE)
        fill(t)
        rows = db.sql(
            "SELECT name, interval, i_time, r_time, sum(value) FROM kairos_count "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        assert rows == [
            ("a", "hour", T, T, 4.0),
            ("a", "hour", T, T + 60, 3.0),
            ("a", "minute", T, T, 4.0),
            ("a", "minute", T + 60, T + 60, 3.0),
            ("b", "hour", T, T, 4.0),
            ("b", "minute", T, T, 4.0),
        ]
        ts = db.sql("SELECT min(ts) FROM kairos_count").fetchall()[0][0]
        assert int(ts.timestamp()) == T
        assert stream_name(StoreSpec("count", "web:")) == "kairos_web_count"


def rebuilds_with_deletions(target: Callable[[], Any], prefix: str) -> None:
    """A series written, deleted in part and written again reads the same once opened anew
    on ``target()`` (its index rebuilt from the streams); ``delete_all`` empties it."""
    with Timeseries(target(), type="series", intervals=MINUTE, prefix=prefix) as t:
        fill(t)
        t.delete("b")
        t.insert("b", 7.0, timestamp=T)  # after the deletion: kept
        t.insert("c", 1.0, timestamp=T)
        expected = t.series(["a", "b", "c"], "hour", start=T, steps=1)
        names = t.list()
    assert names == ["a", "b", "c"]
    with Timeseries(target(), type="series", intervals=MINUTE, prefix=prefix) as again:
        assert again.list() == names
        assert again.series(["a", "b", "c"], "hour", start=T, steps=1) == expected
        assert again.get("b", "minute", timestamp=T) == {T: [7.0]}
        assert again.get("a", "minute", timestamp=T) == {T: [1.5, 2.0, 0.5]}
        again.delete_all()
    with Timeseries(target(), type="series", intervals=MINUTE, prefix=prefix) as emptied:
        assert emptied.list() == []


def test_reopen_rebuilds_the_index_with_deletions(tmp_path: Path) -> None:
    rebuilds_with_deletions(lambda: f"rillet://{tmp_path}/data", "app")


def test_reopen_keeps_expiry_deletions(tmp_path: Path) -> None:
    url = f"rillet://{tmp_path}/data"
    now = time.time()
    today = int(now // 86400 * 86400)
    with rillet.connect(tmp_path / "data", **MANUAL) as db:
        t = Timeseries(db, type="count", intervals={"d": {"step": 86400}})
        t.insert("a", 1.0, timestamp=now - 3 * 86400)
        t.insert("a", 2.0, timestamp=now)
    # the same data read with steps=2: the old day is dead; expire deletes it for good
    with Timeseries(url, type="count", intervals={"d": {"step": 86400, "steps": 2}}) as t:
        t.expire("a")
    with Timeseries(url, type="count", intervals={"d": {"step": 86400}}) as t:
        if int(time.time() // 86400 * 86400) != today:
            pytest.skip("the UTC day changed while the test ran")
        assert t.properties("a") == {"d": {"first": today, "last": today}}


def test_time_series_on_one_database_share_their_data() -> None:
    with rillet.connect(**MANUAL) as db:
        one = Timeseries(db, type="histogram", intervals=MINUTE)
        two = Timeseries(db, type="histogram", intervals=MINUTE)
        other = Timeseries(db, type="histogram", intervals=MINUTE, prefix="other")
        one.insert("a", [1.0, 1.0, 2.0], timestamp=T)
        assert two.get("a", "minute", timestamp=T) == {T: {1.0: 2, 2.0: 1}}
        assert other.list() == []
        assert sorted(s.name for s in db.streams()) == ["kairos_histogram"]


def test_a_failed_bulk_insert_appends_nothing() -> None:
    with rillet.connect(**MANUAL) as db:
        t = Timeseries(db, type="gauge", intervals=MINUTE)
        t.insert("a", 1.0, timestamp=T)
        before = len(db.stream("kairos_gauge"))
        with pytest.raises(ValueTypeError):
            t.bulk_insert({T: {"a": [2.0]}, T + 60: {"a": ["x"]}})
        assert len(db.stream("kairos_gauge")) == before
        assert t.get("a", "minute", timestamp=T) == {T: 1.0}


def test_a_custom_fetch_reads_with_db_sql() -> None:
    with rillet.connect(**MANUAL) as db:
        t = Timeseries(db, type="count", intervals=MINUTE)
        fill(t)

        # how many writes reached each bucket, not their sum
        assert t.series("a", "minute", start=T, steps=2, fetch=count_writes) == {
            T: 2.0,
            T + 60: 1.0,
        }
        assert t.get("a", "hour", timestamp=T, fetch=count_writes) == {T: 2.0, T + 60: 1.0}


@pytest.mark.parametrize("value_type", ["str", "int", "bool"])
def test_value_types(value_type: str) -> None:
    choices: dict[str, list[Any]] = {"str": ["x", "y"], "int": [3, -4], "bool": [True, False]}
    values = choices[value_type]
    with Timeseries("rillet://", type="set", intervals=MINUTE, value_type=value_type) as t:
        t.insert("a", values, timestamp=T)
        assert t.get("a", "minute", timestamp=T) == {T: set(values)}


def test_a_value_type_the_streams_cannot_keep() -> None:
    with pytest.raises(ConfigError, match="value_type 'decimal'"):
        Timeseries("rillet://", type="set", intervals=MINUTE, value_type="decimal")
    with pytest.raises(ConfigError, match="value_type 'complex'"):
        Timeseries("rillet://", type="set", intervals=MINUTE, value_type="complex")


def test_a_folder_held_by_another_process_is_unavailable(tmp_path: Path) -> None:
    script = (
        "import sys, rillet; db = rillet.connect(sys.argv[1]); print('held', flush=True); "
        "sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path / "data")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(BackendUnavailableError, match="cannot be opened") as caught:
            Timeseries(f"rillet://{tmp_path}/data", type="count", intervals=MINUTE)
        assert isinstance(caught.value.__cause__, LockedError)
    finally:
        holder.communicate("")
