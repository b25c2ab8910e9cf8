"""Transforms of a bucket's data: Kairos' ``mean``, ``count``, ``min``, ``max``, ``sum``, and
``rate`` and percentiles ``pNN`` (``p50``, ``p99``, ``p99.9``) beyond it; callables called as
``f(data)`` or ``f(data, step_size)``; lists and dicts of them.

By type: ``series`` and ``set`` transform their values (``min``/``max`` of none is 0, as in
Kairos; ``rate`` is values per second); ``histogram`` its values weighted by their counts
(``rate`` divides each count by the step); ``count`` and ``gauge`` hold one number: ``rate``
divides it by the step's seconds and the others give it back.  Percentiles of a series or set
come from a KLL sketch (exact up to 200 values, within about 1.3% of rank beyond); of a
histogram they are exact, from its counts; both take the value of rank ``ceil(q * n)``.

Examples:
    >>> apply("series", [1.0, 2.0, 4.0, 5.0], ["mean", "p50", "rate"], 60)
    {'mean': 3.0, 'p50': 2.0, 'rate': 0.06666666666666667}
    >>> apply("histogram", {1: 3, 10: 1}, {"avg": "mean", "top": max}, 60)
    {'avg': 3.25, 'top': 10}
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import datasketches as ds
import numpy as np

from rillet.aggregates.sketches import KLL_K, Distribution
from rillet.errors import ConfigError

NAMES = ("mean", "count", "min", "max", "sum", "rate")
_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def check(transform: Any) -> None:
    """Raise ConfigError for a transform (or one in a list or dict) that is not known."""
    if transform is None:
        return
    each = (
        list(transform.values())
        if isinstance(transform, Mapping)
        else list(transform)
        if isinstance(transform, list | tuple | set)
        else [transform]
    )
    for one in each:
        if callable(one):
            continue
        if not isinstance(one, str) or (one not in NAMES and _quantile_of(one) is None):
            raise ConfigError(
                f"unknown transform {one!r}: expected one of {', '.join(NAMES)}, a percentile "
                "such as 'p50' or 'p99.9', a callable, or a list or dict of them",
                option="transform",
                value=repr(one),
            )


def _quantile_of(name: str) -> float | None:
    match = _PERCENTILE.match(name)
    if match is None or float(match.group(1)) > 100:
        return None
    return float(match.group(1)) / 100


def apply(kind: str, data: Any, transform: Any, step_size: float) -> Any:
    """``transform`` of one bucket's ``data`` (its step ``step_size`` seconds long)."""
    if isinstance(transform, Mapping):
        return {key: one(kind, data, fn, step_size) for key, fn in transform.items()}
    if isinstance(transform, list | tuple | set):
        return {fn: one(kind, data, fn, step_size) for fn in transform}
    return one(kind, data, transform, step_size)


def one(kind: str, data: Any, transform: Any, step_size: float) -> Any:
    if callable(transform):
        return call(transform, data, step_size)
    if kind in ("series", "set"):
        return _of_values(list(data), transform, step_size)
    if kind == "histogram":
        return _of_histogram(data, transform, step_size)
    if transform == "rate":
        return data / float(step_size) if data is not None else None
    return data


def call(fn: Callable[..., Any], data: Any, step_size: float) -> Any:
    """``fn(data, step_size)`` if ``fn`` takes a second argument without a default (or one
    named step_size), else ``fn(data)``: builtins such as ``sum`` or ``max`` get the data."""
    try:
        parameters = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature (max, min)
        return fn(data)
    positional = [
        p
        for p in parameters
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    ]
    if len(positional) >= 2 and (
        positional[1].default is inspect.Parameter.empty or positional[1].name == "step_size"
    ):
        return fn(data, step_size)
    return fn(data)


def _of_values(values: list[Any], name: str, step_size: float) -> Any:
    if name == "mean":
        return float(sum(values)) / len(values) if values else 0
    if name == "count":
        return len(values)
    if name == "min":
        return min(values or [0])
    if name == "max":
        return max(values or [0])
    if name == "sum":
        return sum(values)
    if name == "rate":
        return len(values) / float(step_size)
    q = _quantile_of(name)
    assert q is not None, name
    if not values:
        return 0
    sketch = ds.kll_doubles_sketch(KLL_K)
    sketch.update(np.asarray(values, dtype=np.float64))
    return Distribution(sketch).quantile(q)


def _of_histogram(data: Mapping[Any, int], name: str, step_size: float) -> Any:
    if name == "mean":
        total = sum(data.values())
        return float(sum(k * v for k, v in data.items())) / total if total else 0
    if name == "count":
        return sum(data.values())
    if name == "min":
        return min(data.keys() or [0])
    if name == "max":
        return max(data.keys() or [0])
    if name == "sum":
        return sum(k * v for k, v in data.items())
    if name == "rate":
        return {k: v / float(step_size) for k, v in data.items()}
    q = _quantile_of(name)
    assert q is not None, name
    if not data:
        return 0
    keys = sorted(data)
    cumulative = np.cumsum([data[k] for k in keys])
    rank = max(1, math.ceil(q * int(cumulative[-1])))
    return keys[int(np.searchsorted(cumulative, rank))]
