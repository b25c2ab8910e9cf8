"""Stream: append, append_many, read, scan, len, partitions, sealing, bad input, threads."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import rillet
from rillet import errors
from tests.unit.support import (
    HOUR_US,
    MANUAL,
    at,
    catalog_files,
    count,
    file_offsets,
    file_times,
    parquet_files,
    us,
    wait_until,
)

PERF = (
    "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, log_msg STRING"
)
PERF_NAMES = ("timestamp", "op_latency_ms", "cpu_util", "mem_avail", "log_msg")


@pytest.fixture
def perf(mem: rillet.Database) -> rillet.Stream:
    return mem.create_stream("perf_log", PERF, time_column="timestamp")


def _rec(*values: Any) -> dict[str, Any]:
    return dict(zip(PERF_NAMES, values, strict=True))


# -- append ----------------------------------------------------------------------------------


def test_append_takes_tuples_and_dicts_with_dense_offsets_from_zero(perf: rillet.Stream) -> None:
    assert perf.next_offset == 0
    assert len(perf) == 0
    offsets = [
        perf.append(("2024-05-01T12:00:00Z", 100.0, 0.5, 0.9, "INFO: Launched 1 tasks")),
        perf.append(
            {
                "timestamp": 1714564800_000000000,
                "op_latency_ms": 500.0,
                "cpu_util": 0.9,
                "mem_avail": 0.05,
                "log_msg": "WARN: Server {2} down",
            }
        ),
        perf.append([at(12, 0, 1), 3, 0.25, None, None]),  # a list; int promoted to DOUBLE
        perf.append({"log_msg": "only some", "timestamp": "2024-05-01T14:00:00+02:00"}),
    ]
    assert offsets == [0, 1, 2, 3]
    assert perf.next_offset == 4
    assert len(perf) == 4
    assert [dict(perf.read(o)) for o in offsets] == [
        _rec(at(12), 100.0, 0.5, 0.9, "INFO: Launched 1 tasks"),
        _rec(at(12), 500.0, 0.9, 0.05, "WARN: Server {2} down"),
        _rec(at(12, 0, 1), 3.0, 0.25, None, None),
        _rec(at(12), None, None, None, "only some"),
    ]
    assert type(perf.read(2)["op_latency_ms"]) is float


def test_a_tuple_without_the_time_column_is_stamped_with_ingest_time(perf: rillet.Stream) -> None:
    before = time.time_ns()
    offset = perf.append((1001.0, 0.9, 0.03, "WARN: Server {2, 4, 5} down"))
    after = time.time_ns()
    record = perf.read(offset)
    assert (record.offset, offset) == (0, 0)
    assert before // 1000 <= us(record["timestamp"]) <= after // 1000
    assert {k: v for k, v in record.items() if k != "timestamp"} == {
        "op_latency_ms": 1001.0,
        "cpu_util": 0.9,
        "mem_avail": 0.03,
        "log_msg": "WARN: Server {2, 4, 5} down",
    }


@pytest.mark.parametrize(
    "row",
    [
        {"op_latency_ms": 1.0, "log_msg": "no time key"},
        {"timestamp": None, "op_latency_ms": 1.0, "log_msg": "NULL time"},
        (None, 1.0, None, None, "NULL time"),
    ],
)
def test_a_record_with_a_missing_or_null_time_is_stamped(perf: rillet.Stream, row: Any) -> None:
    before = time.time_ns()
    perf.append(row)
    after = time.time_ns()
    assert before // 1000 <= us(perf.read(0)["timestamp"]) <= after // 1000


def test_a_stream_without_time_column_gets_an_implicit_stamped_time(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "v INT, s STRING")
    assert s.time_column == "_time"
    assert s.schema.names == ("_time", "v", "s")
    assert str(s.schema) == "v INT, s STRING"
    before = time.time_ns()
    assert s.append((1, "a")) == 0
    assert s.append({"v": 2, "s": "b"}) == 1
    assert s.append_many([(3, "c")]) == 2
    after = time.time_ns()
    stamps = [us(r["_time"]) for r in s.read(0, 3)]
    assert all(before // 1000 <= x <= after // 1000 for x in stamps)
    assert [(r["v"], r["s"]) for r in s.read(0, 3)] == [(1, "a"), (2, "b"), (3, "c")]
    assert mem.sql("SELECT v FROM t WHERE _time IS NOT NULL ORDER BY v").fetchall() == [
        (1,),
        (2,),
        (3,),
    ]


def test_the_time_column_may_be_anywhere_in_the_schema(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "v INT, ts TIMESTAMP, w STRING", time_column="ts")
    s.append((1, "2024-05-01T00:00:00Z", "a"))
    before = time.time_ns()
    s.append((2, "b"))  # one short: the time column (in the middle) is left out
    after = time.time_ns()
    assert dict(s.read(0)) == {"v": 1, "ts": at(0), "w": "a"}
    second = s.read(1)
    assert (second["v"], second["w"]) == (2, "b")
    assert before // 1000 <= us(second["ts"]) <= after // 1000


# -- append_many -----------------------------------------------------------------------------

ROWS = [
    (at(10, 0, 0, 1), 1.5, 0.25, None, "a"),
    (at(9, 30), 2.0, 0.5, 0.75, None),
    (at(11, 59, 59), -3.25, 1.0, 0.0, "c"),
]
COLUMNS: dict[str, list[Any]] = {n: [r[i] for r in ROWS] for i, n in enumerate(PERF_NAMES)}
ARROW = pa.table(
    {
        "timestamp": pa.array(COLUMNS["timestamp"], pa.timestamp("us", tz="UTC")),
        "op_latency_ms": pa.array(COLUMNS["op_latency_ms"], pa.float64()),
        "cpu_util": pa.array(COLUMNS["cpu_util"], pa.float64()),
        "mem_avail": pa.array(COLUMNS["mem_avail"], pa.float64()),
        "log_msg": pa.array(COLUMNS["log_msg"], pa.string()),
    }
)


def _numpy_columns() -> dict[str, Any]:
    return {
        "timestamp": np.array([us(t) for t in COLUMNS["timestamp"]], dtype="datetime64[us]"),
        "op_latency_ms": np.array(COLUMNS["op_latency_ms"]),
        "cpu_util": np.array(COLUMNS["cpu_util"], dtype=np.float32),  # float32 -> DOUBLE
        "mem_avail": pa.array(COLUMNS["mem_avail"], pa.float64()),
        "log_msg": pa.array(COLUMNS["log_msg"], pa.string()),
    }


INPUTS: dict[str, Callable[[], Any]] = {
    "list of tuples": lambda: list(ROWS),
    "list of dicts": lambda: [dict(zip(PERF_NAMES, r, strict=True)) for r in ROWS],
    "list of ISO-text tuples": lambda: [(r[0].isoformat(), *r[1:]) for r in ROWS],
    "arrow table": lambda: ARROW,
    "arrow table, columns reordered": lambda: ARROW.select(list(reversed(PERF_NAMES))),
    "arrow record batch": lambda: ARROW.to_batches()[0],
    "arrow, epoch-ns ints and float32": lambda: ARROW.set_column(
        0, "timestamp", pa.array([us(t) * 1000 for t in COLUMNS["timestamp"]], pa.int64())
    ).set_column(2, "cpu_util", ARROW.column("cpu_util").cast(pa.float32())),
    "pandas": lambda: ARROW.to_pandas(),
    "pandas, naive datetime64[ns]": lambda: pd.DataFrame(
        {
            **{n: COLUMNS[n] for n in PERF_NAMES},
            "timestamp": pd.to_datetime([us(t) for t in COLUMNS["timestamp"]], unit="us").as_unit(
                "ns"
            ),
        }
    ),
    "polars": lambda: pl.from_arrow(ARROW),
    "dict of lists": lambda: dict(COLUMNS),
    "dict of numpy and arrow arrays": _numpy_columns,
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_append_many_takes_every_input_form(perf: rillet.Stream, kind: str) -> None:
    perf.append((at(8), 0.0, 0.0, 0.0, "first"))
    assert perf.append_many(INPUTS[kind]()) == 1  # the offset of its first record
    assert perf.next_offset == 4
    assert len(perf) == 4
    assert [(r.offset, tuple(r.values())) for r in perf.read(1, 3)] == [
        (1 + i, row) for i, row in enumerate(ROWS)
    ]
    assert perf.append_many(INPUTS[kind]()) == 4
    assert [tuple(r.values()) for r in perf.read(4, 10)] == ROWS


def test_append_many_with_nothing_appends_nothing(perf: rillet.Stream) -> None:
    perf.append((at(8), 0.0, 0.0, 0.0, "first"))
    assert perf.append_many([]) == 1
    assert perf.append_many(ARROW.slice(0, 0)) == 1
    assert (len(perf), perf.next_offset) == (1, 1)


def test_append_many_without_the_time_column_stamps_every_row(perf: rillet.Stream) -> None:
    before = time.time_ns()
    first = perf.append_many(ARROW.drop_columns(["timestamp"]))
    after = time.time_ns()
    assert first == 0
    records = perf.read(0, 3)
    assert [r["log_msg"] for r in records] == ["a", None, "c"]
    assert all(before // 1000 <= us(r["timestamp"]) <= after // 1000 for r in records)


def test_append_many_leaves_missing_nullable_columns_null(perf: rillet.Stream) -> None:
    perf.append_many(pa.table({"timestamp": ["2024-05-01T00:00:00Z"], "log_msg": ["x"]}))
    assert dict(perf.read(0)) == _rec(at(0), None, None, None, "x")


# -- read, scan, len, schema -------------------------------------------------------------------


def test_read_returns_a_read_only_record_mapping(perf: rillet.Stream) -> None:
    perf.append(ROWS[0])
    record = perf.read(0)
    assert isinstance(record, Mapping)
    assert isinstance(record, rillet.Record)
    assert record.offset == 0
    assert list(record) == list(PERF_NAMES)
    assert len(record) == 5
    assert record["log_msg"] == "a"
    assert record.get("nope", "default") == "default"
    assert record.values_tuple() == ROWS[0]
    with pytest.raises(KeyError):
        record["nope"]
    with pytest.raises(TypeError):
        record["log_msg"] = "b"  # type: ignore[index]


def test_read_with_a_count_returns_the_records_that_exist(perf: rillet.Stream) -> None:
    for i in range(15):
        perf.append((at(1, i), float(i), None, None, str(i)))
    got = perf.read(3, 10)
    assert [r.offset for r in got] == list(range(3, 13))
    assert [r["log_msg"] for r in got] == [str(i) for i in range(3, 13)]
    assert [r.offset for r in perf.read(10, 10)] == [10, 11, 12, 13, 14]  # fewer at the end
    assert perf.read(15, 10) == []
    assert perf.read(0, 0) == []


@pytest.mark.parametrize("offset", [-1, 3, 100])
def test_read_of_a_missing_offset_is_not_found(perf: rillet.Stream, offset: int) -> None:
    perf.append_many(ROWS)
    with pytest.raises(
        errors.NotFoundError, match=f"stream 'perf_log' has no record at offset {offset}"
    ) as info:
        perf.read(offset)
    assert (info.value.kind, info.value.name) == ("record", str(offset))


def test_read_gives_the_same_record_from_buffer_memory_file_and_after_reopening(
    folder: Path,
) -> None:
    schema = (
        "ts TIMESTAMP, b BOOLEAN, i INT, g BIGINT, f FLOAT, d DOUBLE, p PRECISE(3), "
        "s STRING, y BINARY, l LIST<INT>, lt LIST<TIMESTAMP>"
    )
    row = (
        "2024-05-01T10:00:00.123456Z",
        True,
        -(2**31),
        2**63 - 1,
        0.1,
        1e300,
        "placeholder",
        "ü",
        b"\x00\xff",
        [1, None, 3],
        ["2024-05-01T00:00:00Z"],
    )
    values = (*row[:6], Decimal("-1.2345"), *row[7:])
    expected = {
        "ts": at(10, 0, 0, 123456),
        "b": True,
        "i": -(2**31),
        "g": 2**63 - 1,
        "f": float(np.float32(0.1)),
        "d": 1e300,
        "p": Decimal("-1.235"),  # rounded half-up to the scale (away from zero)
        "s": "ü",
        "y": b"\x00\xff",
        "l": [1, None, 3],
        "lt": [at(0)],
    }
    with rillet.connect(folder, **MANUAL) as database:
        s = database.create_stream("t", schema, time_column="ts")
        s.append(values)
        buffered = dict(s.read(0))
        s.flush()
        for _ in range(5):  # push it out of the recently-flushed rows: read from memory
            s.append_many([values])
        in_memory = dict(s.read(0))
        s.seal(everything=True)
        in_file = dict(s.read(0))
        assert parquet_files(folder)
    with rillet.connect(folder, **MANUAL) as database:
        reopened = dict(database.stream("t").read(0))
    assert buffered == expected
    assert in_memory == expected
    assert in_file == expected
    assert reopened == expected


def test_a_list_of_float_reads_the_same_before_and_after_flushing(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, l LIST<FLOAT>", time_column="ts")
    s.append((at(0), [0.1]))
    buffered = s.read(0)["l"]
    s.flush()
    for _ in range(5):
        s.append_many([(at(0), [0.5])])
    in_memory = s.read(0)["l"]
    assert in_memory == [float(np.float32(0.1))]
    assert buffered == in_memory


def test_len_and_schema(mem: rillet.Database) -> None:
    s = mem.create_stream(
        "Perf", 'TS TIMESTAMP, "Host" STRING NOT NULL, ms DOUBLE', time_column="ts"
    )
    assert s.name == "perf"
    assert s.schema.names == ("ts", "Host", "ms")  # unquoted names are lower-cased
    assert str(s.schema) == 'ts TIMESTAMP NOT NULL, "Host" STRING NOT NULL, ms DOUBLE'
    assert s.schema.arrow == pa.schema(
        [
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("Host", pa.string(), nullable=False),
            pa.field("ms", pa.float64()),
        ]
    )
    assert len(s) == 0
    s.append((at(0), "h", 1.0))
    s.append_many([(at(1), "h", 2.0), (at(2), "g", 3.0)])
    assert len(s) == 3
    assert mem.sql('SELECT "Host", count(*) FROM perf GROUP BY 1 ORDER BY 1').fetchall() == [
        ("g", 1),
        ("h", 2),
    ]


def _scan_data() -> list[tuple[dt.datetime, int]]:
    # out of order, with duplicates of one time, across four hourly partitions
    minutes = [130, 5, 61, 59, 0, 200, 61, 119, 120, 30, 239, 60]
    return [(at(0) + dt.timedelta(minutes=m), i) for i, m in enumerate(minutes)]


@pytest.mark.parametrize("sealed", [False, True])
def test_scan_yields_event_time_order_within_bounds(db: rillet.Database, sealed: bool) -> None:
    s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", partition="1h")
    data = _scan_data()
    s.append_many(data[:6])
    if sealed:
        s.seal(everything=True)
    for row in data[6:]:
        s.append(row)
    expected_all = sorted((t, off) for off, (t, _) in enumerate(data))
    assert [(r["ts"], r.offset) for r in s.scan()] == expected_all
    assert all(r["v"] == r.offset for r in s.scan())
    start, end = at(1), at(2)
    expected = [(t, o) for t, o in expected_all if start <= t < end]
    assert [(r["ts"], r.offset) for r in s.scan(start, end)] == expected
    # the same bounds as ISO text and epoch nanoseconds, mixed
    assert [r.offset for r in s.scan("2024-05-01T01:00:00Z", us(end) * 1000)] == [
        o for _, o in expected
    ]
    assert [r.offset for r in s.scan(us(start) * 1000, "2024-05-01T02:00:00+00:00")] == [
        o for _, o in expected
    ]
    # hand-worked: minutes 60, 61, 61, 119 -> offsets 11, 2, 6, 7 (start included, end not)
    assert [r.offset for r in s.scan(start, end)] == [11, 2, 6, 7]
    assert [r.offset for r in s.scan(None, at(0, 30))] == [4, 1]
    assert [r.offset for r in s.scan(at(3, 59))] == [10]
    assert [r.offset for r in s.scan(at(2), at(2))] == []
    assert list(s.scan(at(5))) == []
    naive = at(2).replace(tzinfo=None)  # naive datetimes are UTC
    assert [r.offset for r in s.scan(naive, at(3))] == [8, 0]


def test_scan_honours_sub_microsecond_bounds(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
    s.append((1_000_000_000, 1))
    assert [r.offset for r in s.scan(None, 1_000_000_001)] == [0]
    assert [r.offset for r in s.scan(1_000_000_001, None)] == []


def test_scan_rejects_an_unparsable_bound_when_called(perf: rillet.Stream) -> None:
    with pytest.raises(errors.InputError) as info:
        perf.scan(None, "yesterday")  # not only once iterated
    assert str(info.value) == (
        "scan(): end must be a time (datetime, ISO-8601 text or epoch ns) or None, "
        "not str ('yesterday')"
    )


# -- partitions and sealing -------------------------------------------------------------------


def test_out_of_order_records_land_in_the_partition_of_their_time(
    db: rillet.Database, folder: Path
) -> None:
    s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", partition="1h")
    times = [at(10, 30), at(12, 10), at(11, 59, 59, 999999), at(10), at(12), at(9, 59, 59)]
    for i, t in enumerate(times[:3]):
        s.append((t, i))
    s.append_many([(t, i + 3) for i, t in enumerate(times[3:])])
    s.flush()
    assert s.seal(everything=True) == 4
    stamps = {}
    for path in parquet_files(folder):
        start = dt.datetime.strptime(path.parent.name, "%Y%m%dT%H%M%S").replace(tzinfo=dt.UTC)
        stamps[path.parent.name] = file_offsets(path)
        assert all(us(start) <= x < us(start) + HOUR_US for x in file_times(path, "ts"))
    assert stamps == {
        "20240501T090000": [5],
        "20240501T100000": [0, 3],
        "20240501T110000": [2],
        "20240501T120000": [1, 4],
    }
    assert [row[1:] for row in catalog_files(folder)] == [
        (us(at(9)), 1, 5, 5, us(at(9, 59, 59)), us(at(9, 59, 59))),
        (us(at(10)), 2, 0, 3, us(at(10)), us(at(10, 30))),
        (us(at(11)), 1, 2, 2, us(at(11, 59, 59, 999999)), us(at(11, 59, 59, 999999))),
        (us(at(12)), 2, 1, 4, us(at(12)), us(at(12, 10))),
    ]
    # sealing moved the records, it did not change them
    assert [(r["ts"], r["v"]) for r in s.read(0, 6)] == [(t, i) for i, t in enumerate(times)]
    assert len(s) == 6


def test_seal_writes_a_partition_once_event_time_passes_its_end_plus_grace(
    db: rillet.Database, folder: Path
) -> None:
    s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", partition="1h")
    s.append_many([(at(10, 10), 0), (at(10, 50), 1)])
    s.append_many([(at(11, 5, 59), 2)])  # grace is a tenth of an hour: 11:06
    assert s.seal() == 0
    assert parquet_files(folder) == []
    s.append_many([(at(11, 6), 3)])
    assert s.seal() == 1
    [path] = parquet_files(folder)
    assert path.parent.name == "20240501T100000"
    assert file_offsets(path) == [0, 1]
    # a late record for the sealed partition goes to memory, then to a second file
    s.append_many([(at(10, 20), 4)])
    assert [r.offset for r in s.scan(at(10), at(11))] == [0, 4, 1]
    assert s.seal() == 1
    assert [file_offsets(p) for p in parquet_files(folder)] == [[0, 1], [4]]
    assert [r.offset for r in s.scan(at(10), at(11))] == [0, 4, 1]
    assert count(db, "t") == 5


def test_seal_rows_seals_an_open_partition_that_grows_too_big(folder: Path) -> None:
    with rillet.connect(folder, seal_rows=3, **MANUAL) as database:
        s = database.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
        s.append_many([(at(10, m), m) for m in range(2)])
        assert s.seal() == 0
        s.append_many([(at(10, 2), 2)])
        assert s.seal() == 1
        assert [file_offsets(p) for p in parquet_files(folder)] == [[0, 1, 2]]


def test_the_background_maintainer_seals_closed_partitions(folder: Path) -> None:
    with rillet.connect(folder, maintenance_interval=0.05) as database:
        s = database.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", partition="1h")
        s.append((at(10, 10), 0))
        s.append((at(10, 50), 1))
        s.append((at(11, 30), 2))  # passes 11:06: partition 10:00 is closed
        # the file is renamed into place first, then entered in the catalog
        assert wait_until(lambda: len(catalog_files(folder)) == 1)
        [path] = parquet_files(folder)
        assert path.parent.name == "20240501T100000"
        assert file_offsets(path) == [0, 1]
        assert [row[1:] for row in catalog_files(folder)] == [
            (us(at(10)), 2, 0, 1, us(at(10, 10)), us(at(10, 50)))
        ]
        assert [r["v"] for r in s.scan()] == [0, 1, 2]
        assert len(s) == 3


def test_a_calendar_partition_follows_the_gregorian_month(
    db: rillet.Database, folder: Path
) -> None:
    s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts", partition="monthly")
    s.append_many(
        [
            ("2024-02-29T23:59:59Z", 0),
            ("2024-03-01T00:00:00Z", 1),
            ("2024-02-01T00:00:00Z", 2),
            ("2024-01-31T12:00:00Z", 3),
        ]
    )
    s.seal(everything=True)
    assert {p.parent.name: file_offsets(p) for p in parquet_files(folder)} == {
        "20240101T000000": [3],
        "20240201T000000": [0, 2],
        "20240301T000000": [1],
    }


# -- bad input ---------------------------------------------------------------------------------

BAD = "ts TIMESTAMP, cpu_util DOUBLE, host STRING NOT NULL, n INT"


@pytest.fixture
def checked(db: rillet.Database) -> rillet.Stream:
    """A stream with records in a file, in memory and in the append buffer."""
    s = db.create_stream("perf_log", BAD, time_column="ts")
    s.append_many([(at(1), 0.5, "a", 1), (at(2), 0.25, "b", 2)])
    s.seal(everything=True)
    s.append_many([(at(3), 0.75, "c", 3)])
    s.append((at(4), 1.0, "d", 4))
    return s


BadCall = Callable[[rillet.Stream], object]
CASES: list[tuple[str, BadCall, type[errors.RilletError], str, dict[str, Any]]] = [
    (
        "wrong type",
        lambda s: s.append((at(5), "high", "h", 1)),
        errors.RecordError,
        "column 'cpu_util' of row 0 in stream 'perf_log': expected DOUBLE, got str "
        "(value 'high', column type DOUBLE)",
        {"stream": "perf_log", "column": "cpu_util", "row": 0, "value": "high"},
    ),
    (
        "wrong type in row 3 of a batch (the README's example)",
        lambda s: s.append_many(
            [(at(5 + i), 0.5, "h", i) for i in range(3)] + [(at(9), "high", "h", 3)]
        ),
        errors.RecordError,
        "column 'cpu_util' of row 3 in stream 'perf_log': expected DOUBLE, got str "
        "(value 'high', column type DOUBLE)",
        {"stream": "perf_log", "column": "cpu_util", "row": 3, "value": "high"},
    ),
    (
        "arrow booleans are not numbers",
        lambda s: s.append_many(pa.table({"host": ["h"], "n": [True]})),
        errors.RecordError,
        "column 'n' of stream 'perf_log': cannot store bool values in a INT column",
        {"stream": "perf_log", "column": "n", "row": None, "value": None},
    ),
    (
        "arrow numbers do not turn into STRING",
        lambda s: s.append_many(pa.table({"host": [1]})),
        errors.RecordError,
        "column 'host' of stream 'perf_log': cannot store int64 values in a STRING NOT NULL column",
        {"stream": "perf_log", "column": "host", "row": None, "value": None},
    ),
    (
        "bool is not a number",
        lambda s: s.append((at(5), 1.0, "h", True)),
        errors.RecordError,
        "column 'n' of row 0 in stream 'perf_log': expected INT, got bool",
        {"stream": "perf_log", "column": "n", "row": 0, "value": True},
    ),
    (
        "a number is not a STRING",
        lambda s: s.append({"ts": at(5), "host": 7}),
        errors.RecordError,
        "column 'host' of row 0 in stream 'perf_log': expected STRING, got int",
        {"stream": "perf_log", "column": "host", "row": 0, "value": 7},
    ),
    (
        "INT out of range",
        lambda s: s.append((at(5), 1.0, "h", 2**31)),
        errors.RecordError,
        "column 'n' of row 0 in stream 'perf_log': 2147483648 is out of range for INT",
        {"stream": "perf_log", "column": "n", "row": 0, "value": 2**31},
    ),
    (
        "unknown column",
        lambda s: s.append({"ts": at(5), "cpu_utl": 1.0, "host": "h", "n": 1}),
        errors.RecordError,
        "unknown column 'cpu_utl' in row 0 of stream 'perf_log'; did you mean 'cpu_util'?",
        {"stream": "perf_log", "column": "cpu_utl", "row": 0, "value": 1.0},
    ),
    (
        "missing NOT NULL column",
        lambda s: s.append({"ts": at(5), "cpu_util": 1.0}),
        errors.RecordError,
        "column 'host' of row 0 in stream 'perf_log': NULL in a NOT NULL column "
        "(value None, column type STRING NOT NULL)",
        {"stream": "perf_log", "column": "host", "row": 0, "value": None},
    ),
    (
        "NULL in NOT NULL, middle of a batch",
        lambda s: s.append_many(
            [
                (at(5), 1.0, "h", 1),
                (at(6), 1.0, "i", 2),
                (at(7), 1.0, None, 3),
                (at(8), 1.0, "j", 4),
            ]
        ),
        errors.RecordError,
        "column 'host' of row 2 in stream 'perf_log': NULL in a NOT NULL column",
        {"stream": "perf_log", "column": "host", "row": 2, "value": None},
    ),
    (
        "NULL in NOT NULL, arrow batch",
        lambda s: s.append_many(
            pa.table({"ts": [at(5), at(6), at(7)], "host": ["h", None, "j"], "n": [1, 2, 3]})
        ),
        errors.RecordError,
        "column 'host' of row 1 in stream 'perf_log': NULL in a NOT NULL column",
        {"stream": "perf_log", "column": "host", "row": 1, "value": None},
    ),
    (
        "NULL in NOT NULL, dict of columns",
        lambda s: s.append_many({"ts": [at(5), at(6)], "host": ["h", None], "n": [1, 2]}),
        errors.RecordError,
        "column 'host' of row 1 in stream 'perf_log': NULL in a NOT NULL column",
        {"stream": "perf_log", "column": "host", "row": 1, "value": None},
    ),
    (
        "too many tuple values",
        lambda s: s.append((at(5), 1.0, "h", 1, "extra")),
        errors.RecordError,
        "row 0 of stream 'perf_log' has 5 values; the schema has 4 columns "
        "(ts, cpu_util, host, n), or 3 without the time column 'ts'",
        {"stream": "perf_log", "column": None, "row": 0, "value": (at(5), 1.0, "h", 1, "extra")},
    ),
    (
        "too few tuple values",
        lambda s: s.append((1.0, "h")),
        errors.RecordError,
        "row 0 of stream 'perf_log' has 2 values",
        {"stream": "perf_log", "column": None, "row": 0, "value": (1.0, "h")},
    ),
    (
        "wrong tuple length in a batch",
        lambda s: s.append_many([(at(5), 1.0, "h", 1), (at(6),)]),
        errors.RecordError,
        "row 1 of stream 'perf_log' has 1 values",
        {"stream": "perf_log", "column": None, "row": 1, "value": (at(6),)},
    ),
    (
        "unparsable time",
        lambda s: s.append(("yesterday", 1.0, "h", 1)),
        errors.RecordError,
        "column 'ts' of row 0 in stream 'perf_log': 'yesterday' is not an ISO-8601 time",
        {"stream": "perf_log", "column": "ts", "row": 0, "value": "yesterday"},
    ),
    (
        "unparsable time in an arrow batch",
        lambda s: s.append_many(
            pa.table(
                {
                    "ts": ["2024-05-01T00:00:00Z", "2024-05-01T01:00:00Z", "noon"],
                    "host": ["a", "b", "c"],
                }
            )
        ),
        errors.RecordError,
        "column 'ts' of row 2 in stream 'perf_log': 'noon' does not fit TIMESTAMP",
        {"stream": "perf_log", "column": "ts", "row": 2, "value": "noon"},
    ),
    (
        "a float time",
        lambda s: s.append((1.5e18, 1.0, "h", 1)),
        errors.RecordError,
        "column 'ts' of row 0 in stream 'perf_log'",
        {"stream": "perf_log", "column": "ts", "row": 0, "value": 1.5e18},
    ),
    (
        "not a row",
        lambda s: s.append("ts=1"),
        errors.RecordError,
        "row 0 of stream 'perf_log' must be a tuple, list or mapping, not str",
        {"stream": "perf_log", "column": None, "row": 0, "value": "ts=1"},
    ),
    (
        "not a batch",
        lambda s: s.append_many(42),
        errors.RecordError,
        "append_many(): data for stream 'perf_log' must be rows, a dict of columns",
        {"stream": "perf_log", "column": None, "row": None, "value": None, "argument": "data"},
    ),
    (
        "arrow column of a wrong type",
        lambda s: s.append_many(pa.table({"host": ["h"], "cpu_util": ["high"]})),
        errors.RecordError,
        "column 'cpu_util' of stream 'perf_log': cannot store string values in a DOUBLE column",
        {"stream": "perf_log", "column": "cpu_util", "row": None, "value": None},
    ),
    (
        "arrow value out of range",
        lambda s: s.append_many(
            pa.table({"host": ["a", "b"], "n": pa.array([1, 2**40], pa.int64())})
        ),
        errors.RecordError,
        "column 'n' of row 1 in stream 'perf_log': 1099511627776 does not fit INT",
        {"stream": "perf_log", "column": "n", "row": 1, "value": 2**40},
    ),
    (
        "arrow unknown column",
        lambda s: s.append_many(pa.table({"host": ["h"], "cpu_utl": [1.0]})),
        errors.SchemaError,
        "unknown column 'cpu_utl' for stream 'perf_log'; did you mean 'cpu_util'?",
        {"stream": "perf_log", "column": "cpu_utl"},
    ),
    (
        "arrow missing NOT NULL column",
        lambda s: s.append_many(pa.table({"ts": [at(5)], "cpu_util": [1.0]})),
        errors.SchemaError,
        "column 'host' (STRING NOT NULL) of stream 'perf_log' is missing",
        {"stream": "perf_log", "column": "host"},
    ),
    (
        "pandas wrong type",
        lambda s: s.append_many(pd.DataFrame({"host": ["h"], "n": [1.5]})),
        errors.RecordError,
        "column 'n' of stream 'perf_log': cannot store double values in a INT column",
        {"stream": "perf_log", "column": "n", "row": None, "value": None},
    ),
    (
        "columns of different lengths",
        lambda s: s.append_many({"ts": [at(5)], "host": ["a", "b"]}),
        errors.SchemaError,
        "columns for stream 'perf_log' differ in length: {'ts': 1, 'host': 2}",
        {},
    ),
]


@pytest.mark.parametrize(
    ("call", "kind", "message", "detail"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_raises_a_precise_error_and_changes_nothing(
    db: rillet.Database,
    checked: rillet.Stream,
    call: BadCall,
    kind: type[errors.RilletError],
    message: str,
    detail: dict[str, Any],
) -> None:
    before = [dict(r) for r in checked.read(0, 10)]
    assert (len(checked), checked.next_offset, count(db, "perf_log")) == (4, 4, 4)
    with pytest.raises(kind) as info:
        call(checked)
    assert type(info.value) is kind
    assert isinstance(info.value, errors.InputError)
    assert message in str(info.value)
    assert info.value.detail == detail
    assert (len(checked), checked.next_offset, count(db, "perf_log")) == (4, 4, 4)
    assert [dict(r) for r in checked.read(0, 10)] == before
    assert checked.append((at(9), 2.0, "z", 9)) == 4  # no offset was used up
    assert count(db, "perf_log") == 5


@pytest.mark.parametrize("form", ["pandas", "numpy"])
def test_an_unconvertible_object_column_is_a_record_error(perf: rillet.Stream, form: str) -> None:
    values = np.array(["a", 1], dtype=object)
    data: Any = pd.DataFrame({"log_msg": values}) if form == "pandas" else {"log_msg": values}
    with pytest.raises(errors.RecordError, match="'log_msg'"):
        perf.append_many(data)
    assert (len(perf), perf.next_offset) == (0, 0)


@pytest.mark.parametrize("form", ["arrow", "numpy", "pandas"])
def test_iso_text_without_an_offset_is_utc_in_every_batch_form(
    perf: rillet.Stream, form: str
) -> None:
    text = ["2024-05-01T12:00:00", "2024-05-01 13:30:00"]
    data: Any = {
        "arrow": pa.table({"timestamp": text}),
        "numpy": {"timestamp": np.array(text)},
        "pandas": pd.DataFrame({"timestamp": text}),
    }[form]
    assert perf.append((text[0], None, None, None, None)) == 0  # accepted as UTC
    assert perf.append_many(data) == 1
    assert [r["timestamp"] for r in perf.read(0, 3)] == [at(12), at(12), at(13, 30)]


def test_a_batch_may_mix_iso_text_with_and_without_an_offset(perf: rillet.Stream) -> None:
    text = ["2024-05-01T12:00:00", "2024-05-01T13:00:00Z"]
    assert perf.append_many([(t, None, None, None, None) for t in text]) == 0
    assert perf.append_many(pa.table({"timestamp": text})) == 2
    assert [r["timestamp"] for r in perf.read(0, 4)] == [at(12), at(13), at(12), at(13)]


# -- threads -----------------------------------------------------------------------------------


def test_concurrent_appends_get_distinct_dense_offsets(folder: Path) -> None:
    threads, per_thread, batch = 8, 1200, 40
    base = us(at(0)) * 1000
    with rillet.connect(folder, maintenance_interval=0.05, seal_rows=1000) as database:
        s = database.create_stream("t", "ts TIMESTAMP, th INT, i INT, tag STRING", time_column="ts")
        returned: dict[int, list[tuple[int, int]]] = {t: [] for t in range(threads)}
        start = threading.Barrier(threads)

        def row(t: int, i: int) -> tuple[int, int, int, str]:
            return (base + (i * threads + t) * 1_000_000, t, i, f"{t}:{i}")

        def work(t: int) -> None:
            start.wait()
            i = calls = 0
            while i < per_thread:
                calls += 1
                if t % 2 == 0 or calls % 2 == 0:  # even threads: single appends only
                    returned[t].append((s.append(row(t, i)), i))
                    i += 1
                else:  # odd threads: alternate append_many and append
                    n = min(batch, per_thread - i)
                    first = s.append_many([row(t, j) for j in range(i, i + n)])
                    returned[t].extend((first + k, i + k) for k in range(n))
                    i += n

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        total = threads * per_thread
        offsets = sorted(o for pairs in returned.values() for o, _ in pairs)
        assert offsets == list(range(total))
        assert s.next_offset == total
        assert len(s) == total
        for t, pairs in returned.items():
            for offset, i in pairs:
                record = s.read(offset)
                assert (record["th"], record["i"], record["tag"]) == (t, i, f"{t}:{i}")
                assert us(record["ts"]) * 1000 == row(t, i)[0]
        assert database.sql("SELECT count(*), count(DISTINCT tag) FROM t").fetchall() == [
            (total, total)
        ]
        # offsets of one thread's appends ascend in the order it made them
        for pairs in returned.values():
            assert [o for o, _ in pairs] == sorted(o for o, _ in pairs)
