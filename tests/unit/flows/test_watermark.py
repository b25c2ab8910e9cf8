"""The running maximum each record arrives to, against a plain-Python loop."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from rillet.flows.watermark import running_max

TIMES = st.lists(st.integers(-(2**40), 2**40), max_size=50)


@given(values=TIMES, before=st.integers(-(2**41), 2**41), ordered=st.booleans())
def test_running_max_is_the_greatest_before_each_record(
    values: list[int], before: int, ordered: bool
) -> None:
    """In order (the usual batch, read without an accumulation) or not, each record gets
    the greatest of ``before`` and the records before it."""
    if ordered:
        values = sorted(values)
    want, greatest = [], before
    for value in values:
        want.append(greatest)
        greatest = max(greatest, value)
    assert running_max(np.array(values, dtype=np.int64), before).tolist() == want
