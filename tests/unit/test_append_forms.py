"""Single appends in every form the time takes: epoch ns, datetimes (naive, aware in any
zone), ISO-8601 text, left out, NULL; alone or mixed in one buffer.  Each stored time is
checked against plain Python arithmetic on the datetime, before and after the buffer becomes
a batch; every bad time is refused at ``append`` and leaves nothing appended."""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rillet
from rillet import errors
from tests.unit.support import FakeClock, us

PERF = (
    "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, log_msg STRING"
)
NAMES = ("timestamp", "op_latency_ms", "cpu_util", "mem_avail", "log_msg")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
WHEN = dt.datetime(2024, 5, 1, 12, 30, 15, 123456)  # noqa: DTZ001 (naive: UTC)


def expected_us(value: Any) -> int:
    """The stored microseconds of a time, by datetime arithmetic alone."""
    if isinstance(value, int):
        return value // 1000
    when: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return (when - EPOCH) // dt.timedelta(microseconds=1)


FORMS: dict[str, Any] = {
    "epoch ns": 1_714_566_615_123_456_789,
    "naive datetime": WHEN,
    "UTC datetime": WHEN.replace(tzinfo=dt.UTC),
    "fixed offset datetime": WHEN.replace(tzinfo=dt.timezone(dt.timedelta(hours=-5, minutes=-30))),
    "zoneinfo datetime": WHEN.replace(tzinfo=BERLIN),
    "ISO text Z": "2024-05-01T12:30:15.123456Z",
    "ISO text offset": "2024-05-01T12:30:15+02:00",
    "ISO text naive": "2024-05-01T12:30:15.5",
    "ISO text space": "2024-05-01 12:30:15",
    "ISO date": "2024-05-01",
    "year 1": dt.datetime(1, 1, 1),  # noqa: DTZ001
    "year 9999 text": "9999-12-31T23:59:59.999999Z",
}


@pytest.fixture
def perf(mem: rillet.Database) -> rillet.Stream:
    return mem.create_stream("perf_log", PERF, time_column="timestamp")


def stored(stream: rillet.Stream, count: int) -> list[int]:
    return [us(r["timestamp"]) for r in stream.read(0, count)]


@pytest.mark.parametrize("form", list(FORMS))
@pytest.mark.parametrize("shape", ["tuple", "dict"])
def test_every_time_form_is_stored_as_its_instant(
    mem: rillet.Database, perf: rillet.Stream, form: str, shape: str
) -> None:
    value = FORMS[form]
    row = (value, 1.5, 0.5, 0.25, "ok")
    assert perf.append(row if shape == "tuple" else dict(zip(NAMES, row, strict=True))) == 0
    want = expected_us(value)
    assert stored(perf, 1) == [want]  # from the buffer
    perf.flush()
    assert stored(perf, 1) == [want]  # from the batch
    got = mem.sql("SELECT epoch_us(timestamp), op_latency_ms, log_msg FROM perf_log").fetchall()
    assert got == [(want, 1.5, "ok")]


def test_a_buffer_may_mix_every_form(mem: rillet.Database, perf: rillet.Stream) -> None:
    values = list(FORMS.values())
    for i, value in enumerate(values):
        perf.append((value, float(i), None, None, None))
    perf.append((None, float(len(values)), None, None, None))
    want = [expected_us(v) for v in values]
    assert stored(perf, len(values)) == want
    perf.flush()
    assert stored(perf, len(values)) == want
    got = mem.sql(
        "SELECT epoch_us(timestamp) FROM perf_log WHERE op_latency_ms < ? ORDER BY op_latency_ms",
        [len(values)],
    ).fetchall()
    assert [g[0] for g in got] == want


@pytest.mark.parametrize("first", list(FORMS))
def test_each_form_beside_epoch_ns_in_one_buffer(perf: rillet.Stream, first: str) -> None:
    perf.append((FORMS[first], 1.0, None, None, None))
    perf.append((5_000, 2.0, None, None, None))  # 5 us after the epoch
    perf.append((FORMS[first], 3.0, None, None, None))
    perf.flush()
    assert stored(perf, 3) == [expected_us(FORMS[first]), 5, expected_us(FORMS[first])]


