"""What ``db.execute`` returns for a statement other than SELECT."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from rillet.rtsql import ast


@dataclass(frozen=True, slots=True)
class StatementResult:
    """The outcome of a DDL, SHOW, DESCRIBE or EXPLAIN statement.

    ``lines`` are what FlumeBase's shell prints for it, one string a line (the rows of
    SHOW and DESCRIBE); ``str()`` joins them with newlines.

    Examples:
        >>> from rillet.rtsql.parser import parse
        >>> print(StatementResult(parse("DROP STREAM x"), ("DROP STREAM",)))
        DROP STREAM
    """

    statement: ast.Statement
    lines: tuple[str, ...]

    def __str__(self) -> str:
        return "\n".join(self.lines)

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines)
