"""Named flows: ``CREATE STREAM name [WITH (option = value, ...)] AS SELECT ...``.

A named flow is a flow whose output is appended to the stream ``name`` (queryable with
``db.sql``, readable by other flows), whose late records go to ``<name>.late``, and whose
definition is kept in the catalog, in the same transaction that creates its stream.

Durability is by deterministic replay from a checkpoint (docs/format/named_flows.md): a
flow's output depends only on the order of its input records, and a stream's log keeps a
prefix of what was appended.  Every input batch a flow sees was written to its stream's log
before the flow saw it, and the output it accounts for is written after; so after
``close()`` or a SIGKILL, the output stream holds a prefix of the flow's output and the
inputs hold at least the records that prefix accounts for.  A flow checkpoints its input
offsets, counts and operators' state (:mod:`rillet.flows.checkpoint`) once the output they
account for is fsynced.  On reopen it loads its checkpoint (or, without one, starts from its
start offsets), runs over the stored input from there (in bulk: whole Arrow batches of the
sealed and memory partitions through the vectorized operators), skips the rows it produces
that are already stored, and appends the rest: no window missing, none twice.  The late
records stream is kept the same way.

A named flow that fails (an operator raising on a batch, or a plan that no longer builds at
open) stays listed, failed, with its error, which its definition keeps: until DROP STREAM,
or REFRESH STREAM, which starts it again (docs/format/named_flows.md).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from rillet.datatypes import DataType
from rillet.errors import (
    ConfigError,
    ConflictError,
    FlowError,
    NotFoundError,
    QueryError,
    RilletError,
    UnsupportedError,
    not_found,
)
from rillet.flows import config as flow_config
from rillet.flows.checkpoint import Checkpoint, CheckpointMismatch, capture, restore
from rillet.flows.flow import Flow, describe
from rillet.flows.frames import TIME_TYPE
from rillet.flows.late import LateKeeper, first_windows, oldest_late, window_times
from rillet.flows.output import OutputSink, micros, open_rows, stored_rows, tail
from rillet.flows.plan import PlanNode, streams, time_windows
from rillet.flows.windows import Counters
from rillet.query import Added
from rillet.rtsql import ast
from rillet.rtsql.printer import stream_name
from rillet.schema import Schema
from rillet.storage.catalog import NamedFlowEntry
from rillet.stream import StreamOptions
from rillet.time import bound_us, us_to_datetime

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.stream import Stream

log = logging.getLogger("rillet")

#: the options of the output stream itself
STREAM_OPTIONS = ("retention", "partition")
#: where a refreshed flow's definition keeps the input offsets it read in event-time order
REFRESHED = "refreshed_through"
#: where a named flow's definition keeps the idle advances of its watermark (an
#: ``idle_timeout`` moved it by the wall clock): [input offset, watermark] pairs, replayed
#: at the same offsets
IDLE_MARKS = "idle_marks"
#: where a refreshed roll-up's definition keeps its point K (epoch microseconds): its rows
#: of windows ending at or before K were kept as they were, the replay emits only later ones
KEPT = "kept_through"
#: where a refreshed flow's definition keeps how many late records ``<name>.late`` kept
#: (those before K): its first rows, which the replay does not produce again
LATE_KEPT = "late_kept"
#: where a named flow's definition keeps why it failed (text): it stays listed as failed,
#: and is not run again at open, until DROP STREAM or REFRESH STREAM (which restarts it)
FAILED = "failed"
_REFRESH_STATE = (REFRESHED, IDLE_MARKS, KEPT, LATE_KEPT, FAILED)
#: where a named flow's definition keeps the session's flow settings it was created under
#: (``db.set``: lateness, idle timeout, ...): a reopened database's session is a new one,
#: and the flow runs on as it was created (a definition without them takes the session's)
SETTINGS = "settings"
#: a flow spends at most 1 / this of its time checkpointing
_CHECKPOINT_SHARE = 20
#: every option CREATE STREAM ... WITH (...) AS SELECT takes
OPTIONS = ("since", *STREAM_OPTIONS, *flow_config.OPTIONS)


class NamedFlows:
    """The named flows of a database: created, resumed at open, dropped."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._flows: dict[str, Flow] = {}
        self._sinks: dict[str, OutputSink] = {}

    # -- lifetime ----------------------------------------------------------------------

    def resume(self) -> None:
        """Start every named flow of the catalog, in the order they were created (each
        reads only streams made before it).  One that failed before, or cannot start now
        (its plan no longer builds), is listed as failed with its error: the database
        opens, the other flows run."""
        for entry in self._db._catalog.named_flows():
            failed = entry.options.get(FAILED)
            if failed is not None:  # failed for good until DROP or REFRESH: not run again
                self._list_failed(entry, str(failed))
                continue
            try:
                self._start(entry)
            except Exception as exc:
                log.error("named flow %r cannot resume: %s", entry.name, describe(exc))
                self._list_failed(entry, f"cannot start: {describe(exc)}")

    def flows(self) -> dict[str, Flow]:
        """The named flows by name: running, or failed (listed until dropped or
        refreshed)."""
        with self._lock:
            return dict(self._flows)

    def open_tables(self, names: Sequence[str]) -> dict[str, Added]:
        """For the named flows among ``names``: their open windows' rows now, and the
        stored rows they go with."""
        flows = self.flows()
        found: dict[str, Added] = {}
        for name in names:
            flow = flows.get(name)
            if flow is None or not flow.running:  # a failed flow's windows are not its rows
                continue
            rows, held = open_rows(flow, self._db.stream(name))
            if rows:
                found[name] = Added(pa.Table.from_batches(rows), held)
        return found

    def replayed(self) -> bool:
        """Whether every named flow has produced again the rows it had stored before the
        database was opened (its replay reached its stored output's end)."""
        with self._lock:  # a failed flow has no sink: it produces nothing more
            return all(s.appender.replayed for s in self._sinks.values())

    def readers(self, stream: str) -> list[str]:
        """The named flows reading ``stream``."""
        return sorted(n for n, f in self.flows().items() if stream in f.streams and n != stream)

    # -- statements --------------------------------------------------------------------

    def create(self, statement: ast.CreateStreamAs, text: str) -> Flow:
        """CREATE STREAM name [WITH (...)] AS SELECT: check everything, then create the
        stream and its definition together and start the flow."""
        from rillet.database import _stream_name

        db = self._db
        name = statement.name  # as CREATE STREAM keeps it: a quoted name keeps its case
        _stream_name(name)
        options = _options(statement.options)
        existing = {s.name.lower(): s.name for s in db.streams()}
        if name.lower() in existing:  # db.sql names streams case-insensitively
            raise ConflictError(
                f"stream {existing[name.lower()]!r} already exists", kind="stream", name=name
            )
        if name.lower() in _sources(statement.select):
            raise QueryError(
                f"named flow {name!r} reads its own output: a cycle of named flows "
                f"({name} -> {name})",
                line=statement.line,
                col=statement.col,
            )
        late = f"{name}.late"
        if late.lower() in existing:
            raise ConflictError(
                f"stream {existing[late.lower()]!r} already exists: the named flow {name!r} "
                "would keep its late records there; drop or rename it first",
                kind="stream",
                name=late,
            )
        plan, columns = self._plan(statement.select, options)
        inputs = [db.stream(s) for s in streams(plan)]
        for stream in inputs:  # a record still in the append buffer is in storage too
            stream._ingest_buffer()
        start_offsets, _ = _since(options.get("since", "earliest"), inputs)
        stream_options = StreamOptions(
            str(options.get("partition", "1h")),
            None if options.get("retention") is None else str(options["retention"]),
        )
        schema = _schema(plan, columns)
        options[SETTINGS] = flow_config.flow_settings(db.config)
        entry = NamedFlowEntry(name, text.strip().rstrip(";"), options, start_offsets)
        db._create_stream(name, schema, stream_options, flow=entry)
        try:
            return self._start(entry)
        except BaseException:  # a rejected request changes nothing
            db.drop_stream(name)  # and <name>.late, if made, in one transaction
            raise

    def refresh(self, name: str, since: str | None = None) -> None:
        """REFRESH STREAM name [SINCE time]: recompute the named flow's windows that late
        records (or ``since``) can change from its stored input, and replace their rows.

        A roll-up (TUMBLE or HOP over one stream) keeps the rows of the windows ending at
        or before its *point* K, as they are, and recomputes the windows ending after it:
        K is the greatest window end at or before ``since`` (without it, before the oldest
        record of ``<name>.late``; with nothing late, nothing changes), raised so that
        every recomputed window starts at or after the input's oldest kept partition
        (retention), and lowered to the last window out.  Its late records before K stay
        in ``<name>.late``; the others are counted in their windows.  Any other named flow
        (SESSION windows, joins, no windows) is recomputed whole, refused when retention
        dropped part of its input.  The named flows reading it are recomputed the same way,
        from the first window start it recomputed.  docs/format/named_flows.md tells how
        this stays atomic across a crash."""
        db = self._db
        entries = {e.name: e for e in db._catalog.named_flows()}  # creation order
        running = self.flows()
        if name not in entries or name not in running:
            raise not_found("named flow", name, list(entries))
        db._catch_up()  # the records appended before it were seen (late ones too)
        if since is not None:
            try:
                since_us = bound_us(since)
            except Exception as exc:
                raise ConfigError(f"REFRESH STREAM {name} SINCE {since!r}: {exc}") from None
        affected = [name]
        for other in entries:  # a reader was created after what it reads
            flow = running.get(other)
            if other not in affected and flow is not None and set(flow.streams) & set(affected):
                affected.append(other)
        for other in affected[1:]:  # checked before anything changes
            if running[other].state == "failed":
                raise ConflictError(
                    f"REFRESH STREAM {name}: the named flow {other!r} reading it failed "
                    f"({running[other].error}) and cannot be recomputed: REFRESH STREAM "
                    f"{other} restarts it, or DROP STREAM {other} drops it",
                    kind="stream",
                    name=other,
                )
        if running[name].state == "failed":  # it starts again, then refreshes as any other
            self._restart(entries[name])
            entries = {e.name: e for e in db._catalog.named_flows()}
            running = self.flows()
        if since is None:
            since_us = oldest_late(db, name, running[name])
            if since_us is None:  # nothing late: every window has all of its records
                return
        # where each one starts recomputing (checked before anything stops: a refusal
        # changes nothing)
        points: dict[str, int | None] = {}
        starts: dict[str, int | None] = {}
        for other in affected:
            flow = running[other]
            t: int | None = since_us
            if other != name:
                ups = [starts[s] for s in flow.streams if s in starts]
                t = None if any(u is None for u in ups) else min(u for u in ups if u is not None)
            points[other], starts[other] = _point(db, name, entries[other], flow, t)
            self.check_drop(f"{other}.late")  # emptied or dropped below: none may read it
        inputs = running[name].streams
        original = dict(entries)
        for other in reversed(affected):
            self.drop(other)
        try:
            renewed, emptied, seeds = self._renewed(affected, entries, points, inputs, running)
        except BaseException:  # nothing changed yet (a storage error reading, say)
            for other in affected:
                self._start(original[other])
            raise
        # one catalog transaction: after a crash, every flow has its old rows or all are
        # emptied (with the kept rows in the catalog) and recomputed when the database
        # opens, never a mix
        db._reset_streams(renewed, emptied, seeds)
        for other in affected:
            self._start(entries[other])

    def _renewed(
        self,
        affected: list[str],
        entries: dict[str, NamedFlowEntry],
        points: dict[str, int | None],
        inputs: list[str],
        running: dict[str, Flow],
    ) -> tuple[list[NamedFlowEntry], list[str], dict[str, pa.Table]]:
        """REFRESH's new definitions (put in ``entries``), the late streams to empty, and the
        rows each emptied stream starts with again (the flows are stopped)."""
        name = affected[0]
        db = self._db
        through: dict[str, int] = {}
        for each in inputs:
            stream = db.stream(each)
            stream._ingest_buffer()  # every record appended so far is in storage
            through[each] = stream.next_offset
        existing = {s.name for s in db.streams()}
        renewed = []
        seeds: dict[str, pa.Table] = {}
        emptied: list[str] = []
        for other in affected:
            entry = entries[other]
            options = {k: v for k, v in entry.options.items() if k not in _REFRESH_STATE}
            if other == name:
                options[REFRESHED] = through
                marks = entry.options.get(IDLE_MARKS)
                if marks:  # windows an idle input closed close again once it is recomputed
                    [offset] = through.values()  # (idle marks: one input)
                    options[IDLE_MARKS] = [[offset, max(int(m[1]) for m in marks)]]
            point = points[other]
            if point is not None:
                options[KEPT] = point
                kept = stored_rows(db.stream(other))
                kept = kept.filter(pc.less_equal(micros(kept.column("timestamp")), point))
                if kept.num_rows:
                    seeds[other] = kept
            late = f"{other}.late"
            if late in existing:
                rows = None
                if point is not None:
                    rows, times = window_times(running[other], db.stream(late))
                    rows = rows.filter(pc.less(times, point))
                emptied.append(late)  # kept, the rows before the point in it
                if rows is not None and rows.num_rows:
                    seeds[late] = rows
                    options[LATE_KEPT] = rows.num_rows
            entries[other] = NamedFlowEntry(other, entry.query, options, entry.start_offsets)
            renewed.append(entries[other])
        return renewed, emptied, seeds

    def drop(self, name: str) -> None:
        """Stop the named flow filling ``name`` (if one does) before its stream goes, and
        take it off the list of flows (a failed one too)."""
        with self._lock:
            flow = self._flows.pop(name, None)
            self._sinks.pop(name, None)
        if flow is not None:
            flow.cancel()
            self._db._flows.ended(flow)  # a failed flow ended long ago, and stayed listed

    def _restart(self, entry: NamedFlowEntry) -> None:
        """REFRESH of a named flow that failed: its failure is forgotten and it starts
        again from its definition, as at open (it skips the rows it stored).  FlowError,
        naming the cause, when it cannot start: it stays listed as failed with that."""
        options = {k: v for k, v in entry.options.items() if k != FAILED}
        entry = NamedFlowEntry(entry.name, entry.query, options, entry.start_offsets)
        self.drop(entry.name)
        self._db._catalog.set_named_flow_options(entry.name, options)
        try:
            self._start(entry)
        except Exception as exc:
            error = f"cannot start: {describe(exc)}"
            self._list_failed(entry, error)
            raise FlowError(
                f"REFRESH STREAM {entry.name}: the named flow {error}", flow=entry.name
            ) from exc

    def _list_failed(self, entry: NamedFlowEntry, error: str) -> None:
        """List named flow ``entry`` as failed with ``error`` (it does not run), and keep
        that in its definition; its stream and stored rows stay as they are."""
        db = self._db
        if entry.options.get(FAILED) != error:
            db._catalog.set_named_flow_options(entry.name, {**entry.options, FAILED: error})
        from rillet.rtsql.parser import parse

        try:  # the streams it reads, as written (a DROP of one names it)
            statement = parse(entry.query)
            sources = (
                _sources(statement.select) if isinstance(statement, ast.CreateStreamAs) else set()
            )
        except RilletError:
            sources = set()
        hidden = ("timestamp", "is_open")
        columns = [c for c in db.stream(entry.name).schema.names if c not in hidden]

        def make(flow_id: int) -> Flow:
            flow = Flow(flow_id, entry.query, columns, [], Counters(), on_end=lambda _: None)
            flow.name = entry.name
            flow.streams = sorted(sources - {entry.name})
            flow.stream = flow.streams[0] if len(flow.streams) == 1 else None
            return flow

        flow = db._flows.start(make, run=False)
        flow.fail(FlowError(error, flow=entry.name))
        with self._lock:
            self._flows[entry.name] = flow
            self._sinks.pop(entry.name, None)

    def _ended(self, flow: Flow) -> None:
        """A named flow ended: one that failed stays listed with its error, which its
        definition keeps (a reopen lists it failed, without running it again); any
        other (cancelled: dropped or refreshed) goes off the list."""
        with self._lock:
            current = flow.name is not None and self._flows.get(flow.name) is flow
            if current and flow.state == "failed":
                self._sinks.pop(flow.name or "", None)  # it produces nothing more
        if not current or flow.state != "failed" or flow.name is None:
            self._db._flows.ended(flow)
            return
        catalog = self._db._catalog
        try:
            entry = next((e for e in catalog.named_flows() if e.name == flow.name), None)
            if entry is not None:  # else dropped meanwhile
                catalog.set_named_flow_options(flow.name, {**entry.options, FAILED: flow.error})
        except RilletError:  # listed failed all the same; a reopen runs it again
            log.exception("cannot keep the failure of named flow %r", flow.name)

    def late_owner(self, name: str) -> str | None:
        """The named flow whose late records stream ``name`` is (``<flow>.late``, in any
        case: stream names differ in more than case), if there is one."""
        if not name.lower().endswith(".late"):
            return None
        base = name[: -len(".late")].lower()
        return next((flow for flow in self.flows() if flow.lower() == base), None)

    def check_new(self, name: str) -> None:
        """A stream of a user's cannot be named as a named flow's late records stream
        (ConflictError naming the flow): it would make it and keep its late records there."""
        owner = self.late_owner(name)
        if owner is not None:
            raise ConflictError(
                f"stream name {name!r} is kept for the late records of the named flow {owner!r}",
                kind="stream",
                name=name,
            )

    def check_drop(self, name: str, by_user: bool = False) -> None:
        """A stream read by a named flow cannot be dropped (ConflictError naming it); nor,
        ``by_user``, the late records stream of a named flow (its flow's to keep)."""
        owner = self.late_owner(name) if by_user else None
        if owner is not None:
            flow = stream_name(owner)
            raise ConflictError(
                f"stream {name!r} keeps the late records of the named flow {owner!r}: DROP "
                f"STREAM {flow} drops both, REFRESH STREAM {flow} counts them in their windows",
                kind="stream",
                name=name,
            )
        readers = self.readers(name)
        if readers:
            raise ConflictError(
                f"stream {name!r} is read by the named flow {readers[0]!r}: drop "
                f"{', '.join(readers)} first",
                kind="stream",
                name=name,
            )

    # -- running -----------------------------------------------------------------------

    def _plan(self, select: ast.Select, options: Mapping[str, Any]) -> tuple[PlanNode, list[str]]:
        from rillet.flows.planner import plan_select

        return plan_select(self._db, select, _flow_options(options), options.get(SETTINGS))

    def _start(self, entry: NamedFlowEntry, resume: bool = True) -> Flow:
        from rillet.flows.runtime import start
        from rillet.rtsql.parser import parse

        db = self._db
        statement = parse(entry.query)
        assert isinstance(statement, ast.CreateStreamAs)
        plan, columns = self._plan(statement.select, entry.options)
        output = db.stream(entry.name)
        checkpoint = self._checkpoint(entry.name, streams(plan)) if resume else None
        kept = entry.options.get(KEPT)
        late_kept = checkpoint.late if checkpoint else int(entry.options.get(LATE_KEPT, 0))
        late = LateKeeper(db, entry.name, late_kept)
        windows = time_windows(plan)
        if windows is not None:
            late.make(windows)
        sink = OutputSink(
            output,
            columns,
            windows is not None,
            late,
            None if kept is None else int(kept),
            checkpoint.output if checkpoint else 0,
        )
        counters = Counters(on_late=late.keep)
        _, since_us = _since(entry.options.get("since", "earliest"), [])

        def setup(flow: Flow) -> None:
            flow.name = entry.name
            flow.start_offsets = dict(entry.start_offsets)
            flow.since_us = since_us
            refreshed = entry.options.get(REFRESHED)
            flow.sorted_through = dict(refreshed) if refreshed is not None else None
            if checkpoint is not None:
                restore(flow, checkpoint)
                if all(
                    checkpoint.offsets.get(k, 0) >= v for k, v in (refreshed or {}).items()
                ):  # every record it reads comes in offset order
                    flow.sorted_through = None
            self._keep_idle_advances(flow, entry)
            self._keep_checkpoints(flow, sink)
            with self._lock:  # listed before it runs: it may fail on its first batch
                self._flows[entry.name] = flow
                self._sinks[entry.name] = sink
            made.append(flow)

        made: list[Flow] = []
        try:
            return start(
                db,
                plan,
                entry.query,
                columns,
                _flow_options(entry.options),
                counters,
                settings=entry.options.get(SETTINGS),
                sink=sink,
                setup=setup,
                on_end=self._ended,
            )
        except BaseException as exc:  # it did not start: not listed as running
            with self._lock:
                if made and self._flows.get(entry.name) is made[0]:
                    del self._flows[entry.name]
                    self._sinks.pop(entry.name, None)
            if isinstance(exc, CheckpointMismatch):  # resumed by replay instead
                log.warning("named flow %r: %s; it replays its input", entry.name, exc)
                return self._start(entry, resume=False)
            raise

    # -- checkpoints -------------------------------------------------------------------

    def _checkpoint(self, name: str, inputs: Sequence[str]) -> Checkpoint | None:
        """Named flow ``name``'s checkpoint, if it has one that its streams still hold
        everything of (a crash of the machine may have lost their last records, which
        the checkpoint accounts for: the flow then replays)."""
        db = self._db
        try:
            found = Checkpoint.decode(db._catalog.checkpoint(name))
        except (ValueError, LookupError, TypeError, pa.ArrowException) as exc:
            log.warning("named flow %r: its checkpoint cannot be read (%s); it replays", name, exc)
            return None
        if found is None or set(found.offsets) != set(inputs):
            return None
        try:
            late = db.stream(f"{name}.late").next_offset
        except NotFoundError:
            late = 0
        if (
            db.stream(name).next_offset < found.output
            or late < found.late
            or any(db.stream(s).next_offset < at for s, at in found.offsets.items())
        ):
            return None
        return found

    def _keep_checkpoints(self, flow: Flow, sink: OutputSink) -> None:
        """Checkpoint ``flow`` after a batch once ``checkpoint_interval`` seconds passed
        (:meth:`checkpoint_due` takes those left when no batch came), but at most 5 % of
        its time: a large state waits 20 times as long as its last checkpoint took (not in
        memory: nothing reopens it)."""
        if self._db.path is None:
            return
        sink.due = time.monotonic() + self._db.settings.checkpoint_interval

        def on_read() -> None:
            sink.unsaved = True
            if time.monotonic() >= sink.due:
                self._keep(flow, sink)

        flow.on_read = on_read

    def _keep(self, flow: Flow, sink: OutputSink) -> None:
        """Checkpoint ``flow`` now (under its lock), if everything the checkpoint accounts
        for is stored; made durable (its streams fsynced) before the catalog keeps it.  A
        failure is logged: the flow goes on, and resumes from an older checkpoint."""
        began = time.monotonic()
        try:
            if flow.name is None or not sink.stored:
                return
            output = sink.appender.stream
            found = capture(flow, output.next_offset, sink.late.made)
            if found is None:
                return
            output._flush(sync=True)
            if sink.late.made:
                self._db.stream(sink.late.name)._flush(sync=True)
            self._db._catalog.set_checkpoint(flow.name, found.encode())
            sink.unsaved = False
        except Exception:
            log.exception("cannot checkpoint named flow %r", flow.name)
        finally:
            took = time.monotonic() - began
            interval = self._db.settings.checkpoint_interval
            sink.due = began + max(interval, _CHECKPOINT_SHARE * took)

    def _running(self) -> list[tuple[Flow, OutputSink]]:
        with self._lock:
            return [(f, self._sinks[n]) for n, f in self._flows.items() if n in self._sinks]

    def checkpoint_due(self) -> None:
        """Checkpoint the named flows that read input since their last checkpoint and are
        due (a flow whose input went quiet is checkpointed all the same); the database
        calls this every ``checkpoint_interval``."""
        if self._db.path is None:
            return
        for flow, sink in self._running():
            if sink.unsaved and time.monotonic() >= sink.due:
                with flow._lock:
                    if flow.running:
                        self._keep(flow, sink)

    def checkpoint_all(self) -> None:
        """Checkpoint every running named flow now (the database closes: a reopen resumes
        them where they are, without a replay)."""
        if self._db.path is None:
            return
        for flow, sink in self._running():
            with flow._lock:
                if flow.running:
                    self._keep(flow, sink)

    def _keep_idle_advances(self, flow: Flow, entry: NamedFlowEntry) -> None:
        """A flow reading one stream, whose idle input moves its watermark by the wall
        clock: each such move is kept in its definition, and replayed at the same input
        offset after a reopen, so the replay closes the same windows and finds the same
        records late as the run it repeats."""
        windows = first_windows(flow)
        if windows is None or len(flow._inputs) != 1 or not windows.idle_timeout:
            return
        stream = flow._inputs[0].stream
        start = entry.start_offsets.get(stream.name, 0)
        kept = [[int(at), int(watermark)] for at, watermark in entry.options.get(IDLE_MARKS, [])]
        marks = _prune(kept, _first_replayed(stream, start))
        if marks != kept:  # retention dropped input since they were kept
            options = {**entry.options, IDLE_MARKS: marks}
            self._db._catalog.set_named_flow_options(entry.name, options)
        windows.marks = [(at, watermark) for at, watermark in marks]

        def keep(at: int, watermark: int) -> None:
            if flow.cancelled or not flow.running:  # dropped, refreshed or failed since
                return
            marks.append([at, watermark])
            marks[:] = _prune(marks, _first_replayed(stream, start))
            options = {**entry.options, IDLE_MARKS: marks}
            self._db._catalog.set_named_flow_options(entry.name, options)

        windows.on_idle = keep


