"""rtsql's view of a database's streams: names as rtsql canonicalizes them, and sources.

An rtsql name is exact: an unquoted identifier was lower-cased by the parser and a quoted
one keeps its case, so ``CaseSensitiveStream`` (which reads as ``casesensitivestream``) does
not find a stream created as ``"CaseSensitiveStream"``.  Flows resolve the streams of a
SELECT with :func:`stream` for the same reason.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from rillet.errors import NotFoundError, suggest
from rillet.rtsql import ast

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.monitors.stream import MonitoredStream

#: the CREATE STREAM statement of each stream rtsql created, per database
_CREATED: weakref.WeakKeyDictionary[Database, dict[str, ast.CreateStream]] = (
    weakref.WeakKeyDictionary()
)


def find(db: Database, name: str) -> MonitoredStream | None:
    """The stream named exactly ``name``, or None."""
    return {s.name: s for s in db.streams()}.get(name)


def no_such(kind: str, name: str, candidates: list[str]) -> NotFoundError:
    """FlumeBase's wording (``No such identifier: x``) with rillet's closest-name hint."""
    hint = suggest(name, candidates)
    message = f"{kind}: {name}" + (f"; did you mean {hint!r}?" if hint else "")
    return NotFoundError(message, kind="stream", name=name, suggestion=hint)


def stream(db: Database, name: str, kind: str = "No such identifier") -> MonitoredStream:
    """The stream named exactly ``name``; NotFoundError in the reference's words if none."""
    found = find(db, name)
    if found is None:
        raise no_such(kind, name, [s.name for s in db.streams()])
    return found


def remember(db: Database, statement: ast.CreateStream) -> None:
    """Keep the statement a stream was created with (DESCRIBE shows its source)."""
    _CREATED.setdefault(db, {})[statement.name] = statement


def forget(db: Database, name: str) -> None:
    _CREATED.get(db, {}).pop(name, None)


def created(db: Database, name: str) -> ast.CreateStream | None:
    """The CREATE STREAM statement of the stream, if rtsql created it in this session."""
    return _CREATED.get(db, {}).get(name)
