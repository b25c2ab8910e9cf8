"""Group key numbering against a plain-Python model: numbers in order of first appearance,
whatever batches the rows came in, and the values back."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rillet.flows.keys import KeyEncoder, key_table


def _model(rows: Sequence[tuple[object, ...]]) -> list[int]:
    numbers: dict[tuple[object, ...], int] = {}
    return [numbers.setdefault(row, len(numbers)) for row in rows]


def test_several_columns_numbered_in_order_of_first_appearance() -> None:
    rng = random.Random(14)
    rows = [
        (
            rng.choice(["a", "b", "c", None]),
            rng.choice([1, 2, None]),
            rng.choice(["x", "y"]),
        )
        for _ in range(3_000)
    ]
    encoder = KeyEncoder([pa.string(), pa.int64(), pa.string()])
    got: list[int] = []
    start = 0
    while start < len(rows):
        size = rng.randint(1, 400)
        part = rows[start : start + size]
        columns = [pa.array([r[i] for r in part]) for i in range(3)]
        got.extend(encoder.encode(columns).tolist())
        start += size
    assert got == _model(rows)
    numbers = np.array(sorted(set(got)))
    back = list(zip(*(c.to_pylist() for c in encoder.values(numbers)), strict=True))
    first = dict(zip(got, rows, strict=True))
    assert back == [first[n] for n in numbers.tolist()]
    assert encoder.size == len(set(rows))


@pytest.mark.parametrize("values", [1_500, 3_000])
def test_many_distinct_pairs_numbered_in_order_of_first_appearance(values: int) -> None:
    # 1,500 x 1,000 values fit a dense pair table, learnt a few new pairs a batch; 3,000 x
    # 3,000 do not, and are numbered by binary search
    rng = np.random.default_rng(values)
    first = rng.integers(0, values, 20_000)
    second = rng.integers(0, values if values > 1_500 else 1_000, 20_000)
    rows = list(zip(first.tolist(), second.tolist(), strict=True))
    encoder = KeyEncoder([pa.int64(), pa.int64()])
    got: list[int] = []
    for start in range(0, len(rows), 97):
        columns = [pa.array(first[start : start + 97]), pa.array(second[start : start + 97])]
        got.extend(encoder.encode(columns).tolist())
    assert got == _model(rows)
    back = list(zip(*(c.to_pylist() for c in encoder.values(np.array(got))), strict=True))
    assert back == rows


def test_a_large_integer_key_space_numbered_in_order_of_first_appearance() -> None:
    # past 65,536 known values the values are looked up in sorted order: numbers unchanged
    rng = np.random.default_rng(7)
    values = rng.integers(-(2**62), 2**62, 150_000)
    column = values[rng.integers(0, len(values), 300_000)]
    encoder = KeyEncoder([pa.int64()])
    got: list[int] = []
    for start in range(0, len(column), 5_000):
        got.extend(encoder.encode([pa.array(column[start : start + 5_000])]).tolist())
    assert got == _model([(v,) for v in column.tolist()])
    assert encoder.values(np.array(got))[0].to_pylist() == column.tolist()


KINDS: dict[str, tuple[list[pa.DataType], Callable[[random.Random], tuple[object, ...]]]] = {
    "one integer column": ([pa.int64()], lambda rng: (rng.choice([3, -7, 2**40, None]),)),
    "one text column": ([pa.string()], lambda rng: (rng.choice(["a", "b", "", None]),)),
    "several columns": (
        [pa.string(), pa.int32()],
        lambda rng: (rng.choice(["a", "b", None]), rng.choice([1, 2, None])),
    ),
    "several text columns": (
        [pa.string(), pa.string(), pa.string()],
        lambda rng: (
            rng.choice(["a", "b", None]),
            rng.choice(["x", "y", "", None]),
            rng.choice(["p", "q"]),
        ),
    ),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_an_encoder_taught_the_known_keys_numbers_as_the_one_it_continues(
    kind: str, seed: int
) -> None:
    """A checkpoint keeps ``key_table`` of an encoder; a new one taught it with ``learn``
    numbers every key, known or new, as the old one does from then on."""
    types, draw = KINDS[kind]
    rng = random.Random(seed)

    def batch() -> list[pa.Array]:
        rows = [draw(rng) for _ in range(rng.randint(1, 30))]
        return [pa.array([r[i] for r in rows], t) for i, t in enumerate(types)]

    old = KeyEncoder(types)
    for _ in range(rng.randint(0, 4)):
        old.encode(batch())
    new = KeyEncoder(types)
    new.learn(key_table(old).columns)
    assert new.count == old.count
    for _ in range(3):
        columns = batch()
        assert new.encode(columns).tolist() == old.encode(columns).tolist()


def _dictionary_encoded(column: pa.Array, rng: random.Random) -> pa.Array:
    """``column`` dictionary-encoded as a file may hold it: the dictionary in any order and
    with values no row uses."""
    values = [v for v in set(column.to_pylist()) if v is not None]
    values += [f"unused{i}" for i in range(rng.randint(0, 3))]
    rng.shuffle(values)
    at = {v: i for i, v in enumerate(values)}
    indices = pa.array([None if v is None else at[v] for v in column.to_pylist()], pa.int32())
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string()))


@pytest.mark.parametrize("kind", ["one text column", "several columns", "several text columns"])
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_dictionary_encoded_text_is_numbered_as_its_values(kind: str, seed: int) -> None:
    """A catch-up from sealed files hands text dictionary-encoded: its keys get the numbers
    (and give back the values) of the same text spelt out, batch after batch."""
    types, draw = KINDS[kind]
    rng = random.Random(seed)
    spelt, encoded = KeyEncoder(types), KeyEncoder(types)
    for _ in range(rng.randint(1, 8)):  # later batches: every key known (a catch-up's usual)
        rows = [draw(rng) for _ in range(rng.randint(1, 30))]
        columns = [pa.array([r[i] for r in rows], t) for i, t in enumerate(types)]
        dictionaries = [
            _dictionary_encoded(c, rng) if pa.types.is_string(c.type) else c for c in columns
        ]
        numbers = encoded.encode(dictionaries).tolist()
        assert numbers == spelt.encode(columns).tolist()
    every = np.arange(spelt.count)
    assert [c.to_pylist() for c in encoded.values(every)] == [
        c.to_pylist() for c in spelt.values(every)
    ]


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_large_dictionary_encoded_batches_are_numbered_as_their_values(seed: int) -> None:
    """Batches of hundreds of rows over a few keys (a catch-up's), their keys looked up by
    table: numbers and values as the same text spelt out gets, NULLs and new keys too."""
    rng = random.Random(seed)
    types = [pa.string(), pa.string(), pa.string()]
    hosts: list[str | None] = [f"h{i}" for i in range(rng.randint(1, 60))]
    hosts.append(None)

    def row() -> tuple[object, ...]:
        host = rng.choice(hosts)
        zone = None if host is None else f"z{len(host) % 3}"  # follows the host
        return host, zone, rng.choice(["x", "y", None])

    spelt, encoded = KeyEncoder(types), KeyEncoder(types)
    for _ in range(rng.randint(1, 6)):
        rows = [row() for _ in range(rng.randint(100, 1_500))]
        columns = [pa.array([r[i] for r in rows], t) for i, t in enumerate(types)]
        unused = rng.random() < 0.2  # now and then a dictionary entry no row uses
        dictionaries = [
            _dictionary_encoded(c, rng) if unused else pc.dictionary_encode(c) for c in columns
        ]
        assert encoded.encode(dictionaries).tolist() == spelt.encode(columns).tolist()
    every = np.arange(spelt.count)
    assert [c.to_pylist() for c in encoded.values(every)] == [
        c.to_pylist() for c in spelt.values(every)
    ]