def _first_replayed(stream: Stream, start: int) -> int | None:
    """The first input offset a replay can read: ``start`` or the first one retention
    kept, whichever is later (None while no record is stored: nothing tells it yet)."""
    kept = [p.min_offset for p in stream.partitions() if p.rows]
    return max(start, min(kept)) if kept else None


def _prune(marks: list[list[int]], first: int | None) -> list[list[int]]:
    """Idle marks without those a replay starting at input offset ``first`` no longer
    needs.  A replay moves the watermark to every mark before its first record before it
    counts it, never back, so the marks before ``first`` act as the last of them alone:
    that one stays (without it the first records replayed would find a lower watermark
    than the run they repeat did, and records late then would count in their windows).

    Examples:
        >>> _prune([[1, 10], [2, 20], [5, 50]], 3)
        [[2, 20], [5, 50]]
        >>> _prune([[1, 10], [2, 20]], None)
        [[1, 10], [2, 20]]
    """
    if first is None:
        return marks
    before = [m for m in marks if m[0] < first]
    return before[-1:] + [m for m in marks if m[0] >= first]


def _point(
    db: Database, name: str, entry: NamedFlowEntry, flow: Flow, since_us: int | None
) -> tuple[int | None, int | None]:
    """Where REFRESH recomputes named flow ``entry`` from, given the time from which its
    input may have changed (None: from its start): its point K (the rows of windows ending
    at or before K are kept) and the start of the first window after K; (None, None) to
    recompute it whole.  A ConflictError, naming the input stream and the first time it
    can recompute from, when the windows it would recompute are not all stored."""
    lost: tuple[str, int] | None = None  # an input retention cut, its oldest time kept
    for each in flow.streams:
        parts = [p for p in db.stream(each).partitions() if p.rows]
        if parts and min(p.min_offset for p in parts) > entry.start_offsets.get(each, 0):
            lost = (each, min(p.start for p in parts))
    windows = first_windows(flow)
    spec = windows.spec if windows is not None and len(flow._inputs) == 1 else None
    if spec is None or spec.kind == "session" or since_us is None:
        if lost is not None:
            raise ConflictError(
                f"REFRESH STREAM {name}: the named flow {entry.name!r} is recomputed whole "
                f"(it has no TUMBLE or HOP window over one stream, or reads a flow recomputed "
                f"whole), but its input stream {lost[0]!r} keeps records from "
                f"{us_to_datetime(lost[1]).isoformat()} only (retention)",
                kind="stream",
                name=lost[0],
            )
        return None, None
    slide, size = spec.slide, spec.size
    point = since_us // slide * slide  # the window containing since is recomputed whole
    earliest = None
    if lost is not None:  # the first window wholly stored starts at or after lost[1]
        earliest = -(-lost[1] // slide) * slide + size - slide
        point = max(point, earliest)
    last, _ = tail(db.stream(entry.name))
    if last is None or point > last:  # no window after the last one out is stored
        if lost is not None and earliest is not None and (last is None or earliest > last):
            raise ConflictError(
                f"REFRESH STREAM {name}: the input stream {lost[0]!r} of {entry.name!r} keeps "
                f"records from {us_to_datetime(lost[1]).isoformat()} only (retention): the "
                f"first window it can recompute starts at "
                f"{us_to_datetime(earliest - size + slide).isoformat()}, after the windows "
                "still open",
                kind="stream",
                name=lost[0],
            )
        if last is None:
            return None, None
        point = last
    return point, point - size + slide


def _options(given: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    """The WITH options, checked: an unknown one is a ConfigError naming it."""
    options: dict[str, Any] = {}
    for key, value in given:
        lowered = key.lower()
        if lowered not in OPTIONS:
            raise ConfigError(
                f"unknown option {key!r} of CREATE STREAM ... AS SELECT (known: "
                f"{', '.join(OPTIONS)})",
                option=key,
            )
        if lowered in options:
            raise ConfigError(f"option {key!r} given twice", option=key)
        options[lowered] = value
    if "retention" in options or "partition" in options:
        StreamOptions(
            str(options.get("partition", "1h")),
            None if options.get("retention") is None else str(options["retention"]),
        )
    return options


def _flow_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The window options of a named flow; sketches are stored as their state by default
    (a roll-up's rows merge)."""
    own = {k: v for k, v in options.items() if k in flow_config.OPTIONS}
    own.setdefault("sketches", "state")
    return own


def _since(value: Any, inputs: Sequence[Stream]) -> tuple[dict[str, int], int | None]:
    """``since`` as start offsets of the inputs and a time filter (epoch microseconds)."""
    text = str(value).lower() if isinstance(value, str) else None
    if text == "earliest":
        return {}, None
    if text == "now":
        return {s.name: s.next_offset for s in inputs}, None
    try:
        us = bound_us(value)
    except Exception as exc:
        raise ConfigError(
            f"since must be 'earliest', 'now' or a time, not {value!r} ({exc})", option="since"
        ) from None
    assert us is not None
    for stream in inputs:
        if len(stream) and us > stream.watermark:
            raise ConfigError(
                f"since {value!r} is after the newest record of stream {stream.name!r}",
                option="since",
            )
    return {}, us


def _schema(plan: PlanNode, columns: list[str]) -> Schema:
    """The output stream's schema: the SELECT's columns and ``timestamp`` (event time)."""
    types = plan.columns
    windowed = time_windows(plan) is not None  # a roll-up: its rows get is_open
    if "timestamp" in columns or (windowed and "is_open" in columns):
        raise UnsupportedError(
            "a named flow's output has columns 'timestamp' (each row's event time) and "
            "'is_open' of its own: rename the SELECT's column",
            statement="CREATE STREAM AS SELECT",
        )
    extra = [("is_open", DataType("BOOLEAN", nullable=False))] if windowed else []
    return Schema.build(
        [*((c, types[c]) for c in columns), ("timestamp", TIME_TYPE), *extra], "timestamp"
    )


def _sources(select: ast.Select) -> set[str]:
    """The stream names the FROM and JOINs of ``select`` name (lower-cased)."""
    found: set[str] = set()
    for source in (select.source, *(j.source for j in select.joins)):
        if isinstance(source, ast.StreamRef):
            found.add(source.name.lower())
        elif isinstance(source, ast.Select):
            found |= _sources(source)
        else:
            inner = getattr(source, "select", None)
            if isinstance(inner, ast.Select):
                found |= _sources(inner)
    return found