@pytest.mark.parametrize(
    "row",
    [
        (1.0, 0.5, 0.25, "left out"),
        (None, 1.0, 0.5, 0.25, "NULL"),
        {"op_latency_ms": 1.0, "cpu_util": 0.5, "mem_avail": 0.25, "log_msg": "no key"},
        {"timestamp": None, "op_latency_ms": 1.0, "cpu_util": 0.5, "mem_avail": 0.25,
         "log_msg": "NULL"},
    ],
)  # fmt: skip
def test_records_without_a_time_share_the_ingest_time_of_their_buffer(
    perf: rillet.Stream, row: Any
) -> None:
    before = time.time_ns() // 1000
    for _ in range(3):
        perf.append(row)
    after = time.time_ns() // 1000
    buffered = stored(perf, 3)
    assert before <= buffered[0] <= after
    assert buffered == [buffered[0]] * 3  # stamped once, when the first arrived
    perf.flush()
    assert stored(perf, 3) == buffered  # what was read before is what was stored


def test_missing_times_are_stamped_by_the_database_clock() -> None:
    """A database given a clock stamps untimed records with it, single or bulk."""
    clock = FakeClock(dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    with rillet.connect(clock=clock) as db:
        s = db.create_stream("p", PERF, time_column="timestamp")
        s.append((1.0, 0.5, 0.5, "one"))
        s.append_many([{"op_latency_ms": 2.0, "log_msg": "two"}])
        s.append_many({"op_latency_ms": [3.0], "timestamp": [None]})
        s.flush()
        want = expected_us(dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
        assert stored(s, 3) == [want] * 3


BAD = [
    ("not a date", "not an ISO-8601 time"),
    ("2024-13-01T00:00:00Z", "not an ISO-8601 time"),
    ("", "not an ISO-8601 time"),
    (True, "expected a TIMESTAMP, got bool"),
    (1.5, "expected a time"),
    (2**75, "out of range for TIMESTAMP"),
    ([2024, 5, 1], "expected a time"),
]


@pytest.mark.parametrize(("value", "message"), BAD, ids=[repr(b[0]) for b in BAD])
@pytest.mark.parametrize("shape", ["tuple", "dict"])
def test_a_bad_time_is_refused_at_append_naming_column_and_value(
    mem: rillet.Database, perf: rillet.Stream, value: Any, message: str, shape: str
) -> None:
    perf.append((WHEN, 1.0, None, None, "kept"))
    row = (value, 2.0, None, None, "refused")
    with pytest.raises(errors.RecordError) as info:
        perf.append(row if shape == "tuple" else dict(zip(NAMES, row, strict=True)))
    assert (info.value.stream, info.value.column, info.value.row) == ("perf_log", "timestamp", 0)
    assert info.value.value == value
    assert message in str(info.value)
    assert "column 'timestamp'" in str(info.value)
    assert (len(perf), perf.next_offset) == (1, 1)
    perf.flush()
    assert mem.sql("SELECT log_msg FROM perf_log").fetchall() == [("kept",)]


def test_a_stream_whose_time_is_not_the_first_column(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "v INT, ts TIMESTAMP, s STRING", time_column="ts")
    s.append((1, WHEN, "a"))
    s.append((2, "2024-05-01T12:30:15.123456Z", "b"))
    before = time.time_ns() // 1000
    s.append((3, "c"))  # time left out
    s.append({"v": 4, "s": "d"})
    s.flush()
    records = s.read(0, 4)
    assert [(r["v"], r["s"]) for r in records] == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert [us(r["ts"]) for r in records[:2]] == [expected_us(WHEN)] * 2
    assert all(us(r["ts"]) >= before for r in records[2:])


def test_a_stream_with_only_a_time_column(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP", time_column="ts")
    s.append((WHEN,))
    s.append(())
    s.flush()
    assert us(s.read(0)["ts"]) == expected_us(WHEN)
    assert us(s.read(1)["ts"]) > expected_us(WHEN)


aware = st.datetimes(
    min_value=dt.datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis bounds are naive)
    max_value=dt.datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.one_of(
        st.none(),
        st.just(dt.UTC),
        st.builds(
            dt.timezone,
            st.timedeltas(min_value=dt.timedelta(hours=-23), max_value=dt.timedelta(hours=23)),
        ),
    ),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(aware, st.sampled_from(["datetime", "text", "epoch"])), max_size=20))
def test_any_times_in_any_forms_store_their_instants(times: list[tuple[dt.datetime, str]]) -> None:
    with rillet.connect() as db:
        s = db.create_stream("t", "ts TIMESTAMP, i INT", time_column="ts")
        want = []
        for i, (when, form) in enumerate(times):
            value: Any = when
            if form == "text":
                value = when.isoformat()
            elif form == "epoch":
                if not 1678 < when.year < 2262:
                    value = when  # epoch ns hold only 1677 to 2262
                else:
                    value = expected_us(when) * 1000 + 999
            want.append(expected_us(value))
            s.append((value, i))
        assert [us(r["ts"]) for r in s.read(0, len(times))] == want
        s.flush()
        assert [us(r["ts"]) for r in s.read(0, len(times))] == want


FOLD = dt.datetime(2024, 10, 27, 2, 30, tzinfo=BERLIN)  # the hour Berlin lives twice
DATETIME_BUFFERS = {
    "naive": [WHEN, dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)],  # noqa: DTZ001
    "aware": [FORMS["UTC datetime"], FORMS["fixed offset datetime"], FOLD, FOLD.replace(fold=1)],
    "naive and aware": [WHEN, FORMS["zoneinfo datetime"], WHEN],
    "with None": [WHEN, None, FORMS["UTC datetime"]],
}


