"""Starting a flow from a checked plan: its settings, operators, inputs and end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from rillet.flows.config import FlowConfig
from rillet.flows.flow import Flow, Sink
from rillet.flows.plan import Join, PlanNode, TimeWindow, build, explain, streams
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


def _has_time_windows(plan: PlanNode) -> bool:
    if isinstance(plan, TimeWindow):
        return True
    if isinstance(plan, Join):
        return _has_time_windows(plan.left) or _has_time_windows(plan.right)
    inner = getattr(plan, "input", None)
    return inner is not None and _has_time_windows(inner)


def start(
    db: Database,
    plan: PlanNode,
    query: str,
    columns: list[str],
    options: Mapping[str, Any] | None = None,
    counters: Counters | None = None,
    sink: Sink | None = None,
    setup: Callable[[Flow], None] | None = None,
    on_end: Callable[[Flow], None] | None = None,
    settings: Mapping[str, Any] | None = None,
) -> Flow:
    """Start a flow running ``plan`` (checked), whose output columns are ``columns``.

    ``options`` are the flow's own (``lateness``, ``idle_timeout``, ``sketches``) over
    ``settings`` (by default the session's); ``counters`` (with its ``on_late`` hook) is
    the flow's, if given; ``sink`` takes the output instead of the flow's queue (a named
    flow's stream), and ``setup`` is called with the flow before it starts; ``on_end``
    with the flow once it has ended, instead of taking it off the list of flows (a named
    flow that failed stays there)."""
    config = FlowConfig.of(db.config if settings is None else settings).with_options(options or {})
    registry = db._flows
    names = streams(plan)

    def make(flow_id: int) -> Flow:
        counted = counters if counters is not None else Counters()
        end = sink if sink is not None else Sink()
        inputs = build(plan, end, config, counted, db.stream)
        flow = Flow(
            flow_id,
            query,
            columns,
            inputs,
            counted,
            ends=_finite(db, sorted(set(names))),
            on_end=on_end or registry.ended,
            graph=explain(plan),
            clock=db.clock,
            # an idle timeout moves TUMBLE/HOP/SESSION watermarks only: rolling windows over
            # event time never close by the clock
            ticking=config.idle_timeout_us > 0 and _has_time_windows(plan),
            types={c: plan.columns[c] for c in columns},
        )
        end.flow = flow
        if setup is not None:
            setup(flow)
        return flow

    return registry.start(make)
