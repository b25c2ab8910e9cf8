"""The sketch functions of db.sql: states split at random, merged in SQL, against the exact
answer over all the values, within the sketches' documented error."""

from __future__ import annotations

from collections.abc import Iterator

import datasketches as ds
import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rillet
from rillet.aggregates import sqlfunctions
from rillet.aggregates.kll_bytes import (
    built_states,
    check_kll,
    compacted,
    exact_states,
    state_items,
)
from rillet.aggregates.sketches import HLL_LG_K, KLL_K, sketch_quantile
from rillet.errors import InputError
from tests.unit.aggregates.support import state_of

# KLL's rank error for k=200 (single-sided, 99 % confidence) is about 1.65 %; checked at
# twice that so a rare unlucky compaction does not fail the test
RANK_ERROR = 2 * ds.kll_doubles_sketch(KLL_K).normalized_rank_error(False)
# HLL's relative standard error is 1.04 / sqrt(2^lg_k); checked at 4 of them
HLL_ERROR = 4 * 1.04 / np.sqrt(2**HLL_LG_K)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    sqlfunctions.register(connection)
    return connection


@pytest.fixture(scope="module")
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def _kll_state(values: np.ndarray) -> bytes:
    """The KLL state (k = 200) of ``values``, as DataSketches serializes it."""
    sketch = ds.kll_doubles_sketch(KLL_K)
    if len(values):
        sketch.update(values)
    return bytes(sketch.serialize())


def _rank_of(values: np.ndarray, found: float) -> tuple[float, float]:
    """The range of normalized ranks ``found`` has among ``values``."""
    ordered = np.sort(values)
    return (
        np.searchsorted(ordered, found, "left") / len(values),
        np.searchsorted(ordered, found, "right") / len(values),
    )


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 900), min_size=1, max_size=12),
    seed=st.integers(0, 2**32 - 1),
    q=st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0]),
)
def test_kll_merges_match_the_exact_quantile(
    con: duckdb.DuckDBPyConnection, sizes: list[int], seed: int, q: float
) -> None:
    rng = np.random.default_rng(seed)
    parts = [rng.lognormal(3, 1, n) for n in sizes]
    blobs = [_kll_state(part) for part in parts]
    values = np.concatenate(parts)
    fast, merged, count = con.execute(
        "SELECT kll_merge_quantile(?, ?), kll_quantile(kll_merge(?), ?), kll_count(kll_merge(?))",
        [blobs, q, blobs, q, blobs],
    ).fetchone()  # type: ignore[misc]
    assert count == len(values)
    if not len(values):
        assert fast is None and merged is None
        return
    for found in (fast, merged):
        low, high = _rank_of(values, found)
        assert low - RANK_ERROR <= q <= high + RANK_ERROR, (found, low, high)
    if sum(sizes) <= KLL_K:  # no compaction anywhere: exact, as APPROX_QUANTILE's own rule
        assert fast == merged


def test_kll_merge_quantile_groups_and_nulls(con: duckdb.DuckDBPyConnection) -> None:
    blobs = []
    for values in ([1.0, 2.0, 3.0], [10.0], [], [4.0, 5.0]):
        sketch = ds.kll_doubles_sketch(KLL_K)
        for v in values:
            sketch.update(v)
        blobs.append(sketch.serialize())
    con.execute("CREATE OR REPLACE TABLE r (g INT, s BLOB)")
    con.executemany("INSERT INTO r VALUES (?, ?)", [(1, blobs[0]), (1, blobs[1]), (2, blobs[2]),
                                                    (3, blobs[3]), (3, None)])  # fmt: skip
    rows = con.execute(
        "SELECT g, kll_merge_quantile(list(s), 0.5), kll_merge_quantile(list(s), 1.0) "
        "FROM r GROUP BY g ORDER BY g"
    ).fetchall()
    assert rows == [(1, 2.0, 10.0), (2, None, None), (3, 4.0, 5.0)]


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_hll_merges_match_the_exact_distinct_count(
    con: duckdb.DuckDBPyConnection, sizes: list[int], seed: int
) -> None:
    rng = np.random.default_rng(seed)
    parts = [rng.integers(0, 5000, n) for n in sizes]
    blobs = []
    for part in parts:
        sketch = ds.hll_sketch(HLL_LG_K)
        for v in np.unique(part).tolist():
            sketch.update(v)
        blobs.append(sketch.serialize_compact())
    exact = len(np.unique(np.concatenate(parts)))
    merged, again = con.execute(
        "SELECT hll_merge_count(?), hll_count(hll_merge(?))", [blobs, blobs]
    ).fetchone()  # type: ignore[misc]
    assert merged == again
    assert abs(merged - exact) <= max(HLL_ERROR * exact, 1)


