"""Checkpoints of named flows: where a flow's input was read to, how much output that
accounts for, and the state of its open windows, so that a reopen resumes from there
instead of replaying its input's history (docs/format/named_flows.md).

A checkpoint is taken under the flow's lock, between two batches, only when everything it
accounts for is in storage: the output rows made so far are all appended (the flow is not
skipping rows a run before it stored) and fsynced before the catalog keeps the
checkpoint.  A flow whose operators a checkpoint cannot hold (a join, rolling windows)
keeps none: it resumes by replay, as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from rillet.batches import ipc_bytes
from rillet.errors import RilletError
from rillet.flows.flow import Sink
from rillet.flows.operators import EventAggregate, Filter, Project
from rillet.flows.timewindows import EventWindows

if TYPE_CHECKING:
    from rillet.flows.flow import Flow

#: the version of the checkpoint's layout; another one is ignored (the flow replays)
VERSION = 1


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A named flow's state after it read its inputs up to ``offsets``."""

    #: per input stream, the offset of the first record not read yet
    offsets: dict[str, int]
    #: how many rows the output stream and ``<name>.late`` held then (all of the flow's)
    output: int
    late: int
    #: the flow's counts of late and dropped records
    late_events: int
    dropped_events: int
    #: the windows' clocks and counts (:meth:`EventWindows.dump`), their keys and state
    windows: dict[str, int] | None = None
    keys: pa.RecordBatch | None = None
    state: pa.RecordBatch | None = None

    def encode(self) -> tuple[str, bytes | None, bytes | None]:
        """The catalog's row: metadata as JSON, keys and state as Arrow IPC stream bytes."""
        meta = {
            "version": VERSION,
            "offsets": self.offsets,
            "output": self.output,
            "late": self.late,
            "late_events": self.late_events,
            "dropped_events": self.dropped_events,
            "windows": self.windows,
        }
        return json.dumps(meta), _bytes(self.keys), _bytes(self.state)

    @classmethod
    def decode(cls, meta: str, keys: bytes | None, state: bytes | None) -> Checkpoint | None:
        """What :meth:`encode` wrote; None for a layout this version does not know."""
        found = json.loads(meta)
        if found.get("version") != VERSION:
            return None
        return cls(
            {str(k): int(v) for k, v in found["offsets"].items()},
            int(found["output"]),
            int(found["late"]),
            int(found["late_events"]),
            int(found["dropped_events"]),
            found["windows"],
            _batch(keys),
            _batch(state),
        )


def _bytes(batch: pa.RecordBatch | None) -> bytes | None:
    return None if batch is None else ipc_bytes(pa.Table.from_batches([batch]))


def _batch(data: bytes | None) -> pa.RecordBatch | None:
    if data is None:
        return None
    table = pa.ipc.open_stream(data).read_all()
    return table.combine_chunks().to_batches()[0] if table.num_rows else None


def windows_of(flow: Flow) -> tuple[bool, EventWindows | None]:
    """Whether a checkpoint can hold ``flow``'s state (one input through filters,
    projections and at most one TUMBLE/HOP/SESSION window), and that window if any."""
    if len(flow._inputs) != 1:
        return False, None
    found: EventWindows | None = None
    operator: Any = flow._inputs[0].operator
    while operator is not None and not isinstance(operator, Sink):
        if isinstance(operator, EventAggregate):
            if found is not None:
                return False, None
            found = operator.windows
        elif not isinstance(operator, Filter | Project):
            return False, None
        operator = getattr(operator, "downstream", None)
    return isinstance(operator, Sink), found


def capture(flow: Flow, output: int, late: int) -> Checkpoint | None:
    """The checkpoint of ``flow`` now (under its lock, between batches), accounting for
    ``output`` and ``late`` stored rows; None when it cannot hold the flow's state or the
    flow has not read anything in offset order yet."""
    holds, windows = windows_of(flow)
    if not holds or not flow.read_offsets or flow._done or flow._failure is not None:
        return None
    counters = flow._counters
    scalars, keys, state = windows.dump() if windows is not None else (None, None, None)
    return Checkpoint(
        dict(flow.read_offsets),
        output,
        late,
        counters.late,
        counters.dropped,
        scalars,
        keys,
        state,
    )


class CheckpointMismatch(RilletError):
    """A checkpoint does not fit its flow's operators (the flow replays instead)."""


def restore(flow: Flow, checkpoint: Checkpoint) -> None:
    """Put ``checkpoint``'s state into ``flow``'s operators (not started yet): it reads its
    inputs from the checkpoint's offsets on.  CheckpointMismatch when the checkpoint does
    not fit the flow."""
    holds, windows = windows_of(flow)
    if not holds or (windows is None) != (checkpoint.windows is None):
        raise CheckpointMismatch("its checkpoint does not fit its operators")
    if windows is not None:
        assert checkpoint.windows is not None
        try:
            windows.load(checkpoint.windows, checkpoint.keys, checkpoint.state)
        except (ValueError, KeyError, TypeError, pa.ArrowException) as exc:
            raise CheckpointMismatch(f"its checkpoint cannot be read: {exc}") from exc
    flow._counters.late = checkpoint.late_events
    flow._counters.dropped = checkpoint.dropped_events
    flow.start_offsets = dict(checkpoint.offsets)
    flow.read_offsets = dict(checkpoint.offsets)
