"""Aggregate functions with mergeable partial states, shared by monitors, flows and roll-ups.

Importing the package registers the built-ins: COUNT, SUM, MIN, MAX, AVG, STDDEV, VARIANCE,
FIRST, LAST (:mod:`rillet.aggregates.basic`) and the sketches APPROX_COUNT_DISTINCT,
APPROX_QUANTILE, DISTRIBUTION, TOP_K (:mod:`rillet.aggregates.sketches`).  Many groups at
once are columns of partial states (:mod:`rillet.aggregates.grouped`), and time buckets of
them, fixed or Gregorian, at several widths, are :mod:`rillet.aggregates.buckets`.

Examples:
    >>> import pyarrow as pa
    >>> from rillet.expressions.signatures import t
    >>> fn = aggregate("max")
    >>> a, b = fn.new_state(t("BIGINT")), fn.new_state(t("BIGINT"))
    >>> a.update(pa.array([3, 9, None]), 3)
    >>> b.update(pa.array([7]), 1)
    >>> b.merge(fn.state_from_bytes(t("BIGINT"), (), a.to_bytes()))
    >>> b.result()
    9
"""

import datetime as dt
from decimal import Decimal
from typing import Any, TypeAlias

from rillet.aggregates import basic, sketches
from rillet.aggregates.base import AGGREGATES, AggregateFunction, State, aggregate, register
from rillet.aggregates.sketches import Distribution

#: what an aggregate gives: a number, a time, a value of its column (FIRST/LAST), the most
#: frequent values (TOP_K), a distribution (DISTRIBUTION), or None over no records
AggregateValue: TypeAlias = (
    int | float | Decimal | str | bytes | bool | dt.datetime | list[Any] | Distribution | None
)

__all__ = [
    "AGGREGATES",
    "AggregateFunction",
    "AggregateValue",
    "Distribution",
    "State",
    "aggregate",
    "register",
]

del basic, sketches
