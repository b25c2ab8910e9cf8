"""The time buckets of aggregates: automatic ones made as fine as their triggers need, and the
widths that must nest (design.md, "Time widths nest").

An aggregate given a resolution (or over a filter given one) keeps it; an automatic one holds
1 s buckets, or what divides both a second and the partitions retention drops, made finer
when a trigger over it has a period that is not whole buckets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from rillet.errors import ConfigError
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.trigger import Trigger
from rillet.time import duration_text

if TYPE_CHECKING:
    from rillet.stream import Stream

AUTOMATIC_US = 1_000_000  # the buckets of an automatic aggregate no trigger needs finer
# an automatic aggregate is made no finer than this (a 1 ms trigger, or one of 1500 us,
# whose windows are whole 500 us buckets); finer buckets must be asked for by name: one
# state a record is rarely what a period of "1001us" meant
FINEST_AUTOMATIC_US = 1_000


def automatic_base(stream: Stream) -> int:
    """An automatic aggregate's buckets without triggers: 1 s, or what divides both a
    second and the partitions where retention drops them (500 ms for 1500 ms ones)."""
    options = stream.options
    if options.retention or options.max_bytes:
        return math.gcd(AUTOMATIC_US, stream.granularity.width_us or AUTOMATIC_US)
    return AUTOMATIC_US


def automatic_resolution(
    aggregate: AggregateMonitor, triggers: Mapping[str, Trigger], base_us: int
) -> int:
    """The resolution an aggregate keeps: the one given, or, when automatic, ``base_us``
    made as fine as the periods of the triggers over it need (their greatest common
    divisor: 100 ms for triggers of 100 ms and 1 s, 500 ms for one of 1500 ms)."""
    if aggregate.fixed_by is not None:
        return aggregate.resolution_us
    periods = (t.period_us for t in triggers.values() if aggregate.name in t.aggregate_names)
    return math.gcd(base_us, *periods)


def finer_aggregates(
    trigger: Trigger,
    aggregates: Mapping[str, AggregateMonitor],
    triggers: Mapping[str, Trigger],
    stream: Stream,
) -> dict[str, AggregateMonitor]:
    """The automatic aggregates of a new trigger (installed in ``triggers``) whose buckets
    do not tile its period, made finer and empty (each from its first offset on): their
    history is to be read again before they replace the kept ones."""
    base = automatic_base(stream)
    wanted = {}
    for name in trigger.aggregate_names:
        aggregate = aggregates[name]
        resolution = automatic_resolution(aggregate, triggers, base)
        if resolution == aggregate.resolution_us:
            continue
        if resolution < FINEST_AUTOMATIC_US:
            raise ConfigError(
                f"period of trigger {trigger.name!r} ({duration_text(trigger.period_us)}) "
                f"would need buckets of {duration_text(resolution)} in aggregate {name!r}; "
                f"automatic resolutions stop at {duration_text(FINEST_AUTOMATIC_US)}: use a "
                f"period of whole milliseconds, or re-create aggregate {name!r} with "
                f"resolution={duration_text(resolution)!r}",
                kind="trigger",
                name=trigger.name,
            )
        wanted[name] = aggregate.at_resolution(resolution)
    for finer in wanted.values():
        check_resolution(finer, stream)
    return wanted


def check_resolution(aggregate: AggregateMonitor, stream: Stream) -> None:
    """With retention, which drops whole partitions, an aggregate's resolution must divide
    the partitions (for months and years, a day)."""
    options = stream.options
    if not (options.retention or options.max_bytes):
        return
    granularity = stream.granularity
    if (granularity.width_us or 86_400_000_000) % aggregate.resolution_us:
        given = duration_text(aggregate.resolution_us)
        if aggregate.fixed_by == "filter":
            given += f", given to filter {aggregate.filter_name!r}"
        raise ConfigError(
            f"resolution of aggregate {aggregate.name!r} ({given}) must divide the "
            f"partitions ({granularity.text}{'' if granularity.width_us else ', so a day'}"
            f") of stream {stream.name!r}: retention drops whole partitions; give "
            f"the aggregate a resolution that does, or none (automatic)",
            kind="aggregate",
            name=aggregate.name,
        )


def check_period(trigger: Trigger, aggregates: Mapping[str, AggregateMonitor]) -> None:
    """A trigger's period must be whole buckets of each of its aggregates that keep the
    resolution they were given (an automatic one is made finer: :func:`finer_aggregates`)."""
    for name in trigger.aggregate_names:
        aggregate = aggregates[name]
        resolution = aggregate.resolution_us
        if trigger.period_us % resolution == 0 or aggregate.fixed_by is None:
            continue
        period = trigger.period_us
        text = duration_text(resolution)
        finer = f"resolution={duration_text(math.gcd(resolution, period))!r}"
        if aggregate.fixed_by == "aggregate":
            held = f"which was given resolution={text!r}"
            remedy = f"{finer} or without one (automatic)"
        else:
            held = f"which takes resolution={text!r} from filter {aggregate.filter_name!r}"
            remedy = f"{finer}, or filter {aggregate.filter_name!r} without a resolution"
        raise ConfigError(
            f"period of trigger {trigger.name!r} ({duration_text(period)}) must be whole "
            f"buckets of aggregate {name!r}, {held}: use a period that is a multiple of "
            f"{text}, or re-create aggregate {name!r} with {remedy}",
            kind="trigger",
            name=trigger.name,
        )
