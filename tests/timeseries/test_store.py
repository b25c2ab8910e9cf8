"""The Store interface, on every back end: what each type keeps, fetch ranges, names, bounds
(with TTL's ``live_from``), delete, delete_all and expire.  Expected values are worked out by
hand from the rows written."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest

from rillet.timeseries.store import Store, fetch_schema
from tests.timeseries.conformance import rows, unique_prefix

M = 60  # a minute bucket, in seconds
T0 = 1_714_521_600  # 2024-05-01T00:00:00Z


def fetched(store: Store, kind: str, names: list[str], start: int, end: int) -> dict[Any, Any]:
    """What fetch gave, as {(name, i_time, r_time): kept data} in the type's Python form."""
    table = store.fetch(names, "minute", start, end)
    assert set(fetch_schema(kind, store.value_type).names) <= set(table.column_names)
    out: dict[Any, Any] = defaultdict(list)
    for row in table.to_pylist():
        key = (row["name"], row["i_time"], row["r_time"])
        if kind == "histogram":
            out[key].append((row["value"], row["count"]))
        else:
            out[key].append(row["value"])
    if kind == "series":
        return dict(out)
    if kind == "histogram":
        return {k: dict(v) for k, v in out.items()}
    if kind == "set":
        return {k: sorted(v) for k, v in out.items()}
    assert all(len(v) == 1 for v in out.values()), out
    return {k: v[0] for k, v in out.items()}


def test_series_appends_in_write_order(make_store: Callable[..., Store]) -> None:
    s = make_store("series")
    s.write(
        rows(
            "series",
            s.value_type,
            [("a", "minute", T0, T0, 3.0, None)] * 1
            + [("a", "minute", T0, T0, 1.0, None), ("a", "minute", T0 + M, T0 + M, 2.0, None)],
        )
    )
    s.write(rows("series", s.value_type, [("a", "minute", T0, T0, 0.5, None)]))
    got = fetched(s, "series", ["a"], T0, T0 + 2 * M)
    assert got == {("a", T0, T0): [3.0, 1.0, 0.5], ("a", T0 + M, T0 + M): [2.0]}


def test_histogram_adds_counts(make_store: Callable[..., Store]) -> None:
    s = make_store("histogram")
    s.write(
        rows(
            "histogram",
            s.value_type,
            [("a", "minute", T0, T0, 1.0, 2, None), ("a", "minute", T0, T0, 2.0, 1, None)],
        )
    )
    s.write(rows("histogram", s.value_type, [("a", "minute", T0, T0, 1.0, 5, None)]))
    assert fetched(s, "histogram", ["a"], T0, T0 + M) == {("a", T0, T0): {1.0: 7, 2.0: 1}}


def test_count_sums_and_keeps_floats(make_store: Callable[..., Store]) -> None:
    s = make_store("count")
    s.write(rows("count", s.value_type, [("a", "minute", T0, T0, 1.5, None)]))
    s.write(
        rows(
            "count",
            s.value_type,
            [("a", "minute", T0, T0, 1.0, None), ("b", "minute", T0, T0, -2.25, None)],
        )
    )
    got = fetched(s, "count", ["a", "b"], T0, T0 + M)
    assert got == {("a", T0, T0): 2.5, ("b", T0, T0): -2.25}


def test_gauge_keeps_the_last(make_store: Callable[..., Store]) -> None:
    s = make_store("gauge")
    s.write(rows("gauge", s.value_type, [("a", "minute", T0, T0, 4.0, None)]))
    s.write(rows("gauge", s.value_type, [("a", "minute", T0, T0, 3.0, None)]))
    assert fetched(s, "gauge", ["a"], T0, T0 + M) == {("a", T0, T0): 3.0}


def test_set_keeps_distinct_values(make_store: Callable[..., Store]) -> None:
    s = make_store("set")
    s.write(
        rows(
            "set",
            s.value_type,
            [("a", "minute", T0, T0, 1.0, None), ("a", "minute", T0, T0, 2.0, None)],
        )
    )
    s.write(
        rows(
            "set",
            s.value_type,
            [("a", "minute", T0, T0, 2.0, None), ("a", "minute", T0, T0, 3.0, None)],
        )
    )
    assert fetched(s, "set", ["a"], T0, T0 + M) == {("a", T0, T0): [1.0, 2.0, 3.0]}


@pytest.mark.parametrize("value_type", ["int", "str"])
def test_value_types_round_trip(make_store: Callable[..., Store], value_type: str) -> None:
    s = make_store("series", value_type=value_type)
    values = [7, -3] if value_type == "int" else ["GET /", "ünï"]
    arrow = s.value_type or pa.string()
    if s.value_type is None:  # a text store: the API layer sends str(value)
        values = [str(v) for v in values]
    s.write(rows("series", arrow, [("a", "minute", T0, T0, v, None) for v in values]))
    assert fetched(s, "series", ["a"], T0, T0 + M) == {("a", T0, T0): values}


