"""Group key numbering against a plain-Python model: numbers in order of first appearance,
whatever batches the rows came in, and the values back."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from rillet.flows.keys import KeyEncoder


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
