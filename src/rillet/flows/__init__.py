"""Continuous queries (FlumeBase's flows): SELECTs that run over streams as they grow.

``submit(db, select, text)`` checks a parsed SELECT and starts it as a :class:`Flow`;
``explain(db, select)`` prints its operator graph.  The parts: :mod:`~rillet.flows.plan`
(the operator graph as data), :mod:`~rillet.flows.operators`, :mod:`~rillet.flows.windows`
(rolling bucketed windows), :mod:`~rillet.flows.join` (windowed joins),
:mod:`~rillet.flows.watermark` (event-time progress), :mod:`~rillet.flows.flow` (the
running flow and its output) and :mod:`~rillet.flows.config` (the ``rillet.*`` settings).
"""

from rillet.flows.flow import Flow, FlowRecord
from rillet.flows.planner import explain, submit

__all__ = ["Flow", "FlowRecord", "explain", "submit"]