def test_top_k_merges_find_the_heavy_hitters(con: duckdb.DuckDBPyConnection) -> None:
    rng = np.random.default_rng(7)
    for strings in (True, False):
        blobs = []
        everything = []
        for _ in range(6):
            values = rng.zipf(1.6, 2000)
            everything.append(values)
            if strings:
                sketch = ds.frequent_strings_sketch(6)
                for v, n in zip(*np.unique(values, return_counts=True), strict=True):
                    sketch.update(f"u{v}", int(n))
                blobs.append(sketch.serialize())
            else:
                items = ds.frequent_items_sketch(6)
                for v, n in zip(*np.unique(values, return_counts=True), strict=True):
                    items.update(int(v), int(n))
                blobs.append(items.serialize(ds.PyLongsSerDe()))
        values, counts = np.unique(np.concatenate(everything), return_counts=True)
        top = values[np.argsort(-counts, kind="stable")][:3]
        expected = [f"u{v}" if strings else str(v) for v in top.tolist()]
        found = con.execute(
            "SELECT top_k_merge_items(?, 3), top_k_items(top_k_merge(?), 3)", [blobs, blobs]
        ).fetchone()
        assert found == (expected, expected)


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(0, KLL_K), min_size=0, max_size=8),
    seed=st.integers(0, 2**32 - 1),
)
def test_exact_states_are_the_sketches_own_bytes(counts: list[int], seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = np.array(counts, dtype=np.int64)
    values = rng.normal(0, 100, int(n.sum()))
    written = exact_states(values, n, KLL_K).to_pylist()
    first = np.cumsum(n) - n
    for i, count in enumerate(counts):
        sketch = ds.kll_doubles_sketch(KLL_K)
        for v in values[first[i] : first[i] + count][::-1].tolist():  # level 0 fills backwards
            sketch.update(v)
        assert written[i] == sketch.serialize()
    retained, items = state_items(exact_states(values, n, KLL_K))
    assert sorted(items.tolist()) == sorted(values.tolist()) and (retained == n).all()


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.one_of(
        st.lists(st.integers(0, KLL_K), min_size=1, max_size=12),  # none compacted
        st.lists(st.integers(0, 900), min_size=1, max_size=12),
    ),
    seed=st.integers(0, 2**32 - 1),
    q=st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0]),
)
def test_kll_quantile_of_each_state_is_its_merge_alone_and_the_sketchs_own_answer(
    con: duckdb.DuckDBPyConnection, sizes: list[int], seed: int, q: float
) -> None:
    """kll_quantile reads a column of states (those holding their values all at once),
    each row as kll_merge_quantile of it alone and as APPROX_QUANTILE reads its sketch,
    within the rank error past k."""
    rng = np.random.default_rng(seed)
    blobs: list[bytes | None] = []
    parts = []
    for n in sizes:
        part = rng.lognormal(3, 1, n)
        sketch = ds.kll_doubles_sketch(KLL_K)
        if n:
            sketch.update(part)
        blobs.append(sketch.serialize())
        parts.append(part)
    blobs.append(None)
    con.execute("CREATE OR REPLACE TABLE s (i INT, b BLOB)")
    con.executemany("INSERT INTO s VALUES (?, ?)", list(enumerate(blobs)))
    rows = con.execute(
        "SELECT kll_quantile(b, ?), kll_merge_quantile([b], ?) FROM s ORDER BY i", [q, q]
    ).fetchall()
    assert rows[-1] == (None, None)
    for (one, alone), part, blob in zip(rows, parts, blobs, strict=False):
        if not len(part):
            assert one is None and alone is None
            continue
        assert blob is not None
        assert one == alone == sketch_quantile(ds.kll_doubles_sketch.deserialize(blob), q)
        low, high = _rank_of(part, one)
        assert low - RANK_ERROR <= q <= high + RANK_ERROR


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.one_of(st.none(), st.integers(0, 3000)), min_size=1, max_size=10),
    ks=st.sampled_from([8, KLL_K]),
    seed=st.integers(0, 2**32 - 1),
    sliced=st.integers(0, 2),
)
def test_state_items_are_the_items_the_sketch_holds(
    sizes: list[int | None], ks: int, seed: int, sliced: int
) -> None:
    """Every state's items read from the bytes of a column of them are what DataSketches
    iterates over in the state, compacted or not; compacted tells the states whose items
    weigh more than one value."""
    rng = np.random.default_rng(seed)
    blobs: list[bytes | None] = []
    for n in sizes:
        sketch = ds.kll_doubles_sketch(ks)
        if n:
            sketch.update(rng.normal(0, 100, n))
        blobs.append(None if n is None else sketch.serialize())
    column = pa.array([b"", *blobs], pa.binary()).slice(1)[sliced:]  # an offset into a buffer
    check_kll(column, "f")  # every state the library makes is laid out as one
    retained, items = state_items(column)
    several = compacted(column)
    ends = np.cumsum(retained)
    for i, blob in enumerate(blobs[sliced:]):
        held = list(ds.kll_doubles_sketch.deserialize(blob)) if blob is not None else []
        assert sorted(items[ends[i] - retained[i] : ends[i]].tolist()) == sorted(v for v, _ in held)
        assert several[i] == any(w > 1 for _, w in held)


