"""Real crashes: a writer subprocess is SIGKILLed at a random moment, then the folder is reopened.

The writer (``writer.py``) derives every value from the record's offset and reports what it
tried, what was acknowledged and what was flushed; these tests check that recovery keeps every
acknowledged record exactly, invents none, keeps offsets dense and batches whole, and goes on
appending at the next offset.  The damage tests cut or extend the last log segment by hand.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest
from crc32c import crc32c

import rillet
from rillet.errors import CorruptionError, LockedError
from rillet.settings import LOG_COMPRESSIONS
from rillet.storage.log import CRC32C, HEADER, read_frames, unpack_header
from tests.crash.writer import PARTITION, SCHEMA, SETTINGS, STREAM, expected_read, expected_row
from tests.unit.support import wait_until

pytestmark = pytest.mark.crash

WRITER = Path(__file__).with_name("writer.py")
READY_TIMEOUT = 30.0


@dataclass
class Report:
    """What a killed writer printed: its whole lines only (the last one may be torn)."""

    ready: int | None = None
    tries: list[tuple[int, int]] = field(default_factory=list)
    acks: list[tuple[int, int]] = field(default_factory=list)
    flushed: int = 0

    @classmethod
    def parse(cls, text: str) -> Report:
        report = cls()
        whole = text[: text.rfind("\n") + 1]
        for line in whole.splitlines():
            word, *numbers = line.split()
            values = [int(n) for n in numbers]
            if word == "ready":
                report.ready = values[0]
            elif word == "try":
                report.tries.append((values[0], values[1]))
            elif word == "ack":
                assert report.tries and report.tries[-1] == (values[0], values[1]), line
                report.acks.append((values[0], values[1]))
            elif word == "flushed":
                report.flushed = max(report.flushed, values[0])
            else:
                raise AssertionError(f"unexpected writer output {line!r}")
        return report


class Writer:
    """A running writer subprocess; stdout and stderr go to files, which survive the kill."""

    def __init__(
        self,
        folder: Path,
        durability: str,
        seed: int,
        out: Path,
        commit_interval: float = 0.005,
        log_compression: str = "lz4",
    ) -> None:
        self.out = out
        self.err = out.with_suffix(".err")
        command = [sys.executable, str(WRITER), str(folder), durability, str(seed)]
        with open(out, "wb") as stdout, open(self.err, "wb") as stderr:
            self.process = subprocess.Popen(
                [*command, str(commit_interval), log_compression],
                stdout=stdout,
                stderr=stderr,
            )

    def report(self) -> Report:
        """What the writer has reported so far."""
        return Report.parse(self.out.read_text())

    def wait_for(self, done: Callable[[Report], bool], what: str) -> None:
        """Wait until the writer's report satisfies ``done``; it must still be running."""
        exited = False

        def reached() -> bool:
            nonlocal exited
            exited = self.process.poll() is not None
            return exited or done(self.report())

        assert wait_until(reached, READY_TIMEOUT), f"the writer did not {what} in time"
        assert not exited, f"writer exited early: {self.err.read_text()}"

    def wait_ready(self) -> None:
        self.wait_for(lambda report: report.ready is not None, "open the folder")

    def wait_started(self, offset: int) -> None:
        """Wait until the writer has started an append of ``offset`` or beyond."""
        self.wait_for(
            lambda report: any(last >= offset for _, last in report.tries),
            f"start appending offset {offset}",
        )

    def kill(self) -> Report:
        """SIGKILL the writer; its report.  Nothing may have gone wrong in it before."""
        status = self.process.poll()
        assert status is None, f"writer ended by itself ({status}): {self.err.read_text()}"
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=30) == -signal.SIGKILL
        # Background sealing, trimming or committing failures are logged to stderr.
        assert self.err.read_text() == ""
        return Report.parse(self.out.read_text())


