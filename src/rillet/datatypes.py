"""rtsql's types, their Arrow counterparts, and how Python values become them.

One :class:`DataType` per rtsql type (BOOLEAN, INT, BIGINT, FLOAT, DOUBLE, PRECISE(n), STRING,
BINARY, TIMESTAMP, LIST<t>), each optionally NOT NULL.  Values are converted only along
rtsql's promotions: INT -> BIGINT -> FLOAT -> DOUBLE and integers -> PRECISE; BOOLEAN never
converts to or from numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from rillet.errors import ParseError
from rillet.rtsql.lexer import TokenStream
from rillet.time import to_ns, us_to_datetime

SCALARS = ("BOOLEAN", "INT", "BIGINT", "FLOAT", "DOUBLE", "STRING", "BINARY", "TIMESTAMP")
NUMERIC = ("INT", "BIGINT", "FLOAT", "DOUBLE", "PRECISE")
MAX_PRECISION = 38  # decimal128
FLOAT_MAX = 3.4028234663852886e38  # the largest float32
INT_RANGE = {"INT": (-(2**31), 2**31 - 1), "BIGINT": (-(2**63), 2**63 - 1)}

_ARROW: dict[str, pa.DataType] = {
    "BOOLEAN": pa.bool_(),
    "INT": pa.int32(),
    "BIGINT": pa.int64(),
    "FLOAT": pa.float32(),
    "DOUBLE": pa.float64(),
    "STRING": pa.string(),
    "BINARY": pa.binary(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "NULL": pa.null(),  # the type of a bare NULL literal, before promotion
    "INTERVAL": pa.duration("us"),  # INTERVAL literals and TIMESTAMP differences (no column type)
}


@dataclass(frozen=True, slots=True)
class DataType:
    """An rtsql type: ``name`` is one of SCALARS, PRECISE (with ``scale``) or LIST (with ``item``).

    Examples:
        >>> parse_type("LIST<INT NOT NULL>")
        DataType('LIST<INT NOT NULL>')
        >>> parse_type("precise(2) not null").arrow
        Decimal128Type(decimal128(38, 2))
    """

    name: str
    nullable: bool = True
    scale: int | None = None
    item: DataType | None = None

    def __str__(self) -> str:
        text = self.name
        if self.name == "PRECISE":
            text = f"PRECISE({self.scale})"
        elif self.name == "LIST":
            text = f"LIST<{self.item}>"
        return text if self.nullable else text + " NOT NULL"

    def __repr__(self) -> str:
        return f"DataType({str(self)!r})"

    @property
    def arrow(self) -> pa.DataType:
        """The Arrow type values of this type are stored as."""
        if self.name == "PRECISE":
            return pa.decimal128(MAX_PRECISION, self.scale or 0)
        if self.name == "LIST":
            assert self.item is not None
            return pa.list_(pa.field("item", self.item.arrow, nullable=self.item.nullable))
        return _ARROW[self.name]

    def with_nullable(self, nullable: bool) -> DataType:
        return DataType(self.name, nullable, self.scale, self.item)

    @classmethod
    def from_arrow(cls, arrow: pa.DataType, nullable: bool = True) -> DataType:
        """The rtsql type for an Arrow type, along the same promotions values follow."""
        if pa.types.is_boolean(arrow):
            return cls("BOOLEAN", nullable)
        if pa.types.is_int8(arrow) or pa.types.is_int16(arrow) or pa.types.is_int32(arrow):
            return cls("INT", nullable)
        if pa.types.is_integer(arrow):
            return cls("BIGINT", nullable)
        if pa.types.is_float16(arrow) or pa.types.is_float32(arrow):
            return cls("FLOAT", nullable)
        if pa.types.is_float64(arrow):
            return cls("DOUBLE", nullable)
        if pa.types.is_decimal(arrow):
            return cls("PRECISE", nullable, scale=arrow.scale)
        if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
            return cls("STRING", nullable)
        if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
            return cls("BINARY", nullable)
        if pa.types.is_timestamp(arrow):
            return cls("TIMESTAMP", nullable)
        if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
            field = arrow.value_field
            return cls("LIST", nullable, item=cls.from_arrow(field.type, field.nullable))
        raise ParseError(
            f"no rtsql type for Arrow type {arrow}", line=None, col=None, expected=None
        )

    def fast_check(self, var: str) -> str:
        """Python source that is true when ``var`` is already a stored value of this type.

        Values that pass are buffered as they are; the rest go through :meth:`coerce`.
        """
        check = {
            "BOOLEAN": f"type({var}) is bool",
            "FLOAT": f"(type({var}) is float and -{FLOAT_MAX} <= {var} <= {FLOAT_MAX})",
            "DOUBLE": f"type({var}) is float",
            "STRING": f"type({var}) is str",
            "BINARY": f"type({var}) is bytes",
        }.get(self.name)
        if self.name in INT_RANGE:
            low, high = INT_RANGE[self.name]
            check = f"(type({var}) is int and {low} <= {var} <= {high})"
        if check is None:  # TIMESTAMP, PRECISE, LIST: always coerced
            return "False"
        return f"({var} is None or {check})" if self.nullable else check

    def coerce(self, value: Any) -> Any:
        """``value`` as this type's stored Python value; TypeError/ValueError if it is not one.

        TIMESTAMP becomes epoch nanoseconds (an int); inside lists a timezone-aware datetime.
        """
        if value is None:
            if not self.nullable:
                raise ValueError("NULL in a NOT NULL column")
            return None
        name = self.name
        if name == "BOOLEAN":
            if type(value) is bool:
                return value
        elif name in INT_RANGE:
            if isinstance(value, int) and not isinstance(value, bool):
                low, high = INT_RANGE[name]
                if not low <= value <= high:
                    raise ValueError(f"{value} is out of range for {name}")
                return int(value)
            if _is_numpy_int(value):
                return self.coerce(int(value))
        elif name in ("FLOAT", "DOUBLE"):
            if isinstance(value, float | int) and not isinstance(value, bool):
                result = float(value)
                if name == "FLOAT" and math.isfinite(result) and abs(result) > FLOAT_MAX:
                    raise ValueError(f"{value} is out of range for FLOAT")
                return result
            if _is_numpy_number(value):
                return self.coerce(value.item())
        elif name == "PRECISE":
            return _to_decimal(value, self.scale or 0)
        elif name == "STRING":
            if isinstance(value, str):
                return str(value)
        elif name == "BINARY":
            if isinstance(value, bytes | bytearray | memoryview):
                return bytes(value)
        elif name == "TIMESTAMP":
            if isinstance(value, bool):
                raise TypeError("expected a TIMESTAMP, got bool")
            ns = to_ns(value)
            if not -(2**63) <= ns // 1000 < 2**63:  # stored as microseconds
                raise ValueError(f"{value!r} is out of range for TIMESTAMP")
            return ns
        elif name == "LIST":
            if isinstance(value, list | tuple):
                assert self.item is not None
                return [self.item._coerce_item(v) for v in value]
        raise TypeError(f"expected {self.name}, got {type(value).__name__}")

    def _coerce_item(self, value: Any) -> Any:
        result = self.coerce(value)
        if self.name == "TIMESTAMP" and result is not None:
            return us_to_datetime(result // 1000)
        return result


def _is_numpy_int(value: Any) -> bool:
    return (
        type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iu"
    )


def _is_numpy_number(value: Any) -> bool:
    return (
        type(value).__module__ == "numpy" and hasattr(value, "dtype") and value.dtype.kind in "iuf"
    )


_WIDE = Context(prec=2 * MAX_PRECISION)  # the default context stops at 28 digits


def _to_decimal(value: Any, scale: int) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise TypeError(f"expected PRECISE({scale}), got {type(value).__name__}")
    try:
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
        if not number.is_finite():
            raise ValueError(f"{value} is not a finite number")
        result = number.quantize(Decimal(1).scaleb(-scale), rounding=ROUND_HALF_UP, context=_WIDE)
    except InvalidOperation as exc:
        raise ValueError(f"{value} does not fit PRECISE({scale})") from exc
    if len(result.as_tuple().digits) > MAX_PRECISION:
        raise ValueError(f"{value} has more than {MAX_PRECISION} digits")
    return result


# -- parsing ---------------------------------------------------------------------------------


class TypeParser(TokenStream):
    """A recursive-descent reader of rtsql types and column lists, over rtsql's one lexer."""

    def name(self, expected: str = "a column name") -> str:
        """An identifier: lower-cased unless double-quoted."""
        token = self.token
        if token.kind == "quoted":
            self.advance()
            return token.text[1:-1].replace('""', '"')
        if token.kind == "word":
            self.advance()
            return token.text.lower()
        raise self.error(expected)

    def datatype(self) -> DataType:
        token = self.token
        word = token.upper
        result: DataType
        if token.kind != "word" or word not in (*SCALARS, "PRECISE", "LIST"):
            raise self.error("a type (" + ", ".join((*SCALARS, "PRECISE(n)", "LIST<t>")) + ")")
        self.advance()
        if word == "PRECISE":
            self.expect("(")
            if self.token.kind != "number" or not self.token.text.isdigit():
                raise self.error("the scale of PRECISE, an integer")
            if int(self.token.text) > MAX_PRECISION:
                raise self.error(f"a scale of at most {MAX_PRECISION}")
            scale = int(self.advance().text)
            self.expect(")")
            result = DataType("PRECISE", scale=scale)
        elif word == "LIST":
            self.expect("<")
            item = self.datatype()
            self.expect(">")
            result = DataType("LIST", item=item)
        else:
            result = DataType(word)
        if self.accept("NOT"):
            self.expect("NULL")
            result = result.with_nullable(False)
        return result

    def end(self) -> None:
        if self.token.kind != "end":
            raise self.error("end of input")


def parse_type(text: str) -> DataType:
    """An rtsql type from its text, e.g. ``"LIST<STRING NOT NULL>"``."""
    parser = TypeParser(text)
    result = parser.datatype()
    parser.end()
    return result
