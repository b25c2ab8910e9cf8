"""The write-ahead log's compression: each codec round-trips through a reopen, the setting and
the stream option choose it, and logs written before compression still open.

Which codec wrote a frame is checked by encoding the batch it holds again: lz4 and zstd are
deterministic, so a frame on disk equals ``encode_frame`` of its batch under its codec only.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import rillet
from rillet import errors
from rillet.settings import LOG_COMPRESSIONS
from rillet.storage.log import (
    HEADER,
    Log,
    encode_frame,
    read_frames,
    unpack_header,
    write_options,
)
from tests.unit.support import MANUAL, at

SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE"
STORAGE = rillet.Schema.build(SCHEMA, "ts").storage

# Two frames written by rillet before log compression (commit b7f3200: ``batch.serialize()``
# behind ``u32 length | u32 checksum``), of the storage schema of SCHEMA: offsets 0-2, then 3-4.
OLD_SEGMENT = bytes.fromhex(
    "a0010000c9cb55eeffffffff2801000014000000000000000c0016000600050008000c000c00000000030400"
    "18000000700000000000000000000a0018000c00040008000a000000ac000000100000000300000000000000"
    "0000000009000000000000000000000000000000000000000000000000000000180000000000000018000000"
    "0000000001000000000000002000000000000000100000000000000030000000000000000200000000000000"
    "3800000000000000010000000000000040000000000000001800000000000000580000000000000000000000"
    "0000000058000000000000001800000000000000000000000400000003000000000000000000000000000000"
    "0300000000000000010000000000000003000000000000000100000000000000030000000000000000000000"
    "0000000040c2fc2a5917060080040c2b59170600c0461b2b5917060003000000000000000000000001000000"
    "020000000200000061620000000000000500000000000000000000000000f83f000000000000000000000000"
    "000002c0000000000000000001000000000000000200000000000000780100009cc21038ffffffff28010000"
    "14000000000000000c0016000600050008000c000c0000000003040018000000480000000000000000000a00"
    "18000c00040008000a000000ac00000010000000020000000000000000000000090000000000000000000000"
    "0000000000000000000000000000000010000000000000001000000000000000000000000000000010000000"
    "000000000c000000000000002000000000000000020000000000000028000000000000000000000000000000"
    "2800000000000000100000000000000038000000000000000000000000000000380000000000000010000000"
    "0000000000000000040000000200000000000000000000000000000002000000000000000000000000000000"
    "020000000000000000000000000000000200000000000000000000000000000000892a2b5917060040cb392b"
    "5917060000000000020000000200000000000000c3a900000000000000000000000000009c7500883ce4377e"
    "03000000000000000400000000000000"
)
OLD_ROWS = [
    (at(0, 0, 1), "a", 1.5),
    (at(0, 0, 2), "b", None),
    (at(0, 0, 3), None, -2.25),
    (at(0, 0, 4), "é", 0.0),
    (at(0, 0, 5), "", 1e300),
]


def rows(first: int, count: int) -> list[tuple[dt.datetime, str, float]]:
    """Records that compress: a few hosts, latencies in steps of a quarter."""
    return [
        (at(1, 0, 0, i * 1000), f"host-{i % 7}", (i % 400) / 4) for i in range(first, first + count)
    ]


def values(stream: rillet.Stream) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in stream.read(0, stream.next_offset)]


def segment_frames(folder: Path, stream: str = "t") -> list[tuple[bytes, pa.RecordBatch]]:
    """Every frame of the stream's log as (payload, the batch it holds), oldest first."""
    frames = []
    for path in sorted((folder / "streams" / stream / "wal").glob("*.wal")):
        data = path.read_bytes()
        batches, length = read_frames(data, STORAGE)
        assert length == len(data)
        pos = 0
        for batch in batches:
            size, _, _ = unpack_header(data, pos)
            frames.append((data[pos + HEADER.size : pos + HEADER.size + size], batch))
            pos += HEADER.size + size
    return frames


def codec_of(payload: bytes, batch: pa.RecordBatch) -> str:
    """The codec whose encoding of ``batch`` is ``payload``; "none" for an uncompressed one."""
    if payload == batch.serialize().to_pybytes():
        return "none"
    (codec,) = [
        c
        for c in ("lz4", "zstd")
        if encode_frame(batch, write_options(c))[1].to_pybytes() == payload
    ]
    return codec


