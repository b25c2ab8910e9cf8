"""The statements of rtsql as frozen dataclasses: what the parser gives and the engine takes.

Expressions inside statements are :mod:`rillet.expressions.nodes` trees (a qualified column
``f.x`` is a ``Column`` with ``qualifier="f"``; ``#attr`` an ``Attribute``; ``count(*)`` a
``Call`` with ``star``).  Names are canonical: unquoted identifiers lower-cased, quoted ones
as written.  Every node has the 1-based ``line`` and ``col`` where it began; they are left
out of equality, so two parses of the same statement laid out differently are equal.

``str(statement)`` (see :mod:`rillet.rtsql.printer`) is rtsql text that parses back to an
equal statement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rillet.datatypes import DataType
from rillet.expressions.nodes import Node

#: milliseconds per time unit of a window range, as FlumeBase counts them (a month is 30
#: days and a year 365: ranges are fixed widths)
UNIT_MS = {
    "MILLISECONDS": 1,
    "SECONDS": 1_000,
    "MINUTES": 60_000,
    "HOURS": 3_600_000,
    "DAYS": 86_400_000,
    "WEEKS": 7 * 86_400_000,
    "MONTHS": 30 * 86_400_000,
    "YEARS": 365 * 86_400_000,
}
SOURCE_KINDS = ("FILE", "SOURCE", "NODE")
SHOW_TARGETS = ("STREAMS", "FLOWS", "FUNCTIONS")


@dataclass(frozen=True, slots=True, kw_only=True)
class Located:
    """Where the construct began in the statement text (1-based; not in equality or repr)."""

    line: int = field(default=0, compare=False, repr=False)
    col: int = field(default=0, compare=False, repr=False)

    def __str__(self) -> str:
        """rtsql text that parses back to an equal construct."""
        from rillet.rtsql.printer import text

        return text(self)


# -- windows ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval(Located):
    """``INTERVAL amount unit``: ``unit`` is a key of :data:`UNIT_MS` (plural, upper case)."""

    amount: int
    unit: str

    @property
    def ms(self) -> int:
        """The width in milliseconds."""
        return self.amount * UNIT_MS[self.unit]


@dataclass(frozen=True, slots=True, kw_only=True)
class Range(Located):
    """``RANGE INTERVAL n unit PRECEDING`` (``following`` None) or
    ``RANGE BETWEEN INTERVAL n unit PRECEDING AND INTERVAL m unit FOLLOWING``."""

    preceding: Interval
    following: Interval | None = None

    @property
    def preceding_ms(self) -> int:
        return self.preceding.ms

    @property
    def following_ms(self) -> int:
        """The FOLLOWING bound in milliseconds (0 without one)."""
        return 0 if self.following is None else self.following.ms


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowName(Located):
    """A window named by a ``WINDOW name AS (range)`` clause of the statement."""

    name: str


Window = Range | WindowName


@dataclass(frozen=True, slots=True, kw_only=True)
class WindowDef(Located):
    """``WINDOW name AS (range)``."""

    name: str
    range: Range


# -- SELECT ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class SelectItem(Located):
    """One selected expression and its ``AS`` alias (None when it has none)."""

    expr: Node
    alias: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AllColumns(Located):
    """``*``: every column of the sources (``qualifier`` is reserved for ``ref.*``)."""

    qualifier: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamRef(Located):
    """A named stream in FROM or JOIN, with its reference name (``FROM s AS r``) if any."""

    name: str
    alias: str | None = None

    @property
    def ref(self) -> str:
        """The name its columns are qualified with: the alias, else the stream's name."""
        return self.alias or self.name


@dataclass(frozen=True, slots=True, kw_only=True)
class SubSelect(Located):
    """A nested ``(SELECT ...) AS alias`` in FROM or JOIN; the alias is required."""

    select: Select
    alias: str

    @property
    def ref(self) -> str:
        return self.alias


Source = StreamRef | SubSelect


@dataclass(frozen=True, slots=True, kw_only=True)
class Join(Located):
    """``JOIN source ON condition OVER window``; the condition is any expression here (the
    planner accepts only ``a.x = b.y``)."""

    source: Source
    on: Node
    over: Window


@dataclass(frozen=True, slots=True, kw_only=True)
class Select(Located):
    """A SELECT statement; every clause is in the order the grammar has it."""

    items: tuple[SelectItem | AllColumns, ...]
    source: Source
    joins: tuple[Join, ...] = ()
    where: Node | None = None
    group_by: tuple[Node, ...] = ()  # columns, and at most one TUMBLE/HOP/SESSION call
    over: Window | None = None
    having: Node | None = None
    windows: tuple[WindowDef, ...] = ()

    def window(self, over: Window) -> Range:
        """The range a window stands for: itself, or the WINDOW clause of that name.

        Raises KeyError for a name no WINDOW clause defines.
        """
        if isinstance(over, Range):
            return over
        for each in self.windows:
            if each.name == over.name:
                return each.range
        raise KeyError(over.name)


# -- other statements ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnDef(Located):
    """``name type [NOT NULL]`` in CREATE STREAM."""

    name: str
    type: DataType


@dataclass(frozen=True, slots=True, kw_only=True)
class SourceSpec(Located):
    """``FROM [LOCAL] {FILE | SOURCE | NODE} 'spec' [EVENT FORMAT 'fmt' [PROPERTIES (...)]]``.

    ``properties`` are (key, value) pairs in the order written (a tuple, so the statement
    stays hashable); :attr:`property_map` is the same as a dict.
    """

    kind: str  # one of SOURCE_KINDS
    spec: str
    local: bool = False
    event_format: str | None = None
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def property_map(self) -> dict[str, str]:
        return dict(self.properties)


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateStream(Located):
    """``CREATE STREAM name (col type, ...) [FROM ...]``; no ``source``: fed by ``append``."""

    name: str
    columns: tuple[ColumnDef, ...]
    source: SourceSpec | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateStreamAs(Located):
    """``CREATE STREAM name AS select``: a named flow (parsed; built by a later issue)."""

    name: str
    select: Select


@dataclass(frozen=True, slots=True, kw_only=True)
class DropStream(Located):
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DropFlow(Located):
    flow_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Show(Located):
    """``SHOW STREAMS | FLOWS | FUNCTIONS``: ``what`` is one of :data:`SHOW_TARGETS`."""

    what: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Describe(Located):
    """``DESCRIBE name``: a stream or a function."""

    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Explain(Located):
    statement: Statement


Statement = (
    Select | CreateStream | CreateStreamAs | DropStream | DropFlow | Show | Describe | Explain
)
