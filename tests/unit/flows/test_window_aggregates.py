"""Every registered aggregate (sketches included) runs in a rolling window of a SELECT flow
and gives, at each closing bucket, what plain Python computes over the trailing window."""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterator
from typing import Any

import datasketches as ds
import pytest

import rillet
from rillet.aggregates import AGGREGATES, Distribution

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
NO_FALSE_NEGATIVES = ds.frequent_items_error_type.NO_FALSE_NEGATIVES
# (ms after T0, key, value): three 10 ms buckets of a 1 s window, so every window holds
# every record before it
ROWS = [(0, "a", 1.5), (10, "b", 2.5), (20, "b", 3.5)]
CALLS = {
    "count": "count(d)",
    "sum": "sum(d)",
    "min": "min(v)",
    "max": "max(d)",
    "avg": "avg(d)",
    "stddev": "stddev(d)",
    "variance": "variance(d)",
    "first": "first(v)",
    "last": "last(v)",
    "approx_count_distinct": "approx_count_distinct(v)",
    "approx_quantile": "approx_quantile(d, 0.5)",
    "distribution": "distribution(d)",
    "top_k": "top_k(v, 2)",
    # over states of each record's value, as a roll-up stores them
    "kll_merge": "kll_merge(ks)",
    "kll_merge_quantile": "kll_merge_quantile(ks, 0.5)",
    "hll_merge": "hll_merge(hs)",
    "hll_merge_count": "hll_merge_count(hs)",
    "top_k_merge": "top_k_merge(fs)",
    "top_k_merge_items": "top_k_merge_items(fs, 2)",
}


def _states(key: str, value: float) -> tuple[bytes, bytes, bytes]:
    """A record's KLL state of its value and HLL and TOP_K states of its key, made by
    DataSketches itself."""
    kll, hll, top = ds.kll_doubles_sketch(200), ds.hll_sketch(12), ds.frequent_strings_sketch(10)
    kll.update(value)
    hll.update(key)
    top.update(key)
    return kll.serialize(), hll.serialize_compact(), top.serialize()


def expected(name: str, keys: list[str], values: list[float]) -> Any:
    """The aggregate over the records so far, by hand (exact while the sketches are small)."""
    return {
        "count": len(values),
        "sum": sum(values),
        "min": min(keys),
        "max": max(values),
        "avg": statistics.fmean(values),
        "stddev": statistics.stdev(values) if len(values) > 1 else None,
        "variance": statistics.variance(values) if len(values) > 1 else None,
        "first": keys[0],
        "last": keys[-1],
        "approx_count_distinct": len(set(keys)),
        "approx_quantile": sorted(values)[(len(values) - 1) // 2],
        "distribution": sorted(values),
        "kll_merge_quantile": sorted(values)[(len(values) - 1) // 2],
        "hll_merge_count": len(set(keys)),
    }[name]


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        s = database.create_stream(
            "f",
            "ts TIMESTAMP, v STRING, d DOUBLE, ks BINARY, hs BINARY, fs BINARY",
            time_column="ts",
        )
        s.append_many(
            [(T0 + dt.timedelta(milliseconds=ms), v, d, *_states(v, d)) for ms, v, d in ROWS]
        )
        yield database


def test_the_calls_cover_every_registered_aggregate() -> None:
    assert sorted(CALLS) == sorted(AGGREGATES)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_aggregate_in_a_rolling_window(db: rillet.Database, name: str) -> None:
    flow = db.execute(f"SELECT {CALLS[name]} AS a FROM f OVER RANGE INTERVAL 1 SECONDS PRECEDING")
    flow.finish()
    out = list(flow)
    assert [r.timestamp for r in out] == [T0 + dt.timedelta(milliseconds=ms) for ms, *_ in ROWS]
    for i, record in enumerate(out):
        keys = [v for _, v, _ in ROWS[: i + 1]]
        values = [d for *_, d in ROWS[: i + 1]]
        got = record["a"]
        if name in ("hll_merge", "top_k_merge"):  # BINARY: the merged state's bytes
            assert isinstance(got, bytes)
            if name == "hll_merge":
                assert round(ds.hll_sketch.deserialize(got).get_estimate()) == len(set(keys))
            else:
                top = ds.frequent_strings_sketch.deserialize(got)
                assert {item for item, *_ in top.get_frequent_items(NO_FALSE_NEGATIVES)} == set(
                    keys
                )
                assert top.get_estimate("b") == keys.count("b")
        elif name in ("distribution", "kll_merge"):  # BINARY: the KLL sketch's bytes
            assert isinstance(got, bytes)
            sketch = Distribution.from_bytes(got)
            assert [sketch.quantile(q) for q in (0.0, 0.5, 1.0)] == [
                values[0] if len(values) == 1 else min(values),
                expected("approx_quantile", keys, values),
                max(values),
            ]
            assert sketch.n == len(values)
        elif name in ("top_k", "top_k_merge_items"):
            assert sorted(got) == sorted(set(keys))  # two values at most: both kept
            if i == 2:  # b twice, a once: the most frequent first
                assert got == ["b", "a"]
        elif isinstance(got, float):
            assert got == pytest.approx(expected(name, keys, values), rel=1e-12)
        else:
            assert got == expected(name, keys, values)
