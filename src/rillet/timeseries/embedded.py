"""The rillet back end: a time series kept as rillet streams, read from an index in memory.

Each time series (type and prefix) is two streams of the database, so its data is also
queryable with ``db.sql``:

- ``kairos_<type>`` (``kairos_<prefix>_<type>`` with a prefix): one record per row written,
  ``ts TIMESTAMP`` (the resolution bucket's start), ``name STRING``, ``interval STRING``,
  ``i_time BIGINT``, ``r_time BIGINT`` (bucket starts, epoch seconds), ``value`` (the value
  type), and for histograms ``count BIGINT``.  Records are what was written, not what is kept:
  a count's records are increments (its value is their sum), a gauge's the values in the
  order written (its value is the last), a histogram's (value, count) increments, a set's the
  values added (its members are the distinct ones), a series' its values.
- ``<that>_deleted``: ``name``, ``interval``, ``before``, ``upto``: a record written by
  ``delete(name)`` (interval and before NULL) or ``expire(name)`` hides the rows of that
  name (and interval, with ``i_time < before``) at offsets below ``upto``.  ``delete_all``
  drops both streams.

Reads never go to storage: an index in memory (:mod:`rillet.timeseries.index`), kept per
database and stream and shared by every ``Timeseries`` on it, holds each (name, interval)'s
rows sorted by interval bucket.
It is rebuilt from the streams when a database is opened (derived state is rebuilt, never
trusted) and updated by every write after the stream took it.

On a remote database (``rillet.connect("http://...")``) the streams are the server's and the
index is this process's: it is built from the server's records (read by offset, a page a
request) when the first store on that database object opens, and kept by the writes made
through that object (one Arrow append a write, however few its rows); what another client
writes afterwards is seen once the time series is opened again on a new connection.
"""

from __future__ import annotations

import re
import threading
import weakref
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.client.database import RemoteDatabase
from rillet.database import Database, connect
from rillet.errors import (
    BackendUnavailableError,
    ConfigError,
    ConflictError,
    NotFoundError,
    StorageError,
)
from rillet.timeseries.index import SMALL, Cell, Index
from rillet.timeseries.store import (
    CustomFetch,
    StoreSpec,
    arrow_value_type,
    fetch_schema,
    write_schema,
)

#: Arrow value types a rillet stream column holds -> its rtsql type
RTSQL_TYPES = {
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.string(): "STRING",
    pa.bool_(): "BOOLEAN",
    pa.binary(): "BINARY",
    pa.timestamp("us", tz="UTC"): "TIMESTAMP",
}
OPTIONS = ("value_type", "durability", "partition", "client_config")
#: the columns of a ``_deleted`` stream
DELETED_SCHEMA = pa.schema(
    [("name", pa.string()), ("interval", pa.string()), ("before", pa.int64()),
     ("upto", pa.int64())]
)  # fmt: skip
_US = 1_000_000
_NS = 1_000_000_000
#: records a request when a remote store reads a stream to rebuild its index
PAGE = 100_000


def stream_name(spec: StoreSpec) -> str:
    """The data stream of a time series: ``kairos_<type>``, or ``kairos_<prefix>_<type>``
    (the prefix in lower case, other characters as ``_``, and a checksum of the prefix when
    that changed it, so different prefixes never share a stream).

    Examples:
        >>> stream_name(StoreSpec("count")), stream_name(StoreSpec("set", "web:"))
        ('kairos_count', 'kairos_web_set')
        >>> stream_name(StoreSpec("set", "Web:"))
        'kairos_web_2d847eb1_set'
    """
    prefix = spec.prefix[:-1] if spec.prefix.endswith(":") else spec.prefix
    if not prefix:
        return f"kairos_{spec.type}"
    clean = re.sub(r"[^a-z0-9]+", "_", prefix.lower()).strip("_") or "p"
    if clean != prefix:
        clean = f"{clean}_{zlib.crc32(prefix.encode()):08x}"
    return f"kairos_{clean}_{spec.type}"


_INDEXES: weakref.WeakKeyDictionary[Database | RemoteDatabase, dict[str, Index]] = (
    weakref.WeakKeyDictionary()
)
_INDEXES_LOCK = threading.Lock()