def test_kll_merges_of_rows_with_ranks_of_their_own(con: duckdb.DuckDBPyConnection) -> None:
    """A rank a row: each group's quantile at its own q (NULL q, NULL answer), as a sketch
    holding the values reads it (rank ceil(q * n), counting from 1), and a compacted one
    within the rank error."""
    rng = np.random.default_rng(3)
    parts = [rng.normal(0, 1, n) for n in (5, 0, 50, 7, 1, 900)]
    blobs = [_kll_state(part) for part in parts]
    rows = [(0, 0, 0.3), (1, 1, 0.5), (2, 2, 0.9), (2, 3, 0.9), (3, 4, 1.0), (4, None, 0.2),
            (5, 0, None), (6, 5, 0.25), (6, 2, 0.25)]  # fmt: skip
    con.execute("CREATE OR REPLACE TABLE t (g INT, b BLOB, q DOUBLE)")
    con.executemany(
        "INSERT INTO t VALUES (?, ?, ?)",
        [(g, None if i is None else blobs[i], q) for g, i, q in rows],
    )
    found = dict(
        con.execute(
            "SELECT g, kll_merge_quantile(list(b), any_value(q)) FROM t GROUP BY g"
        ).fetchall()  # fmt: skip
    )

    def exact(values: np.ndarray, q: float) -> float:
        ordered = np.sort(values)
        return float(ordered[min(max(int(np.ceil(q * len(ordered))) - 1, 0), len(ordered) - 1)])

    assert found[0] == exact(parts[0], 0.3) and found[3] == exact(parts[4], 1.0)
    assert found[2] == exact(np.concatenate([parts[2], parts[3]]), 0.9)
    assert found[1] is None and found[4] is None and found[5] is None
    low, high = _rank_of(np.concatenate([parts[5], parts[2]]), found[6])
    assert low - RANK_ERROR <= 0.25 <= high + RANK_ERROR


