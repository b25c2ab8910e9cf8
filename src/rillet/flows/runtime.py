"""Starting a flow from a checked plan: its settings, operators, inputs and end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rillet.flows.config import FlowConfig
from rillet.flows.flow import Flow, Sink
from rillet.flows.plan import PlanNode, build, explain, streams
from rillet.flows.windows import Counters
from rillet.sources import source_of

if TYPE_CHECKING:
    from rillet.database import Database


def _finite(db: Database, names: list[str]) -> Any:
    """A test telling whether every stream's source has finished, or None when one of them
    is not fed by a finite source (API-fed streams, tails: the flow runs until cancelled)."""
    found = [source_of(db, name) for name in names]
    finite = [s for s in found if s is not None and s.finite]
    if not names or len(finite) < len(names):
        return None
    # a source that failed raises its error here: the flow fails with it
    return lambda: all(s.finished() for s in finite)


def start(db: Database, plan: PlanNode, query: str, columns: list[str]) -> Flow:
    """Start a flow running ``plan`` (checked), whose output columns are ``columns``."""
    config = FlowConfig.of(db.config)
    registry = db._flows
    names = streams(plan)

    def make(flow_id: int) -> Flow:
        counters = Counters()
        sink = Sink()
        inputs = build(plan, sink, config, counters, db.stream)
        flow = Flow(
            flow_id,
            query,
            columns,
            inputs,
            counters,
            ends=_finite(db, sorted(set(names))),
            on_end=registry.ended,
            graph=explain(plan),
            clock=db.clock,
        )
        sink.flow = flow
        return flow

    return registry.start(make)
