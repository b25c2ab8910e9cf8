"""rillet.connect and Database: streams by name, options, lifetime, reopening, durability."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rillet
from rillet import errors
from rillet.storage import parquet
from rillet.streaming import upkeep
from tests.unit.support import MANUAL, at, count, parquet_files, wait_until

PERF = (
    "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, log_msg STRING"
)


# -- connect ---------------------------------------------------------------------------------


def test_connect_in_memory_round_trips_records_and_sql() -> None:
    with rillet.connect() as database:
        assert database.path is None
        s = database.create_stream("perf", "ts TIMESTAMP, ms DOUBLE", time_column="ts")
        assert s.append(("2024-01-01T00:00:00Z", 12.5)) == 0
        assert s.append(("2024-01-01T00:00:01Z", 2.5)) == 1
        assert database.sql("SELECT max(ms), sum(ms), count(*) FROM perf").fetchall() == [
            (12.5, 15.0, 2)
        ]


def test_connect_path_lays_out_the_data_folder(folder: Path) -> None:
    with rillet.connect(folder) as database:
        assert database.path == folder
        database.create_stream("perf_log", PERF, time_column="timestamp")
        assert (folder / "LOCK").is_file()
        assert (folder / "catalog.sqlite").is_file()
        assert (folder / "streams" / "perf_log" / "wal").is_dir()


def test_connect_rejects_an_unknown_setting_with_a_suggestion(folder: Path) -> None:
    with pytest.raises(
        errors.ConfigError, match=r"'commit_intervl'.*did you mean 'commit_interval'"
    ):
        rillet.connect(folder, commit_intervl=0.01)
    assert not folder.exists()  # nothing was created


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("bogus", 1, "unknown setting 'bogus'"),
        ("buffer_rows", 1.5, "'buffer_rows' must be an integer, got 1.5"),
        ("commit_interval", 0, "'commit_interval' must be a positive number, got 0"),
        ("seal_rows", -3, "'seal_rows' must be a positive number, got -3"),
        ("seal_grace", True, "'seal_grace' must be a positive number, got True"),
        ("maintenance_interval", "1s", "'maintenance_interval' must be a positive number"),
        (
            "log_compression",
            "snappy",
            "'log_compression' must be one of lz4, zstd, none, got 'snappy'",
        ),
        ("log_compression", None, "'log_compression' must be one of lz4, zstd, none, got None"),
    ],
)
def test_connect_rejects_bad_settings(setting: str, value: Any, message: str) -> None:
    with pytest.raises(errors.ConfigError, match=message) as info:
        rillet.connect(**{setting: value})
    assert info.value.detail == {"setting": setting}


def test_connect_accepts_every_documented_setting(folder: Path) -> None:
    settings: dict[str, Any] = {
        "commit_interval": 0.01,
        "buffer_rows": 16,
        "maintenance_interval": 30,
        "seal_rows": 1000,
        "seal_grace": 0.2,
        "segment_bytes": 1 << 20,
        "row_group_rows": 4096,
        "log_compression": "zstd",
    }
    with rillet.connect(folder, **settings) as database:
        assert database.settings == rillet.Settings(**settings)


def test_connect_to_a_server_that_is_not_there_is_unavailable() -> None:
    with pytest.raises(errors.UnavailableError, match="http://127.0.0.1:1 cannot be reached"):
        rillet.connect("http://127.0.0.1:1")
    with pytest.raises(errors.ConfigError, match="token= only"):
        rillet.connect("http://127.0.0.1:1", durability="durable")


def test_connect_to_a_file_is_a_rillet_error(tmp_path: Path) -> None:
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    with pytest.raises(errors.RilletError):
        rillet.connect(target)


def test_a_second_database_on_the_same_folder_is_locked_out(folder: Path) -> None:
    first = rillet.connect(folder, **MANUAL)
    try:
        s = first.create_stream("t", "v INT")
        s.append((1,))
        with pytest.raises(errors.LockedError, match="in use by process") as info:
            rillet.connect(folder, **MANUAL)
        assert info.value.detail == {"path": str(folder)}
        # the holder is not disturbed
        assert s.append((2,)) == 1
        assert first.sql("SELECT sum(v) FROM t").fetchall() == [(3,)]
    finally:
        first.close()
    with rillet.connect(folder, **MANUAL) as second:  # released on close
        assert count(second, "t") == 2


# -- streams by name -------------------------------------------------------------------------


def test_the_three_schema_forms_make_the_same_stream(mem: rillet.Database) -> None:
    text = mem.create_stream("a", "ts TIMESTAMP, host STRING NOT NULL, ms DOUBLE", time_column="ts")
    pairs = mem.create_stream(
        "b", [("ts", "TIMESTAMP"), ("host", "STRING NOT NULL"), ("ms", "DOUBLE")], time_column="ts"
    )
    arrow = mem.create_stream(
        "c",
        pa.schema(
            [
                pa.field("ts", pa.timestamp("us", tz="UTC")),
                pa.field("host", pa.string(), nullable=False),
                pa.field("ms", pa.float64()),
            ]
        ),
        time_column="ts",
    )
    for s in (text, pairs, arrow):
        assert str(s.schema) == "ts TIMESTAMP NOT NULL, host STRING NOT NULL, ms DOUBLE"
        assert s.schema.names == ("ts", "host", "ms")
        assert s.time_column == "ts"
        assert s.append(("2024-01-01T00:00:00Z", "h", 1.5)) == 0
        assert dict(s.read(0)) == {
            "ts": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
            "host": "h",
            "ms": 1.5,
        }
    assert text.schema == pairs.schema == arrow.schema


def test_create_stream_keeps_its_options(mem: rillet.Database) -> None:
    s = mem.create_stream(
        "t",
        "v INT",
        partition="15m",
        retention="7d",
        max_bytes=1 << 20,
        durability="durable",
        log_compression="zstd",
    )
    assert s.options.to_dict() == {
        "partition": "15m",
        "retention": "7d",
        "max_bytes": 1 << 20,
        "durability": "durable",
        "log_compression": "zstd",
    }
    default = mem.create_stream("u", "v INT")
    assert default.options.to_dict() == {
        "partition": "1h",
        "retention": None,
        "max_bytes": None,
        "durability": "relaxed",
        "log_compression": None,  # the database's setting, whatever it is when opened
    }


def test_streams_are_found_by_lower_cased_name_and_listed_by_name(mem: rillet.Database) -> None:
    b = mem.create_stream("Beta", "v INT")
    a = mem.create_stream("alpha", "v INT")
    assert b.name == "beta"
    assert mem.stream("BETA") is b
    assert mem.stream("alpha") is a
    assert [s.name for s in mem.streams()] == ["alpha", "beta"]


def test_an_unknown_stream_is_not_found_with_a_suggestion(mem: rillet.Database) -> None:
    mem.create_stream("perf_log", "v INT")
    with pytest.raises(errors.NotFoundError) as info:
        mem.stream("perf_lgo")
    assert str(info.value) == "unknown stream 'perf_lgo'; did you mean 'perf_log'?"
    assert (info.value.kind, info.value.name, info.value.suggestion) == (
        "stream",
        "perf_lgo",
        "perf_log",
    )
    with pytest.raises(errors.NotFoundError) as far:
        mem.stream("zzz")
    assert str(far.value) == "unknown stream 'zzz'"
    assert far.value.suggestion is None


def test_a_duplicate_stream_is_a_conflict_and_changes_nothing(db: rillet.Database) -> None:
    s = db.create_stream("perf_log", "ts TIMESTAMP, v INT", time_column="ts")
    s.append(("2024-01-01T00:00:00Z", 1))
    for name in ("perf_log", "PERF_LOG"):
        with pytest.raises(errors.ConflictError, match="stream 'perf_log' already exists"):
            db.create_stream(name, "x STRING")
    assert db.stream("perf_log") is s
    assert str(s.schema) == "ts TIMESTAMP NOT NULL, v INT"
    assert db.sql("SELECT v FROM perf_log").fetchall() == [(1,)]


def test_a_duplicate_stream_is_a_conflict_after_reopening(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as first:
        first.create_stream("t", "v INT")
    with rillet.connect(folder, **MANUAL) as second:
        with pytest.raises(errors.ConflictError):
            second.create_stream("t", "v INT")


@pytest.mark.parametrize("name", ["Perf Log", "", "1abc", "a-b", "a..b"])
def test_a_bad_stream_name_is_a_schema_error(db: rillet.Database, folder: Path, name: str) -> None:
    with pytest.raises(errors.SchemaError, match="stream name"):
        db.create_stream(name, "v INT")
    assert db.streams() == []
    assert not (folder / "streams").exists()


@pytest.mark.parametrize(
    ("schema", "time_column", "kind", "message"),
    [
        ("ts TIMESTAMP,\n v DUBLE", "ts", errors.ParseError, "at 2:4, found 'DUBLE'"),
        ([("ts", "TIMESTAMP"), ("v", "DUBLE")], "ts", errors.SchemaError, "column 'v'"),
        ("ts INT, v INT", "ts", errors.SchemaError, "time column 'ts' must be TIMESTAMP, not INT"),
        ("ts TIMESTAMP", "tss", errors.SchemaError, "not in the schema; did you mean 'ts'?"),
        ("a INT, a INT", None, errors.SchemaError, "duplicate or reserved column name 'a'"),
    ],
)
def test_a_bad_schema_creates_nothing(
    db: rillet.Database,
    folder: Path,
    schema: Any,
    time_column: str | None,
    kind: type[errors.RilletError],
    message: str,
) -> None:
    with pytest.raises(kind, match=re.escape(message)) as info:
        db.create_stream("t", schema, time_column=time_column)
    assert type(info.value) is kind
    assert db.streams() == []
    assert not (folder / "streams").exists()
    assert db.create_stream("t", "ts TIMESTAMP", time_column="ts").next_offset == 0


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("durability", "fast", "durability 'fast' is not one of memory, relaxed, durable"),
        ("partition", "2x", "partition '2x' is not a duration"),
        ("partition", "0h", "partition '0h' is not a duration"),
        ("retention", "7 days", "retention '7 days' is not a duration"),
        ("retention", "monthly", "retention 'monthly' is not a duration"),
        ("max_bytes", 0, "max_bytes must be a positive integer, got 0"),
        ("max_bytes", -5, "max_bytes must be a positive integer, got -5"),
        ("max_bytes", 1.5, "create_stream(): max_bytes must be an int or None, not float (1.5)"),
        ("max_bytes", True, "create_stream(): max_bytes must be an int or None, not bool (True)"),
        ("max_bytes", "10", "create_stream(): max_bytes must be an int or None, not str ('10')"),
        ("log_compression", "gzip", "log_compression 'gzip' is not one of lz4, zstd, none"),
        ("log_compression", "LZ4", "log_compression 'LZ4' is not one of lz4, zstd, none"),
        (
            "log_compression",
            4,
            "create_stream(): log_compression must be a str or None, not int (4)",
        ),
    ],
)
def test_a_bad_stream_option_is_a_config_error_and_changes_nothing(
    db: rillet.Database, folder: Path, option: str, value: Any, message: str
) -> None:
    db.create_stream("kept", "v INT")
    with pytest.raises(errors.ConfigError, match=re.escape(message)):
        db.create_stream("t", "v INT", **{option: value})
    assert [s.name for s in db.streams()] == ["kept"]
    assert not (folder / "streams" / "t").exists()
    with pytest.raises(errors.NotFoundError):
        db.stream("t")


@pytest.mark.parametrize(("option", "value"), [("partition", 3600), ("retention", 7)])
def test_a_non_text_partition_or_retention_is_a_config_error(
    mem: rillet.Database, option: str, value: Any
) -> None:
    with pytest.raises(errors.ConfigError):
        mem.create_stream("t", "v INT", **{option: value})


def test_drop_stream_removes_records_files_and_name(db: rillet.Database, folder: Path) -> None:
    s = db.create_stream("gone", "ts TIMESTAMP, v INT", time_column="ts")
    kept = db.create_stream("kept", "v INT")
    s.append_many([(at(1), 1), (at(3), 2)])
    s.seal(everything=True)
    s.append((at(5), 3))
    s.flush()  # nothing left for the committer thread (see the test below)
    kept.append((7,))
    assert len(parquet_files(folder / "streams" / "gone")) == 2

    db.drop_stream("GONE")

    assert not (folder / "streams" / "gone").exists()
    assert [x.name for x in db.streams()] == ["kept"]
    with pytest.raises(errors.NotFoundError):
        db.stream("gone")
    with pytest.raises(errors.NotFoundError):
        db.sql("SELECT * FROM gone")
    with pytest.raises(errors.NotFoundError):
        db.drop_stream("gone")
    assert db.sql("SELECT v FROM kept").fetchall() == [(7,)]
    again = db.create_stream("gone", "v STRING")  # the name is free, and starts afresh
    assert (len(again), again.next_offset) == (0, 0)
    assert again.append(("x",)) == 0
    assert db.sql("SELECT v FROM gone").fetchall() == [("x",)]


def test_a_maintenance_round_overlapping_drop_stream_leaves_nothing_behind(
    db: rillet.Database, folder: Path
) -> None:
    s = db.create_stream("gone", "ts TIMESTAMP, v INT", time_column="ts")
    s.append_many([(at(1), 1), (at(3), 2)])  # hour 1 is closed by event time 03:00
    db.drop_stream("gone")
    assert not (folder / "streams" / "gone").exists()
    # what a maintainer round that listed the streams just before the drop does next
    with contextlib.suppress(errors.RilletError):
        s._maintain()
    assert not (folder / "streams" / "gone").exists()


def test_a_drop_waits_for_a_seal_under_way_and_none_starts_after(
    db: rillet.Database, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = db.create_stream("gone", "ts TIMESTAMP, v INT", time_column="ts")
    s.append_many([(at(1), 1), (at(3), 2)])
    writing, go = threading.Event(), threading.Event()
    original = parquet.write_partition

    def held_up(*args: Any, **kwargs: Any) -> Any:
        writing.set()
        go.wait(5)
        return original(*args, **kwargs)

    monkeypatch.setattr(upkeep, "write_partition", held_up)
    outcome: list[object] = []
    sealer = threading.Thread(target=lambda: outcome.append(_seal_or_error(s)))
    sealer.start()
    assert writing.wait(5)
    # the drop commits between two seals: a seal's file never lands in the catalog after it
    # (where a new stream of the same name would find it, its folder removed)
    dropper = threading.Thread(target=db.drop_stream, args=("gone",))
    dropper.start()
    time.sleep(0.2)
    assert "gone" in {x.name for x in db.streams()}  # waiting for the seal
    go.set()
    sealer.join()
    dropper.join()
    assert outcome == [2]  # the seal went through (both partitions), then the stream went
    assert "gone" not in {x.name for x in db.streams()}
    assert not (folder / "streams" / "gone").exists()
    assert _seal_or_error(s) == 0  # none after


def _seal_or_error(stream: rillet.Stream) -> object:
    try:
        return stream.seal(everything=True)
    except errors.RilletError as exc:
        return exc


def test_a_dropped_stream_stays_dropped_after_reopening(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as first:
        first.create_stream("gone", "v INT").append((1,))
        first.create_stream("kept", "v INT").append((2,))
        first.drop_stream("gone")
    with rillet.connect(folder, **MANUAL) as second:
        assert [s.name for s in second.streams()] == ["kept"]
        assert not (folder / "streams" / "gone").exists()


# -- lifetime ---------------------------------------------------------------------------------


def test_close_is_idempotent_and_ends_use(folder: Path) -> None:
    database = rillet.connect(folder, **MANUAL)
    s = database.create_stream("t", "v INT")
    s.append((1,))
    database.close()
    database.close()
    with pytest.raises(errors.ConfigError, match="closed"):
        database.sql("SELECT 1")
    with pytest.raises(errors.ConfigError, match="closed"):
        database.create_stream("u", "v INT")
    with pytest.raises(errors.ConfigError, match="stream 't' is closed"):
        s.append((2,))
    with pytest.raises(errors.ConfigError, match="stream 't' is closed"):
        s.append_many([(2,)])


def test_the_context_manager_closes_and_releases_the_folder(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as database:
        database.create_stream("t", "v INT").append((1,))
    with pytest.raises(errors.ConfigError):
        database.sql("SELECT 1")
    with rillet.connect(folder, **MANUAL) as again:
        assert again.sql("SELECT v FROM t").fetchall() == [(1,)]


def _all(s: rillet.Stream) -> list[tuple[int, dict[str, Any]]]:
    return [(r.offset, dict(r)) for r in s.read(0, s.next_offset)]


def test_reopening_gives_back_every_stream_record_and_offset(folder: Path) -> None:
    schema = "ts TIMESTAMP, host STRING NOT NULL, ms DOUBLE, price PRECISE(2), tags LIST<STRING>"
    with rillet.connect(folder, **MANUAL) as first:
        relaxed = first.create_stream("relaxed", schema, time_column="ts", retention="30d")
        durable = first.create_stream("durable", schema, time_column="ts", durability="durable")
        memory = first.create_stream("memory", schema, time_column="ts", durability="memory")
        implicit = first.create_stream("implicit", "v INT", partition="1d")
        for s in (relaxed, durable, memory):
            s.append((at(1), "a", 1.5, Decimal("2.50"), ["x"]))
            s.append_many([(at(0, 30), "b", None, 3, None), (at(3), "c", 2.0, None, [])])
            s.seal(everything=True)  # offsets 0-2 in files
            s.append({"ts": at(2), "host": "d", "ms": 4.0, "price": 1.005, "tags": ["y", "z"]})
            s.append((at(5), "e", 5.5, None, None))  # offsets 3-4 in memory / log
        implicit.append_many([(1,), (2,)])
        before = {s.name: _all(s) for s in first.streams()}
        nexts = {s.name: s.next_offset for s in first.streams()}
        schemas = {s.name: str(s.schema) for s in first.streams()}
        options = {s.name: s.options for s in first.streams()}
    assert nexts == {"durable": 5, "implicit": 2, "memory": 5, "relaxed": 5}
    assert before["relaxed"][3] == (
        3,
        {"ts": at(2), "host": "d", "ms": 4.0, "price": Decimal("1.01"), "tags": ["y", "z"]},
    )

    with rillet.connect(folder, **MANUAL) as second:
        assert [s.name for s in second.streams()] == ["durable", "implicit", "memory", "relaxed"]
        for s in second.streams():
            assert _all(s) == before[s.name]
            assert s.next_offset == nexts[s.name]
            assert len(s) == nexts[s.name]
            assert str(s.schema) == schemas[s.name]
            assert s.options == options[s.name]
            assert count(second, s.name) == nexts[s.name]
        assert second.stream("implicit").time_column == "_time"
        # the next append continues the offsets
        assert second.stream("relaxed").append((at(6), "f", 0.0, None, None)) == 5
        assert second.stream("memory").append_many([(at(6), "f", 0.0, None, None)]) == 5
        assert second.stream("implicit").append((3,)) == 2
    with rillet.connect(folder, **MANUAL) as third:
        assert third.stream("relaxed").next_offset == 6
        assert third.stream("memory").next_offset == 6
        assert third.stream("implicit").next_offset == 3
        assert third.sql("SELECT host FROM memory ORDER BY ts").fetchall() == [
            ("b",),
            ("a",),
            ("d",),
            ("c",),
            ("e",),
            ("f",),
        ]


@pytest.mark.parametrize("durability", ["memory", "relaxed", "durable"])
def test_every_durability_mode_keeps_data_across_a_clean_close(
    folder: Path, durability: str
) -> None:
    rows = [(at(1, i), i, f"r{i}") for i in range(50)]
    with rillet.connect(folder, **MANUAL) as first:
        s = first.create_stream(
            "t", "ts TIMESTAMP, n INT, s STRING", time_column="ts", durability=durability
        )
        for row in rows[:20]:
            s.append(row)
        assert s.append_many(rows[20:]) == 20
        assert parquet_files(folder) == []  # nothing sealed yet: all of it in memory (and log)
    if durability == "memory":
        # a memory stream keeps data through a clean close by sealing everything
        assert len(parquet_files(folder / "streams" / "t")) == 1
        assert not (folder / "streams" / "t" / "wal").exists()
    else:
        assert parquet_files(folder) == []
        assert any((folder / "streams" / "t" / "wal").iterdir())
    with rillet.connect(folder, **MANUAL) as second:
        s = second.stream("t")
        assert [tuple(r.values()) for r in s.read(0, 100)] == rows
        assert second.sql("SELECT n, s FROM t ORDER BY n").fetchall() == [
            (n, x) for _, n, x in rows
        ]
        assert s.append((at(2), 50, "r50")) == 50


def test_a_durable_append_is_on_disk_before_it_returns(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as database:
        s = database.create_stream("t", "v INT", durability="durable")
        s.append((1,))
        s.append_many([(2,), (3,)])
        wal = folder / "streams" / "t" / "wal"
        # both appends are framed in the log already (no group commit to wait for)
        assert sum(p.stat().st_size for p in wal.iterdir()) > 0
        size = sum(p.stat().st_size for p in wal.iterdir())
        s.append((4,))
        assert sum(p.stat().st_size for p in wal.iterdir()) > size


def test_relaxed_appends_reach_the_log_by_group_commit(folder: Path) -> None:
    with rillet.connect(folder, commit_interval=0.005, **MANUAL) as database:
        s = database.create_stream("t", "v INT")
        s.append((1,))
        wal = folder / "streams" / "t" / "wal"
        # no flush() and no close(): only the committer thread can have written it
        assert wait_until(lambda: sum(p.stat().st_size for p in wal.iterdir()) > 0)


def test_records_buffered_when_the_program_ends_without_close_are_kept(folder: Path) -> None:
    program = (
        "import sys, rillet\n"
        "db = rillet.connect(sys.argv[1])\n"
        "s = db.create_stream('m', 'ts TIMESTAMP, note STRING', time_column='ts')\n"
        "s.append((1, 'x'))\n"  # buffered: the close at exit stores it
    )
    run = subprocess.run(
        [sys.executable, "-c", program, str(folder)], capture_output=True, text=True
    )
    assert run.returncode == 0 and "Traceback" not in run.stderr, run.stderr
    with rillet.connect(folder) as db:
        assert [r["note"] for r in db.stream("m").read(0, 1)] == ["x"]