@pytest.fixture
def running() -> Iterator[list[Writer]]:
    """Writers a test starts; any still alive at the end are killed."""
    writers: list[Writer] = []
    yield writers
    for writer in writers:
        if writer.process.poll() is None:
            writer.process.kill()
            writer.process.wait()


def check_recovered(folder: Path, durability: str, report: Report, floor: int) -> int:
    """Reopen ``folder`` and check it against what the killed writer reported.

    Durable: every record whose append returned must be there.  Relaxed: every record
    appended before the last ``flush()`` that returned.

    ``floor``: records below it were checked present after an earlier crash (and must stay).
    Returns the next offset, after appending one record there and closing cleanly.
    """
    db = rillet.connect(folder)
    try:
        assert not list(folder.rglob("*.tmp")), "a crash leftover survived opening"
        s = db.stream(STREAM)
        n = s.next_offset
        # Every acknowledged record is there, and (relaxed) everything flushed before the kill.
        if durability == "durable":
            assert n >= max((last + 1 for _, last in report.acks), default=0)
        assert n >= report.flushed
        assert n >= floor
        # Nothing that was never tried exists, and no batch is cut in two.
        boundaries = {0, floor} | {first for first, _ in report.tries}
        boundaries |= {last + 1 for _, last in report.tries}
        assert n in boundaries, f"next offset {n} splits an append_many batch"
        tried = max((last for _, last in report.tries), default=floor - 1)
        assert n <= max(tried + 1, floor)

        expected = [expected_read(o) for o in range(n)]
        # SQL: exactly the records 0..n-1 (dense, no duplicates), each with its own values.
        assert db.sql("SELECT count(*), count(DISTINCT v) FROM ev").fetchall() == [(n, n)]
        assert db.sql("SELECT ts, v, msg FROM ev ORDER BY v").fetchall() == expected
        assert len(s) == n
        # Point reads by offset, from memory and from sealed files alike.
        assert [tuple(r.values()) for r in s.read(0, n + 5)] == expected
        assert [r.offset for r in s.read(0, n + 5)] == list(range(n))
        # A scan by event time sees every record once, in event-time order.
        scanned = [(r["ts"], r.offset) for r in s.scan()]
        assert scanned == sorted((e[0], o) for o, e in enumerate(expected))

        # A further append gets the next offset and is readable.
        assert s.append(expected_row(n)) == n
        assert tuple(s.read(n).values()) == expected_read(n)
        assert s.next_offset == n + 1
    finally:
        db.close()
    return n + 1


#: how far the writer gets in about 0.4 s on a laptop: each durable append waits for its fsync
PROGRESS = {"durable": 250, "relaxed": 4000}


@pytest.mark.parametrize("durability", ["durable", "relaxed"])
@pytest.mark.parametrize("seed", range(4))
def test_sigkill_keeps_every_acknowledged_record(
    tmp_path: Path, running: list[Writer], durability: str, seed: int
) -> None:
    rng = random.Random(f"{durability}-{seed}")
    # The default group commit (5 ms), or a slow one (0.25 s) under which a relaxed append
    # is safe only once a flush() has covered it.
    commit_interval = 0.005 if seed % 2 == 0 else 0.25
    # Frames of every codec are cut by the kill (the stream keeps what it was created with).
    log_compression = LOG_COMPRESSIONS[seed % len(LOG_COMPRESSIONS)]
    folder = tmp_path / "data"
    floor = 0
    acknowledged = 0
    for round_ in range(3):
        out = tmp_path / f"out{round_}"
        writer = Writer(
            folder, durability, seed * 10 + round_, out, commit_interval, log_compression
        )
        running.append(writer)
        if round_ == 2 and rng.random() < 0.5:
            # From the start: the kill may come while the folder is opened and recovered.
            # The delay is when to kill, not a wait for anything: any outcome is checked.
            time.sleep(rng.uniform(0.0, 0.8))
        else:
            # At a random point of the writer's progress (not of the wall clock, which a
            # slow machine stretches): once it has started appending offset ``target``,
            # whatever it is doing then (an append, a flush, sealing, trimming the log).
            writer.wait_ready()
            target = floor + rng.randint(1, PROGRESS[durability])
            writer.wait_started(target)
        report = writer.kill()
        assert report.ready in (None, floor), "the writer reopened at another offset"
        acknowledged += sum(last - first + 1 for first, last in report.acks)
        floor = check_recovered(folder, durability, report, floor)
    assert acknowledged > 0, "no append was ever acknowledged: nothing was tested"


