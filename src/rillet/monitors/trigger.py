"""A trigger: a condition over named aggregates, checked once per period on closed windows."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.kernels import Context, Kernel, compile, evaluate
from rillet.expressions.nodes import Column, walk
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.alerts import Alert
from rillet.monitors.observed import Observed, matches
from rillet.time import us_to_datetime


def _widened(dtype: DataType) -> DataType:
    return DataType("BIGINT", dtype.nullable) if dtype.name == "INT" else dtype


class Trigger:
    """``condition`` (e.g. ``max_latency_ms > 1000``) evaluated per window of ``period_us``.

    Windows are aligned to the period.  ``checked_through`` is the end of the newest window
    already evaluated; a window is evaluated once, when it has closed.
    """

    def __init__(
        self,
        name: str,
        condition: str,
        period_us: int,
        aggregates: Mapping[str, AggregateMonitor],
        checked_through: int,
        from_offset: int = 0,
        watermark: int = -(2**63),
    ) -> None:
        # a SUM of INT grows past INT's range: judge integer aggregates as BIGINT
        columns = {name: _widened(agg.type) for name, agg in aggregates.items()}
        node = check(condition, columns)
        assert node.type is not None
        if node.type.name not in ("BOOLEAN", "NULL"):
            raise TypeCheckError(
                f"a trigger condition must be BOOLEAN, got {node.type}", line=1, col=1
            )
        names = list(dict.fromkeys(n.name for n in walk(node) if isinstance(n, Column)))
        if not names:
            raise TypeCheckError(
                f"trigger condition {condition!r} names no aggregate", line=1, col=1
            )
        self.name = name
        self.condition = condition
        self.period_us = period_us
        self.aggregate_names = names
        self.kernel = compile(node)
        # kernels for windows whose integer SUM left int64: those aggregates judged as DOUBLE
        self._widened_kernels: dict[frozenset[str], Kernel] = {}
        self.checked_through = checked_through
        self.columns = columns
        self.errors = 0
        self.saved_at = 0.0  # when checked_through last went to the catalog (monotonic)
        self.from_offset = from_offset
        #: the newest event time observed (epoch microseconds): windows ending by it closed
        self.watermark = watermark

    def observe(self, seen: Observed) -> None:
        """Take in one batch, after the aggregates it reads: its event time closes windows
        (judged by :meth:`due` and :meth:`evaluate` on live batches)."""
        self.watermark = max(self.watermark, seen.span[1])

    def due(self, aggregates: Mapping[str, AggregateMonitor], closed_before: int) -> list[int]:
        """Starts of the windows with data that closed since the last check."""
        p = self.period_us
        if -(-self.checked_through // p) * p + p > closed_before:
            return []  # the first window not judged yet is still open (most batches)
        keys = [
            aggregates[name].keys_between(self.checked_through, closed_before)
            for name in self.aggregate_names
        ]
        if len(keys) == 1:  # ascending already: drop repeats without np.unique's sort
            starts = keys[0] // p * p
            starts = starts[np.append(True, starts[1:] != starts[:-1])] if len(starts) else starts
        else:
            starts = np.unique(np.concatenate(keys) // p * p)
        ready = starts[(starts + p <= closed_before) & (starts >= self.checked_through)]
        return list(ready.tolist())

    def evaluate(
        self, aggregates: Mapping[str, AggregateMonitor], windows: list[int], stream: str
    ) -> list[Alert]:
        """Alerts for the windows where the condition holds; advances ``checked_through``."""
        if not windows:
            return []
        p = self.period_us
        columns = {}
        for name in self.aggregate_names:
            columns[name] = aggregates[name].window_array(windows, p, self.columns[name].arrow)
        batch = pa.record_batch(columns)
        doubled = self._doubled(columns)
        kernel = self._kernel(doubled) if doubled else self.kernel
        fired = matches(evaluate(kernel, Context(batch, self.aggregate_names[0])))
        first = self.aggregate_names[0]
        column = columns[first]
        alerts = [
            Alert(
                self.name,
                us_to_datetime(windows[i]),
                column[i].as_py(),
                self.condition,
                first,
                stream,
            )
            for i in np.flatnonzero(fired).tolist()
        ]
        self.checked_through = max(self.checked_through, windows[-1] + p)
        return alerts

    def _doubled(self, columns: Mapping[str, pa.Array]) -> frozenset[str]:
        """The integer aggregates that came as DOUBLE: a SUM past int64 in one of the windows
        (see ``AggregateMonitor.window_array``)."""
        return frozenset(
            name
            for name, array in columns.items()
            if array.type != self.columns[name].arrow and pa.types.is_floating(array.type)
        )

    def _kernel(self, doubled: frozenset[str]) -> Kernel:
        """The condition checked with the ``doubled`` aggregates as DOUBLE, so that arithmetic
        on them is not cast back into int64 (made once for each such set)."""
        found = self._widened_kernels.get(doubled)
        if found is None:
            types = {
                name: DataType("DOUBLE", dtype.nullable) if name in doubled else dtype
                for name, dtype in self.columns.items()
            }
            found = self._widened_kernels[doubled] = compile(check(self.condition, types))
        return found
