"""Database: the streams of one data folder (or of memory), opened with recovery.

Opening a folder takes its lock, reads the catalog, and lets each stream replay its log:
whatever was acknowledged before a crash is back.  Two background threads keep it going:
the committer (group commit every ``commit_interval``, nothing else) and the maintainer
(sealing and retention every ``maintenance_interval``); docs/threads.md lists every thread.
"""

from __future__ import annotations

import atexit

# The close at exit may turn buffered rows into a batch, and pyarrow then imports pandas
# (where installed) for the first time, which imports this; once the interpreter is
# shutting down that import fails, and the buffered rows with it: import it now.
import concurrent.futures.thread  # noqa: F401
import logging
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, cast

import pyarrow as pa

from rillet.arguments import (
    CALLBACK,
    FOLDER,
    check,
    check_arguments,
)
from rillet.batches import ipc_bytes
from rillet.errors import (
    ConfigError,
    ConflictError,
    NotFoundError,
    SchemaError,
    StorageError,
    not_found,
)
from rillet.flows.flow import Flow
from rillet.flows.named import NamedFlows
from rillet.flows.naming import FlowNames
from rillet.flows.registry import FlowRegistry
from rillet.monitors.alerts import ALERTS_SCHEMA
from rillet.monitors.stream import MonitoredStream as Stream
from rillet.query import QueryEngine, Result
from rillet.schema import Schema, SchemaSpec
from rillet.settings import Settings
from rillet.storage.catalog import Catalog, NamedFlowEntry, StreamEntry
from rillet.storage.files import FolderLock, fsync_dir
from rillet.stream import StreamOptions

log = logging.getLogger("rillet")
NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")


