"""What the aggregate property tests share: a case (an argument type, its values and the
function's constant parameters), the values both draw alike, and the checks of quantile
sketches against the values they saw."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import datasketches as ds
import numpy as np
from hypothesis import strategies as st

from rillet.aggregates import Distribution
from rillet.aggregates.sketches import KllState, frequent_sketch, top_items

EPS = KllState().sketch.normalized_rank_error(False)  # KLL, k=200, 99% confidence
HLL_EXACT = 300  # HLL (lg_k=12) keeps exact coupons up to a few hundred distinct values
KLL_EXACT = 200  # below k values a KLL sketch never compacts

NEAR_1E9 = st.floats(1e9, 1e9 + 1.0)  # epoch-seconds-like: a tiny spread next to the mean
WORDS = st.text(alphabet="abé", max_size=3)
STAMPS = st.integers(0, 2**52)  # epoch microseconds
FEW_INTS = st.integers(-HLL_EXACT // 2, HLL_EXACT // 2 - 1)
QUANTILE_PARAMS = st.tuples(st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0]))


def column(
    values: st.SearchStrategy[Any], max_size: int = 60, min_size: int = 0
) -> st.SearchStrategy[list[Any]]:
    """Lists of ``values`` and NULLs."""
    return st.lists(st.one_of(st.none(), values), min_size=min_size, max_size=max_size)


@dataclass(frozen=True)
class Case:
    dtype: str | None  # None: COUNT(*)
    values: st.SearchStrategy[list[Any]]
    params: st.SearchStrategy[tuple[Any, ...]] = st.just(())


def same(a: Any, b: Any) -> bool:
    """Equal, NaN equal to NaN, and of one type (True is not 1, a float not an int)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and bool(a == b)


def ranks(valid: list[Any], value: float) -> tuple[float, float]:
    """The fractions of values below and at most ``value``."""
    data = np.sort(np.asarray(valid, dtype=np.float64))
    n = len(data)
    return (
        float(np.searchsorted(data, value, side="left")) / n,
        float(np.searchsorted(data, value, side="right")) / n,
    )


def _not_nan(valid: list[Any]) -> list[Any]:
    """The values a KLL sketch takes: it leaves NaN out."""
    return [v for v in valid if not (isinstance(v, float) and math.isnan(v))]


def check_quantile(valid: list[Any], q: float, got: Any, want: Any) -> None:
    """Two quantile answers over ``valid`` (NaN left out): equal while no sketch compacts,
    and each within KLL's rank error of ``q``; the extremes exact."""
    valid = _not_nan(valid)
    if not valid:
        assert got is None and want is None
        return
    if len(valid) <= KLL_EXACT:
        assert same(got, want)
    for answer in (got, want):
        below, at_most = ranks(valid, answer)
        assert below - EPS <= q <= at_most + EPS
    if q in (0.0, 1.0):
        assert got == want == (min(valid) if q == 0.0 else max(valid))


def check_distribution(valid: list[Any], got: Any, want: Any) -> None:
    """Two distributions of ``valid`` (NaN left out): its count and extremes exact,
    quantiles as above."""
    valid = _not_nan(valid)
    if not valid:
        assert got is None and want is None
        return
    assert isinstance(got, Distribution) and isinstance(want, Distribution)
    for d in (got, want):
        assert (d.n, d.min, d.max) == (len(valid), min(valid), max(valid))
    qs = [0.1, 0.5, 0.9, 0.99]
    if len(valid) <= KLL_EXACT:
        assert got.quantiles(qs) == want.quantiles(qs)
    for q, answer in zip(qs, got.quantiles(qs), strict=True):
        below, at_most = ranks(valid, answer)
        assert below - EPS <= q <= at_most + EPS


# -- the *_merge aggregates: stored states, each of one value ------------------------------------

#: each *_merge aggregate, and the aggregate whose result it gives for the values its
#: states hold (the merged state itself for kll_merge, hll_merge, top_k_merge)
MERGES = {
    "kll_merge": "distribution",
    "kll_merge_quantile": "approx_quantile",
    "hll_merge": "approx_count_distinct",
    "hll_merge_count": "approx_count_distinct",
    "top_k_merge": "top_k",
    "top_k_merge_items": "top_k",
}
_HELD: dict[bytes, Any] = {}  # a state made here -> the value it holds


def _state_of(family: str, value: Any) -> bytes:
    """A state of the one value ``value``, made by DataSketches itself, as a roll-up
    stores it."""
    if family == "kll":
        kll = ds.kll_doubles_sketch(KLL_EXACT)
        kll.update(float(value))
        data = bytes(kll.serialize())
    elif family == "hll":
        hll = ds.hll_sketch(12)
        hll.update("=" + value)
        data = bytes(hll.serialize_compact())
    else:
        top = ds.frequent_strings_sketch(10)
        top.update(value)
        data = bytes(top.serialize())
    _HELD[data] = value
    return data


def stored(name: str, values: st.SearchStrategy[Any], max_size: int = 60) -> Case:
    """A case of the *_merge aggregate ``name``: states of one value each (and NULLs)."""
    family = name.split("_")[0]
    states = column(values.map(lambda v: _state_of(family, v)), max_size, min_size=1)
    params = {"kll_merge_quantile": QUANTILE_PARAMS, "top_k_merge_items": st.tuples(
        st.integers(1, 5))}.get(name, st.just(()))  # fmt: skip
    return Case("BINARY", states, params)


def held(states: list[bytes]) -> list[Any]:
    """The values the states hold (each state made by :func:`stored`)."""
    return [_HELD[bytes(s)] for s in states]


def finished(name: str, result: Any) -> Any:
    """A *_merge aggregate's result as the aggregate it stands for gives it: a merged
    state's distinct count (HLL), its items, most frequent first (TOP_K)."""
    if result is None or name not in ("hll_merge", "top_k_merge"):
        return result  # (no value: the empty state, as 0 distinct and no items)
    if name == "hll_merge":
        return int(round(ds.hll_sketch.deserialize(result).get_estimate()))
    return top_items(frequent_sketch(result), 10)
