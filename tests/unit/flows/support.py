"""Running a flow plan over a stream fed by append_many, live or as a replay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import rillet
from rillet.expressions.check import check
from rillet.flows.flow import Flow
from rillet.flows.plan import Compute, PlanNode, Scan, Window
from rillet.flows.runtime import start


def scan(stream: rillet.Stream) -> Scan:
    return Scan(stream.name, {c.name: c.type for c in stream.schema.columns})


def windowed(
    stream: rillet.Stream, width_us: int, keys: Sequence[str], calls: dict[str, str]
) -> PlanNode:
    """``SELECT keys..., calls... FROM stream GROUP BY keys OVER width``."""
    source = scan(stream)
    columns = source.columns
    window = Window(
        source,
        tuple((k, check(k, columns)) for k in keys),
        tuple((name, check(text, columns, allow_aggregates=True)) for name, text in calls.items()),  # type: ignore[misc]
        width_us,
    )
    out = window.columns
    return Compute(window, tuple((name, check(name, out)) for name in [*keys, *calls]))


def run(db: rillet.Database, plan: PlanNode, names: list[str], feed: Any) -> tuple[Flow, list[Any]]:
    """Start ``plan``, call ``feed()`` (which appends), end the input, and return the flow
    and its output records."""
    flow = start(db, plan, "test", names)
    feed()
    flow.finish()
    return flow, list(flow)
