"""Write-ahead log frames: ``u32 length | u32 checksum | Arrow IPC payload``, read back whole.

``read_frames`` must return exactly the whole frames before a cut or a damaged byte, and the
byte length they cover: that is what opening a folder keeps of a torn log tail.  Each frame
is drawn with its own compression (lz4, zstd or none), as a log holds when a stream is
reopened under another ``log_compression``; batches repeat their values at times, so that
compression has something to shrink.
"""

from __future__ import annotations

import datetime as dt
import decimal
import zlib
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.settings import LOG_COMPRESSIONS
from rillet.storage.log import HEADER, encode_frame, read_frames, unpack_header, write_options

SETTINGS = settings(max_examples=60, deadline=None)

# Arrow types a stream's storage schema can hold, each with a strategy for its Python values.
UTC = dt.UTC
COLUMN_TYPES: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.bool_(), st.booleans()),
    (pa.int32(), st.integers(-(2**31), 2**31 - 1)),
    (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    (pa.float32(), st.floats(width=32, allow_nan=False)),
    (pa.float64(), st.floats(allow_nan=False)),
    (pa.decimal128(38, 2), st.decimals(places=2, min_value=-(10**20), max_value=10**20)),
    (pa.string(), st.text(max_size=20)),
    (pa.binary(), st.binary(max_size=20)),
    (
        pa.timestamp("us", tz="UTC"),
        st.datetimes(
            dt.datetime(1900, 1, 1, tzinfo=UTC).replace(tzinfo=None),
            dt.datetime(2200, 1, 1, tzinfo=UTC).replace(tzinfo=None),
            timezones=st.just(UTC),
        ),
    ),
    (pa.list_(pa.int64()), st.lists(st.none() | st.integers(-(2**63), 2**63 - 1), max_size=4)),
]


Frames = tuple[pa.Schema, list[pa.RecordBatch], list[str]]


@st.composite
def frames(draw: st.DrawFn) -> Frames:
    """A storage schema (columns, then ``_offset``), a few batches of it (offsets ascending)
    and the compression each is framed with."""
    picks = draw(st.lists(st.integers(0, len(COLUMN_TYPES) - 1), min_size=1, max_size=4))
    fields = [
        pa.field(f"c{i}", COLUMN_TYPES[k][0], nullable=draw(st.booleans()))
        for i, k in enumerate(picks)
    ]
    schema = pa.schema([*fields, pa.field("_offset", pa.int64(), nullable=False)])
    batches = []
    offset = 0
    for _ in range(draw(st.integers(1, 6))):
        drawn = draw(st.integers(0, 5))
        # a few values repeated many times: a batch that compression does shrink
        repeat = draw(st.sampled_from([1, 1, 50]))
        rows = drawn * repeat
        arrays = []
        for field, k in zip(fields, picks, strict=True):
            values = st.none() | COLUMN_TYPES[k][1] if field.nullable else COLUMN_TYPES[k][1]
            column = draw(st.lists(values, min_size=drawn, max_size=drawn)) * repeat
            arrays.append(pa.array(column, type=field.type))
        arrays.append(pa.array(range(offset, offset + rows), type=pa.int64()))
        batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
        offset += rows
    compressions = draw(
        st.lists(st.sampled_from(LOG_COMPRESSIONS), min_size=len(batches), max_size=len(batches))
    )
    return schema, batches, compressions


def encode(batches: list[pa.RecordBatch], compressions: list[str]) -> tuple[bytes, list[int]]:
    """The frames of ``batches`` concatenated, and the byte position after each frame."""
    data = b""
    ends = []
    for batch, compression in zip(batches, compressions, strict=True):
        header, payload = encode_frame(batch, write_options(compression))
        assert len(header) == HEADER.size
        assert unpack_header(header, 0)[:3:2] == (payload.size, True)  # CRC-32C
        data += header + payload.to_pybytes()
        ends.append(len(data))
    return data, ends