@pytest.mark.parametrize("name", list(DATETIME_BUFFERS))
@pytest.mark.parametrize("time_first", [True, False])
def test_a_buffer_of_datetimes_converts_in_bulk_to_their_instants(
    mem: rillet.Database, name: str, time_first: bool
) -> None:
    schema = "ts TIMESTAMP, v INT, s STRING" if time_first else "v INT, s STRING, ts TIMESTAMP"
    s = mem.create_stream("t", schema, time_column="ts")
    times = DATETIME_BUFFERS[name]
    for i, when in enumerate(times):
        s.append((when, i, "x") if time_first else (i, "x", when))
    s.flush()
    rows = s.read(0, len(times))
    stamped = us(rows[1]["ts"]) if name == "with None" else None
    assert [us(r["ts"]) for r in rows] == [
        stamped if when is None else expected_us(when) for when in times
    ]
    assert [(r["v"], r["s"]) for r in rows] == [(i, "x") for i in range(len(times))]


def test_a_dict_of_columns_may_mix_arrow_numpy_and_lists(mem: rillet.Database) -> None:
    """An Arrow column beside Python lists gives its values as Python's: each row is read
    as a single append reads it."""
    import numpy as np
    import pyarrow as pa

    stream = mem.create_stream("mixed", "ts TIMESTAMP, host STRING, v DOUBLE", time_column="ts")
    when = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    stream.append_many(
        {"ts": pa.array([when, None], pa.timestamp("us", tz="UTC")), "host": ["a", "b"],
         "v": np.array([1.5, 2.0])}
    )  # fmt: skip
    stream.append_many({"ts": np.array(["2024-05-01T12:00:00"], "datetime64[us]"), "v": [3]})
    rows = mem.sql(
        "SELECT ts = TIMESTAMPTZ '2024-05-01 12:00:00+00', host, v FROM mixed ORDER BY v"
    )
    assert rows.fetchall() == [(True, "a", 1.5), (False, "b", 2.0), (True, None, 3.0)]
