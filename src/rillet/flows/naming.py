"""Stream names attached to running flows: FlumeBase's ``\\name id stream`` and ``\\dname id``.

:meth:`FlowNames.attach` gives a running flow of a SELECT a stream of its own: a new stream
``name`` with the flow's output columns and ``timestamp`` (its event time, the stream's
time column, as a named flow's output has), to which every output batch of the flow from
then on is appended whole (one ``append_many`` of an Arrow batch, never record by record).
The flow's own output goes on as before (watchers still see it); ``db.sql`` and other flows
read the stream like any other.  A flow has at most one name at a time.  The stream has
the default options (1h partitions, relaxed durability, no retention); the name is not in
the catalog (the stream is).

:meth:`FlowNames.detach` removes the name without stopping the flow: the feeding stops and
the stream is dropped, as FlumeBase removes the logical node it made.  It is refused
(ConflictError) while a named flow (``CREATE STREAM ... AS SELECT``) reads the stream, as
``DROP STREAM`` is; flows of SELECTs reading it end, as they do at ``DROP STREAM``.

A named flow made by ``CREATE STREAM x AS SELECT`` is named already and keeps its name: its
stream is its stored output, removed by ``DROP STREAM x`` only.

When a flow with an attached name ends (cancelled, its FILE sources finished), or the
database is reopened (flows of SELECTs do not outlive it), the stream stays, as an ordinary
stream holding the output it was given; ``DROP STREAM`` removes it.  Dropping the stream
itself detaches the name first (the flow goes on).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from rillet.errors import ConflictError, NotFoundError, UnsupportedError
from rillet.flows.frames import TIME_TYPE
from rillet.schema import Schema
from rillet.stream import StreamOptions

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.flows.flow import Flow
    from rillet.stream import Stream


class FlowNames:
    """Attaches stream names to the running flows of one database (the flow keeps its name:
    :attr:`rillet.Flow.name`, with :attr:`rillet.Flow.attached` true)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()  # one attach or detach at a time

    def attach(self, flow_id: int, name: str) -> Stream:
        """Create the stream ``name`` fed by the running flow ``flow_id`` from now on.

        The records appended to the flow's streams before the call go through the flow
        first: their output is not in the new stream (a window still open holds what it
        holds, and goes to the stream when it closes)."""
        from rillet.database import _stream_name

        db = self._db
        key = _stream_name(name)
        db._named.check_new(key)
        with self._lock:
            flow = db._flows.get(flow_id)
            _check_not_named_flow(flow, "\\name")
            if flow.name is not None:
                raise ConflictError(
                    f"flow {flow.id} already has the stream name {flow.name!r}: a flow has at "
                    f"most one (\\dname {flow.id} removes it)",
                    kind="flow",
                    name=str(flow.id),
                )
            schema = output_schema(flow)
            taken = next((s.name for s in db.streams() if s.name.lower() == key), None)
            if taken is not None:
                raise ConflictError(
                    f"stream {taken!r} already exists: \\name {flow.id} needs a new stream name",
                    kind="stream",
                    name=key,
                )
            for each in flow.streams:  # what was appended before goes through first
                db.stream(each).caught_up()
            stream = db._create_stream(key, schema, StreamOptions())
            flow._feed(stream.append_many, key)  # each output batch in one call
        return stream

    def detach(self, flow_id: int) -> None:
        """Stop feeding the stream attached to the flow and drop it; the flow goes on."""
        db = self._db
        with self._lock:
            flow = db._flows.get(flow_id)
            _check_not_named_flow(flow, "\\dname")
            name = flow.name
            if name is None:
                raise NotFoundError(
                    f"flow {flow.id} has no stream name to remove (\\name {flow.id} stream "
                    "attaches one)",
                    kind="stream name",
                    name=str(flow.id),
                    suggestion=None,
                )
            db._named.check_drop(name)  # a named flow reads it: refused, nothing changed
            tee, stream = flow._tee, name
            flow._feed(None)
        try:
            db.drop_stream(name)
        except Exception:  # a named flow began to read it meanwhile: nothing changed
            with self._lock:
                if flow.name is None:
                    flow._feed(tee, stream)
            raise

    def forget(self, stream: str) -> None:
        """The stream ``stream`` is being dropped: the flow feeding it (if one does) stops
        feeding it and goes on."""
        with self._lock:
            for flow in self._db._flows.running():
                if flow.attached and flow.name == stream:
                    flow._feed(None)


def _check_not_named_flow(flow: Flow, command: str) -> None:
    if flow.name is not None and not flow.attached:
        raise ConflictError(
            f"flow {flow.id} is the named flow of stream {flow.name!r} (CREATE STREAM "
            f"{flow.name} AS SELECT): {command} cannot change its name; DROP STREAM "
            f"{flow.name} removes the flow and its stream",
            kind="flow",
            name=str(flow.id),
        )


def output_schema(flow: Flow) -> Schema:
    """The schema of a flow's attached stream: its output columns and ``timestamp``."""
    if "timestamp" in flow.columns:
        raise UnsupportedError(
            f"flow {flow.id} has a column 'timestamp': its stream's 'timestamp' is each row's "
            "event time; rename the SELECT's column to name the flow",
            statement="\\name",
        )
    missing = [c for c in flow.columns if c not in flow.types]
    if missing:  # pragma: no cover - every flow of a SELECT knows its output types
        raise UnsupportedError(f"flow {flow.id}'s output types are not known", statement="\\name")
    columns = [(c, flow.types[c]) for c in flow.columns]
    return Schema.build([*columns, ("timestamp", TIME_TYPE)], "timestamp")
