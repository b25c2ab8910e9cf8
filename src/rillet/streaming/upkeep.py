"""Upkeep in the background: closed partitions sealed into Parquet files, retention dropping
whole partitions, the log trimmed behind them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rillet.arguments import FLAG, check
from rillet.storage.parquet import FileInfo, ParquetPartition, write_partition
from rillet.storage.partitions import bytes_by_start
from rillet.storage.retention import partitions_to_drop
from rillet.streaming.reads import Reads


class Upkeep(Reads):
    """Sealing, retention and trimming the log."""

    def _maintain(self) -> None:
        """Seal closed partitions, apply retention and trim the log."""
        self.seal()
        self.apply_retention()

    def seal(self, everything: bool = False) -> int:
        """Write closed partitions (all, with ``everything``) to Parquet; return files written."""
        check("seal", everything=(everything, FLAG))
        if self._root is None or self._folder is None or self._failure is not None:
            return 0
        written = 0
        with self._seal_lock:
            if self._closed or self._dropping:  # its entry goes: its folder next
                return 0
            grace = int(self._granularity.nominal_us() * self._settings.seal_grace)
            for partition in sorted(self._memory.partitions.values(), key=lambda p: p.start):
                closed = partition.end + grace <= self._watermark
                if not (everything or closed or partition.rows >= self._settings.seal_rows):
                    continue
                with self._ingest_lock:
                    current = self._memory.partitions.get(partition.start)
                    if current is None or not current.batches:
                        continue
                    batches = current.freeze()
                    through = self._buffer.first - 1
                first = current.firsts[0]
                stamp = dt.datetime.fromtimestamp(current.start / 1e6, dt.UTC).strftime(
                    "%Y%m%dT%H%M%S"
                )
                relative = f"streams/{self.name}/{stamp}/{first:020d}.parquet"
                info = write_partition(
                    self._root,
                    relative,
                    batches,
                    current.start,
                    self.schema.time_index,
                    self._settings.row_group_rows,
                )
                if self._log is not None:
                    # the catalog's next offset must not run ahead of the logged records: after
                    # a power loss, relaxed may lose its last records but never leave a gap
                    self._log.sync()
                # (a drop or REFRESH of the stream waits for this: its entry is still here)
                self._catalog.add_file(self.name, info, through, through + 1)
                with self._ingest_lock, self._lock:
                    self._files = [*self._files, self._sealed(info)]
                    self._memory.remove_sealed(current.start, batches)
                    self._sealed_through[current.start] = max(
                        self._sealed_through.get(current.start, -1), through
                    )
                written += 1
        if written:
            self._trim_log()
        return written

    def apply_retention(self) -> list[int]:
        """Drop the whole oldest partitions that retention says go; return their starts.

        Never waits for a subscriber holding the ingest lock or ``_lock``: each subscriber is
        told what went behind the batches handed over before the drop, and applies it on its
        own thread; this returns once they have (waiting under no lock of the stream).
        """
        if self._retention_us is None and self.options.max_bytes is None:
            return []
        with self._seal_lock:
            if self._closed or self._dropping:
                return []
            partitions = self.partitions()
            sizes = bytes_by_start(partitions)
            ends = {partition.start: partition.end for partition in partitions}
            drop = partitions_to_drop(
                sizes, ends, self._watermark, self._retention_us, self.options.max_bytes
            )
            if not drop:
                return []
            # a late subscriber's catch-up reads stored files on its thread, maybe the ones
            # to delete; appenders and readers go on meanwhile (only sealing waits)
            for subscription in self._subscriptions:
                subscription.wait_history()
            with self._ingest_lock:
                if any(s.catching_up for s in self._subscriptions):
                    return []  # one started since: the next round drops
                with self._lock:
                    self._recent.clear()  # its rows are all in memory now, some maybe dropped
                    through = self._buffer.first - 1
                    self._catalog.drop_partitions(
                        self.name, {s: through for s in drop}, through + 1
                    )
                    gone = [f for f in self._files if f.start in drop]
                    self._files = [f for f in self._files if f.start not in drop]
                    for start in drop:
                        self._memory.drop(start)
                        self._sealed_through[start] = through
                    kept = [f.start for f in self._files] + list(self._memory.partitions)
                # behind every batch that held a dropped record (all were handed over under
                # this lock), never waiting: the subscribers apply it in order on their threads
                told = list(self._subscriptions)
                for subscription in told:
                    subscription.forget_before(min(kept) if kept else self._watermark + 1)
            for info in gone:
                if self._reader is not None and self._root is not None:
                    self._reader.forget(info.path)
                    self._unlink(self._root / info.path)
        self._trim_log()
        # a reader after this call sees the subscribers' states without the dropped records
        for subscription in told:
            subscription.wait()
        return drop

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A span in which the sealed files listed by :meth:`partitions` stay on disk (a
        query lists them, then DuckDB reads them): retention deletes the files it drops
        meanwhile when the last such span ends."""
        with self._readers_lock:
            self._readers += 1
        try:
            yield
        finally:
            doomed: list[Path] = []
            with self._readers_lock:
                self._readers -= 1
                if not self._readers:
                    doomed, self._doomed = self._doomed, []
            for path in doomed:
                path.unlink(missing_ok=True)

    def _unlink(self, path: Path) -> None:
        """Delete a dropped file, or leave it to the last query reading files now."""
        with self._readers_lock:
            if self._readers:
                self._doomed.append(path)
                return
        path.unlink(missing_ok=True)

    def _trim_log(self) -> None:
        if self._log is None:
            return
        with self._ingest_lock:
            low = self._memory.low_water()
            self._log.trim(low if low is not None else self._buffer.first)

    def _remove_orphans(self) -> None:
        """Delete files a crash left behind: temporaries and files the catalog never took."""
        assert self._folder is not None and self._root is not None
        known = {f.path for f in self._files}
        for path in self._folder.rglob("*.parquet*"):
            if path.relative_to(self._root).as_posix() not in known:
                path.unlink()

    def _sealed(self, info: FileInfo) -> ParquetPartition:
        assert self._reader is not None  # files exist only in a data folder
        end = self._granularity.end(info.partition)
        return ParquetPartition.of(info, self._reader, end, self.schema.time_index)