class Database:
    """The streams of a data folder, or of memory.  Use :func:`rillet.connect` to get one.

    Examples:
        >>> import rillet
        >>> with rillet.connect() as db:
        ...     s = db.create_stream("t", "v INT")
        ...     _ = s.append_many([(1,), (2,)])
        ...     db.sql("SELECT count(*), max(v) FROM t").fetchall()
        [(2, 2)]
    """

    def __init__(
        self,
        path: str | Path | None = None,
        settings: Settings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings or Settings()
        self.clock = clock
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._folder_lock: FolderLock | None = None
        if self.path is not None:
            if self.path.exists() and not self.path.is_dir():
                raise ConfigError(
                    f"{str(self.path)!r} is a file, not a data folder", path=str(path)
                )
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create data folder {str(self.path)!r}: {exc}") from exc
            self._folder_lock = FolderLock(self.path)
        self._query = QueryEngine()
        try:
            self._catalog = Catalog(self.path / "catalog.sqlite" if self.path is not None else None)
            self._streams: dict[str, Stream] = {}
            self._remove_doomed()
            for entry in self._catalog.streams():
                self._streams[entry.name] = self._open(entry)
        except BaseException:
            self._query.close()
            if self._folder_lock is not None:
                self._folder_lock.release()
            raise
        self._flows = FlowRegistry()
        self._named = NamedFlows(self)
        self._names = FlowNames(self)
        #: the sources feeding streams (rillet.sources), by stream name; stopped with them
        self._sources: dict[str, Any] = {}
        self._stop = threading.Event()
        settings = self.settings
        self._threads = [
            self._start(
                "rillet-commit", settings.commit_interval, self._each("commit", Stream._commit)
            ),
            self._start(
                "rillet-maintain",
                settings.maintenance_interval,
                self._each("maintain", Stream._maintain),
            ),
            self._start(
                "rillet-checkpoint",
                max(settings.checkpoint_interval, 0.01),
                self._named.checkpoint_due,
            ),
        ]
        self._closed = False
        atexit.register(self.close)
        try:
            self._plant_seeds(
                self._streams
            )  # a REFRESH killed after its transaction: before any flow
            self._named.resume()
        except BaseException:
            self.close()
            raise

    def _start(self, name: str, interval: float, work: Callable[[], None]) -> threading.Thread:
        """A thread doing ``work`` every ``interval`` seconds until the database closes."""

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    work()
                except Exception:  # keep the loop alive; the next round retries
                    log.exception("%s failed", name)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        return thread

    def _each(self, what: str, work: Callable[[Stream], None]) -> Callable[[], None]:
        """``work`` on every stream, one failing not keeping it from the others."""

        def each() -> None:
            for stream in list(self._streams.values()):
                try:
                    work(stream)
                except Exception:  # the next round retries
                    log.exception("%s failed on stream %r", what, stream.name)

        return each

    # -- streams ---------------------------------------------------------------------------

    def create_stream(
        self,
        name: str,
        schema: SchemaSpec,
        *,
        time_column: str | None = None,
        partition: str = "1h",
        retention: str | None = None,
        max_bytes: int | None = None,
        durability: str = "relaxed",
        log_compression: str | None = None,
    ) -> Stream:
        """Create a stream and return it.

        ``schema``: rtsql column text (``"ts TIMESTAMP, host STRING NOT NULL"``), a list of
        (name, type) pairs, or a pyarrow schema.  ``time_column`` names the event-time column;
        without one, records are stamped with their ingest time in a column ``_time``.
        ``partition``: the width of time partitions (``"1h"``, ``"1d"``, ``"monthly"``).
        ``retention`` (``"7d"``) and ``max_bytes`` drop whole oldest partitions.
        ``durability``: ``"memory"`` (no log), ``"relaxed"`` (group commit) or ``"durable"``
        (append returns after fsync).  ``log_compression``: how the log's frames are
        compressed, ``"lz4"``, ``"zstd"`` or ``"none"``; by default the database's
        ``log_compression`` setting when the stream is opened.
        """
        check_arguments("create_stream", locals())
        self._named.check_new(name)
        return self._create_stream(
            _stream_name(name),
            Schema.build(schema, time_column),
            StreamOptions(partition, retention, max_bytes, durability, log_compression),
        )

    def _create_stream(
        self,
        key: str,
        parsed: Schema,
        options: StreamOptions,
        flow: NamedFlowEntry | None = None,
    ) -> Stream:
        """Create the stream ``key``, named exactly so (rtsql keeps a quoted name's case);
        ``flow``: the named flow that fills it, kept in the same catalog transaction."""
        entry = StreamEntry(
            key,
            str(parsed),
            None if parsed.implicit_time else parsed.time_column,
            options.to_dict(),
            0,
        )
        with self._lock:
            self._check_open()
            if key in self._streams:
                raise ConflictError(f"stream {key!r} already exists", kind="stream", name=key)
            self._catalog.create_stream(entry, flow)
            try:
                stream = self._open(entry)
            except BaseException:  # a rejected request changes nothing
                self._catalog.drop_streams([key])
                self._forget_doomed([key])
                raise
            self._streams = {**self._streams, key: stream}
        return stream

    def _reset_streams(
        self,
        flows: Sequence[NamedFlowEntry],
        emptied: Sequence[str] = (),
        seeds: Mapping[str, pa.Table] | None = None,
    ) -> None:
        """Empty named flows' streams (REFRESH) and the streams ``emptied``, in one catalog
        transaction: new, empty streams of the same
        schemas and options with the flows' new definitions, and ``seeds``: the rows some
        of them start with (kept in the catalog in the same transaction, appended here or,
        after a crash, at the next open).  A crash before it commits leaves everything as it
        was; after, the old files are removed (again, at the next open, if need be) before
        the new streams use their folders."""
        with self._lock:
            self._check_open()
            old = [self._streams[n] for n in [*(f.name for f in flows), *emptied]]
        with _dropping(old), self._lock:
            self._check_open()
            resets = [(self._entry_of(flow.name), flow) for flow in flows]
            cleared = [self._entry_of(name) for name in emptied]
            self._catalog.reset_named_flows(
                resets, cleared, {k: ipc_bytes(v) for k, v in (seeds or {}).items()}
            )
        for stream in old:
            stream._destroy()
        self._forget_doomed([s.name for s in old])
        opened = {entry.name: self._open(entry) for entry in [*(e for e, _ in resets), *cleared]}
        self._plant_seeds(opened)  # before anyone else can see them (or append to them)
        with self._lock:
            self._streams = {**self._streams, **opened}

    def _entry_of(self, name: str) -> StreamEntry:
        """A new, empty entry for stream ``name``: its schema and options."""
        stream = self._streams[name]
        schema = stream.schema
        return StreamEntry(
            name,
            str(schema),
            None if schema.implicit_time else schema.time_column,
            stream.options.to_dict(),
            0,
        )

    def _plant_seeds(self, streams: Mapping[str, Stream]) -> None:
        """Append to each emptied stream of ``streams`` the rows it starts with that it does
        not hold yet (it holds a prefix of them: nobody else has appended to it), durably,
        then forget them."""
        for name, data in self._catalog.seeds():
            stream = streams.get(name)
            if stream is not None:
                rows = pa.ipc.open_stream(data).read_all()
                if stream.next_offset < rows.num_rows:
                    stream.append_many(rows.slice(stream.next_offset))
                stream.flush()
            self._catalog.forget_seed(name)

    def _remove_doomed(self) -> None:
        """Remove the folders a reset or drop committed before it could remove them."""
        self._forget_doomed(self._catalog.doomed())

    def _forget_doomed(self, names: Sequence[str]) -> None:
        if not names:
            return
        if self.path is not None:
            folder = self.path / "streams"
            for name in names:
                shutil.rmtree(folder / name, ignore_errors=True)
            if folder.exists():
                fsync_dir(folder)  # the removals hold before the catalog forgets them
        self._catalog.forget_doomed(names)

    def _open(self, entry: StreamEntry) -> Stream:
        alerts = lambda: self._alerts_of(entry.name)  # noqa: E731
        return Stream(
            entry, self.path, self._catalog, self.settings, self.clock, alerts, self._query
        )

    def _alerts_of(self, name: str) -> Stream:
        """The stream ``<name>.alerts`` where the triggers of ``name`` record their alerts."""
        key = f"{name}.alerts"
        stream = self._streams.get(key)
        if stream is None:
            if name not in self._streams:  # dropped: its alerts went with it
                raise not_found("stream", name, self._streams)
            try:
                stream = self.create_stream(key, ALERTS_SCHEMA, time_column="time", partition="1d")
            except ConflictError:
                stream = self._streams[key]
        return stream

    def stream(self, name: str) -> Stream:
        """The stream called ``name``; NotFoundError (with a suggestion) if there is none."""
        check_arguments("stream", locals())
        # a name created quoted in rtsql keeps its case and is found by it exactly
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams.get(name.lower())
        if stream is None:
            raise self._missing(not_found("stream", str(name), self._streams))
        return stream

    def streams(self) -> list[Stream]:
        """All streams, by name."""
        return [self._streams[k] for k in sorted(self._streams)]

    def drop_stream(self, name: str) -> None:
        """Delete a stream, its alerts stream, and all their records and files; a named
        flow's stream also stops the flow and takes its ``<name>.late`` stream along; a stream
        attached to a running flow (:meth:`name_flow`) is detached, the flow goes on.
        Refused (ConflictError naming the flow) while a named flow reads the stream."""
        check_arguments("drop_stream", locals())
        with self._lock:
            stream = self.stream(name)
            late = self._streams.get(f"{stream.name}.late")
        self._named.check_drop(stream.name, by_user=True)
        if not any(e.name == stream.name for e in self._catalog.named_flows()):
            late = None  # not a named flow's (a rejected CREATE's still is: both go)
        if late is not None:
            self._named.check_drop(late.name)  # a named flow reading it: both stay
        self._named.drop(stream.name)
        owned: list[str] = []
        for each in (stream, late) if late is not None else (stream,):
            self._names.forget(each.name)  # a flow it was attached to goes on without it
            source = self._sources.pop(each.name, None)
            if source is not None:  # it stops before its stream goes
                source.stop()
                owned.append(f"{each.name}.rejected")
            self._flows.cancel_reading(each.name)
            owned += [each.name, f"{each.name}.alerts"]
            each._close_subscribers()  # before its alerts stream goes, or they'd make it again
        with self._lock:
            gone = [s for k, s in self._streams.items() if k in owned]
        with _dropping(gone), self._lock:  # one transaction: all go, whenever the process dies
            self._catalog.drop_streams([each.name for each in gone])
            self._streams = {k: v for k, v in self._streams.items() if v not in gone}
        for each in gone:
            each._destroy()
        self._forget_doomed([each.name for each in gone])

    # -- queries ---------------------------------------------------------------------------

    def confine_sql(self, directories: Sequence[Path | str]) -> None:
        """Let :meth:`sql` read only files under ``directories`` from now on, and never
        attach databases or install or load extensions (what the server does for SQL that
        arrives over HTTP).  It cannot be undone while the database is open."""
        if isinstance(directories, str | Path) or not all(
            isinstance(d, str | Path) for d in directories
        ):
            raise ConfigError(
                "confine_sql(): directories must be a list of folders, not "
                f"{type(directories).__name__} ({directories!r})",
                method="confine_sql",
                argument="directories",
                expected="a list of folders",
            )
        self._check_open()
        self._query.confine(directories)

    def sql(
        self, query: str, params: Sequence[Any] | None = None, include_open: bool = False
    ) -> Result:
        """Run DuckDB SQL; every stream is a table of its stored and in-memory records.

        A roll-up (a named flow with TUMBLE, HOP or SESSION windows) has a boolean column
        ``is_open``: its stored rows are closed windows; with ``include_open=True`` the rows
        of the windows still open are added, as their partial results now."""
        check_arguments("sql", locals())
        self._check_open()
        self._catch_up()
        extra = self._named.open_tables if include_open else None
        try:
            return self._query.run(query, self._streams, params, extra)
        except NotFoundError as exc:
            raise self._missing(exc) from exc.__cause__

    def _catch_up(self) -> None:
        """Every record appended before now is seen: by the subscribers of its stream (the
        monitors' alerts are in), and through the named flows, each after the flows whose
        output it reads (the order they were created in: the streams reopen by name)."""
        order = {name: i for i, name in enumerate(self._named.flows(), 1)}
        for stream in sorted(self._streams.values(), key=lambda s: order.get(s.name, 0)):
            stream.caught_up()

    def _missing(self, error: NotFoundError) -> NotFoundError:
        """``error``, saying why when the stream is a named flow's ``<name>.late``: only a
        flow with TUMBLE, HOP or SESSION windows has late records, and that stream."""
        owner = self._named.late_owner(error.name or "") if error.kind == "stream" else None
        if owner is None:
            return error
        return NotFoundError(
            f"stream {error.name!r} is not there: the named flow {owner!r} keeps none (a "
            "flow with TUMBLE, HOP or SESSION windows makes it as it starts; this one has "
            "none, or failed before it started)",
            kind="stream",
            name=error.name,
            suggestion=None,
        )

    # -- flows -----------------------------------------------------------------------------

    def flows(self) -> list[Flow]:
        """The running flows (continuous SELECTs and named flows), by id, and the named
        flows that failed (``state`` "failed", with their ``error``) until dropped or
        refreshed."""
        return self._flows.running()

    def flow(self, flow_id: int) -> Flow:
        """The running flow numbered ``flow_id``; NotFoundError if there is none."""
        check_arguments("flow", locals())
        return self._flows.get(int(flow_id))

    def name_flow(self, flow_id: int, name: str) -> Stream:
        """Attach the stream name ``name`` to the running flow ``flow_id`` (FlumeBase's
        ``\\name``): a new stream of the flow's output columns and ``timestamp`` (its time
        column) gets every output batch of the flow from now on; return it.

        ConflictError if the flow has a name already (a flow has at most one; a named flow's
        is its stream's) or the stream exists; NotFoundError if no such flow runs.

        Examples:
            >>> import rillet
            >>> with rillet.connect() as db:
            ...     s = db.create_stream("t", "v INT")
            ...     flow = db.execute("SELECT v * 2 AS w FROM t")
            ...     _ = db.name_flow(flow.id, "doubled")
            ...     _ = s.append_many([(1,), (2,)])
            ...     db.sql("SELECT w FROM doubled ORDER BY w").fetchall()
            [(2,), (4,)]
        """
        check_arguments("name_flow", locals())
        self._check_open()
        return cast(Stream, self._names.attach(int(flow_id), name))

    def unname_flow(self, flow_id: int) -> None:
        """Remove the stream name attached to the running flow ``flow_id`` (FlumeBase's
        ``\\dname``): the flow goes on, its stream stops being fed and is dropped.

        NotFoundError if the flow has no name; ConflictError for a named flow (``DROP
        STREAM`` removes it with its stored output) or while a named flow reads the stream.
        """
        check_arguments("unname_flow", locals())
        self._check_open()
        self._names.detach(int(flow_id))

    def set(self, key: str, value: Any) -> None:
        """Set a session setting (``rillet.aggregation.buckets``, ``rillet.slack.time``, ...);
        the value is checked, and only flows submitted afterwards use it."""
        check_arguments("set", locals())
        self._flows.set(key, value)

    @property
    def config(self) -> Mapping[str, Any]:
        """The session settings, read-only: every ``rillet.*`` key with its value."""
        return self._flows.config

    def execute(self, text: str) -> Any:
        """Run one rtsql statement (a trailing ``;`` is optional).

        A SELECT starts a flow and returns it (a :class:`rillet.Flow`); any other statement
        returns a :class:`rillet.StatementResult` whose ``str()`` is what
        FlumeBase's shell prints for it.  A statement that fails changes nothing.
        """
        check_arguments("execute", locals())
        self._check_open()
        from rillet.rtsql.execute import execute

        return execute(self, text)

    # -- lifetime --------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigError("the database is closed")

    def close(self) -> None:
        """Make every appended record durable, stop background work, release the folder.

        A stream whose log fails now (disk full, I/O error) does not keep the others open or
        the folder locked: its StorageError is raised once everything is closed."""
        if self._closed:
            return
        atexit.unregister(self.close)
        for source in list(self._sources.values()):
            source.stop()
        self._named.checkpoint_all()  # a reopen resumes the named flows without a replay
        self._flows.cancel_all()
        self._stop.set()
        for thread in self._threads:
            thread.join()
        failures: list[StorageError] = []
        for stream in list(self._streams.values()):
            _collect(stream._ingest_buffer, failures)
        for stream in list(self._streams.values()):
            # the alerts of the last batches may still create and fill <stream>.alerts
            stream._close_subscribers()
        self._closed = True
        for stream in self._streams.values():
            _collect(stream._close, failures)
        self._query.close()
        self._catalog.close()
        if self._folder_lock is not None:
            self._folder_lock.release()
        if failures:
            raise failures[0]

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path is not None else "memory"
        return f"Database({where!r}, streams={sorted(self._streams)})"


@contextmanager
def _dropping(streams: Sequence[Stream]) -> Iterator[None]:
    """The catalog entries of ``streams`` go in the block, between two of their seals or
    retention rounds (each waits for the one under way, holding ``_seal_lock``), and none
    starts after: else one could write its file into the catalog entry of a new stream of
    the same name (REFRESH renews its streams so) whose old folder is then removed.  If the
    block fails, nothing changed.  Take it before ``Database._lock`` (the lock order)."""
    with ExitStack() as paused:
        for stream in sorted(streams, key=lambda s: s.name):
            paused.enter_context(stream._seal_lock)
        for stream in streams:
            stream._dropping = True
        try:
            yield
        except BaseException:
            for stream in streams:
                stream._dropping = False
            raise


def _collect(work: Callable[[], None], failures: list[StorageError]) -> None:
    """Run ``work``, keeping a StorageError for later rather than stopping at it."""
    try:
        work()
    except StorageError as exc:
        failures.append(exc)


#: a stream's name is a folder's name: well within the 255 bytes file systems allow
MAX_NAME = 200


def _stream_name(name: Any) -> str:
    if isinstance(name, str) and len(name) > MAX_NAME:
        raise SchemaError(
            f"stream name {name[:20]!r}... is {len(name)} characters; at most {MAX_NAME}",
            name=name,
        )
    if not isinstance(name, str) or not NAME.match(name.lower()):
        raise SchemaError(
            f"stream name {name!r} must start with a letter or '_' and hold only letters, digits, "
            "'_' and dots between parts",
            name=name,
        )
    return name.lower()


def connect(
    target: str | Path | None = None, *, clock: Callable[[], float] = time.time, **settings: Any
) -> Database:
    """Open a database: in memory (no ``target``), embedded in a data folder, or on a
    server (``"http://host:port"``, with ``token=...``).

    The remote database has the same methods (:class:`rillet.api.DatabaseAPI`); what cannot
    work remotely is listed in the README.  Keyword arguments set engine
    :class:`~rillet.settings.Settings`.  ``clock`` (seconds, like
    ``time.time``) is what triggers consult when a stream has gone idle; tests inject one
    (see :mod:`rillet.clock` for one moved by hand).
    A folder is held by one process at a time (LockedError otherwise).
    """
    check("connect", target=(target, FOLDER | None), clock=(clock, CALLBACK))
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        from rillet.client import RemoteDatabase

        token = settings.pop("token", None)
        if settings:
            raise ConfigError(
                "a remote database takes token= only; its settings are the server's: "
                f"{sorted(settings)}"
            )
        # the same methods as Database (rillet.api.DatabaseAPI), over HTTP
        return cast(Database, RemoteDatabase(target, token))
    return Database(target, Settings.from_kwargs(settings), clock)
