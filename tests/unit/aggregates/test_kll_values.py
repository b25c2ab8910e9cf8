"""The exact values KLL partial states hold: read back row after row, from one shared array
(a slice where the rows lie in order, a take otherwise) or from several."""

from __future__ import annotations

import numpy as np

from rillet.aggregates.grouped import _gather, _shared


def test_rows_lying_in_order_are_read_as_they_lie() -> None:
    values = np.arange(10.0)
    rows = _shared(values, np.array([3, 2, 5]))
    assert _gather(rows).tolist() == values.tolist()
    tail = {name: column[1:] for name, column in rows.items()}
    assert _gather(tail).tolist() == [3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_rows_out_of_order_or_from_several_arrays_are_taken() -> None:
    rows = _shared(np.arange(10.0), np.array([3, 2, 5]))
    backwards = {name: column[[2, 0]] for name, column in rows.items()}
    assert _gather(backwards).tolist() == [5.0, 6.0, 7.0, 8.0, 9.0, 0.0, 1.0, 2.0]
    other = _shared(np.array([20.0, 21.0]), np.array([2]))
    mixed = {name: np.concatenate([rows[name][[1]], other[name], rows[name][[0]]]) for name in rows}
    assert _gather(mixed).tolist() == [3.0, 4.0, 20.0, 21.0, 0.0, 1.0, 2.0]