def test_second_process_gets_locked_error_until_the_first_dies(
    tmp_path: Path, running: list[Writer]
) -> None:
    folder = tmp_path / "data"
    writer = Writer(folder, "durable", 1, tmp_path / "out")
    running.append(writer)
    writer.wait_ready()
    for _ in range(2):
        with pytest.raises(LockedError) as info:
            rillet.connect(folder)
        assert info.value.detail["path"] == str(folder)
        assert f"in use by process {writer.process.pid};" in str(info.value)
    report = writer.kill()
    n = check_recovered(folder, "durable", report, 0)
    # The folder is free again after a clean close, too.
    with rillet.connect(folder) as db:
        assert db.stream(STREAM).next_offset == n


# -- damage to the last log segment ------------------------------------------------------------


def build_folder(folder: Path, seed: int) -> int:
    """A closed folder whose records all sit in the log (several segments); returns how many."""
    rng = random.Random(seed)
    with rillet.connect(folder, segment_bytes=8 * 1024) as db:
        s = db.create_stream(STREAM, SCHEMA, time_column="ts", durability="durable", partition="1d")
        # At least 300 records, and several frames in the last segment.
        while s.next_offset < 300 or len(frame_ends(segments(folder)[-1].read_bytes())) < 6:
            first = s.next_offset
            if rng.random() < 0.6:
                assert s.append(expected_row(first)) == first
            else:
                rows = [expected_row(o) for o in range(first, first + rng.randint(1, 25))]
                assert s.append_many(rows) == first
        n = s.next_offset
    return n


def segments(folder: Path) -> list[Path]:
    return sorted((folder / "streams" / STREAM / "wal").glob("*.wal"))


def frame_ends(data: bytes) -> list[int]:
    """The byte position after each frame of a whole segment."""
    ends, pos = [], 0
    while pos < len(data):
        length, _, _ = unpack_header(data, pos)
        pos += HEADER.size + length
        ends.append(pos)
    assert pos == len(data)
    return ends


def offsets_in(data: bytes, schema: pa.Schema) -> list[int]:
    batches, _ = read_frames(data, schema)
    return [o for b in batches for o in b.column(b.num_columns - 1).to_pylist()]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    folder = tmp_path_factory.mktemp("pristine") / "data"
    n = build_folder(folder, 7)
    assert len(segments(folder)) >= 3, "the damage tests need several log segments"
    return folder, n


@pytest.fixture
def damaged(folder: Path, pristine: tuple[Path, int]) -> int:
    """A copy of the pristine folder in ``folder``, for the test to damage; its record count."""
    source, n = pristine
    shutil.copytree(source, folder)
    return n


def check_reopened(folder: Path, n: int, last: Path, size: int) -> None:
    """Opening cuts ``last`` to ``size`` bytes; every record 0..n-1 is there with its values;
    appending goes on at n, durably."""
    with rillet.connect(folder) as db:
        assert last.stat().st_size == size, "the damaged tail was not cut off"
        s = db.stream(STREAM)
        assert s.next_offset == n
        assert len(s) == n
        assert db.sql("SELECT ts, v, msg FROM ev ORDER BY v").fetchall() == [
            expected_read(o) for o in range(n)
        ]
        assert s.append(expected_row(n)) == n
    with rillet.connect(folder) as db:  # what was appended after the repair is readable
        s = db.stream(STREAM)
        assert s.next_offset == n + 1
        assert [tuple(r.values()) for r in s.read(0, n + 1)] == [
            expected_read(o) for o in range(n + 1)
        ]


