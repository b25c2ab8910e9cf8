"""Checkpoints of named flows: where a flow's input was read to, how much output that
accounts for, and the state of its operators, so that a reopen resumes from there instead
of replaying its input's history (docs/format/named_flows.md).

A checkpoint is taken under the flow's lock, between two batches, only when everything it
accounts for is in storage: the output rows made so far are all appended (the flow is not
skipping rows a run before it stored) and fsynced before the catalog keeps the
checkpoint.  The operators with state are TUMBLE/HOP/SESSION windows, rolling windows and
windowed joins, each at most once in a flow (a flow with two of a kind keeps no
checkpoint, and resumes by replay).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from rillet.batches import ipc_bytes
from rillet.errors import RilletError
from rillet.flows.flow import Sink
from rillet.flows.operators import Aggregate, EventAggregate, Filter, JoinSide, Project

if TYPE_CHECKING:
    from rillet.flows.flow import Flow

#: the version of the checkpoint's layout; another one is ignored (the flow replays)
VERSION = 3  # 3: TOP_K states of text (numbers, times: their text form)
#: the part holding the metadata (JSON); the others are Arrow IPC streams
META = "meta"


class Stateful(Protocol):
    """An operator whose state a checkpoint holds."""

    def dump(self) -> tuple[dict[str, int], dict[str, pa.RecordBatch]]:
        """Its state: numbers, and tables by name."""
        ...

    def load(self, scalars: dict[str, int], tables: dict[str, pa.RecordBatch]) -> None:
        """Take the state ``dump`` gave (before any record is pushed)."""
        ...


class CheckpointMismatch(RilletError):
    """A checkpoint does not fit its flow's operators (the flow replays instead)."""


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
    #: per operator with state ("windows", "rolling", "join"): its numbers, and its
    #: tables by name
    scalars: dict[str, dict[str, int]] = field(default_factory=dict)
    tables: dict[str, dict[str, pa.RecordBatch]] = field(default_factory=dict)

    def encode(self) -> dict[str, bytes]:
        """The catalog's parts: "meta" (JSON), and "<operator>.<table>" (Arrow IPC)."""
        meta = {
            "version": VERSION,
            "offsets": self.offsets,
            "output": self.output,
            "late": self.late,
            "late_events": self.late_events,
            "dropped_events": self.dropped_events,
            "operators": self.scalars,
        }
        parts = {META: json.dumps(meta).encode()}
        for operator, tables in self.tables.items():
            for name, batch in tables.items():
                parts[f"{operator}.{name}"] = ipc_bytes(pa.Table.from_batches([batch]))
        return parts

    @classmethod
    def decode(cls, parts: dict[str, bytes]) -> Checkpoint | None:
        """What :meth:`encode` wrote; None for none, or a layout this version does not
        know."""
        if META not in parts:
            return None
        found = json.loads(parts[META])
        if found.get("version") != VERSION:
            return None
        tables: dict[str, dict[str, pa.RecordBatch]] = {}
        for part, data in parts.items():
            if part != META:
                operator, _, name = part.partition(".")
                tables.setdefault(operator, {})[name] = _batch(data)
        return cls(
            {str(k): int(v) for k, v in found["offsets"].items()},
            int(found["output"]),
            int(found["late"]),
            int(found["late_events"]),
            int(found["dropped_events"]),
            {str(k): dict(v) for k, v in found["operators"].items()},
            tables,
        )


def _batch(data: bytes) -> pa.RecordBatch:
    table = pa.ipc.open_stream(data).read_all().combine_chunks()
    batches = table.to_batches()
    return batches[0] if batches else pa.RecordBatch.from_pylist([], schema=table.schema)


def stateful(flow: Flow) -> dict[str, Stateful] | None:
    """The operators with state of ``flow`` by kind ("windows", "rolling", "join"), when a
    checkpoint can hold them all: each input goes through filters, projections, at most
    one TUMBLE/HOP/SESSION window, one rolling window and one windowed join to the sink,
    and no two inputs read the same stream.  None otherwise."""
    names = [target.stream.name for target in flow._inputs]
    if len(set(names)) < len(names):  # a self-join: offsets by stream cannot tell its sides
        return None
    found: dict[str, Stateful] = {}
    for target in flow._inputs:
        operator: Any = target.operator
        while not isinstance(operator, Sink):
            state: Stateful
            if isinstance(operator, EventAggregate):
                kind, state = "windows", operator.windows
            elif isinstance(operator, JoinSide):
                kind, state = "join", operator.join
            elif isinstance(operator, Aggregate):
                kind, state = "rolling", operator.window
            elif isinstance(operator, Filter | Project):
                operator = operator.downstream
                continue
            else:  # anything without a checkpoint form
                return None
            if found.setdefault(kind, state) is not state:
                return None
            operator = operator.downstream
    return found if flow._inputs else None


def capture(flow: Flow, output: int, late: int) -> Checkpoint | None:
    """The checkpoint of ``flow`` now (under its lock, between batches), accounting for
    ``output`` and ``late`` stored rows; None when it cannot hold the flow's state or the
    flow has not read every input in offset order yet."""
    operators = stateful(flow)
    if (
        operators is None
        or set(flow.read_offsets) != set(flow.streams)
        or flow._done
        or flow._failure is not None
    ):
        return None
    scalars: dict[str, dict[str, int]] = {}
    tables: dict[str, dict[str, pa.RecordBatch]] = {}
    for kind, operator in operators.items():
        scalars[kind], tables[kind] = operator.dump()
    counters = flow._counters
    return Checkpoint(
        dict(flow.read_offsets), output, late, counters.late, counters.dropped, scalars, tables
    )


def restore(flow: Flow, checkpoint: Checkpoint) -> None:
    """Put ``checkpoint``'s state into ``flow``'s operators (not started yet): it reads its
    inputs from the checkpoint's offsets on.  CheckpointMismatch when the checkpoint does
    not fit the flow."""
    operators = stateful(flow)
    if operators is None or set(operators) != set(checkpoint.scalars):
        raise CheckpointMismatch("its checkpoint does not fit its operators")
    try:
        for kind, operator in operators.items():
            operator.load(checkpoint.scalars[kind], checkpoint.tables.get(kind, {}))
    except (ValueError, LookupError, TypeError, pa.ArrowException) as exc:
        raise CheckpointMismatch(f"its checkpoint cannot be read: {exc}") from exc
    flow._counters.late = checkpoint.late_events
    flow._counters.dropped = checkpoint.dropped_events
    flow.start_offsets = dict(checkpoint.offsets)
    flow.read_offsets = dict(checkpoint.offsets)