def assert_batches(got: list[pa.RecordBatch], want: list[pa.RecordBatch]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.schema.equals(w.schema)
        assert g.equals(w)
        assert g.to_pylist() == w.to_pylist()


@SETTINGS
@given(frames())
def test_whole_log_reads_back(case: Frames) -> None:
    schema, batches, compressions = case
    data, ends = encode(batches, compressions)
    got, length = read_frames(data, schema)
    assert length == len(data) == ends[-1]
    assert_batches(got, batches)


@SETTINGS
@given(frames(), st.data())
def test_frames_with_the_old_crc32_read_beside_new_ones(case: Frames, data: st.DataObject) -> None:
    """Logs written before CRC-32C carry zlib's CRC-32 and a clear top bit: still read, in a
    segment that goes on with new frames."""
    schema, batches, compressions = case
    old = data.draw(st.lists(st.booleans(), min_size=len(batches), max_size=len(batches)))
    log = b""
    for batch, compression, legacy in zip(batches, compressions, old, strict=True):
        header, payload = encode_frame(batch, write_options(compression))
        body = payload.to_pybytes()
        if legacy:
            header = HEADER.pack(len(body), zlib.crc32(body))
        log += header + body
    got, length = read_frames(log, schema)
    assert length == len(log)
    assert_batches(got, batches)


@SETTINGS
@given(frames(), st.data())
def test_cut_anywhere_keeps_exactly_the_whole_frames(case: Frames, data: st.DataObject) -> None:
    schema, batches, compressions = case
    log, ends = encode(batches, compressions)
    cut = data.draw(st.integers(0, len(log)), label="cut")
    whole = sum(1 for end in ends if end <= cut)
    for prefix in (log[:cut], memoryview(log)[:cut]):
        got, length = read_frames(prefix, schema)
        assert length == (ends[whole - 1] if whole else 0)
        assert_batches(got, batches[:whole])


@SETTINGS
@given(frames(), st.data())
def test_a_damaged_byte_stops_reading_at_its_frame(case: Frames, data: st.DataObject) -> None:
    schema, batches, compressions = case
    log, ends = encode(batches, compressions)
    k = data.draw(st.integers(0, len(batches) - 1), label="frame")
    start = ends[k - 1] if k else 0
    position = data.draw(st.integers(start, ends[k] - 1), label="byte")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(log)
    damaged[position] ^= flip
    got, length = read_frames(bytes(damaged), schema)
    assert length == start
    assert_batches(got, batches[:k])


@SETTINGS
@given(frames(), st.binary(min_size=1, max_size=64))
def test_garbage_after_the_frames_is_not_read(case: Frames, garbage: bytes) -> None:
    schema, batches, compressions = case
    log, ends = encode(batches, compressions)
    # A header of zeros is the known bug below; this property covers every other garbage.
    if garbage[: HEADER.size] == bytes(HEADER.size):
        garbage = b"\xff" + garbage[1:]
    got, length = read_frames(log + garbage, schema)
    assert length == len(log)
    assert_batches(got, batches)


@SETTINGS
@given(frames())
def test_a_frame_is_compressed_only_when_that_makes_it_smaller(case: Frames) -> None:
    _, batches, compressions = case
    for batch, compression in zip(batches, compressions, strict=True):
        plain = batch.serialize()
        _, payload = encode_frame(batch, write_options(compression))
        if compression == "none" or payload.size >= plain.size:
            assert payload.equals(plain)  # byte for byte what logs held before compression
        else:
            assert not payload.equals(plain)


@pytest.mark.parametrize("compression", LOG_COMPRESSIONS)
def test_every_column_type_survives_a_frame(compression: str) -> None:
    """A fixed example with every column type, so a failing type is named plainly; 200 rows
    of repeated values, so that lz4 and zstd do compress it."""
    columns: dict[str, Any] = {
        "b": [True, None] * 100,
        "i": pa.array([1, -(2**31)] * 100, pa.int32()),
        "d": pa.array([decimal.Decimal("1.25"), None] * 100, pa.decimal128(38, 2)),
        "s": ["é\x00", ""] * 100,
        "t": pa.array([0, -1] * 100, pa.timestamp("us", tz="UTC")),
        "l": [[1, None], []] * 100,
        "_offset": pa.array(range(7, 207), pa.int64()),
    }
    batch = pa.RecordBatch.from_pydict(columns)
    header, payload = encode_frame(batch, write_options(compression))
    got, length = read_frames(header + payload.to_pybytes(), batch.schema)
    assert length == HEADER.size + payload.size
    plain = batch.serialize().size
    assert payload.size == plain if compression == "none" else payload.size < plain / 2
    assert_batches(got, [batch])


@pytest.mark.parametrize("zeros", [HEADER.size, 64])
def test_a_zero_filled_tail_is_not_read(zeros: int) -> None:
    batch = pa.RecordBatch.from_pydict({"v": [1, 2], "_offset": [0, 1]})
    log, _ = encode([batch], ["none"])
    got, length = read_frames(log + bytes(zeros), batch.schema)
    assert length == len(log)
    assert_batches(got, [batch])