def storage_schema() -> pa.Schema:
    return rillet.Schema.build(SCHEMA, "ts").storage


@pytest.mark.parametrize("seed", range(12))
def test_truncated_last_segment_keeps_whole_frames(folder: Path, damaged: int, seed: int) -> None:
    n = damaged
    last = segments(folder)[-1]
    data = last.read_bytes()
    ends = frame_ends(data)
    # Cuts at or next to frame boundaries, then anywhere.
    special = [0, ends[0], ends[0] + HEADER.size, ends[-2], ends[-2] + 1, len(data) - 1]
    position = special[seed] if seed < len(special) else random.Random(seed).randrange(len(data))
    kept = max([0, *(e for e in ends if e <= position)])
    os.truncate(last, position)

    earlier = sum(len(offsets_in(p.read_bytes(), storage_schema())) for p in segments(folder)[:-1])
    survivors = earlier + len(offsets_in(data[:kept], storage_schema()))
    assert survivors < n
    check_reopened(folder, survivors, last, kept)


GARBAGE = [
    pytest.param(b"\x00" * 8, id="zeros-8"),
    pytest.param(b"\x00" * 4096, id="zeros-4096"),
    pytest.param(b"\xff" * 3, id="shorter-than-a-header"),
    pytest.param(HEADER.pack(10**6, 0) + b"abc", id="length-beyond-the-end"),
    pytest.param(HEADER.pack(5, zlib.crc32(b"hello")) + b"hello", id="right-crc-not-arrow"),
    pytest.param(HEADER.pack(5 | CRC32C, crc32c(b"hello")) + b"hello", id="right-crc32c-not-arrow"),
    pytest.param(HEADER.pack(5, 0) + b"hello", id="wrong-crc"),
    pytest.param(HEADER.pack(5 | CRC32C, zlib.crc32(b"hello")) + b"hello", id="crc32-as-crc32c"),
    *(pytest.param(random.Random(i).randbytes(1 + i * 37), id=f"random-{i}") for i in range(4)),
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_after_last_segment_is_cut(folder: Path, damaged: int, garbage: bytes) -> None:
    n = damaged
    last = segments(folder)[-1]
    size = last.stat().st_size
    with open(last, "ab") as f:
        f.write(garbage)
    check_reopened(folder, n, last, size)


def test_damage_before_the_last_segment_is_corruption(folder: Path, damaged: int) -> None:
    first = segments(folder)[0]
    data = bytearray(first.read_bytes())
    ends = frame_ends(bytes(data))
    data[ends[1] + HEADER.size + 3] ^= 0x40  # a payload byte of the third frame
    first.write_bytes(bytes(data))
    with pytest.raises(CorruptionError) as info:
        rillet.connect(folder)
    assert info.value.detail["path"] == str(first)
    assert info.value.detail["offset"] == ends[1]
    # The failed open let go of the folder, and changed nothing.
    assert first.read_bytes() == bytes(data)
    with pytest.raises(CorruptionError):
        rillet.connect(folder)


def test_settings_used_by_the_writer_seal_and_trim(tmp_path: Path) -> None:
    """The writer's settings and event times do make sealing and log trimming happen."""
    folder = tmp_path / "data"
    with rillet.connect(folder, **SETTINGS) as db:
        s = db.create_stream(STREAM, SCHEMA, time_column="ts", partition=PARTITION)
        n = 2000
        for first in range(0, n, 50):
            s.append_many([expected_row(o) for o in range(first, first + 50)])
        wait_until(
            lambda: (
                bool(list(folder.rglob("*.parquet")))
                and segments(folder)[0].name != f"{0:020d}.wal"
            )
        )
        assert list(folder.rglob("*.parquet")), "no partition was sealed"
        assert segments(folder)[0].name != f"{0:020d}.wal", "the log was never trimmed"
        assert len(s) == n