def test_a_compacted_state_is_finished_at_0_and_1_by_its_extremes(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """As APPROX_QUANTILE reads its own sketch: the least and greatest value it saw (the
    sketch keeps them, though its items may not hold them)."""
    values = np.random.default_rng(1).lognormal(3, 0.6, 2000)
    sketch = ds.kll_doubles_sketch(KLL_K)
    sketch.update(values)
    blob = sketch.serialize()
    found = con.execute(
        "SELECT kll_quantile(?, 0.0), kll_quantile(?, 1.0), kll_merge_quantile([?, ?], 1.0)",
        [blob, blob, blob, blob],
    ).fetchone()
    assert found == (values.min(), values.max(), values.max())


@pytest.mark.parametrize(
    ("dtype", "values", "text"),
    [
        ("BIGINT", pa.array([7, 0, 7, -(2**63)]), ["7", "-9223372036854775808", "0"]),
        ("INT", pa.array([100, 5, 100], pa.int32()), ["100", "5"]),
        ("DOUBLE", pa.array([1.5, -0.0, 0.0, 1.5, float("nan")]), ["0", "1.5", "nan"]),
        ("FLOAT", pa.array([0.1, 0.1, 2.0], pa.float32()), ["0.1", "2"]),
        ("BOOLEAN", pa.array([True, False, True, None]), ["true", "false"]),
        (
            "TIMESTAMP",
            pa.array([1767225600000001, 1767225600000001, 0], pa.timestamp("us", tz="UTC")),
            ["2026-01-01 00:00:00.000001Z", "1970-01-01 00:00:00.000000Z"],
        ),
    ],
)
def test_a_top_k_state_of_any_type_holds_its_values_as_text(
    con: duckdb.DuckDBPyConnection, dtype: str, values: pa.Array, text: list[str]
) -> None:
    """A TOP_K state reads alone: DataSketches' frequent-strings sketch of the values as
    rtsql writes them (most frequent first, ties by text), merged with states of text too;
    the flow's own TOP_K gives the values back in their type."""
    state = state_of("top_k", dtype, [values], (5,))
    image = state.to_bytes()
    sketch = ds.frequent_strings_sketch.deserialize(image)
    items = sketch.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    assert sorted(item for item, *_ in items) == sorted(text)
    assert con.execute("SELECT top_k_items(?, 5)", [image]).fetchone() == (text,)
    other = state_of("top_k", "STRING", [pa.array(["x"] * 9)], (5,)).to_bytes()
    merged = con.execute("SELECT top_k_merge_items(?, 2)", [[image, other]]).fetchone()
    assert merged == (["x", text[0]],)
    typed = pa.array(text, pa.string()).cast(values.type).to_pylist()
    assert str(state.result()) == str(typed)  # NaN, as text, equals itself


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 2000),
    k=st.sampled_from([8, KLL_K]),
    cut=st.integers(0, 2**20),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_state_cut_short_or_of_other_numbers_is_refused(
    db: rillet.Database, n: int, k: int, cut: int, seed: int
) -> None:
    """Bytes that are not a whole KLL state of doubles (one cut short anywhere, one of
    floats or of ints) are an InputError naming the function, never read as numbers."""
    values = np.random.default_rng(seed).normal(0, 100, n)
    doubles, floats, ints = (
        ds.kll_doubles_sketch(k), ds.kll_floats_sketch(k), ds.kll_ints_sketch(k)
    )  # fmt: skip
    doubles.update(values)
    floats.update(values.astype(np.float32))
    ints.update(values.astype(np.int32))
    whole = doubles.serialize()
    short = whole[: cut % len(whole)]
    for bad in (short, floats.serialize(), ints.serialize()):
        for query in ("SELECT kll_quantile(?, 0.5)", "SELECT kll_merge_quantile([?], 0.5)"):
            with pytest.raises(InputError, match="^kll_(merge_)?quantile: "):
                db.sql(query, [bad])


_KLL_FUNCTIONS = (
    "SELECT kll_quantile(?, 0.5)",
    "SELECT kll_merge_quantile([?], 0.5)",
    "SELECT kll_quantile(kll_merge([?, ?]), 0.5)",
    "SELECT kll_count(?)",
)


@settings(max_examples=25, deadline=None)
@given(n=st.sampled_from([2, 150, 5000, 70_000]), seed=st.integers(0, 2**32 - 1))
def test_a_state_whose_header_lies_is_refused_before_the_library_reads_it(
    db: rillet.Database, n: int, seed: int
) -> None:
    """Any other k, n, number of levels or level offset in a KLL state's header is an
    InputError naming the function (the library trusts the offsets: it read past the
    state's bytes and the process died), for states holding their values and compacted
    ones; the flow aggregate kll_merge refuses them alike."""
    rng = np.random.default_rng(seed)
    whole = _kll_state(rng.normal(0, 100, n))
    levels = whole[18]
    positions = [4, 5, *range(8, 16), 18, *range(20, 20 + 4 * levels)]
    for at in rng.choice(positions, size=6).tolist():
        bad = bytearray(whole)
        bad[at] = (bad[at] + int(rng.integers(1, 256))) % 256
        for query in _KLL_FUNCTIONS:
            with pytest.raises(InputError, match="^kll_(merge_)?(quantile|count|merge): "):
                db.sql(query, [bytes(bad)] * query.count("?"))
    name = f"s{len(db.streams())}"
    stored = db.create_stream(name, "ts TIMESTAMP, state BINARY", time_column="ts")
    bad = bytearray(whole)
    bad[20] ^= 0xFF
    stored.append_many({"ts": [0], "state": [bytes(bad)]})
    flow = db.execute(
        f"SELECT kll_merge(state) AS m FROM {name} OVER RANGE INTERVAL 1 MINUTES PRECEDING"
    )
    assert isinstance(flow, rillet.Flow)
    flow.finish()
    assert flow.error is not None and "kll_merge: a value is not a KLL state" in flow.error


