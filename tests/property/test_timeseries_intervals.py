"""Kairos intervals (:mod:`rillet.timeseries.intervals`) against plain-Python calendar walks.

Random instants from 1890 to 2110 are bucketed by fixed widths, days, ``%Y%U`` weeks, months
and years; the expected bucket comes from tests/timeseries/reference.py (datetime and
strftime: a week's start is found by walking back the days of the same ``%Y%U``).  Interval
texts are parsed against Kairos' table of units, and any other text is refused with an
IntervalConfigError.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rillet.errors import IntervalConfigError
from rillet.timeseries.intervals import DAY, Interval, Width
from tests.timeseries.reference import bucket, bucket_end

# whole microseconds: datetime rounds finer fractions, a bucket floors them
INSTANTS = st.builds(
    lambda s, us: s + us / 1e6,
    st.integers(
        int(dt.datetime(1890, 1, 1, tzinfo=dt.UTC).timestamp()),
        int(dt.datetime(2110, 1, 1, tzinfo=dt.UTC).timestamp()),
    ),
    st.integers(0, 999_999),
)
WORDS = {"daily": Width(DAY), "weekly": Width(DAY, "week"), "monthly": Width(DAY, "month")}
WORDS["yearly"] = Width(DAY, "year")


@given(INSTANTS, st.sampled_from(sorted(WORDS)))
def test_gregorian_buckets_are_the_calendars(t: float, word: str) -> None:
    width = WORDS[word]
    start = bucket(t, word)
    assert width.start(t) == start
    assert int(width.floor(np.array([t]))[0]) == start
    assert width.next(start) == bucket_end(start, word)
    assert width.shift(start, -1) == bucket(start - 1, word)
    # the key is a time inside the bucket, of the same %Y%U week (or day, month, year)
    fmt = {"daily": "%Y%m%d", "weekly": "%Y%U", "monthly": "%Y%m", "yearly": "%Y"}[word]
    stamp = dt.datetime.fromtimestamp(start, dt.UTC).strftime(fmt)
    assert stamp == dt.datetime.fromtimestamp(t, dt.UTC).strftime(fmt)


@given(INSTANTS, st.integers(1, 10**6))
def test_fixed_buckets_are_multiples_of_the_step(t: float, step: int) -> None:
    width = Width(step)
    assert width.start(t) == bucket(t, step)
    assert int(width.floor(np.array([t]))[0]) == bucket(t, step)


@given(st.integers(1, 10**5), st.sampled_from("shdwmy"))
def test_kairos_duration_texts(n: int, unit: str) -> None:
    seconds = {"s": 1, "h": 3600, "d": DAY, "w": 7 * DAY, "m": 30 * DAY, "y": 365 * DAY}
    assert Width.parse(f"{n}{unit}", "step", "i") == Width(n * seconds[unit])


@given(st.text(max_size=8))
def test_any_other_text_is_an_interval_config_error(text: str) -> None:
    try:
        width = Width.parse(text, "step", "i")
    except IntervalConfigError as exc:
        assert exc.key == "step"
        assert exc.interval == "i"
        return
    assert width.seconds >= 1  # it was a duration, a number or a Gregorian word after all


@given(INSTANTS, st.integers(1, 30), st.sampled_from(["daily", "weekly", "monthly", "yearly"]))
def test_steps_keep_the_newest_buckets(now: float, steps: int, word: str) -> None:
    interval = Interval.parse("i", {"step": word, "steps": steps})
    live = interval.live_from(now)
    assert live is not None
    newest = interval.buckets(live, interval.i_start(now))
    assert len(newest) == steps
    ends = interval.expires(np.array([live, interval.shift(live, -1)]))
    assert ends is not None
    assert ends[0] > now  # the oldest live bucket: not yet expired
    assert ends[1] <= now  # the one before it: expired


@pytest.mark.parametrize(
    ("finer", "coarser", "nests"),
    [
        (60, 3600, True),
        (7, 60, False),
        ("daily", "weekly", True),
        ("weekly", "monthly", False),
        ("weekly", "yearly", True),
        ("monthly", "yearly", True),
        (3600, "monthly", True),
        (7 * DAY, "monthly", False),
        ("daily", 7 * DAY, True),
        ("monthly", 30 * DAY, False),
    ],
)
def test_which_resolutions_nest(finer: object, coarser: object, nests: bool) -> None:
    config = {"step": coarser, "resolution": finer}
    if nests:
        assert not Interval.parse("i", config).coarse or finer == coarser
    else:
        with pytest.raises(IntervalConfigError, match="does not divide"):
            Interval.parse("i", config)


@given(INSTANTS, st.integers(-40, 40), st.sampled_from(["weekly", "monthly", "yearly"]))
def test_shifts_walk_the_calendar(t: float, steps: int, word: str) -> None:
    start = bucket(t, word)
    walked = start
    for _ in range(steps):
        walked = bucket_end(walked, word)
    for _ in range(-steps):
        walked = bucket(walked - 1, word)
    assert WORDS[word].shift(start, steps) == walked
