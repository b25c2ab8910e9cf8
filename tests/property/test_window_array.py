"""A trigger's windows as one Arrow array (``AggregateMonitor.window_array``, made from the
buckets' numpy columns) equal the Python values of ``window_values`` converted by Arrow, for
every aggregate kind, with empty windows among those asked for and integer sums past int64."""

from __future__ import annotations

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import rillet

FUNCTIONS = [
    "COUNT(*)", "COUNT(lat)", "SUM(code)", "SUM(big)", "SUM(lat)", "AVG(lat)", "AVG(code)",
    "MIN(lat)", "MAX(code)", "MIN(host)", "STDDEV(lat)", "APPROX_QUANTILE(lat, 0.5)",
    "FIRST(code)",
]  # fmt: skip
MS = 1_000
Row = tuple[int, str | None, float | None, int | None, int]
rows = st.lists(
    st.tuples(
        st.integers(0, 2_000 * MS),  # event time, µs
        st.sampled_from(["a", "b", None]),
        st.one_of(st.none(), st.floats(-1e6, 1e6), st.just(float("nan"))),
        st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)),
        # big: a few in one window sum past int64
        st.integers(2**60, 2**62),
    ),
    min_size=1,
    max_size=150,
)


@settings(max_examples=40, deadline=None)
@given(rows, st.sampled_from([10 * MS, 100 * MS, 1_000 * MS]), st.data())
def test_window_array_is_the_values_as_arrow(
    records: list[Row], period: int, data: st.DataObject
) -> None:
    with rillet.connect() as db:
        s = db.create_stream(
            "t", "ts TIMESTAMP, host STRING, lat DOUBLE, code INT, big BIGINT", time_column="ts"
        )
        for i, function in enumerate(FUNCTIONS):
            s.add_aggregate(f"a{i}", None, function, resolution="10ms")
        s.append_many([(ts * 1_000, *rest) for ts, *rest in sorted(records, key=lambda r: r[0])])
        s.flush()
        last = max(ts for ts, *_ in records) // period
        starts = sorted(
            data.draw(st.sets(st.integers(0, last + 2), min_size=1, max_size=50))
            | ({0, last} if data.draw(st.booleans()) else set())
        )
        windows = [k * period for k in starts]
        for i, function in enumerate(FUNCTIONS):
            aggregate = s.monitors.aggregates[f"a{i}"]
            arrow = pa.int64() if aggregate.type.name == "INT" else aggregate.type.arrow
            values = aggregate.window_values(windows, period)
            try:
                expected = pa.array(values, type=arrow)
            except OverflowError:  # a SUM past int64 (exact in Python): judged as DOUBLE
                expected = pa.array([None if v is None else float(v) for v in values])
            got = aggregate.window_array(windows, period, arrow)
            assert got.type == expected.type, (function, got.type, expected.type)
            assert same(got.to_pylist(), expected.to_pylist()), (function, got, expected)


def same(got: list[object], expected: list[object]) -> bool:
    """Equal lists, NaN equal to NaN (Arrow's ``equals`` holds NaN unequal to itself)."""
    return len(got) == len(expected) and all(
        a == b or (a != a and b != b) for a, b in zip(got, expected, strict=True)
    )
