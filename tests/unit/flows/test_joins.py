"""Windowed joins against the plain-Python reference, on random out-of-order records on
both sides, fed in random pieces: each matching pair exactly once, NULL keys never."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rillet
from rillet.expressions.check import check
from rillet.flows import config
from rillet.flows.plan import Compute, Join
from tests.unit.flows import reference
from tests.unit.flows.support import run, scan

SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
MS = 1000
BASE = 1_700_000_000_000_000


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def side() -> st.SearchStrategy[list[tuple[int, Any]]]:
    move = st.tuples(
        st.integers(0, 9),  # 0-7 forward, 8 a little late, 9 late
        st.integers(0, 300),
        st.integers(0, 600),
        st.sampled_from([1, 2, 3, None]),
    )
    return st.lists(move, max_size=40).map(_times)


def _times(moves: list[tuple[int, int, int, Any]]) -> list[tuple[int, Any]]:
    now = 10_000
    out = []
    for kind, forward, back, key in moves:
        if kind < 8:
            now += forward
        out.append(
            (BASE + (now if kind < 8 else max(now - back * (1 if kind == 8 else 5), 0)) * MS, key)
        )
    return out


@SETTINGS
@given(
    left=side(),
    right=side(),
    preceding_ms=st.sampled_from([1, 100, 500, 2000]),
    following_ms=st.sampled_from([0, 300]),
    slack_ms=st.sampled_from([0, 200, 1000]),
    pieces=st.integers(1, 5),
)
def test_joins_match_the_reference(
    db: rillet.Database,
    left: list[tuple[int, Any]],
    right: list[tuple[int, Any]],
    preceding_ms: int,
    following_ms: int,
    slack_ms: int,
    pieces: int,
) -> None:
    db.set(config.SLACK, slack_ms)
    n = len(db.streams())
    f = db.create_stream(
        f"f{n}", "ts TIMESTAMP, x BIGINT, id BIGINT", time_column="ts", partition="1s"
    )
    g = db.create_stream(
        f"g{n}", "ts TIMESTAMP, y BIGINT, id BIGINT", time_column="ts", partition="1s"
    )
    a, b = scan(f), scan(g)
    join = Join(
        a,
        b,
        check("x", a.columns),
        check("y", b.columns),
        preceding_ms * MS,
        following_ms * MS,
        (("id", "f_id"), ("ts", "f_ts")),
        (("id", "g_id"), ("ts", "g_ts")),
    )
    plan = Compute(
        join, tuple((k, check(k, join.columns)) for k in ("f_id", "g_id", "f_ts", "g_ts"))
    )
    rows_f = [(t * 1000, k, i) for i, (t, k) in enumerate(left)]
    rows_g = [(t * 1000, k, i) for i, (t, k) in enumerate(right)]

    def feed() -> None:
        for p in range(pieces):  # the two sides interleaved, piece by piece
            for stream, rows in ((f, rows_f), (g, rows_g)):
                size = -(-len(rows) // pieces)
                if rows[p * size : (p + 1) * size]:
                    stream.append_many(rows[p * size : (p + 1) * size])

    flow, out = run(db, plan, ["f_id", "g_id", "f_ts", "g_ts"], feed)
    expected = reference.join(
        [(t, k, i) for i, (t, k) in enumerate(left)],
        [(t, k, i) for i, (t, k) in enumerate(right)],
        preceding_ms * MS,
        following_ms * MS,
        slack_ms * MS,
    )
    assert sorted((r["f_id"], r["g_id"]) for r in out) == expected
    for r in out:  # the later-arriving event's time
        assert r.timestamp in (r["f_ts"], r["g_ts"])
    # replayed: the same records, stored before the flow starts, give the same pairs
    _, again = run(db, plan, ["f_id", "g_id", "f_ts", "g_ts"], lambda: None)
    assert sorted((r["f_id"], r["g_id"]) for r in again) == expected
