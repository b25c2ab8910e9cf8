"""TUMBLE, HOP and SESSION windows: bad input refused at submission (nothing started), the
lateness and idle_timeout options, late records handed to the hook, sketch states."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import datasketches as ds
import pyarrow as pa
import pytest

import rillet
from rillet.flows import config
from rillet.flows.planner import plan_select, submit
from rillet.flows.runtime import start
from rillet.flows.windows import Counters
from rillet.rtsql import ast
from rillet.rtsql.parser import parse

S = 1_000_000_000  # ns
BASE = 19675 * 86_400 * S  # a day start, epoch ns


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        database.create_stream(
            "perf", "ts TIMESTAMP, host STRING, lat DOUBLE, at TIMESTAMP", time_column="ts"
        )
        yield database


def _select(text: str) -> ast.Select:
    statement = parse(text)
    assert isinstance(statement, ast.Select)
    return statement


BAD = [
    ("SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(host, INTERVAL '1' MINUTE)", "time column"),
    ("SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(INTERVAL '1' MINUTE)", r"TUMBLE\(time column"),
    ("SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(1, INTERVAL '1' MINUTE)", "time column"),
    (
        "SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(ts, INTERVAL '0' MINUTE)",
        "at 1:61.*more than 0.*size, slide and gap",
    ),
    (
        "SELECT COUNT(*) AS n FROM perf GROUP BY SESSION(ts, INTERVAL 0 SECONDS)",
        "at 1:62.*more than 0",
    ),
    (
        "SELECT COUNT(*) AS n FROM perf GROUP BY HOP(ts, INTERVAL -10 SECONDS, INTERVAL 1 MINUTES)",
        "at 1:58.*more than 0",
    ),
    ("SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(ts, 60)", "interval"),
    (
        "SELECT COUNT(*) AS n FROM perf GROUP BY HOP(ts, INTERVAL '7' SECOND, INTERVAL '1' MINUTE)",
        "whole number of slides",
    ),
    (
        "SELECT COUNT(*) AS n FROM perf GROUP BY HOP(ts, INTERVAL '2' MINUTE, INTERVAL '1' MINUTE)",
        "whole number of slides",
    ),
    (
        "SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(ts, INTERVAL 1 MINUTES), "
        "SESSION(ts, INTERVAL 1 MINUTES)",
        "one window",
    ),
    ("SELECT host, COUNT(*) AS n FROM perf GROUP BY TUMBLE(ts, INTERVAL 1 MINUTES)", "GROUP BY"),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_windows_are_refused_at_submission(db: rillet.Database, text: str, words: str) -> None:
    with pytest.raises(rillet.RilletError) as info:
        db.execute(text)
    assert re.search(words, str(info.value)), str(info.value)
    assert db.flows() == []


def test_unknown_option_and_bad_values_are_refused(db: rillet.Database) -> None:
    text = "SELECT COUNT(*) AS n FROM perf GROUP BY TUMBLE(ts, INTERVAL '1' MINUTE)"
    with pytest.raises(rillet.errors.ConfigError, match="latenes"):
        submit(db, _select(text), text, {"latenes": "1s"})
    with pytest.raises(rillet.errors.ConfigError, match="lateness"):
        submit(db, _select(text), text, {"lateness": "soon"})
    with pytest.raises(rillet.errors.ConfigError):
        db.set("rillet.window.latenes", "1s")
    with pytest.raises(rillet.errors.ConfigError):
        db.set(config.SKETCHES, "maybe")
    assert db.flows() == []


def _rows(flow: rillet.Flow) -> list[tuple[Any, ...]]:
    return [(r["host"], r["n"], r.timestamp.second + 60 * r.timestamp.minute) for r in flow]


def test_lateness_keeps_records_within_it(db: rillet.Database) -> None:
    # 0:05 a, 1:01 a, 0:40 a (21 s behind the newest), 2:30 b
    data = [(BASE + 5 * S, "a"), (BASE + 61 * S, "a"), (BASE + 40 * S, "a"), (BASE + 150 * S, "b")]
    results: dict[str, Any] = {}
    for lateness in ("0s", "30s"):
        name = f"p{len(results)}"
        stream = db.create_stream(name, "ts TIMESTAMP, host STRING", time_column="ts")
        text = (
            f"SELECT host, COUNT(*) AS n FROM {name} GROUP BY host, TUMBLE(ts, INTERVAL 1 MINUTES)"
        )
        flow = submit(db, _select(text), text, {"lateness": lateness})
        stream.append_many(data)
        flow.finish()
        results[lateness] = (_rows(flow), flow.late_events, flow.dropped_events)
    assert results["0s"] == ([("a", 1, 60), ("a", 1, 120), ("b", 1, 180)], 1, 1)
    assert results["30s"] == ([("a", 2, 60), ("a", 1, 120), ("b", 1, 180)], 0, 0)


def test_late_records_go_to_the_hook(db: rillet.Database) -> None:
    text = "SELECT host, COUNT(*) AS n FROM perf GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
    plan, names = plan_select(db, _select(text))
    kept: list[pa.RecordBatch] = []
    counters = Counters(on_late=kept.append)
    flow = start(db, plan, text, names, counters=counters)
    stream = db.stream("perf")
    stream.append_many([(BASE + 70 * S, "a", 1.0, None), (BASE + 10 * S, "b", 2.0, None)])
    flow.finish()
    assert _rows(flow) == [("a", 1, 120)]
    assert flow.late_events == 1
    late = pa.Table.from_batches(kept)
    assert late.column("host").to_pylist() == ["b"]
    assert late.column("lat").to_pylist() == [2.0]


def test_window_on_another_time_column_and_window_bounds(db: rillet.Database) -> None:
    text = (
        "SELECT host, window_start, window_end, COUNT(*) AS n FROM perf "
        "GROUP BY host, HOP(at, INTERVAL '30' SECOND, INTERVAL '1' MINUTE)"
    )
    flow = db.execute(text)
    db.stream("perf").append_many([(BASE, "a", 1.0, BASE + 45 * S)])
    flow.finish()
    got = [(r["window_start"], r["window_end"], r.timestamp, r["n"]) for r in flow]
    assert [(s.second, e.minute, e.second, n) for s, e, _, n in got] == [
        (0, 1, 0, 1),
        (30, 1, 30, 1),
    ]
    assert all(stamp == end for _, end, stamp, _ in got)


def test_idle_input_moves_the_watermark_to_the_wall_clock(db: rillet.Database) -> None:
    text = "SELECT host, COUNT(*) AS n FROM perf GROUP BY host, TUMBLE(ts, INTERVAL '1' SECOND)"
    flow = submit(db, _select(text), text, {"idle_timeout": "100ms"})
    old = int((time.time() - 60) * S)  # a minute ago: its window ended long before now
    db.stream("perf").append_many([(old, "a", 1.0, None)])
    rows = []
    for batch in flow.batches(timeout=10):  # no end of input: only idleness closes it
        rows += batch.column("host").to_pylist()
        break
    flow.cancel()
    assert rows == ["a"]


def test_sketches_as_state_merge_in_sql(db: rillet.Database) -> None:
    text = (
        "SELECT host, COUNT(*) AS n, APPROX_QUANTILE(lat, 0.5) AS lat, "
        "APPROX_COUNT_DISTINCT(host) AS hosts, TOP_K(host, 2) AS top, DISTRIBUTION(lat) AS d "
        "FROM perf GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    flow = submit(db, _select(text), text, {"sketches": "state"})
    values = [float(v) for v in range(1, 301)]
    db.stream("perf").append_many([(BASE + i * S, "a", v, None) for i, v in enumerate(values)])
    flow.finish()
    out = pa.Table.from_batches(list(flow.batches()))
    assert out.schema.field("lat").type == pa.binary()
    states = out.column("lat").to_pylist()
    assert len(states) == 5  # 300 s: five minutes
    merged = ds.kll_doubles_sketch(200)
    for state in states:
        merged.merge(ds.kll_doubles_sketch.deserialize(state))
    assert merged.n == 300
    assert abs(merged.get_quantile(0.5, True) - 150) <= 300 * merged.normalized_rank_error(False)
    assert [
        ds.hll_sketch.deserialize(h).get_estimate() for h in out.column("hosts").to_pylist()
    ] == [1.0] * 5
    assert out.column("n").to_pylist() == [60] * 5


def test_open_windows_give_their_partial_rows(db: rillet.Database) -> None:
    text = "SELECT host, COUNT(*) AS n FROM perf GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
    plan, names = plan_select(db, _select(text))
    flow = start(db, plan, text, names)
    db.stream("perf").append_many(
        [
            (BASE + 5 * S, "a", 1.0, None),
            (BASE + 61 * S, "a", 1.0, None),
            (BASE + 62 * S, "b", 1.0, None),
        ]
    )
    db.stream("perf").caught_up()
    windows = _event_windows(flow)
    partial = windows.open_batch()
    assert partial is not None
    assert partial.column("__key0").to_pylist() == ["a", "b"]
    assert partial.column("__agg0").to_pylist() == [1, 1]
    assert windows.open_batch() is not None  # nothing changed
    flow.finish()
    assert _rows(flow) == [("a", 1, 60), ("a", 1, 120), ("b", 1, 120)]


def _event_windows(flow: rillet.Flow) -> Any:
    from rillet.flows.operators import EventAggregate

    operator = flow._inputs[0].operator
    while not isinstance(operator, EventAggregate):
        operator = operator.downstream  # type: ignore[attr-defined]
    return operator.windows


def test_arrival_time_windows_close_as_the_clock_passes(db: rillet.Database) -> None:
    clicks = db.create_stream("clicks", "user STRING")  # stamped with its arrival time
    text = (
        "SELECT user, COUNT(*) AS n, window_end FROM clicks "
        "GROUP BY user, TUMBLE(timestamp, INTERVAL '1' SECOND)"
    )
    flow = db.execute(text)
    clicks.append_many([("a",), ("b",), ("a",)])
    got: list[dict[str, Any]] = []
    for batch in flow.batches(timeout=10):  # no end of input: the clock closes the window
        got += batch.to_pylist()
        if sum(row["n"] for row in got) == 3:
            break
    flow.cancel()
    assert sorted((row["user"], row["n"]) for row in got) == [("a", 2), ("b", 1)]
    assert all(row["timestamp"] == row["window_end"] for row in got)
