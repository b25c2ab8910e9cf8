"""A named aggregate over a filter: partial states per time bucket, at several widths.

States are kept per bucket of the stream's resolution and also per minute, hour and day, so
merging any time range takes a few hundred merges at most (a day of 1 s buckets: ~150).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa

from rillet.aggregates import AGGREGATES, State
from rillet.datatypes import DataType
from rillet.errors import TypeCheckError
from rillet.expressions.check import check
from rillet.expressions.kernels import Context, compile, evaluate
from rillet.expressions.nodes import Call, Cast, Literal, Node
from rillet.time import group_by_key

COARSER_US = (60_000_000, 3_600_000_000, 86_400_000_000)


def _constant(node: Node) -> Any:
    while isinstance(node, Cast):
        node = node.operand
    assert isinstance(node, Literal)
    return node.value


class AggregateMonitor:
    """``function(argument)`` over the records a filter matches, by time bucket."""

    def __init__(
        self,
        name: str,
        filter_name: str | None,
        expression: str,
        columns: Mapping[str, DataType],
        resolution_us: int,
        from_offset: int,
    ) -> None:
        node = check(expression, columns, allow_aggregates=True)
        if not (isinstance(node, Call) and node.aggregate):
            raise TypeCheckError(
                f"an aggregate must be one aggregate function call such as MAX(op_latency_ms), "
                f"not {expression!r}",
                line=node.line,
                col=node.col,
            )
        assert node.type is not None
        self.name = name
        self.filter_name = filter_name
        self.expression = expression
        self.node = node
        self.type: DataType = node.type
        self.function = AGGREGATES[node.name]
        self.argument = compile(node.args[0]) if node.args else None
        self.arg_type = node.args[0].type if node.args else None
        self.params = tuple(_constant(a) for a in node.args[1:])
        self.from_offset = from_offset
        self.resolution_us = resolution_us
        self.widths = [resolution_us]
        self.widths += [w for w in COARSER_US if w > resolution_us and w % resolution_us == 0]
        self.levels: list[dict[int, State]] = [{} for _ in self.widths]
        self.errors = 0
        # a bad parameter (APPROX_QUANTILE(x, 1.5)) fails here, not at ingest
        self.function.new_state(self.arg_type, self.params)
        self._state_type = self.arg_type if self.arg_type is not None else DataType("NULL")

    def new_state(self) -> State:
        # checked once in __init__; a state per bucket must not bind the signature again
        return self.function.make(self._state_type, self.params)

    def observe(self, ctx: Context, times: np.ndarray, mask: np.ndarray | None) -> None:
        """Fold the rows of a batch where ``mask`` holds into their buckets' states."""
        values = evaluate(self.argument, ctx) if self.argument is not None else None
        if mask is not None:
            selected = np.flatnonzero(mask)
            if len(selected) == 0:
                return
            if len(selected) < len(mask):
                times = times[selected]
                values = values.take(pa.array(selected)) if values is not None else None
        # The values are read once, into one partial state per finest bucket, which is then
        # merged into the state of that bucket and of its minute, hour and day: merging is
        # cheap, another pass over the values for every level is not.
        fine = self.widths[0]
        for key, positions in group_by_key(times // fine * fine):
            part = None
            if values is not None:
                first, count = int(positions[0]), len(positions)
                contiguous = int(positions[-1]) - first + 1 == count
                part = values.slice(first, count) if contiguous else values.take(positions)
            partial = self.new_state()
            partial.update(part, len(positions))
            for width, level in zip(self.widths, self.levels, strict=True):
                bucket = key // width * width
                state = level.get(bucket)
                if state is None:
                    level[bucket] = state = self.new_state()
                state.merge(partial)

    def merged(self, start_us: int | None, end_us: int | None) -> State:
        """One state for ``[start, end)``, merged from the coarsest buckets that fit."""
        total = self.new_state()
        base = self.levels[0]
        if not base:
            return total
        width = self.widths[0]
        keys = list(base)
        low = min(keys) if start_us is None else max(start_us // width * width, min(keys))
        stop = max(keys) + width
        high = stop if end_us is None else min(-(-end_us // width) * width, stop)
        at = low
        while at < high:
            for level in range(len(self.widths) - 1, -1, -1):
                step = self.widths[level]
                if at % step == 0 and at + step <= high:
                    break
            state = self.levels[level].get(at)
            if state is not None:
                total.merge(state)
            at += step
        return total

    def value(self, start_us: int | None, end_us: int | None) -> Any:
        if start_us is not None and end_us is not None:
            for width, level in zip(self.widths, self.levels, strict=True):
                if end_us - start_us == width and start_us % width == 0:  # exactly one bucket
                    state = level.get(start_us)
                    return state.result() if state is not None else self.new_state().result()
        return self.merged(start_us, end_us).result()

    def bucket_keys(self) -> list[int]:
        return sorted(self.levels[0])

    def drop_before(self, start_us: int) -> None:
        self.levels = [{k: v for k, v in level.items() if k >= start_us} for level in self.levels]
