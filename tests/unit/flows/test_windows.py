"""Rolling bucketed windows against the plain-Python reference, on random out-of-order
records, within and beyond the slack; a replay (appended before the flow starts) gives what
a live run (appended in pieces while it runs) gives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rillet
from rillet.flows import config
from tests.unit.flows import reference
from tests.unit.flows.support import run, windowed

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MS = 1000
BASE = 1_700_000_000_000_000  # a day start: every time below stays in one partition


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def events() -> st.SearchStrategy[list[tuple[int, Any, int | None]]]:
    """Records mostly moving forward in time; some come late (within the slack, beyond it,
    beyond the maximum prior interval) without moving time back."""
    move = st.tuples(
        st.integers(0, 19),  # what kind of record: 0-14 forward, 15-18 a little late, 19 late
        st.integers(0, 400),  # forward (ms)
        st.integers(0, 800),  # a little late (ms)
        st.integers(800, 9000),  # late (ms)
        st.sampled_from(["a", "b", "c", None]),
        st.one_of(st.none(), st.integers(-50, 50)),
    )
    return st.lists(move, min_size=1, max_size=60).map(_times)


def _times(
    moves: list[tuple[int, int, int, int, Any, int | None]],
) -> list[tuple[int, Any, int | None]]:
    now = 20_000
    out = []
    for kind, forward, little, late, key, value in moves:
        if kind < 15:
            now += forward
            at = now
        else:
            at = max(now - (little if kind < 19 else late), 0)
        out.append((BASE + at * MS, key, value))
    return out


def _flow_rows(
    db: rillet.Database,
    data: list[tuple[int, Any, int | None]],
    width: int,
    live: bool,
    pieces: int,
) -> tuple[list[tuple[Any, ...]], int, int]:
    name = f"s{len(db.streams())}"
    # one-second partitions: late records cross partitions, so the stored records come back
    # partition by partition, out of offset order, and the flow must put them back in order
    stream = db.create_stream(
        name, "ts TIMESTAMP, k STRING, v BIGINT", time_column="ts", partition="1s"
    )
    plan = windowed(stream, width, ["k"], {"n": "count(v)", "total": "sum(v)", "top": "max(v)"})
    rows = [(t * 1000, k, v) for t, k, v in data]  # epoch ns

    def feed() -> None:
        size = max(len(rows) // pieces, 1)
        for i in range(0, len(rows), size):
            stream.append_many(rows[i : i + size])
            if live:
                stream.caught_up()

    if not live:
        feed()
        flow, out = run(db, plan, ["k", "n", "total", "top"], lambda: None)
    else:
        flow, out = run(db, plan, ["k", "n", "total", "top"], feed)
    got = [(_us(r.timestamp), r["k"], r["n"], r["total"], r["top"]) for r in out]
    return got, flow.late_events, flow.dropped_events


def _us(stamp: Any) -> int:
    return int(stamp.timestamp() * 1_000_000)


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple("" if v is None else v for v in row)


@SETTINGS
@given(
    data=events(),
    width_ms=st.sampled_from([100, 1000, 3000]),
    buckets=st.sampled_from([1, 3, 10]),
    slack_ms=st.sampled_from([0, 200, 700]),
    continuous=st.booleans(),
    pieces=st.integers(1, 7),
)
def test_windows_match_the_reference(
    db: rillet.Database,
    data: list[tuple[int, Any, int | None]],
    width_ms: int,
    buckets: int,
    slack_ms: int,
    continuous: bool,
    pieces: int,
) -> None:
    db.set(config.BUCKETS, buckets)
    db.set(config.SLACK, slack_ms)
    db.set(config.CONTINUOUS, continuous)
    expected, late, dropped = reference.windows(
        data, width_ms * MS, buckets, slack_ms * MS, continuous, 5000 * MS
    )
    live, live_late, live_dropped = _flow_rows(db, data, width_ms * MS, True, pieces)
    assert sorted(live, key=_key) == sorted(expected, key=_key)
    assert (live_late, live_dropped) == (late, dropped)
    replay, replay_late, replay_dropped = _flow_rows(db, data, width_ms * MS, False, pieces)
    assert replay == live  # the same rows in the same order
    assert (replay_late, replay_dropped) == (late, dropped)
