"""The catalog: streams, their sealed files and partitions, changed in SQLite transactions.

One small interface, so that a catalog elsewhere (PostgreSQL, Iceberg) is a change of wiring.
Times are epoch microseconds; ``sealed_through`` is, per partition, the highest offset whose
row is sealed in a file or dropped by retention (replaying the log skips those rows).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rillet.errors import ConflictError, StorageError
from rillet.storage.parquet import FileInfo

_TABLES = """
CREATE TABLE IF NOT EXISTS streams (
    name TEXT PRIMARY KEY,
    schema TEXT NOT NULL,
    time_column TEXT,
    options TEXT NOT NULL,
    next_offset INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    path TEXT PRIMARY KEY,
    partition INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    min_offset INTEGER NOT NULL,
    max_offset INTEGER NOT NULL,
    min_time INTEGER NOT NULL,
    max_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS monitors (
    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    spec TEXT NOT NULL,
    from_offset INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (stream, kind, name)
);
CREATE TABLE IF NOT EXISTS partitions (
    stream TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    start INTEGER NOT NULL,
    sealed_through INTEGER NOT NULL,
    PRIMARY KEY (stream, start)
);
CREATE TABLE IF NOT EXISTS named_flows (
    name TEXT PRIMARY KEY REFERENCES streams(name) ON DELETE CASCADE,
    query TEXT NOT NULL,
    options TEXT NOT NULL,
    start_offsets TEXT NOT NULL,
    created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    name TEXT NOT NULL REFERENCES streams(name) ON DELETE CASCADE,
    part TEXT NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (name, part)
);
CREATE TABLE IF NOT EXISTS doomed (
    name TEXT PRIMARY KEY
);
CREATE TABLE IF NOT EXISTS seeds (
    name TEXT PRIMARY KEY,
    rows BLOB NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class StreamEntry:
    name: str
    schema: str
    time_column: str | None
    options: dict[str, Any]
    next_offset: int


@dataclass(frozen=True, slots=True)
class NamedFlowEntry:
    """A named flow's definition: its output stream ``name``, its SELECT, its options (as
    given) and the offset of each input stream it starts from (``since`` resolved once, at
    creation, so that a replay reads exactly what the first run read)."""

    name: str
    query: str
    options: dict[str, Any]
    start_offsets: dict[str, int]


@dataclass(frozen=True, slots=True)
class MonitorEntry:
    """A monitor's definition: kind (index, filter, aggregate, trigger, webhook), name, spec,
    the first offset it covers, and small running state (a trigger's last checked window)."""

    kind: str
    name: str
    spec: dict[str, Any]
    from_offset: int
    state: dict[str, Any]


class Catalog:
    """Streams, files and partitions of one database; ``path=None`` keeps it in memory."""

    def __init__(self, path: Path | None) -> None:
        target = str(path) if path is not None else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_TABLES)

    def _run(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                for sql, args in statements:
                    self._db.execute(sql, args)
                self._db.execute("COMMIT")
            except sqlite3.IntegrityError as exc:
                self._db.execute("ROLLBACK")
                raise ConflictError(str(exc)) from exc
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"catalog: {exc}") from exc

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def streams(self) -> list[StreamEntry]:
        rows = self._query(
            "SELECT name, schema, time_column, options, next_offset FROM streams ORDER BY name"
        )
        return [StreamEntry(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

    def named_flows(self) -> list[NamedFlowEntry]:
        """The named flows, in the order they were created (a flow reads only streams that
        existed before it: this is a dependency order)."""
        rows = self._query(
            "SELECT name, query, options, start_offsets FROM named_flows ORDER BY created"
        )
        return [NamedFlowEntry(r[0], r[1], json.loads(r[2]), json.loads(r[3])) for r in rows]

    def create_stream(self, entry: StreamEntry, flow: NamedFlowEntry | None = None) -> None:
        """Add a stream; with ``flow``, the named flow that fills it, in the same
        transaction (both or neither survive a crash)."""
        extra: list[tuple[str, tuple[Any, ...]]] = []
        if flow is not None:
            extra.append(
                (
                    "INSERT INTO named_flows VALUES (?, ?, ?, ?, "
                    "(SELECT coalesce(max(created), 0) + 1 FROM named_flows))",
                    (
                        flow.name,
                        flow.query,
                        json.dumps(flow.options),
                        json.dumps(flow.start_offsets),
                    ),
                )
            )
        self._run(
            [
                (
                    "INSERT INTO streams VALUES (?, ?, ?, ?, ?)",
                    (
                        entry.name,
                        entry.schema,
                        entry.time_column,
                        json.dumps(entry.options),
                        entry.next_offset,
                    ),
                ),
                *extra,
            ]
        )

    def reset_named_flows(
        self,
        resets: Sequence[tuple[StreamEntry, NamedFlowEntry]],
        emptied: Sequence[StreamEntry] = (),
        seeds: Mapping[str, bytes] | None = None,
    ) -> None:
        """Empty named flows' streams (their files, partitions and offsets start again),
        store their new definitions (each keeping its place in the creation order), empty
        the streams ``emptied`` (no flow fills them) and keep ``seeds``: per emptied stream,
        the rows it starts with (Arrow IPC stream bytes, appended before anything else, see
        :meth:`seeds`); one transaction.  The folders of
        all of them are marked doomed in it: their old files are removed before anything
        opens them again."""
        statements: list[tuple[str, tuple[Any, ...]]] = [
            ("CREATE TEMP TABLE IF NOT EXISTS kept (created INTEGER)", ())
        ]
        for entry, flow in resets:
            statements += [
                ("DELETE FROM kept", ()),
                ("INSERT INTO kept SELECT created FROM named_flows WHERE name = ?", (flow.name,)),
                ("DELETE FROM named_flows WHERE name = ?", (flow.name,)),
                ("DELETE FROM streams WHERE name = ?", (entry.name,)),
                (
                    "INSERT INTO streams VALUES (?, ?, ?, ?, 0)",
                    (entry.name, entry.schema, entry.time_column, json.dumps(entry.options)),
                ),
                (
                    "INSERT INTO named_flows SELECT ?, ?, ?, ?, created FROM kept",
                    (
                        flow.name,
                        flow.query,
                        json.dumps(flow.options),
                        json.dumps(flow.start_offsets),
                    ),
                ),
                ("INSERT OR IGNORE INTO doomed VALUES (?)", (entry.name,)),
            ]
        for entry in emptied:
            statements += [
                ("DELETE FROM streams WHERE name = ?", (entry.name,)),
                (
                    "INSERT INTO streams VALUES (?, ?, ?, ?, 0)",
                    (entry.name, entry.schema, entry.time_column, json.dumps(entry.options)),
                ),
                ("INSERT OR IGNORE INTO doomed VALUES (?)", (entry.name,)),
            ]
        for name, rows in (seeds or {}).items():
            statements.append(("INSERT OR REPLACE INTO seeds VALUES (?, ?)", (name, rows)))
        self._run(statements)

    def seeds(self) -> list[tuple[str, bytes]]:
        """The rows emptied streams start with that are not all appended yet: a stream
        named here holds a prefix of its seed's rows (nothing else writes to it first)."""
        return [(r[0], bytes(r[1])) for r in self._query("SELECT name, rows FROM seeds")]

    def forget_seed(self, name: str) -> None:
        """Stream ``name`` holds its seed's rows, durably."""
        self._run([("DELETE FROM seeds WHERE name = ?", (name,))])

    def set_named_flow_options(self, name: str, options: dict[str, Any]) -> None:
        """Replace the options of named flow ``name``'s definition (a running flow keeps
        what its replay needs there)."""
        self._run(
            [("UPDATE named_flows SET options = ? WHERE name = ?", (json.dumps(options), name))]
        )

    def checkpoint(self, name: str) -> dict[str, bytes]:
        """Named flow ``name``'s last checkpoint, by part ({} without one)."""
        rows = self._query("SELECT part, data FROM checkpoints WHERE name = ?", (name,))
        return {part: bytes(data) for part, data in rows}

    def set_checkpoint(self, name: str, parts: Mapping[str, bytes]) -> None:
        """Keep named flow ``name``'s checkpoint (its parts) in place of the one before, in
        one transaction (a stream's drop or REFRESH deletes it with the stream's row)."""
        self._run(
            [
                ("DELETE FROM checkpoints WHERE name = ?", (name,)),
                *(
                    ("INSERT INTO checkpoints VALUES (?, ?, ?)", (name, part, data))
                    for part, data in parts.items()
                ),
            ]
        )

    def doomed(self) -> list[str]:
        """The streams whose folders hold only files to remove (a reset or drop committed
        before its old files were gone)."""
        return [row[0] for row in self._query("SELECT name FROM doomed ORDER BY name")]

    def forget_doomed(self, names: Sequence[str]) -> None:
        """The folders of ``names`` are removed: new files there are the stream's own."""
        self._run([("DELETE FROM doomed WHERE name = ?", (name,)) for name in names])

    def drop_streams(self, names: Sequence[str]) -> None:
        """Delete streams' entries in one transaction (a stream and the streams it owns go
        together, whenever the process dies); their folders are doomed in it too (removed
        before a stream of the same name can open one)."""
        self._run(
            [
                statement
                for name in names
                for statement in (
                    ("DELETE FROM streams WHERE name = ?", (name,)),
                    ("DELETE FROM seeds WHERE name = ?", (name,)),
                    ("INSERT OR IGNORE INTO doomed VALUES (?)", (name,)),
                )
            ]
        )

    def files(self, stream: str) -> list[FileInfo]:
        rows = self._query(
            "SELECT path, partition, rows, bytes, min_offset, max_offset, min_time, max_time "
            "FROM files WHERE stream = ? ORDER BY partition, min_offset",
            (stream,),
        )
        return [FileInfo(*row) for row in rows]

    def sealed_through(self, stream: str) -> dict[int, int]:
        rows = self._query(
            "SELECT start, sealed_through FROM partitions WHERE stream = ?", (stream,)
        )
        return {int(start): int(through) for start, through in rows}

    def add_file(self, stream: str, info: FileInfo, sealed_through: int, next_offset: int) -> None:
        """Record a sealed file and that its partition is sealed through an offset, at once."""
        self._run(
            [
                (
                    "INSERT INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        stream,
                        info.path,
                        info.partition,
                        info.rows,
                        info.bytes,
                        info.min_offset,
                        info.max_offset,
                        info.min_time,
                        info.max_time,
                    ),
                ),
                _upsert_partition(stream, info.partition, sealed_through),
                (
                    "UPDATE streams SET next_offset = max(next_offset, ?) WHERE name = ?",
                    (next_offset, stream),
                ),
            ]
        )

    def drop_partitions(self, stream: str, through: dict[int, int], next_offset: int) -> None:
        """Forget the files of these partitions; their rows up to ``through`` are gone."""
        statements: list[tuple[str, tuple[Any, ...]]] = []
        for start, offset in through.items():
            statements.append(
                ("DELETE FROM files WHERE stream = ? AND partition = ?", (stream, start))
            )
            statements.append(_upsert_partition(stream, start, offset))
        statements.append(
            (
                "UPDATE streams SET next_offset = max(next_offset, ?) WHERE name = ?",
                (next_offset, stream),
            )
        )
        self._run(statements)

    def monitors(self, stream: str) -> list[MonitorEntry]:
        rows = self._query(
            "SELECT kind, name, spec, from_offset, state FROM monitors WHERE stream = ? "
            "ORDER BY rowid",
            (stream,),
        )
        return [MonitorEntry(r[0], r[1], json.loads(r[2]), r[3], json.loads(r[4])) for r in rows]

    def add_monitor(self, stream: str, entry: MonitorEntry) -> None:
        self._run(
            [
                (
                    "INSERT INTO monitors VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        stream,
                        entry.kind,
                        entry.name,
                        json.dumps(entry.spec),
                        entry.from_offset,
                        json.dumps(entry.state),
                    ),
                )
            ]
        )

    def remove_monitor(self, stream: str, kind: str, name: str) -> None:
        self._run(
            [
                (
                    "DELETE FROM monitors WHERE stream = ? AND kind = ? AND name = ?",
                    (stream, kind, name),
                )
            ]
        )

    def set_monitor_state(self, stream: str, kind: str, name: str, state: dict[str, Any]) -> None:
        self._run(
            [
                (
                    "UPDATE monitors SET state = ? WHERE stream = ? AND kind = ? AND name = ?",
                    (json.dumps(state), stream, kind, name),
                )
            ]
        )

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _upsert_partition(stream: str, start: int, through: int) -> tuple[str, tuple[Any, ...]]:
    return (
        "INSERT INTO partitions VALUES (?, ?, ?) ON CONFLICT (stream, start) "
        "DO UPDATE SET sealed_through = max(sealed_through, excluded.sealed_through)",
        (stream, start, through),
    )
