"""The State protocol, the AggregateFunction spec, and the registry built-ins register into.

An aggregate function is a frozen spec (name, signature, constant parameters, how to make and
load a state); its running state is a separate object with ``update``/``merge``/``result``/
``to_bytes``.  States of one function merge in any grouping: time buckets, partitions and
nodes combine the same way, so a query is "merge(partials of files ∪ memory)".
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol, Self

import pyarrow as pa

from rillet.datatypes import DataType
from rillet.errors import ConflictError, CorruptionError, TypeCheckError, not_found
from rillet.expressions.signatures import ListOf, Signature, TypeVar, bind, in_class
from rillet.time import EPOCH, us_to_datetime


class State(Protocol):
    """The running partial state of one aggregate over some of its input.

    ``update`` takes the evaluated argument column of one batch (or of one time bucket's slice
    of it); ``values`` is None for ``COUNT(*)``, where ``rows`` is the number of rows.
    ``merge`` folds in another state of the same function, which covers input that comes
    after this state's (only FIRST and LAST care about the order).
    """

    def update(self, values: pa.Array | None, rows: int) -> None: ...

    def merge(self, other: Self) -> None: ...

    def result(self) -> Any:
        """The aggregate as a plain Python value; NULL is None."""
        ...

    def to_bytes(self) -> bytes:
        """The state as bytes, read back by :meth:`AggregateFunction.state_from_bytes`."""
        ...


Make = Callable[[DataType, tuple[Any, ...]], State]
Load = Callable[[DataType, tuple[Any, ...], bytes], State]


@dataclass(frozen=True, slots=True)
class AggregateFunction:
    """An aggregate function: its signature, constant parameters and state factories.

    ``params`` names the constants that follow the value argument (``q`` of
    APPROX_QUANTILE, ``k`` of TOP_K); their types are the signature's arguments after the
    first.  ``star`` is true for the one function that takes ``*`` (COUNT).  ``rejects``
    lists type names the signature's class admits but the function cannot take (the sketches
    have no hash kernel for LIST values).

    Examples:
        >>> from rillet.aggregates import aggregate
        >>> from rillet.expressions.signatures import t
        >>> fn = aggregate("SUM")
        >>> str(fn.result_type(t("INT NOT NULL")))
        'INT'
        >>> state = fn.new_state(t("INT"))
        >>> state.update(pa.array([1, None, 2], pa.int32()), 3)
        >>> state.result()
        3
    """

    name: str
    signature: Signature
    params: tuple[str, ...]
    make: Make
    load: Load
    description: str
    star: bool = False
    rejects: frozenset[str] = frozenset()

    def __str__(self) -> str:
        return f"{self.name}{self.signature}"

    def result_type(self, arg: DataType | None) -> DataType:
        """The type of the result for an argument of type ``arg`` (None for ``*``).

        Aggregates other than COUNT are NULL over no values, so their results are nullable.
        """
        if arg is None:
            if not self.star:
                raise TypeCheckError(
                    f"{self.name} needs an argument; only count takes *", function=self.name
                )
            arg = DataType("NULL")
        var = _first_variable(self.signature)
        if var is not None and not in_class(arg, var.typeclass):
            kind = var.typeclass.lower()
            article = "an" if kind[0] in "aeiou" else "a"
            raise TypeCheckError(
                f"{self.name} takes {article} {kind} argument, got {arg}", function=self.name
            )
        if arg.name in self.rejects:
            raise TypeCheckError(
                f"{self.name} cannot take a {arg.name} argument, got {arg}", function=self.name
            )
        constants = [a for a in self.signature.args[1:] if isinstance(a, DataType)]
        result, why = bind(self.signature, [arg, *constants])
        if result is None:
            raise TypeCheckError(f"{self.name}: {why}", function=self.name)
        if not isinstance(self.signature.result, DataType):
            result = result.with_nullable(True)
        return result

    def new_state(self, arg_type: DataType | None, params: Sequence[Any] = ()) -> State:
        """An empty state for an argument of ``arg_type`` (None for ``*``)."""
        arg_type = self._check(arg_type, params)
        return self.make(arg_type, tuple(params))

    def state_from_bytes(
        self, arg_type: DataType | None, params: Sequence[Any], data: bytes
    ) -> State:
        """The state that ``to_bytes`` wrote; CorruptionError if ``data`` is damaged."""
        arg_type = self._check(arg_type, params)
        try:
            return self.load(arg_type, tuple(params), bytes(data))
        except (
            ValueError,
            ArithmeticError,
            TypeError,
            LookupError,
            RuntimeError,
            struct.error,
        ) as exc:
            # struct, json, Decimal, datetime and the sketches' readers fail in these ways.
            raise CorruptionError(
                f"cannot read a {self.name} state from {len(data)} bytes: {exc}",
                path=None,
                offset=None,
            ) from exc

    def _check(self, arg_type: DataType | None, params: Sequence[Any]) -> DataType:
        self.result_type(arg_type)
        if len(params) != len(self.params):
            names = ", ".join(self.params) or "no constants"
            raise TypeCheckError(
                f"{self.name} takes {len(self.params)} constant parameter"
                f"{'s' if len(self.params) != 1 else ''} ({names}), got {len(params)}",
                function=self.name,
            )
        return DataType("NULL") if arg_type is None else arg_type


def _first_variable(signature: Signature) -> TypeVar | None:
    first = signature.args[0] if signature.args else None
    if isinstance(first, ListOf):
        first = first.item
    return first if isinstance(first, TypeVar) else None


AGGREGATES: dict[str, AggregateFunction] = {}


def register(fn: AggregateFunction) -> AggregateFunction:
    """Add ``fn`` to :data:`AGGREGATES` under its lower-case name, as a plug-in does."""
    key = fn.name.lower()
    if AGGREGATES.get(key, fn) is not fn:
        raise ConflictError(f"aggregate function {key!r} is already registered", name=key)
    AGGREGATES[key] = fn
    return fn


def aggregate(name: str) -> AggregateFunction:
    """The registered aggregate function called ``name`` (any case).

    Examples:
        >>> aggregate("avg").name
        'avg'
        >>> aggregate("cout")
        Traceback (most recent call last):
        ...
        rillet.errors.NotFoundError: unknown aggregate function 'cout'; did you mean 'count'?
    """
    fn = AGGREGATES.get(name.lower())
    if fn is None:
        raise not_found("aggregate function", name, AGGREGATES)
    return fn


# -- values inside states ----------------------------------------------------------------------
# A value of an rtsql type as JSON, decoded with the same type: the states of MIN, MAX, FIRST,
# LAST, SUM and AVG hold such values.  JSON keeps Python ints exact at any size and floats
# exact (repr round-trips, NaN and Infinity included), and unlike pickle it is safe to read
# bytes that came from another node.


def encode_value(dtype: DataType, value: Any) -> Any:
    """``value`` of type ``dtype`` as JSON-ready data."""
    if value is None:
        return None
    name = dtype.name
    if name == "PRECISE":
        return str(value)
    if name in ("FLOAT", "DOUBLE"):
        return float(value)
    if name == "BINARY":
        return bytes(value).hex()
    if name == "TIMESTAMP":
        return (value - EPOCH) // dt.timedelta(microseconds=1)
    if name == "LIST":
        assert dtype.item is not None
        return [encode_value(dtype.item, v) for v in value]
    return value  # BOOLEAN, INT, BIGINT, STRING


def decode_value(dtype: DataType, data: Any) -> Any:
    """The value :func:`encode_value` turned into ``data``."""
    if data is None:
        return None
    name = dtype.name
    if name == "PRECISE":
        return Decimal(data)
    if name in ("FLOAT", "DOUBLE"):
        return float(data)
    if name == "BINARY":
        return bytes.fromhex(data)
    if name == "TIMESTAMP":
        return us_to_datetime(int(data))
    if name == "LIST":
        assert dtype.item is not None
        return [decode_value(dtype.item, v) for v in data]
    if name == "BOOLEAN":
        return bool(data)
    if name in ("INT", "BIGINT"):
        return int(data)
    return data


def dump_json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def load_json(data: bytes) -> Any:
    return json.loads(data)
