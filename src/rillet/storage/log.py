"""The write-ahead log of one stream: framed Arrow batches in numbered segment files.

Format (docs/format/log.md): a segment ``<first offset, 20 digits>.wal`` is a sequence of
frames ``u32 length | u32 checksum | payload`` (little-endian), the payload being one Arrow IPC
record-batch message of the stream's storage schema (columns plus ``_offset``), its buffers
compressed with IPC's own lz4 or zstd buffer compression or not at all.  The message's
metadata says which, so frames of every kind read alike and logs written before compression
still read.  The checksum is CRC-32C (hardware-accelerated: 5-8 times zlib's CRC-32, which
was a quarter of an append's time), flagged by the length's top bit; frames with the bit
clear, written before, carry zlib's CRC-32 and still read.  A frame is written with one
``writev``; a crash can leave only the last frame of the last segment torn, and opening cuts
it off.

A write or fsync that fails (disk full, I/O error) fails the log for good: the call raises a
:class:`~rillet.errors.StorageError` naming the stream and the segment, every later append
and sync raises too, and the stream's owner is told once (``on_failure``).  After a failed
fsync the kernel may have dropped the pages it could not write while reporting the next fsync
as a success, so no retry is trusted: reopening reads back what is really there.  A
``durable`` log, whose appends are acknowledged only once synced, cuts the frames written
since its last good fsync off, so a reopen holds exactly the acknowledged records; a
``relaxed`` one keeps them (acknowledged when written, they may well be on disk).
"""

from __future__ import annotations

import errno
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from crc32c import crc32c

from rillet.errors import CorruptionError, StorageError
from rillet.storage.files import fsync_dir

HEADER = struct.Struct("<II")
#: set in a frame's length word when its checksum is CRC-32C rather than zlib's CRC-32
CRC32C = 1 << 31
SUFFIX = ".wal"
#: the start of an encapsulated IPC message: continuation marker, metadata length
MESSAGE_PREFIX = struct.Struct("<Ii")


@dataclass(slots=True)
class Segment:
    path: Path
    first_offset: int
    last_offset: int  # -1 while empty


#: a frame of this many bytes or more tells whether its data compresses (a smaller one's
#: codec framing may outweigh what it saves); it must come to at most this share of them
_JUDGED = 64 * 1024
_WORTH = 0.9
#: frames written uncompressed, without trying, after one that did not compress
_SKIPPED = 16


def write_options(compression: str) -> pa.ipc.IpcWriteOptions | None:
    """How frames are encoded under ``compression`` ("lz4", "zstd" or "none")."""
    if compression == "none":
        return None
    # Arrow's thread pool compresses a frame's buffers in parallel: zstd frames encode 1.6x
    # faster for the same CPU; lz4 ones neither gain nor lose.
    return pa.ipc.IpcWriteOptions(compression=compression, use_threads=True)


def encode_frame(
    batch: pa.RecordBatch, options: pa.ipc.IpcWriteOptions | None = None
) -> tuple[bytes, pa.Buffer]:
    """The header and payload of the frame holding ``batch``, encoded with ``options``
    (:func:`write_options`; None: uncompressed, byte for byte as before compression).

    A batch that compression would not shrink (a few rows, where the codec's own framing
    outweighs what it saves) is written uncompressed.
    """
    payload = _compressed(batch, options) if options is not None else None
    if payload is None or payload.size >= pa.ipc.get_record_batch_size(batch):
        payload = batch.serialize()
    if payload.size >= CRC32C:
        raise StorageError(f"a log frame of {payload.size:,} bytes is over the 2 GiB limit")
    return HEADER.pack(payload.size | CRC32C, crc32c(payload)), payload


def unpack_header(data: bytes | memoryview, pos: int) -> tuple[int, int, bool]:
    """The payload length and checksum of the frame at ``pos``, and whether the checksum is
    CRC-32C (else zlib's CRC-32)."""
    word, checksum = HEADER.unpack_from(data, pos)
    return word & ~CRC32C, checksum, bool(word & CRC32C)


def _compressed(batch: pa.RecordBatch, options: pa.ipc.IpcWriteOptions) -> pa.Buffer:
    """``batch`` as an IPC record-batch message with compressed buffers.

    ``RecordBatch.serialize`` takes no write options, so the message is cut out of a
    one-batch IPC stream: a schema message, then the batch's.
    """
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        writer.write_batch(batch)
        end = sink.tell()  # before the end-of-stream marker that closing writes
    stream = sink.getvalue()
    # The schema message has no body: its continuation marker, its metadata length, then
    # that many bytes of metadata (padded to 8 by the writer).
    _, length = MESSAGE_PREFIX.unpack_from(stream)
    start = MESSAGE_PREFIX.size + length
    return stream.slice(start, end - start)