# Databases opened from a rillet://path URL, shared by the stores on them (a folder is held
# by one Database a process), with how many stores use each.
_OPENED: dict[Path, tuple[Database, int]] = {}


# -- the store --------------------------------------------------------------------------------


class EmbeddedStore:
    """A :class:`~rillet.timeseries.store.Store` on a rillet database (see the module)."""

    def __init__(self, db: Database | RemoteDatabase, spec: StoreSpec, owned: Path | bool) -> None:
        unknown = sorted(set(spec.options) - set(OPTIONS))
        if unknown:
            raise ConfigError(
                f"rillet time-series back end: unknown option {unknown[0]!r}; "
                f"known: {', '.join(OPTIONS)}",
                option=unknown[0],
            )
        self.db = db
        self.spec = spec
        # an embedded stream buffers single appends; a remote append is a request
        self._buffered = isinstance(db, Database)
        self._owned = owned
        option = spec.options.get("value_type", "float")
        self._value_type = arrow_value_type(option)
        if self._value_type not in RTSQL_TYPES:
            raise ConfigError(
                f"value_type {option!r}: the rillet back end keeps float, int, str, bool, bytes "
                "or datetime values",
                option="value_type",
                value=repr(option),
            )
        self.kind = spec.type
        self.name = stream_name(spec)
        self.deleted_name = f"{self.name}_deleted"
        self._durability = str(spec.options.get("durability", "relaxed"))
        self._partition = str(spec.options.get("partition", "1d"))
        self._schema = write_schema(self.kind, self._value_type)
        self._fetch_schema = fetch_schema(self.kind, self._value_type)
        self._index = self._open_index()

    @property
    def value_type(self) -> pa.DataType:
        return self._value_type

    # -- streams and index -------------------------------------------------------------------

    def _columns(self) -> str:
        value = "DOUBLE" if self.kind == "count" else RTSQL_TYPES[self._value_type]
        columns = (
            "ts TIMESTAMP NOT NULL, name STRING NOT NULL, interval STRING NOT NULL, "
            f"i_time BIGINT NOT NULL, r_time BIGINT NOT NULL, value {value}"
        )
        return columns + (", count BIGINT NOT NULL" if self.kind == "histogram" else "")

    def _stream(self, name: str, create: bool) -> Any:
        try:
            return self.db.stream(name)
        except NotFoundError:
            if not create:
                return None
        if name == self.name:
            schema, time_column, partition = self._columns(), "ts", self._partition
        else:
            schema, time_column, partition = (
                "name STRING NOT NULL, interval STRING, before BIGINT, upto BIGINT NOT NULL",
                None,
                "monthly",
            )
        try:
            return self.db.create_stream(
                name,
                schema,
                time_column=time_column,
                partition=partition,
                durability=self._durability,
            )
        except ConflictError:  # made by another store meanwhile
            return self.db.stream(name)

    def _open_index(self) -> Index:
        with _INDEXES_LOCK:
            indexes = _INDEXES.setdefault(self.db, {})
            index = indexes.get(self.name)
            if index is None:
                value_type = pa.float64() if self.kind == "count" else self._value_type
                index = indexes[self.name] = Index(self.kind, value_type)
                with index.lock:
                    self._rebuild(index)
        return index

    def _rebuild(self, index: Index) -> None:
        """Index the stored rows, less those deleted (each deletion hides the rows written
        before it, by offset)."""
        data = self._stream(self.name, create=False)
        if data is None:
            return
        deletions: list[dict[str, Any]] = []
        deleted = self._stream(self.deleted_name, create=False)
        if deleted is not None:
            for batch in self._stored(deleted, DELETED_SCHEMA):
                deletions.extend(batch.to_pylist())
        deletions.sort(key=lambda d: int(d["upto"]))
        stored_schema = self._schema.remove(self._schema.get_field_index("expires"))
        batches = sorted(
            self._stored(data, stored_schema), key=lambda b: b.column("_offset")[0].as_py()
        )
        position = 0
        for batch in batches:
            offsets = batch.column("_offset").to_numpy()
            # the deletions up to this batch's last offset apply to the rows before them
            while position < len(deletions) and deletions[position]["upto"] <= offsets[0]:
                self._forget(index, deletions[position])
                position += 1
            table = pa.Table.from_batches([batch])
            later = [d for d in deletions[position:] if d["upto"] <= offsets[-1]]
            cut = 0
            for deletion in later:  # a deletion inside the batch: index the part before it
                upto = int(np.searchsorted(offsets, deletion["upto"]))
                index.add(table.slice(cut, upto - cut))
                cut = upto
                self._forget(index, deletion)
                position += 1
            index.add(table.slice(cut))
        for deletion in deletions[position:]:
            self._forget(index, deletion)

    def _stored(self, stream: Any, schema: pa.Schema) -> list[pa.RecordBatch]:
        """Every stored record of ``stream`` with its ``_offset`` (at least ``schema``'s
        columns): the engine's batches embedded; remotely, pages of the public ``read``
        (the server sends no offsets with anything else)."""
        if self._buffered:
            stream.caught_up()
            return list(stream.stored())
        pages: list[pa.RecordBatch] = []
        end = stream.next_offset
        for first in range(0, end, PAGE):
            records = stream.read(first, min(PAGE, end - first))
            if not records:
                continue
            columns = {f.name: pa.array([r[f.name] for r in records], f.type) for f in schema}
            columns["_offset"] = pa.array([r.offset for r in records], pa.int64())
            pages.append(pa.RecordBatch.from_pydict(columns))
        return pages

    def _forget(self, index: Index, deletion: Mapping[str, Any]) -> None:
        index.forget(deletion["name"], deletion["interval"], deletion["before"])

    # -- Store -------------------------------------------------------------------------------

    def write(self, rows: pa.Table) -> None:
        if rows.num_rows == 0:
            return
        rows = rows.select(self._schema.names)
        if rows.num_rows <= SMALL and self._buffered:
            self.write_rows(list(zip(*(c.to_pylist() for c in rows.columns), strict=True)))
            return
        rows = rows.cast(self._schema)
        ts = pc.multiply(rows.column("r_time"), _US).cast(pa.timestamp("us", tz="UTC"))
        table = rows.drop_columns(["expires"]).add_column(0, "ts", ts)
        with self._index.lock:
            self._stream(self.name, create=True).append_many(table)
            self._index.add(rows)

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """A few rows: appended one by one (into the stream's buffer, a batch when full);
        remotely, as one table (one request)."""
        if not self._buffered:
            columns = zip(*rows, strict=True)
            self.write(
                pa.table(
                    {
                        f.name: pa.array(c, f.type)
                        for f, c in zip(self._schema, columns, strict=True)
                    },
                    schema=self._schema,
                )
            )
            return
        records = [(row[3] * _NS, *row[:-1]) for row in rows]  # ts first, less expires
        with self._index.lock:
            stream = self._stream(self.name, create=True)
            for record in records:
                stream.append(record)
            self._index.add_rows(*zip(*(row[:-1] for row in rows), strict=True))

    def fetch(self, names: Sequence[str], interval: str, start: int, end: int) -> pa.Table:
        parts: list[pa.Table] = []
        with self._index.lock:
            for name in dict.fromkeys(names):
                cell = self._index.cells.get(name, {}).get(interval)
                if cell is None:
                    continue
                found = cell.between(self.kind, start, end)
                if not found or not len(found[0]):
                    continue
                i_time, r_time, value, count = found
                columns: dict[str, Any] = {
                    "name": pa.repeat(pa.scalar(name), len(i_time)),
                    "i_time": i_time,
                    "r_time": r_time,
                    "value": value,
                }
                if count is not None:
                    columns["count"] = count
                parts.append(pa.table(columns, schema=self._fetch_schema))
        if not parts:
            return self._fetch_schema.empty_table()
        return parts[0] if len(parts) == 1 else pa.concat_tables(parts)

    def fetch_with(
        self, fetch: CustomFetch, name: str, interval: str, first: int, last: int
    ) -> Mapping[int, Mapping[int, Any]]:
        """Calls ``fetch(db, stream, name, interval, first, last)``: the database, the data
        stream's name (a table of ``db.sql``, which sees every write before it), and the
        bucket range, both ends included."""
        return fetch(self.db, self.name, name, interval, first, last)

    def names(self, live_from: Mapping[str, int]) -> list[str]:
        with self._index.lock:
            return sorted(
                name
                for name, cells in self._index.cells.items()
                if any(self._live(cell, i, live_from) for i, cell in cells.items())
            )

    def _live(self, cell: Cell, interval: str, live_from: Mapping[str, int]) -> bool:
        cell.merged(self.kind)
        if not cell.i_time or not len(cell.i_time[0]):
            return False
        return interval not in live_from or int(cell.i_time[0][-1]) >= live_from[interval]

    def bounds(self, name: str, live_from: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        with self._index.lock:
            for interval, cell in self._index.cells.get(name, {}).items():
                if not self._live(cell, interval, live_from):
                    continue
                i_time = cell.i_time[0]
                low = 0
                if interval in live_from:
                    low = int(np.searchsorted(i_time, live_from[interval]))
                out[interval] = (int(i_time[low]), int(i_time[-1]))
        return out

    def delete(self, name: str) -> None:
        self._delete([{"name": name, "interval": None, "before": None}])

    def _delete(self, deletions: list[dict[str, Any]]) -> None:
        with self._index.lock:
            data = self._stream(self.name, create=False)
            if data is None:
                return
            upto = data.next_offset
            records = [{**d, "upto": upto} for d in deletions]
            self._stream(self.deleted_name, create=True).append_many(records)
            for record in records:
                self._forget(self._index, record)

    def delete_all(self) -> None:
        with self._index.lock:
            for name in (self.name, self.deleted_name):
                if self._stream(name, create=False) is not None:
                    self.db.drop_stream(name)
            self._index.cells.clear()

    def expire(self, name: str, live_from: Mapping[str, int]) -> None:
        held = self.bounds(name, {})
        dead = [
            {"name": name, "interval": interval, "before": before}
            for interval, before in live_from.items()
            if interval in held and held[interval][0] < before
        ]
        if dead:
            self._delete(dead)

    def close(self) -> None:
        if self._owned is True:
            self.db.close()
        elif isinstance(self._owned, Path):
            with _INDEXES_LOCK:
                db, users = _OPENED[self._owned]
                if users > 1:
                    _OPENED[self._owned] = (db, users - 1)
                else:
                    del _OPENED[self._owned]
                    db.close()
        self._owned = False


def open_store(target: Any, spec: StoreSpec) -> EmbeddedStore:
    """A store on a rillet Database (embedded, or remote: ``rillet.connect("http://...")``),
    or on ``rillet://path`` (a data folder, opened once a process however many stores use
    it) or ``rillet://`` (a database in memory of its own).

    Option ``client_config``: settings for :func:`rillet.connect` when opening a URL.
    """
    if isinstance(target, Database | RemoteDatabase):
        return EmbeddedStore(target, spec, False)
    if not isinstance(target, str) or not target.startswith("rillet://"):
        raise ConfigError(f"not a rillet database or rillet:// URL: {target!r}", value=target)
    config = dict(spec.options.get("client_config") or {})
    path = target[len("rillet://") :]
    if not path:
        memory = connect(**config)
        try:
            return EmbeddedStore(memory, spec, True)
        except BaseException:
            memory.close()
            raise
    folder = Path(path).resolve()
    with _INDEXES_LOCK:
        db, users = _OPENED.get(folder, (None, 0))
        if db is None:
            try:
                db = connect(folder, **config)
            except StorageError as exc:  # cannot be made, or another process holds it
                raise BackendUnavailableError(
                    f"rillet back end {target!r} cannot be opened: {exc}", url=target
                ) from exc
        _OPENED[folder] = (db, users + 1)
    try:
        return EmbeddedStore(db, spec, folder)
    except BaseException:
        with _INDEXES_LOCK:
            db, users = _OPENED[folder]
            if users > 1:
                _OPENED[folder] = (db, users - 1)
            else:
                del _OPENED[folder]
                db.close()
        raise
