"""Evaluating monitors on batches: each live batch as the stream hands it over, and the
stored ones a monitor just added replays (from its first offset on)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from rillet.expressions.kernels import Context
from rillet.expressions.nodes import Column, walk
from rillet.monitors.observed import Monitor, Observed
from rillet.monitors.tables import MonitorTables

log = logging.getLogger("rillet")


class Evaluation(MonitorTables):
    """Batches through monitors; the caller holds ``_lock``."""

    def _evaluate(
        self, batch: pa.RecordBatch, times: np.ndarray, monitors: Sequence[Monitor]
    ) -> None:
        seen = Observed(
            batch,
            Context(batch, self.stream.schema.time_column),
            times,
            batch.column(batch.num_columns - 1).to_numpy(),
            {name: each.kernel for name, each in self.filters.items()},
        )
        for monitor in monitors:
            try:
                monitor.observe(seen)
            except Exception as exc:
                # e.g. an overflow in the expression: the batch is stored; the monitor skips it
                monitor.errors += 1
                log.warning(
                    "monitor %r on stream %r skipped a batch: %s",
                    monitor.name,
                    self.stream.name,
                    exc,
                )

    def _joined(self, batches: list[pa.RecordBatch]) -> pa.RecordBatch:
        """Batches as one, of the columns some monitor reads (with the time and the
        offsets, last): copying the others would cost more than joining saves."""
        read = {self.stream.schema.time_column, *self.indexes}
        for node in [f.node for f in self.filters.values()] + [
            a.node for a in self.aggregates.values()
        ]:
            read.update(n.name for n in walk(node) if isinstance(n, Column))
        names = batches[0].schema.names
        kept = [i for i, name in enumerate(names[:-1]) if name in read] + [len(names) - 1]
        return pa.concat_batches([b.select(kept) for b in batches])

    def _replay(self, monitors: Sequence[Monitor], from_offset: int = 0) -> None:
        """Feed the stored records (offsets >= from_offset) to monitors just added."""
        for batch in self.stream.stored(from_offset):
            times = batch.column(self.stream.schema.time_index).cast(pa.int64()).to_numpy()
            self.watermark = max(self.watermark, int(times.max()))
            self._evaluate(batch, times, monitors)