def read_frames(data: bytes | memoryview, schema: pa.Schema) -> tuple[list[pa.RecordBatch], int]:
    """The whole frames at the start of ``data`` and the byte length they cover.

    Reading stops at the first frame that is short or fails its checksum: a torn tail.
    """
    view = memoryview(data)
    batches = []
    pos = 0
    while pos + HEADER.size <= len(view):
        length, checksum, castagnoli = unpack_header(view, pos)
        start = pos + HEADER.size
        payload = view[start : start + length]
        # A frame is never empty: a zero header is a zero-filled tail (common after power loss).
        if length == 0 or len(payload) < length:
            break
        if (crc32c(payload) if castagnoli else zlib.crc32(payload)) != checksum:
            break
        try:
            batch = pa.ipc.read_record_batch(pa.py_buffer(payload), schema)
        except (pa.ArrowException, OSError, EOFError):
            break
        batches.append(batch)
        pos = start + length
    return batches, pos


class Log:
    """Appends frames, fsyncs them (with group commit), replays and trims them."""

    def __init__(
        self,
        folder: Path,
        schema: pa.Schema,
        segment_bytes: int,
        compression: str,
        *,
        stream: str = "",
        durable: bool = False,
        on_failure: Callable[[StorageError], None] | None = None,
    ) -> None:
        self.folder = folder
        self.stream = stream or folder.parent.name
        #: appends are acknowledged once synced: a failed sync cuts the unsynced frames off
        self.durable = durable
        #: the error that failed the log; every later append and sync raises it again
        self.failure: StorageError | None = None
        self._on_failure = on_failure
        self.schema = schema
        self.segment_bytes = segment_bytes
        self._options = write_options(compression)
        self._skip = 0  # frames still to write uncompressed without trying (see append)
        folder.mkdir(parents=True, exist_ok=True)
        self.segments: list[Segment] = []
        self._fd = -1
        self._size = 0
        self._written = 0  # bytes written since open, across segments
        self._synced = 0
        self._durable_size = 0  # the length of the current segment known to be on disk
        self._sync_lock = threading.Lock()
        self._lock = threading.Lock()

    def replay(self) -> Iterator[pa.RecordBatch]:
        """Every whole batch in the log, oldest first; cuts a torn tail off the last segment."""
        paths = sorted(self.folder.glob("*" + SUFFIX))
        for i, path in enumerate(paths):
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise self._unreadable(path, "reading", exc) from exc
            batches, good = read_frames(data, self.schema)
            last = batches[-1].column(-1)[-1].as_py() if batches and len(batches[-1]) else -1
            segment = Segment(path, int(path.stem), last)
            if good < len(data):
                if i < len(paths) - 1:
                    raise CorruptionError(
                        f"log segment {str(path)!r} is damaged at byte {good}, before later "
                        "segments",
                        path=str(path),
                        offset=good,
                    )
                try:
                    with open(path, "r+b") as f:  # a torn tail: what was never acknowledged
                        f.truncate(good)
                        os.fsync(f.fileno())
                except OSError as exc:
                    raise self._unreadable(path, "cutting the torn tail of", exc) from exc
            self.segments.append(segment)
            for batch in batches:
                if len(batch):
                    segment.last_offset = max(segment.last_offset, batch.column(-1)[-1].as_py())
                yield batch

    def append(self, batch: pa.RecordBatch) -> int:
        """Write ``batch`` as one frame; the returned position goes to :meth:`sync_to`.

        A large frame that compression shrank by less than a tenth (sketch states, random
        doubles) makes the next ``_SKIPPED`` frames go uncompressed without trying: lz4
        cost a roll-up's flow a fifth of its time for 4 % fewer bytes.  The callers append
        one at a time (under the stream's ingest lock)."""
        options = self._options if not self._skip else None
        self._skip = max(self._skip - 1, 0)
        header, payload = encode_frame(batch, options)
        if options is not None:
            raw = pa.ipc.get_record_batch_size(batch)
            if raw >= _JUDGED and payload.size > _WORTH * raw:
                self._skip = _SKIPPED
        first = batch.column(-1)[0].as_py()
        with self._lock:
            self._check()
            try:
                if self._fd < 0 or self._size >= self.segment_bytes:
                    self._roll(first)
                _write_all(self._fd, [memoryview(header), memoryview(payload)])
            except OSError as exc:
                last = batch.column(-1)[-1].as_py()
                lost = f"the records at offsets {first} to {last} were not stored"
                raise self._fail(exc, "writing", lost, torn=True) from exc
            self._size += len(header) + payload.size
            self._written += len(header) + payload.size
            segment = self.segments[-1]
            segment.last_offset = max(segment.last_offset, batch.column(-1)[-1].as_py())
            return self._written

    def _roll(self, first_offset: int) -> None:
        if self._fd >= 0:
            os.fsync(self._fd)  # the old segment is complete before the new one starts
            os.close(self._fd)
            self._fd = -1
        path = self.folder / f"{first_offset:020d}{SUFFIX}"
        # Offsets only grow, so a name can repeat only for a last segment left empty by a
        # cut-off torn tail; appending to it is fine.
        if not self.segments or self.segments[-1].path != path:
            self.segments.append(Segment(path, first_offset, -1))
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = self._durable_size = os.fstat(self._fd).st_size
        fsync_dir(self.folder)

    @property
    def written(self) -> int:
        """Bytes written since the log was opened, frame headers included."""
        return self._written

    @property
    def dirty(self) -> bool:
        return self._synced < self._written

    def sync_to(self, position: int) -> None:
        """Return once everything written up to ``position`` is on disk.

        Group commit: threads that wait while another fsyncs find their bytes covered by it.
        """
        if self._synced >= position:
            return
        with self._sync_lock:
            if self._synced >= position:
                return
            with self._lock:  # a concurrent roll-over may close the current descriptor
                self._check()
                target, size = self._written, self._size
                segment = self.segments[-1] if self.segments else None
                fd = os.dup(self._fd) if self._fd >= 0 else -1
            if fd >= 0:
                try:
                    os.fdatasync(fd)
                except OSError as exc:
                    lost = "the records appended since the last sync may be lost"
                    with self._lock:
                        raise self._fail(exc, "syncing", lost, torn=False) from exc
                finally:
                    os.close(fd)
            with self._lock:
                self._check()  # a failure meanwhile may have cut these frames off
                if self.segments and self.segments[-1] is segment:
                    self._durable_size = max(self._durable_size, size)
                self._synced = max(self._synced, target)

    def sync(self) -> None:
        self.sync_to(self._written)

    def trim(self, low_water: int) -> int:
        """Delete closed segments whose records all have offsets below ``low_water``."""
        removed = 0
        with self._lock:
            while len(self.segments) > 1 and self.segments[0].last_offset < low_water:
                self.segments.pop(0).path.unlink(missing_ok=True)
                removed += 1
        if removed:
            fsync_dir(self.folder)
        return removed

    def close(self) -> None:
        """Fsync and close the segment (a failed log is closed without fsync)."""
        with self._lock:
            if self._fd < 0:
                return
            try:
                if self.failure is None:
                    os.fsync(self._fd)
            except OSError as exc:
                lost = "the records appended since the last sync may be lost"
                raise self._fail(exc, "syncing", lost, torn=False) from exc
            finally:
                os.close(self._fd)
                self._fd = -1

    def _unreadable(self, path: Path, doing: str, exc: OSError) -> StorageError:
        reason = f"{exc.strerror or exc}" + (f" (errno {exc.errno})" if exc.errno else "")
        return StorageError(
            f"{doing} the log of stream {self.stream!r} failed: {reason} at {str(path)!r}; "
            "the stream cannot be opened",
            stream=self.stream,
            path=str(path),
            errno=exc.errno,
        )

    def _check(self) -> None:
        """Raise again the error that failed the log, if one did (caller holds ``_lock``)."""
        if self.failure is not None:
            raise refused(self.failure)

    def _fail(self, exc: OSError, doing: str, lost: str, torn: bool) -> StorageError:
        """Fail the log for good on ``exc``, met while ``doing`` (caller holds ``_lock``).

        A durable log cuts the frames written since its last good fsync off: their appends
        are told they failed, and a reopen must not bring them back.  A relaxed one cuts only
        the frame a failed write may have left ``torn``, whose records were not acknowledged.
        """
        path = self.segments[-1].path if self.segments else self.folder
        reason = f"{exc.strerror or exc}" + (f" (errno {exc.errno})" if exc.errno else "")
        keep = self._durable_size if self.durable else self._size if torn else None
        cut = ""
        if keep is not None and self._fd >= 0:
            try:
                os.ftruncate(self._fd, keep)
            except OSError:  # opening cuts a torn tail; unsynced whole frames would stay
                if self.durable and keep < self._size:
                    cut = "; the unsynced records, whose appends failed, could not be cut off"
            else:
                if self.durable and keep < self._size:
                    cut = "; the unsynced records, whose appends failed, were cut from the log"
        self.failure = StorageError(
            f"{doing} the log of stream {self.stream!r} failed: {reason} at {str(path)!r}; "
            f"{lost}{cut}; the stream takes no more appends until the database is reopened",
            stream=self.stream,
            path=str(path),
            errno=exc.errno,
        )
        if self._on_failure is not None:
            self._on_failure(self.failure)
        return self.failure


def refused(failure: StorageError) -> StorageError:
    """The error of a write to a log that ``failure`` failed before."""
    return StorageError(f"earlier, {failure.message}", **failure.detail)


def _write_all(fd: int, parts: list[memoryview]) -> None:
    """Write ``parts`` whole: a regular file may take part of them (then fail on the rest
    with ENOSPC), and a frame cut short and then continued would tear the log."""
    while parts:
        written = os.writev(fd, parts)
        if written == 0:
            raise OSError(errno.EIO, "the log segment took no bytes")
        while parts and written >= len(parts[0]):
            written -= len(parts.pop(0))
        if written:
            parts[0] = parts[0][written:]