def test_resolution_keys_and_ranges(make_store: Callable[..., Store]) -> None:
    """Interval buckets of an hour with minute resolution: fetch takes whole interval buckets,
    ``start <= i_time < end``, and names alone."""
    h = 3600
    s = make_store("count")
    s.write(
        rows(
            "count",
            s.value_type,
            [
                ("a", "minute", T0, T0 + M, 1.0, None),
                ("a", "minute", T0, T0 + 5 * M, 2.0, None),
                ("a", "minute", T0 + h, T0 + h, 4.0, None),
                ("a", "minute", T0 + 2 * h, T0 + 2 * h, 8.0, None),
                ("b", "minute", T0, T0 + M, 16.0, None),
                ("a", "other", T0, T0, 32.0, None),
            ],
        )
    )
    got = fetched(s, "count", ["a"], T0, T0 + 2 * h)
    assert got == {("a", T0, T0 + M): 1.0, ("a", T0, T0 + 5 * M): 2.0, ("a", T0 + h, T0 + h): 4.0}
    assert fetched(s, "count", ["a", "b"], T0, T0 + 1) == {
        ("a", T0, T0 + M): 1.0,
        ("a", T0, T0 + 5 * M): 2.0,
        ("b", T0, T0 + M): 16.0,
    }
    assert fetched(s, "count", ["c"], T0, T0 + 2 * h) == {}


def test_names_bounds_and_ttl(make_store: Callable[..., Store]) -> None:
    s = make_store("count", intervals=("minute", "hour"))
    s.write(
        rows(
            "count",
            s.value_type,
            [
                ("b", "minute", T0, T0, 1.0, T0 + 2 * M),
                ("a", "minute", T0 + M, T0 + M, 1.0, T0 + 3 * M),
                ("a", "minute", T0 + 3 * M, T0 + 3 * M, 1.0, T0 + 5 * M),
                ("a", "hour", T0, T0, 1.0, None),
            ],
        )
    )
    assert s.names({}) == ["a", "b"]
    assert s.bounds("a", {}) == {"minute": (T0 + M, T0 + 3 * M), "hour": (T0, T0)}
    # the minute bucket of T0 is dead: b has nothing live, a's first live minute is T0 + 3m
    live = {"minute": T0 + 2 * M}
    assert s.names(live) == ["a"]
    assert s.bounds("a", live) == {"minute": (T0 + 3 * M, T0 + 3 * M), "hour": (T0, T0)}
    assert s.bounds("b", live) == {}
    s.expire("a", live)
    s.expire("b", live)
    # expire may leave nothing or everything to native TTL, but never drops live rows
    assert fetched(s, "count", ["a"], T0 + 2 * M, T0 + 10 * M) == {
        ("a", T0 + 3 * M, T0 + 3 * M): 1.0
    }


def test_delete_and_delete_all(make_store: Callable[..., Store]) -> None:
    s = make_store("histogram")
    other = make_store("histogram")  # another prefix on the same back end
    data = [("a", "minute", T0, T0, 1.0, 1, None), ("b", "minute", T0, T0, 1.0, 1, None)]
    s.write(rows("histogram", s.value_type, data))
    other.write(rows("histogram", other.value_type, data))
    s.delete("a")
    assert s.names({}) == ["b"]
    assert fetched(s, "histogram", ["a", "b"], T0, T0 + M) == {("b", T0, T0): {1.0: 1}}
    s.delete_all()
    assert s.names({}) == []
    assert other.names({}) == ["a", "b"]


def test_types_do_not_share_rows(make_store: Callable[..., Store]) -> None:
    """Two types under one prefix would be two Timeseries: each keeps its own rows."""
    prefix = unique_prefix()
    counts, gauges = make_store("count", prefix=prefix), make_store("gauge", prefix=prefix)
    counts.write(rows("count", counts.value_type, [("a", "minute", T0, T0, 1.0, None)]))
    assert gauges.names({}) == []


def test_fetch_is_empty_table_with_the_columns(make_store: Callable[..., Store]) -> None:
    for kind in ("series", "histogram", "count", "gauge", "set"):
        s = make_store(kind)
        table = s.fetch(["nobody"], "minute", T0, T0 + M)
        assert table.num_rows == 0
        assert set(fetch_schema(kind, s.value_type).names) <= set(table.column_names)


def test_histogram_counter_matches_reference(make_store: Callable[..., Store]) -> None:
    """Many writes of a histogram reduce to the plain-Python Counter of all values."""
    s = make_store("histogram")
    batches = [[1.0, 2.0, 2.0], [3.0, 1.0], [2.0]]
    expected: Counter[float] = Counter()
    for batch in batches:
        expected.update(batch)
        counted = Counter(batch)
        s.write(
            rows(
                "histogram",
                s.value_type,
                [("a", "minute", T0, T0, v, n, None) for v, n in counted.items()],
            )
        )
    assert fetched(s, "histogram", ["a"], T0, T0 + M) == {("a", T0, T0): dict(expected)}
