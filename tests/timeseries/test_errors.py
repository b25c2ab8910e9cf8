"""Bad input to the Kairos API: specific RilletError subclasses with clear messages, and
nothing half-written."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

import pytest

import rillet
from rillet.errors import (
    BackendUnavailableError,
    ConfigError,
    InputError,
    IntervalConfigError,
    NotFoundError,
    RilletError,
    UnknownIntervalError,
    UnknownTypeError,
    ValueTypeError,
)
from rillet.timeseries import Timeseries
from rillet.timeseries.backends import module_for

MINUTE = {"minute": {"step": 60}}
T = 1_714_557_600
Make = Callable[..., Any]


def test_a_type_is_required() -> None:
    with pytest.raises(UnknownTypeError, match="type is required"):
        Timeseries("rillet://", intervals=MINUTE)


def test_an_unknown_type_names_the_closest() -> None:
    with pytest.raises(UnknownTypeError, match="did you mean 'series'") as caught:
        Timeseries("rillet://", type="seris", intervals=MINUTE)
    assert isinstance(caught.value, ConfigError)


@pytest.mark.parametrize(
    ("intervals", "says"),
    [
        (None, "intervals is required"),
        ({}, "intervals is required"),
        ({"m": {}}, "step is required"),
        ({"m": 60}, "expected a dict"),
        ({"m": {"step": "abc"}}, "step 'abc'"),
        ({"m": {"step": 0}}, "step 0"),
        ({"m": {"step": -60}}, "step -60"),
        ({"m": {"step": 1.5}}, "step 1.5"),
        ({"m": {"step": "fortnightly"}}, "step 'fortnightly'"),
        ({"m": {"step": 60, "resolution": 7}}, "does not divide"),
        ({"m": {"step": 3600, "resolution": 7200}}, "does not divide"),
        ({"m": {"step": "monthly", "resolution": "weekly"}}, "does not divide"),
        ({"m": {"step": 60, "steps": 0}}, "steps 0"),
        ({"m": {"step": 60, "steps": "10"}}, "steps '10'"),
        ({"m": {"step": 60, "stpes": 10}}, "unknown key 'stpes'"),
    ],
)
def test_malformed_intervals(intervals: Any, says: str) -> None:
    with pytest.raises(IntervalConfigError, match=says):
        Timeseries("rillet://", type="count", intervals=intervals)


def test_an_unknown_interval_is_not_a_bare_key_error() -> None:
    t = Timeseries("rillet://", type="count", intervals={"minute": {"step": 60}})
    for read in (
        lambda: t.get("a", "minuet"),
        lambda: t.series("a", "minuet"),
        lambda: t.iterate("a", "minuet"),
    ):
        with pytest.raises(UnknownIntervalError, match="did you mean 'minute'") as caught:
            read()
        assert isinstance(caught.value, NotFoundError)
        assert not isinstance(caught.value, KeyError)
        assert caught.value.name == "minuet"
    t.close()


@pytest.mark.parametrize(
    ("kind", "options", "bad"),
    [
        ("count", {}, "ten"),
        ("series", {}, "ten"),
        ("gauge", {}, [1, 2]),
        ("histogram", {"value_type": "int"}, 1.5),
        ("set", {}, None),
        ("count", {}, float("inf")),
        ("gauge", {}, float("nan")),
        ("series", {}, float("-inf")),
        ("histogram", {}, float("nan")),
        ("set", {}, float("nan")),
    ],
)
def test_a_value_the_type_cannot_hold_writes_nothing(
    make_timeseries: Make, kind: str, options: dict[str, Any], bad: Any
) -> None:
    t = make_timeseries(type=kind, intervals=MINUTE, **options)
    if t.store.value_type is None and bad is not None and not isinstance(bad, list):
        pytest.skip("a text store keeps any value as text")
    with pytest.raises(ValueTypeError, match="value 2 of the insert") as caught:
        t.bulk_insert({T: {"a": [1, 2]}, T + 60: {"b": [bad], "c": [3]}})
    assert caught.value.position == 2
    assert t.list() == []
    assert t.series("a", "minute", start=T, steps=2) == {
        T: t.kind.empty(False),
        T + 60: t.kind.empty(False),
    }
    if isinstance(bad, float) and not math.isfinite(bad):  # a single insert's path, too
        with pytest.raises(ValueTypeError, match="not a finite number"):
            t.insert("a", bad, timestamp=T)
        assert t.list() == []


def test_an_unknown_transform_is_refused_before_reading() -> None:
    t = Timeseries("rillet://", type="series", intervals=MINUTE)
    for transform in ("median", "p101", ["mean", "avg"], {"x": "q50"}, 5):
        with pytest.raises(ConfigError, match="unknown transform"):
            t.get("a", "minute", timestamp=T, transform=transform)


def test_wrong_arguments_are_named() -> None:
    t = Timeseries("rillet://", type="count", intervals=MINUTE)
    with pytest.raises(InputError, match="name must be text"):
        t.get(5, "minute")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="timestamp 'yesterday'"):
        t.insert("a", 1, timestamp="yesterday")
    with pytest.raises(InputError, match="must be text"):
        t.bulk_insert({T: {7: [1]}})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="unexpected keyword argument 'pipline'"):
        t.insert("a", 1, pipline=None)
    with pytest.raises(ConfigError, match="format 'csv'"):
        t.series("a", "minute", format="csv")
    with pytest.raises(InputError, match="steps must be"):
        t.series("a", "minute", steps=-1)
    with pytest.raises(InputError, match="steps must be"):
        t.series("a", "minute", steps=0)  # not "the default"
    assert t.list() == []


@pytest.mark.parametrize("target", ["mongodb://localhost", "cql://", "memcache://x", object(), 5])
def test_an_unknown_back_end(target: Any) -> None:
    with pytest.raises(ConfigError, match="back end"):
        Timeseries(target, type="count", intervals=MINUTE)


def test_an_unknown_back_end_option() -> None:
    with pytest.raises(ConfigError, match="unknown option 'tabel_name'"):
        Timeseries("rillet://", type="count", intervals=MINUTE, tabel_name="x")


@pytest.mark.parametrize("url", ["postgresql://postgres@127.0.0.1:1/test", "redis://127.0.0.1:1/0"])
def test_an_unreachable_back_end(url: str) -> None:
    module = module_for(url)
    try:
        importlib.import_module(module)
    except ImportError:
        pytest.skip(f"back end {module} is not built yet")
    with pytest.raises(BackendUnavailableError) as caught:
        Timeseries(url, type="count", intervals=MINUTE).insert("a", 1)
    assert isinstance(caught.value, RilletError)


def test_errors_keep_their_json_shape() -> None:
    try:
        Timeseries(rillet.connect(), type="count", intervals={"m": {"step": "1x"}})
    except RilletError as exc:
        shape = exc.to_dict()
    assert shape["error"] == "IntervalConfigError"
    assert shape["detail"] == {"interval": "m", "key": "step", "value": "'1x'"}
