"""The log's writes and fsyncs failing (disk full, I/O error): a StorageError naming the stream
and the segment, nothing acknowledged that was not stored, no more appends until a reopen, and
the reopen holding exactly the acknowledged records.

A full disk cannot be made here, so the system calls of the log module (rillet.storage.log
calls them through ``os``) fail instead: ``os.writev`` and ``os.fdatasync``, monkeypatched to
raise OSError as the kernel would, or to take part of a frame.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rillet
from rillet import errors
from tests.unit.support import MANUAL, at, wait_until

SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE"
#: no committer round in between: each test says when the log is synced
QUIET = {**MANUAL, "commit_interval": 3600.0}
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
EIO = OSError(errno.EIO, os.strerror(errno.EIO))


def rows(first: int, count: int) -> list[tuple[Any, ...]]:
    return [(at(1, 0, i), f"h{i % 3}", i / 4) for i in range(first, first + count)]


def values(stream: rillet.Stream) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in stream.read(0, stream.next_offset + 10)]


def segment(folder: Path) -> Path:
    return folder / "streams" / "perf" / "wal" / f"{0:020d}.wal"


def failing(error: OSError) -> Callable[..., Any]:
    def fail(*args: Any) -> Any:
        raise error

    return fail


def assert_refuses_appends(s: rillet.Stream, first: errors.StorageError) -> None:
    """Every later write raises the first failure again; reads still answer."""
    for write in (
        lambda: s.append(rows(99, 1)[0]),
        lambda: s.append_many(rows(99, 2)),
        s.flush,
    ):
        with pytest.raises(errors.StorageError) as again:
            write()
        assert again.value.message == "earlier, " + first.message
        assert again.value.detail == first.detail


@pytest.mark.parametrize("durability", ["relaxed", "durable"])
def test_a_failed_write_stores_nothing_of_the_batch_and_names_stream_and_segment(
    folder: Path, monkeypatch: pytest.MonkeyPatch, durability: str
) -> None:
    kept = rows(0, 5)
    with rillet.connect(folder, **QUIET) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts", durability=durability)
        assert s.append_many(kept) == 0
        s.flush()
        size = segment(folder).stat().st_size
        with monkeypatch.context() as patch:
            patch.setattr(os, "writev", failing(ENOSPC))
            with pytest.raises(errors.StorageError) as info:
                s.append_many(rows(5, 4))
        assert info.value.message == (
            f"writing the log of stream 'perf' failed: No space left on device (errno 28) at "
            f"{str(segment(folder))!r}; the records at offsets 5 to 8 were not stored; the "
            "stream takes no more appends until the database is reopened"
        )
        assert info.value.detail == {"stream": "perf", "path": str(segment(folder)), "errno": 28}
        assert isinstance(info.value.__cause__, OSError)
        assert_refuses_appends(s, info.value)  # also once the disk has room again
        assert (len(s), values(s)) == (5, kept)
        assert segment(folder).stat().st_size == size
    with rillet.connect(folder, **QUIET) as db:
        s = db.stream("perf")
        assert (values(s), s.next_offset) == (kept, 5)
        assert s.append(rows(5, 1)[0]) == 5  # the failed batch's offsets were never handed out


def test_a_write_cut_short_by_a_full_disk_leaves_no_torn_frame(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kernel takes part of a frame, then refuses the rest: the part is cut off again."""
    real = os.writev
    calls = []

    def half_then_full(fd: int, parts: list[Any]) -> int:
        calls.append(sum(len(p) for p in parts))
        if len(calls) > 1:
            raise ENOSPC
        data = b"".join(bytes(p) for p in parts)
        return real(fd, [data[: len(data) // 2]])

    kept = rows(0, 3)
    with rillet.connect(folder, **QUIET) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts", durability="durable")
        s.append_many(kept)
        size = segment(folder).stat().st_size
        monkeypatch.setattr(os, "writev", half_then_full)
        with pytest.raises(errors.StorageError, match="offsets 3 to 202 were not stored"):
            s.append_many(rows(3, 200))
        monkeypatch.undo()
        assert calls[1] == calls[0] - calls[0] // 2  # the rest of the frame was tried
        assert segment(folder).stat().st_size == size
    with rillet.connect(folder, **QUIET) as db:
        assert values(db.stream("perf")) == kept


def test_short_writes_are_continued_until_the_frame_is_whole(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.writev

    def seven_bytes(fd: int, parts: list[Any]) -> int:
        return real(fd, [b"".join(bytes(p) for p in parts)[:7]])

    written = rows(0, 50)
    with rillet.connect(folder, **QUIET) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts", durability="durable")
        monkeypatch.setattr(os, "writev", seven_bytes)
        s.append_many(written[:20])
        for row in written[20:]:
            s.append(row)
        monkeypatch.undo()
    with rillet.connect(folder, **QUIET) as db:
        assert values(db.stream("perf")) == written


def test_a_failed_fsync_in_durable_mode_cuts_what_it_did_not_acknowledge(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = rows(0, 5)
    with rillet.connect(folder, **QUIET) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts", durability="durable")
        assert s.append_many(kept) == 0
        size = segment(folder).stat().st_size
        monkeypatch.setattr(os, "fdatasync", failing(EIO))
        with pytest.raises(errors.StorageError) as info:
            s.append_many(rows(5, 3))
        assert info.value.message == (
            f"syncing the log of stream 'perf' failed: Input/output error (errno 5) at "
            f"{str(segment(folder))!r}; the records appended since the last sync may be lost; "
            "the unsynced records, whose appends failed, were cut from the log; the stream "
            "takes no more appends until the database is reopened"
        )
        assert info.value.detail == {"stream": "perf", "path": str(segment(folder)), "errno": 5}
        # written to the page cache, then cut: a reopen must not bring back what failed
        assert segment(folder).stat().st_size == size
        assert_refuses_appends(s, info.value)
        monkeypatch.undo()
    with rillet.connect(folder, **QUIET) as db:
        s = db.stream("perf")
        assert (values(s), s.next_offset) == (kept, 5)


def test_a_single_durable_append_whose_fsync_fails_is_not_acknowledged(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with rillet.connect(folder, **QUIET) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts", durability="durable")
        assert [s.append(row) for row in rows(0, 2)] == [0, 1]
        monkeypatch.setattr(os, "fdatasync", failing(EIO))
        with pytest.raises(errors.StorageError, match="^syncing the log of stream 'perf'"):
            s.append(rows(2, 1)[0])
        monkeypatch.undo()
    with rillet.connect(folder, **QUIET) as db:
        assert values(db.stream("perf")) == rows(0, 2)


def test_a_failed_fsync_of_the_committer_is_logged_once_and_refuses_later_appends(
    folder: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Relaxed mode: appends are acknowledged once in the log, before the committer's fsync.
    Its failure cannot be told to them, so it is logged, and every later append and flush
    raises it rather than going on without durability."""
    commits = []
    commit = rillet.stream.Stream._commit

    def counted(stream: rillet.stream.Stream) -> None:
        commits.append(stream.name)
        commit(stream)

    monkeypatch.setattr(rillet.stream.Stream, "_commit", counted)  # what the committer calls
    acknowledged = rows(0, 6)
    caplog.set_level(logging.ERROR, logger="rillet")
    with rillet.connect(folder, **{**MANUAL, "commit_interval": 0.002}) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts")
        s.add_aggregate("mx", None, "MAX(ms)")
        s.flush()
        with monkeypatch.context() as patch:
            patch.setattr(os, "fdatasync", failing(EIO))
            assert s.append_many(acknowledged) == 0  # in the log, not yet synced
            assert wait_until(lambda: bool(caplog.records))
            later = len(commits) + 3
            assert wait_until(lambda: len(commits) >= later)  # and logged nothing more
        (record,) = caplog.records
        assert record.levelno == logging.ERROR
        assert record.getMessage() == (
            f"syncing the log of stream 'perf' failed: Input/output error (errno 5) at "
            f"{str(segment(folder))!r}; the records appended since the last sync may be lost; "
            "the stream takes no more appends until the database is reopened"
        )
        with pytest.raises(errors.StorageError) as info:
            s.append(rows(6, 1)[0])
        assert info.value.message == "earlier, " + record.getMessage()
        with pytest.raises(errors.StorageError):
            s.flush()
        assert s.get_aggregate("mx") == max(ms for *_, ms in acknowledged)  # reads still work
    # closing did not raise again, and released the folder
    with rillet.connect(folder, **QUIET) as db:
        s = db.stream("perf")
        assert (values(s), s.next_offset) == (acknowledged, 6)
        assert s.append(rows(6, 1)[0]) == 6


def test_close_raises_a_failure_it_meets_after_closing_everything(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = rillet.connect(folder, **QUIET)
    s = db.create_stream("perf", SCHEMA, time_column="ts")
    other = db.create_stream("other", SCHEMA, time_column="ts")
    other.append_many(rows(0, 2))
    s.append(rows(0, 1)[0])  # buffered: close writes it, and fsyncs
    monkeypatch.setattr(os, "fdatasync", failing(EIO))
    with pytest.raises(errors.StorageError, match="^syncing the log of stream '(perf|other)'"):
        db.close()
    monkeypatch.undo()
    with rillet.connect(folder, **QUIET) as again:  # the folder was released
        assert values(again.stream("other")) == rows(0, 2)  # relaxed: written, then kept
        assert values(again.stream("perf")) == rows(0, 1)


def test_a_log_segment_that_cannot_be_read_fails_the_open_naming_it(folder: Path) -> None:
    with rillet.connect(folder, **QUIET) as db:
        db.create_stream("perf", SCHEMA, time_column="ts").append_many(rows(0, 2))
    broken = folder / "streams" / "perf" / "wal" / f"{2:020d}.wal"
    broken.mkdir()  # reading it fails as a damaged disk would: an OSError
    with pytest.raises(errors.StorageError) as info:
        rillet.connect(folder, **QUIET)
    assert info.value.message == (
        f"reading the log of stream 'perf' failed: Is a directory (errno 21) at "
        f"{str(broken)!r}; the stream cannot be opened"
    )
    assert info.value.detail == {"stream": "perf", "path": str(broken), "errno": 21}
    broken.rmdir()
    with rillet.connect(folder, **QUIET) as db:  # the failed open released the folder
        assert values(db.stream("perf")) == rows(0, 2)
