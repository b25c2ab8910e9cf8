"""Function signatures in rtsql's type system: concrete types, type variables, type classes.

A signature such as ``(var('a, NUMERIC)) -> var('a, NUMERIC)`` binds each type variable to
the narrowest common type of the arguments it stands for, then checks the variable's class.
``str(signature)`` is the reference's notation, as ``SHOW FUNCTIONS`` prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rillet.datatypes import DataType

NUMERIC_ORDER = ("INT", "BIGINT", "FLOAT", "DOUBLE")
TYPECLASSES = {
    "NUMERIC": frozenset({"INT", "BIGINT", "FLOAT", "DOUBLE", "PRECISE"}),
    "COMPARABLE": frozenset({"INT", "BIGINT", "FLOAT", "DOUBLE", "PRECISE", "STRING", "BOOLEAN",
                             "TIMESTAMP"}),
    "ANY": frozenset({"BOOLEAN", "INT", "BIGINT", "FLOAT", "DOUBLE", "PRECISE", "STRING",
                      "BINARY", "TIMESTAMP", "LIST"}),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TypeVar:
    """A type variable such as ``var('a, constraints={TYPECLASS_NUMERIC})``."""

    name: str = "a"
    typeclass: str = "ANY"
    not_null: bool = False

    def __str__(self) -> str:
        cls = f"TYPECLASS_{self.typeclass}" + (" NOT NULL" if self.not_null else "")
        return f"var('{self.name}, constraints={{{cls}}})"


@dataclass(frozen=True, slots=True)
class ListOf:
    """``LIST<item>`` where the item may be a type variable."""

    item: SigType
    nullable: bool = True

    def __str__(self) -> str:
        return f"LIST<{self.item}>" + ("" if self.nullable else " NOT NULL")


SigType = DataType | TypeVar | ListOf


@dataclass(frozen=True, slots=True)
class Signature:
    """Argument types (the last one repeatable when ``varargs``) and the result type."""

    args: tuple[SigType, ...]
    result: SigType
    varargs: bool = False

    def __str__(self) -> str:
        parts = [str(a) for a in self.args]
        if self.varargs and parts:
            parts[-1] += "..."
        return f"(({', '.join(parts)}) -> {self.result})"


def t(text: str) -> DataType:
    """A concrete type from rtsql text (a shorthand for signatures)."""
    from rillet.datatypes import parse_type

    return parse_type(text)


def common_type(a: DataType, b: DataType) -> DataType | None:
    """The narrowest type both promote to, or None (e.g. BOOLEAN with INT).

    Examples:
        >>> str(common_type(t("INT"), t("DOUBLE NOT NULL")))
        'DOUBLE'
        >>> str(common_type(t("INT"), t("STRING")))
        'STRING'
        >>> common_type(t("BOOLEAN"), t("INT")) is None
        True
    """
    nullable = a.nullable or b.nullable
    if a.name == "NULL":
        return b.with_nullable(True)
    if b.name == "NULL":
        return a.with_nullable(True)
    if a.name == b.name and a.name not in ("PRECISE", "LIST"):
        return DataType(a.name, nullable)
    if a.name == "LIST" and b.name == "LIST":
        assert a.item is not None and b.item is not None
        item = common_type(a.item, b.item)
        return None if item is None else DataType("LIST", nullable, item=item)
    if a.name in NUMERIC_ORDER and b.name in NUMERIC_ORDER:
        wider = max(NUMERIC_ORDER.index(a.name), NUMERIC_ORDER.index(b.name))
        return DataType(NUMERIC_ORDER[wider], nullable)
    if {a.name, b.name} in ({"PRECISE", "FLOAT"}, {"PRECISE", "DOUBLE"}):
        # the reference promotes to PRECISE(24)/PRECISE(53); Arrow's decimal128 stops at
        # scale 38, so rillet computes in DOUBLE
        return DataType("DOUBLE", nullable)
    if a.name == "PRECISE" or b.name == "PRECISE":
        scales = [precise_scale(x) for x in (a, b)]
        if None in scales:
            return _to_string(a, b, nullable)
        return DataType("PRECISE", nullable, scale=max(s for s in scales if s is not None))
    return _to_string(a, b, nullable)


def _to_string(a: DataType, b: DataType, nullable: bool) -> DataType | None:
    # Every scalar promotes to STRING, but BOOLEAN never meets a number, nor LIST a scalar.
    kinds = {a.name, b.name}
    if "STRING" in kinds and "LIST" not in kinds:
        return DataType("STRING", nullable)
    return None


def precise_scale(dtype: DataType) -> int | None:
    """The PRECISE scale a type promotes to: INT/BIGINT -> 0, FLOAT -> 24, DOUBLE -> 53."""
    if dtype.name == "PRECISE":
        return dtype.scale
    return {"INT": 0, "BIGINT": 0, "FLOAT": 24, "DOUBLE": 53}.get(dtype.name)


def promotes(source: DataType, target: DataType) -> bool:
    """True if a value of ``source`` may be used where ``target`` is wanted."""
    if source.name == "NULL":
        return target.nullable or True
    common = common_type(source, target)
    return common is not None and common.with_nullable(True) == target.with_nullable(True)


def in_class(dtype: DataType, typeclass: str) -> bool:
    return dtype.name == "NULL" or dtype.name in TYPECLASSES[typeclass]


def bind(
    signature: Signature, args: Sequence[DataType]
) -> tuple[DataType, list[DataType]] | tuple[None, str]:
    """The result type and the type each argument is promoted to, or (None, why not)."""
    want = list(signature.args)
    if signature.varargs:
        if len(args) < len(want) - 1:
            return None, f"takes at least {len(want) - 1} arguments, got {len(args)}"
        want = want[:-1] + [want[-1]] * (len(args) - len(want) + 1)
    elif len(args) != len(want):
        return None, f"takes {len(want)} argument{'s' if len(want) != 1 else ''}, got {len(args)}"
    bound: dict[str, DataType] = {}
    for i, (expected, actual) in enumerate(zip(want, args, strict=True)):
        var, actual_part = _variable_part(expected, actual)
        if var is None:
            continue
        if actual_part is None:
            return None, f"argument {i + 1} must be a LIST, got {actual}"
        if var.name in bound:
            common = common_type(bound[var.name], actual_part)
            if common is None:
                return None, f"argument {i + 1} ({actual_part}) does not fit {bound[var.name]}"
            bound[var.name] = common
        else:
            bound[var.name] = actual_part
    for i, (expected, actual) in enumerate(zip(want, args, strict=True)):
        var, _ = _variable_part(expected, actual)
        if var is not None and not in_class(bound[var.name], var.typeclass):
            return None, f"argument {i + 1} must be {var.typeclass.lower()}, got {actual}"
    promoted = [_resolve(e, bound) for e in want]
    for i, (target, actual) in enumerate(zip(promoted, args, strict=True)):
        if not promotes(actual, target):
            return None, f"argument {i + 1} must be {target.with_nullable(True)}, got {actual}"
    result = _resolve(signature.result, bound)
    return result, promoted


def _variable_part(expected: SigType, actual: DataType) -> tuple[TypeVar | None, DataType | None]:
    if isinstance(expected, TypeVar):
        return expected, actual
    if isinstance(expected, ListOf) and isinstance(expected.item, TypeVar):
        if actual.name == "NULL":
            return expected.item, actual
        return expected.item, actual.item if actual.name == "LIST" else None
    return None, None


def _resolve(sig: SigType, bound: dict[str, DataType]) -> DataType:
    if isinstance(sig, DataType):
        return sig
    if isinstance(sig, TypeVar):
        found = bound.get(sig.name, DataType("NULL"))
        return found.with_nullable(not sig.not_null) if sig.not_null else found
    item = _resolve(sig.item, bound)
    return DataType("LIST", sig.nullable, item=item)