def test_a_log_written_before_compression_reads_back() -> None:
    batches, length = read_frames(OLD_SEGMENT, STORAGE)
    assert length == len(OLD_SEGMENT)
    assert [b.num_rows for b in batches] == [3, 2]
    got = [tuple(r.values()) for b in batches for r in b.to_pylist()]
    assert got == [(*row, offset) for offset, row in enumerate(OLD_ROWS)]
    # Uncompressed frames still hold exactly the same payload, now under a CRC-32C.
    old, pos = [], 0
    while pos < len(OLD_SEGMENT):
        size, _, castagnoli = unpack_header(OLD_SEGMENT, pos)
        assert not castagnoli  # zlib's CRC-32
        old.append(OLD_SEGMENT[pos + HEADER.size : pos + HEADER.size + size])
        pos += HEADER.size + size
    frames = [encode_frame(b, None) for b in batches]
    assert [p.to_pybytes() for _, p in frames] == old
    assert [unpack_header(h, 0)[2] for h, _ in frames] == [True, True]


def test_a_database_opens_a_log_written_before_compression(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as db:
        db.create_stream("t", SCHEMA, time_column="ts", durability="durable")
    segment = folder / "streams" / "t" / "wal" / f"{0:020d}.wal"
    segment.write_bytes(OLD_SEGMENT)
    more = rows(5, 3000)
    with rillet.connect(folder, **MANUAL) as db:  # the lz4 default from here on
        s = db.stream("t")
        assert s.next_offset == 5
        assert values(s) == OLD_ROWS
        assert s.append_many(more) == 5
    with rillet.connect(folder, **MANUAL) as db:
        assert values(db.stream("t")) == OLD_ROWS + more
    assert segment.read_bytes().startswith(OLD_SEGMENT)  # appended to, never rewritten
    assert [codec_of(*f) for f in segment_frames(folder)] == ["none", "none", "lz4"]


@pytest.mark.parametrize("compression", LOG_COMPRESSIONS)
def test_a_stream_reopens_with_every_compression(folder: Path, compression: str) -> None:
    batch = rows(0, 5000)
    singles = rows(5000, 3)
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream(
            "t", SCHEMA, time_column="ts", durability="durable", log_compression=compression
        )
        assert s.append_many(batch) == 0
        for offset, row in enumerate(singles, 5000):
            assert s.append(row) == offset
        written = s.log_bytes_written
    frames = segment_frames(folder)
    assert written == sum(HEADER.size + len(payload) for payload, _ in frames)
    # The big batch is compressed; a frame of one record would only grow, so it is not.
    assert [codec_of(*f) for f in frames] == [compression, "none", "none", "none"]
    with rillet.connect(folder, **MANUAL) as db:
        s = db.stream("t")
        assert s.options.log_compression == compression
        assert values(s) == batch + singles
        assert db.sql("SELECT count(*), sum(ms) FROM t").fetchall() == [
            (5003, sum(ms for _, _, ms in batch + singles))
        ]


def test_zstd_frames_are_smaller_than_lz4_ones_and_those_than_uncompressed(folder: Path) -> None:
    sizes = {}
    with rillet.connect(folder, **MANUAL) as db:
        for compression in LOG_COMPRESSIONS:
            s = db.create_stream(compression, SCHEMA, time_column="ts", log_compression=compression)
            s.append_many(rows(0, 20_000))
            sizes[compression] = s.log_bytes_written
    plain = sum(HEADER.size + b.serialize().size for _, b in segment_frames(folder, "none"))
    assert sizes["none"] == plain
    assert sizes["zstd"] < sizes["lz4"] < sizes["none"] / 2


def test_the_setting_is_followed_at_each_open_unless_the_stream_chose(folder: Path) -> None:
    first, second = rows(0, 2000), rows(2000, 2000)
    with rillet.connect(folder, log_compression="none", **MANUAL) as db:
        db.create_stream("t", SCHEMA, time_column="ts").append_many(first)
        chosen = db.create_stream("chosen", SCHEMA, time_column="ts", log_compression="lz4")
        chosen.append_many(first)
    with rillet.connect(folder, log_compression="zstd", **MANUAL) as db:
        assert db.stream("t").options.log_compression is None
        db.stream("t").append_many(second)
        db.stream("chosen").append_many(second)
    with rillet.connect(folder, **MANUAL) as db:
        assert values(db.stream("t")) == values(db.stream("chosen")) == first + second
    assert [codec_of(*f) for f in segment_frames(folder)] == ["none", "zstd"]
    assert [codec_of(*f) for f in segment_frames(folder, "chosen")] == ["lz4", "lz4"]


def test_log_bytes_written_counts_frames_and_is_zero_without_a_log(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as db:
        memory = db.create_stream("m", SCHEMA, time_column="ts", durability="memory")
        memory.append_many(rows(0, 10))
        assert memory.log_bytes_written == 0
    log = Log(folder / "wal", STORAGE, 1 << 20, "zstd")
    batch = pa.RecordBatch.from_pylist(
        [{"ts": r[0], "host": r[1], "ms": r[2], "_offset": i} for i, r in enumerate(rows(0, 99))],
        schema=STORAGE,
    )
    log.append(batch)
    log.close()
    header, payload = encode_frame(batch, write_options("zstd"))
    assert (
        log.written
        == len(header) + payload.size
        == (folder / "wal" / f"{0:020d}.wal").stat().st_size
    )


@pytest.mark.parametrize("value", ["gzip", "LZ4", ""])
def test_a_bad_log_compression_names_the_option_and_the_choices(
    mem: rillet.Database, value: Any
) -> None:
    with pytest.raises(errors.ConfigError) as info:
        mem.create_stream("t", "v INT", log_compression=value)
    assert str(info.value) == f"log_compression {value!r} is not one of lz4, zstd, none"
    assert info.value.detail == {"option": "log_compression"}
    assert mem.streams() == []


def test_a_log_compression_that_is_no_text_is_refused_by_its_type(mem: rillet.Database) -> None:
    with pytest.raises(errors.ConfigError) as info:
        mem.create_stream("t", "v INT", log_compression=1)  # type: ignore[arg-type]
    assert str(info.value) == "create_stream(): log_compression must be a str or None, not int (1)"
    assert info.value.detail["argument"] == "log_compression"
    assert mem.streams() == []


def test_data_that_does_not_compress_is_written_without_trying_for_a_while(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large frame that lz4 cannot shrink by a tenth (random letters) makes the next 16
    go uncompressed without trying; data that compresses is always compressed.  Every frame
    reads back."""
    import numpy as np

    from rillet.storage import log

    tried: list[int] = []
    compress = log._compressed

    def counted(batch: pa.RecordBatch, options: pa.ipc.IpcWriteOptions) -> pa.Buffer:
        tried.append(batch.num_rows)
        return compress(batch, options)

    monkeypatch.setattr(log, "_compressed", counted)
    rng = np.random.default_rng(14)
    letters = np.frombuffer(
        b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", "u1"
    )

    def noise() -> pa.Table:  # 64 random letters a host: nothing for lz4 to match
        hosts = letters[rng.integers(0, 64, (2000, 64))]
        return pa.table(
            {
                "ts": pa.array(rng.integers(0, 2**50, 2000), pa.timestamp("us")),
                "host": pa.array([row.tobytes().decode() for row in hosts]),
                "ms": rng.random(2000),
            }
        )

    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("t", SCHEMA, time_column="ts", log_compression="lz4")
        for _ in range(17):
            s.append_many(noise())
        assert len(tried) == 1  # the first frame only
        tried.clear()
        for i in range(4):
            s.append_many(rows(200_000 + i * 5000, 5000))
        assert len(tried) == 4  # the 18th tries again, shrinks by a lot: compression stays on
        s.append_many(noise())
        for i in range(2):
            s.append_many(rows(300_000 + i * 5000, 5000))
        assert len(tried) == 5  # noise again: the next ones are not tried
    frames = segment_frames(folder)
    assert all(codec_of(*f) == "none" for f in frames[1:17] + frames[-2:])  # not tried
    assert [codec_of(*f) for f in frames[17:21]] == ["lz4"] * 4
    with rillet.connect(folder, **MANUAL) as db:
        assert len(db.stream("t")) == 18 * 2000 + 6 * 5000
