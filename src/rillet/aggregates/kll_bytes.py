"""KLL sketches' serialized form, read and written with numpy for many states at once.

DataSketches' KLL (doubles) bytes, little-endian: an empty sketch is 8 bytes (preamble ints
2, serial version 1, family 15, flags 1 = empty, k as u16, m = 8, 0); a sketch of one item
is those 8 bytes (serial version 2, flags 4 = single item) and the item; any other is a
20-byte preamble (preamble ints 5, serial version 1, family 15, flags, k, m, n as u64,
min k as u16, the number of levels as u8, 0), then the levels' offsets (u32 each, into an
array of the sketch's capacity: the items begin at the first), min, max, and the retained
items, level 0 first.  An item of level h stands for 2^h values.

A roll-up writes thousands of small states a window: while a group holds at most k values
they are exactly level 0 of a sketch, so :func:`exact_states` writes them all in a few numpy
calls rather than building a sketch each, and :func:`state_items` reads states back.

Examples:
    >>> import datasketches as ds
    >>> blob = exact_states(np.array([1.0, 5.0, 2.0]), np.array([3]), 200)[0].as_py()
    >>> ds.kll_doubles_sketch.deserialize(blob).get_quantile(0.5, True)
    2.0
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from rillet.errors import InputError

_FLAG_EMPTY = 1
_FLAG_SINGLE = 4
_PREAMBLE = 20  # bytes before the level offsets of a KLL state holding two or more items
_LEVELS = 18  # the byte of its number of levels
_FAMILY = 15
_M = 8

_FULL = np.dtype(
    [
        ("preamble", "u1"), ("version", "u1"), ("family", "u1"), ("flags", "u1"),
        ("k", "<u2"), ("m", "u1"), ("unused", "u1"), ("n", "<u8"), ("min_k", "<u2"),
        ("levels", "u1"), ("unused2", "u1"), ("level0", "<u4"), ("min", "<f8"), ("max", "<f8"),
    ]
)  # fmt: skip
_SHORT = np.dtype(
    [
        ("preamble", "u1"), ("version", "u1"), ("family", "u1"), ("flags", "u1"),
        ("k", "<u2"), ("m", "u1"), ("unused", "u1"),
    ]
)  # fmt: skip


def exact_states(values: np.ndarray, n: np.ndarray, k: int) -> pa.Array:
    """The serialized KLL sketch (of parameter ``k``) of each row of ``n`` values (each at
    most k), the rows' values one row after another in ``values``: a BINARY array."""
    n = np.asarray(n, dtype=np.int64)
    if (n > k).any():
        raise ValueError("exact_states writes sketches of at most k values")
    values = np.ascontiguousarray(values, dtype=np.float64)
    first = np.cumsum(n) - n
    full = n >= 2
    heads = np.where(full, _FULL.itemsize, _SHORT.itemsize)
    sizes = heads + 8 * np.where(n == 1, 1, np.where(full, n, 0))
    offsets = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(sizes)])
    out = np.zeros(int(offsets[-1]), dtype=np.uint8)
    starts = offsets[:-1]

    short = np.zeros(int((~full).sum()), dtype=_SHORT)
    short["preamble"], short["family"], short["k"], short["m"] = 2, _FAMILY, k, _M
    single = n[~full] == 1
    short["version"] = np.where(single, 2, 1)
    short["flags"] = np.where(single, _FLAG_SINGLE, _FLAG_EMPTY)
    _place(out, starts[~full], short.view(np.uint8).reshape(len(short), _SHORT.itemsize))

    rows = np.flatnonzero(full)
    head = np.zeros(len(rows), dtype=_FULL)
    head["preamble"], head["version"], head["family"] = 5, 1, _FAMILY
    head["k"], head["m"], head["min_k"], head["levels"] = k, _M, k, 1
    head["n"], head["level0"] = n[rows], k - n[rows]
    if len(rows):
        lows, highs = _extremes(values, first, n)
        head["min"], head["max"] = lows[rows], highs[rows]
    _place(out, starts[rows], head.view(np.uint8).reshape(len(head), _FULL.itemsize))

    # the items: a row's values after its header (one value for a single-item sketch), all
    # of them in order; headers and items are whole 8-byte words, so the items fill every
    # word no header takes, in order (a masked copy: a tenth of the cost of a scatter)
    items = np.ones(len(out) // 8, dtype=bool)
    items[starts[~full] // 8] = False
    items[(starts[rows] // 8)[:, None] + np.arange(_FULL.itemsize // 8)] = False
    out.view(np.float64)[items] = values[: int(n.sum())]
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(
            pa.binary(), len(n), [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(out)]
        )
    return pa.Array.from_buffers(
        pa.large_binary(), len(n), [None, pa.py_buffer(offsets), pa.py_buffer(out)]
    ).cast(pa.binary())


def ascending_rows(values: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``values``, rows of ``n`` values one after another, each row in ascending order of
    the values' bits read as numbers (-0.0 before 0.0, so the order is one however the
    values came).

    Examples:
        >>> ascending_rows(np.array([3.0, 0.0, -0.0, 2.0, 1.0]), np.array([3, 2])).tolist()
        [-0.0, 0.0, 3.0, 1.0, 2.0]
    """
    order = np.lexsort(
        (_ordered(np.array(values, dtype=np.float64)), np.repeat(np.arange(len(n)), n))
    )
    found: np.ndarray = values[order]
    return found


_LOW_BITS = np.int64(2**63 - 1)  # every bit but the sign


def _ordered(doubles: np.ndarray) -> np.ndarray:
    """The bits of ``doubles`` (float64, changed in place) as int64 keys that order as the
    numbers, -0.0 before 0.0: a negative's bits but the sign flipped put the negatives in
    order below 0.  The same call on the keys gives the doubles back."""
    keys = doubles.view(np.int64)
    keys ^= (keys >> 63) & _LOW_BITS
    return keys


def _place(out: np.ndarray, starts: np.ndarray, rows: np.ndarray) -> None:
    """Write each row of the byte matrix ``rows`` at its start in ``out``: as 8-byte words
    (every start and row width here is a multiple of 8)."""
    if len(starts):
        words = rows.view(np.uint64)
        out.view(np.uint64)[(starts // 8)[:, None] + np.arange(words.shape[1])] = words


def _extremes(
    values: np.ndarray, first: np.ndarray, n: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The least and greatest of each row (NaN for an empty one); the rows' values are one
    row after another, filling ``values``."""
    low, high = np.full(len(n), np.nan), np.full(len(n), np.nan)
    rows = np.flatnonzero(n > 0)
    if len(rows):  # non-empty rows have ascending starts, each ending where the next begins
        low[rows] = np.minimum.reduceat(values[: int(n.sum())], first[rows])
        high[rows] = np.maximum.reduceat(values[: int(n.sum())], first[rows])
    return low, high


def check_kll(blobs: pa.Array, name: str) -> None:
    """InputError naming the function ``name`` unless every non-NULL value of ``blobs`` is
    laid out as a KLL doubles state: 8 bytes empty, 16 of a single item, else the header,
    the levels' offsets, min, max and the items those offsets say, as many values in all as
    the header counts (not a state cut short, nor one of floats or ints).  DataSketches
    trusts a state's offsets: one that lies would make it read past the state's bytes."""
    buffer, data, starts, lengths, valid = _layout(blobs)
    every = bool(valid.all()) and bool((lengths >= 8).all())  # the usual column: no copies
    rows = np.arange(len(starts)) if every else np.flatnonzero(valid & (lengths >= 8))
    bad = np.zeros(0, np.int64) if every else np.flatnonzero(valid & (lengths < 8))
    at, size = (starts, lengths) if every else (starts[rows], lengths[rows])
    # the first 8 bytes: preamble, version, family, flags, k (2 bytes), m, unused
    head = _words(buffer, at).view(np.uint8).reshape(len(at), 8)
    k = head.view("<u2")[:, 2].astype(np.int64)
    flags = head[:, 3]
    kind = (head[:, 2] == _FAMILY) & (head[:, 6] == _M) & (k >= _M)
    empty = (flags & _FLAG_EMPTY) != 0
    single = ~empty & ((flags & _FLAG_SINGLE) != 0)
    good = kind & ((empty & (size == 8)) | (single & (size == 16)))
    full = np.flatnonzero(kind & ~empty & ~single & (size >= _PREAMBLE + 4 + 16))
    if len(full):
        # the usual state holds its values on one level: its capacity is k, and the offset
        # of that level is where its n values begin
        n = _words(buffer, at[full] + 8).view(np.int64)
        third = _words(buffer, at[full] + 16)  # min k (2 bytes), levels, unused, level 0
        levels = third.view(np.uint8).reshape(len(full), 8)[:, 2]
        first = third.view("<u4").reshape(len(full), 2)[:, 1].astype(np.int64)
        one = levels == 1
        kf, sizes = k[full], size[full]
        good[full] = one & (first <= kf) & (n == kf - first) & (sizes == 40 + 8 * (kf - first))
        deep = full[~one]
        good[deep] = _levels_hold(data, at[deep], size[deep], k[deep])
    if len(bad) or not good.all():
        first_bad = int(min([*bad.tolist(), *rows[~good].tolist()]))
        raise InputError(
            f"{name}: a value is not a KLL state (state {first_bad}: its bytes are not laid "
            "out as a KLL sketch of doubles)"
        )


def _levels_hold(data: np.ndarray, at: np.ndarray, size: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Whether each state of two items or more (at byte ``at`` of ``data``, ``size`` bytes,
    parameter ``k``) holds the levels its header says: offsets ascending within the
    capacity of its k and number of levels, exactly the items they bound after them, and
    those weighing (2^h at level h) n values."""
    levels = data[at + _LEVELS].astype(np.int64)
    fits = (levels >= 1) & (levels <= 61) & (size >= _PREAMBLE + 4 * levels + 16)
    levels = np.where(fits, levels, 1)
    top = int(levels.max()) if len(levels) else 0
    capacity = np.zeros(len(at), dtype=np.int64)
    for height in range(top):
        inside = height < levels
        wide = np.maximum(_M, _level_capacity(k, np.maximum(levels - height - 1, 0)))
        capacity += np.where(inside, wide, 0)
    bounds = np.empty((len(at), top + 1), dtype=np.int64)
    for height in range(top):
        offset = _u32(data, np.where(height < levels, at + _PREAMBLE + 4 * height, at))
        bounds[:, height] = np.where(height < levels, offset, capacity)
    bounds[:, top] = capacity
    ascending = (np.diff(bounds, axis=1) >= 0).all(axis=1) & (bounds[:, 0] <= capacity)
    items = capacity - bounds[:, 0]
    exact = size == _PREAMBLE + 4 * levels + 16 + 8 * items
    # the weights in uint64, as n is kept: a wrap-around cannot make bytes read past the end
    pops = np.diff(bounds, axis=1).astype(np.uint64) << np.arange(top, dtype=np.uint64)
    n = _u32(data, at + 8).astype(np.uint64) | (_u32(data, at + 12).astype(np.uint64) << 32)
    weighs = pops.sum(axis=1, dtype=np.uint64) == n
    held: np.ndarray = fits & ascending & exact & weighs
    return held


def _u32(data: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The little-endian u32 at each byte position of ``data``."""
    words = [data[at + i].astype(np.int64) << (8 * i) for i in range(4)]
    found: np.ndarray = words[0] | words[1] | words[2] | words[3]
    return found


_POWERS_OF_3 = 3 ** np.arange(31, dtype=np.int64)


def _level_capacity(k: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """DataSketches' width of a level ``depth`` below the top, for parameter ``k``: about
    k (2/3)^depth, rounded (before the floor of m; a depth past 30 in two steps)."""

    def scaled(k: np.ndarray, depth: np.ndarray) -> np.ndarray:
        found: np.ndarray = (((2 * k) << depth) // _POWERS_OF_3[depth] + 1) >> 1
        return found

    half = depth // 2
    deep = depth > 30
    return np.where(
        deep,
        scaled(scaled(k, np.where(deep, half, 0)), depth - half),
        scaled(k, np.minimum(depth, 30)),
    )


def compacted(blobs: pa.Array) -> np.ndarray:
    """Which KLL states have more than one level (their items weigh more than one value),
    read from the headers alone: the number of levels of a state of two items or more."""
    full = pc.greater(pc.binary_length(blobs), _PREAMBLE)
    levels = pc.binary_slice(blobs, _LEVELS, _LEVELS + 1)
    more = pc.and_(full, pc.not_equal(levels, pa.scalar(b"\x01", pa.binary())))
    found: np.ndarray = np.asarray(more.fill_null(False), dtype=bool)
    return found


def state_items(blobs: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """How many items each KLL state retains, and the value of every one of them, state
    after state: the values themselves of a state that holds them; a compacted state's
    items weigh 2^h at level h, so callers take those states whole (:func:`compacted`
    tells which) and merge them with the library.  The states are checked first
    (:func:`check_kll`)."""
    buffer, data, starts, lengths, valid = _layout(blobs)
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    valid &= lengths >= 8
    flags = _byte_at(data, starts + 3, valid, _FLAG_EMPTY)
    single = valid & ((flags & _FLAG_SINGLE) != 0) & ((flags & _FLAG_EMPTY) == 0)
    full = valid & ((flags & (_FLAG_SINGLE | _FLAG_EMPTY)) == 0) & (lengths > _PREAMBLE)
    levels = _byte_at(data, starts + _LEVELS, full, 0).astype(np.int64)
    first = np.where(single, starts + 8, starts + _PREAMBLE + 4 * levels + 16)
    retained = np.where(single, 1, np.where(full, (lengths - (first - starts)) >> 3, 0))
    return retained, _words(buffer, first, retained).view(np.float64)


def _layout(
    blobs: pa.Array,
) -> tuple[pa.Buffer | None, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A column of states' data buffer, its bytes, each state's start and length in them,
    and which states are not NULL."""
    blobs = blobs.cast(pa.large_binary()) if pa.types.is_binary(blobs.type) else blobs
    count = len(blobs)
    offsets = (
        np.frombuffer(blobs.buffers()[1], dtype=np.int64)[blobs.offset : blobs.offset + count + 1]
        if count
        else np.zeros(1, dtype=np.int64)
    )
    buffer = blobs.buffers()[2] if count else None
    data = np.frombuffer(buffer, dtype=np.uint8) if buffer is not None else np.zeros(0, np.uint8)
    valid = np.ones(count, dtype=bool) if blobs.null_count == 0 else ~np.asarray(blobs.is_null())
    return buffer, data, offsets[:-1], np.diff(offsets), valid


def _words(
    buffer: pa.Buffer | None, first: np.ndarray, counts: np.ndarray | None = None
) -> np.ndarray:
    """The little-endian 8-byte words at byte positions ``first`` of the buffer: one at
    each, or ``counts[i]`` one after another from ``first[i]``.  Each is read through a
    view of the bytes at its position's shift, not gathered byte by byte; a column of
    states of whole 8-byte words (a roll-up's) takes one view."""
    size = buffer.size if buffer is not None else 0
    shifts = first & 7
    index = (first - shifts) >> 3
    kinds = np.flatnonzero(
        np.bincount(shifts if counts is None else shifts[counts > 0], minlength=8)
    )
    if len(kinds) <= 1:
        view = _view(buffer, size, int(kinds[0]) if len(kinds) else 0).view("<u8")
        found: np.ndarray = view[index if counts is None else _ranges(index, counts)]
        return found
    counts = np.ones(len(first), dtype=np.int64) if counts is None else counts
    found = np.empty(int(counts.sum()), dtype="<u8")
    into = np.cumsum(counts) - counts
    for shift in kinds.tolist():
        chosen = shifts == shift
        view = _view(buffer, size, shift).view("<u8")
        found[_ranges(into[chosen], counts[chosen])] = view[_ranges(index[chosen], counts[chosen])]
    return found


def _byte_at(data: np.ndarray, positions: np.ndarray, where: np.ndarray, other: int) -> np.ndarray:
    """The byte at each position where ``where`` holds, ``other`` elsewhere."""
    if where.all():  # the usual states: no NULL, none too short to read
        found: np.ndarray = data[positions]
        return found
    return np.where(where, data[np.where(where, positions, 0)] if len(data) else 0, other)


def _view(buffer: pa.Buffer | None, size: int, shift: int) -> np.ndarray:
    if buffer is None or size < 8 + shift:
        return np.zeros(0)
    view: np.ndarray = np.frombuffer(buffer, dtype="<f8", offset=shift, count=(size - shift) // 8)
    return view


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``starts[i], ..., starts[i] + counts[i] - 1`` for each i, one after another."""
    total = int(counts.sum())
    shift = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    found: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return found


#: the most values of one state kept as they are (32 KiB): past k, the state is made of them
#: at once by :func:`built_states`, a function of the values alone, not of their order or of
#: the batches they came in, so a replay writes the same bytes
HELD = 4096

_FLAG_SORTED = 2  # level 0 in ascending order


def built_states(values: np.ndarray, n: np.ndarray, k: int) -> list[bytes]:
    """The KLL state (parameter ``k``) of each row of ``n`` values (more than k each: a
    compacted one), the rows' values one after another in ``values``.

    DataSketches' compaction of one level of all the values, level after level, as its own
    ``general_compress`` does when it merges; but deterministic: the values sorted first
    (-0.0 before 0.0), and each compaction's half (odd or even items) chosen by a hash of the
    items it halves, not a random bit.  The state is DataSketches' form; the library reads,
    queries and merges it as one of its own."""
    n = np.asarray(n, dtype=np.int64)
    first = np.cumsum(n) - n
    out: list[bytes] = [b""] * len(n)
    for size in np.unique(n).tolist():  # rows of one size compact alike: a matrix at once
        rows = np.flatnonzero(n == size)
        if len(rows) == len(n):  # one size: the rows lie one after another already
            matrix = values[: size * len(n)].reshape(-1, size)
        else:
            matrix = values[(first[rows][:, None] + np.arange(size)).reshape(-1)]
            matrix = matrix.reshape(-1, size)
        for row, data in zip(rows.tolist(), _built(_sorted_rows(matrix), k), strict=True):
            out[row] = data
    return out


def _sorted_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row in ascending order (-0.0 before 0.0), as :func:`ascending_rows` orders."""
    keys = _ordered(np.array(matrix, dtype=np.float64))
    keys.sort(axis=1)
    return _ordered(keys.view(np.float64)).view(np.float64)


def _built(matrix: np.ndarray, k: int) -> list[bytes]:
    """The states of the rows of ``matrix`` (each sorted, all of one size)."""
    count, size = matrix.shape
    levels: list[np.ndarray] = [matrix]
    depth_count = 1  # levels so far
    items, target = size, _total_capacity(k, 1)
    height = 0
    while True:
        if height == depth_count - 1:
            levels.append(matrix[:, :0])  # an empty level above the top, for convenience
        level = levels[height]
        pop = level.shape[1]
        if items >= target and pop >= _capacity(k, depth_count - height - 1):
            odd = pop & 1
            rest = level[:, odd:]  # an odd level keeps its first item where it is
            pick = _halves(rest, height)
            halved = np.where(pick[:, None], rest[:, 1::2], rest[:, 0::2])
            levels[height] = level[:, :odd]
            above = np.concatenate([levels[height + 1], halved], axis=1)
            levels[height + 1] = np.sort(above, axis=1) if above.shape[1] else above
            items -= rest.shape[1] // 2
            if height == depth_count - 1:
                depth_count += 1
                target += _capacity(k, depth_count - 1)
        if height == depth_count - 1:
            break
        height += 1
    levels = levels[:depth_count]
    pops = [level.shape[1] for level in levels]
    capacity = _total_capacity(k, depth_count)
    offsets = np.cumsum([capacity - sum(pops), *pops[:-1]]).astype("<u4")
    head = np.zeros(1, dtype=_FULL)
    head["preamble"], head["version"], head["family"] = 5, 1, _FAMILY
    head["flags"], head["k"], head["m"], head["min_k"] = _FLAG_SORTED, k, _M, k
    head["n"], head["levels"] = size, depth_count
    header = head.tobytes()[:_PREAMBLE]  # the levels' offsets, min and max follow
    body = np.concatenate(levels, axis=1)
    ends = np.stack([matrix[:, 0], matrix[:, -1]], axis=1)
    return [
        header + offsets.tobytes() + ends[i].tobytes() + body[i].tobytes() for i in range(count)
    ]


def _halves(rest: np.ndarray, height: int) -> np.ndarray:
    """For each row, whether its compaction keeps the odd items (else the even ones): a
    bit of a hash of the items it halves and of their level."""
    mixed = np.bitwise_xor.reduce(rest.view(np.uint64), axis=1) ^ np.uint64(height + 1)
    mixed ^= mixed >> np.uint64(33)
    mixed *= np.uint64(0xFF51AFD7ED558CCD)
    mixed ^= mixed >> np.uint64(33)
    found: np.ndarray = (mixed >> np.uint64(63)).astype(bool)
    return found


@functools.lru_cache(maxsize=4096)  # a few (k, depth) pairs, asked for each level built
def _capacity(k: int, depth: int) -> int:
    """DataSketches' capacity of a level ``depth`` below the top, for parameter ``k``."""
    return int(np.maximum(_M, _level_capacity(np.array([k]), np.array([depth])))[0])


@functools.lru_cache(maxsize=4096)
def _total_capacity(k: int, levels: int) -> int:
    return sum(_capacity(k, depth) for depth in range(levels))