def test_an_empty_state_with_bytes_after_it_is_refused(db: rillet.Database) -> None:
    empty = _kll_state(np.zeros(0))
    assert len(empty) == 8
    for query in _KLL_FUNCTIONS:
        with pytest.raises(InputError, match="a value is not a KLL state"):
            db.sql(query, [empty + b"junk"] * query.count("?"))


@pytest.mark.parametrize("items", [["apple", "banana"], ["a" * 12, "b", "cd"]])
def test_a_top_k_state_of_text_cut_short_is_refused_not_read_as_integer_keys(
    db: rillet.Database, items: list[str]
) -> None:
    """A text state cut short can be exactly as long as a state of integer keys (the
    library's other form): it is refused all the same."""
    sketch = ds.frequent_strings_sketch(10)
    for count, item in enumerate(items, 2):
        sketch.update(item, count)
    whole = bytes(sketch.serialize())
    for cut in range(1, 12):
        for query in ("SELECT top_k_items(?, 3)", "SELECT top_k_merge_items([?], 3)"):
            with pytest.raises(InputError, match="^top_k_(merge_)?items: "):
                db.sql(query, [whole[:-cut]])


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(KLL_K + 1, 20_000),
    k=st.sampled_from([8, 64, KLL_K]),
    seed=st.integers(0, 2**32 - 1),
    spread=st.sampled_from([3, 1000, None]),  # few distinct values, many, or any double
)
def test_a_state_built_of_its_values_is_the_librarys_own_kind_whatever_their_order(
    n: int, k: int, seed: int, spread: int | None
) -> None:
    """built_states: the state of more values than k, made at once: the same bytes for the
    values in any order, read by the library as its own (the count, the extremes, each
    quantile within the sketch's rank error), and updated and merged by it afterwards."""
    rng = np.random.default_rng(seed)
    if spread is None:
        values = rng.normal(0, 1e6, n)
        values[rng.integers(0, n, 3)] = [-0.0, 0.0, np.inf]
    else:
        values = rng.integers(0, spread, n).astype(np.float64)
    [state] = built_states(values, np.array([n]), k)
    assert built_states(rng.permutation(values), np.array([n]), k) == [state]
    check_kll(pa.array([state]), "f")
    sketch = ds.kll_doubles_sketch.deserialize(state)
    assert sketch.n == n and sketch.k == k and sketch.is_estimation_mode()
    assert (sketch.get_min_value(), sketch.get_max_value()) == (values.min(), values.max())
    error = 2 * sketch.normalized_rank_error(False)
    ordered = np.sort(values)
    for q in (0.01, 0.25, 0.5, 0.9, 0.99):
        found = sketch.get_quantile(q, True)
        below = np.searchsorted(ordered, found, side="left") / n
        at_most = np.searchsorted(ordered, found, side="right") / n
        assert below - error <= q <= at_most + error
    other = ds.kll_doubles_sketch(k)
    other.update(rng.normal(0, 1, 500))
    sketch.update(1.5)
    other.merge(sketch)
    sketch.merge(other)
    assert other.n == n + 501 and sketch.n == 2 * n + 502


@pytest.mark.parametrize(
    "keys",
    [[-(2**62), 5], [(0x01010101 << 32) | 4, 100], [(0x41424344 << 32) | 2, 7], [3 << 32, 17]],
)
def test_a_state_of_integer_keys_whose_bytes_look_like_text_is_read(
    db: rillet.Database, keys: list[int]
) -> None:
    """Keys whose low halves read as short lengths of text are still integer keys: what
    follows runs far past the end, as no text cut short does."""
    items = ds.frequent_items_sketch(6)
    for count, key in enumerate(keys, 2):
        items.update(key, count)
    state = items.serialize(ds.PyLongsSerDe())
    found = db.sql("SELECT top_k_items(?, 3)", [state]).fetchall()
    assert found == [([str(key) for key in reversed(keys)],)]
