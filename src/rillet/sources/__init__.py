"""Sources: what feeds a stream created with ``CREATE STREAM ... FROM``.

``FILE 'path'`` reads a file to its end (:class:`FileSource`); ``SOURCE 'tail("path")'``
follows a file as it grows, through rotation and truncation (:class:`TailSource`).  Each runs
on a background thread the database owns: DROP STREAM and ``db.close()`` stop it.  Flume's
``NODE`` and other source specs are not available yet and say so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from rillet.errors import ConfigError, NotFoundError, UnsupportedError, suggest
from rillet.formats import EventFormat, make_format
from rillet.schema import Column, Schema
from rillet.sources.base import Source
from rillet.sources.file import FileSource
from rillet.sources.reader import REJECTED_COLUMNS, Feeder, policy_of
from rillet.sources.tail import TailSource
from rillet.stream import StreamOptions

if TYPE_CHECKING:
    from rillet.database import Database
    from rillet.stream import Stream

_TAIL = re.compile(r"""\s*tail\s*\(\s*(?:"([^"]*)"|'([^']*)')\s*\)\s*""")
KINDS = ("FILE", "SOURCE", "NODE")


def local_path(text: str, kind: str) -> Path:
    """A local file name (``file://`` URIs too); other URIs are not available."""
    if text.startswith("file://"):
        text = text[len("file://") :]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        raise UnsupportedError(
            f"{kind} {text!r}: only local files are available (a path or a file:// URI), "
            "not other file systems yet",
            source=text,
        )
    if not text:
        raise ConfigError(f"{kind}: the file name is empty", source=text)
    return Path(text).expanduser()


def tail_path(spec: str) -> Path:
    """The path of a ``tail("path")`` source spec; UnsupportedError for any other spec."""
    match = _TAIL.fullmatch(spec)
    if match is None and re.match(r"\s*tail\s*\(", spec):
        raise ConfigError(
            f'source {spec!r}: tail takes one path in quotes, as in tail("/var/log/app.log")',
            source=spec,
        )
    if match is None:
        raise UnsupportedError(
            f"source {spec!r} is not available yet: rillet's sources are "
            "SOURCE 'tail(\"path\")' and FILE 'path'",
            source=spec,
        )
    return local_path(match.group(1) if match.group(1) is not None else match.group(2), "tail")


def _time_column(columns: list[Column], name: str | None) -> str | None:
    """The column ``timestamp.col`` names (exactly, else case-insensitively), checked."""
    if name is None:
        return None
    names = [c.name for c in columns]
    found = name if name in names else next((n for n in names if n.lower() == name.lower()), None)
    if found is None:
        hint = suggest(name, names)
        raise ConfigError(
            f"property 'timestamp.col' names {name!r}, which is not a column"
            + (f"; did you mean {hint!r}?" if hint else ""),
            property="timestamp.col",
        )
    dtype = columns[names.index(found)].type
    if dtype.name != "TIMESTAMP":
        raise ConfigError(
            f"property 'timestamp.col': column {found!r} is {dtype}; it must be a TIMESTAMP",
            property="timestamp.col",
        )
    return found


def create_source_stream(
    db: Database,
    name: str,
    schema: Schema,
    kind: str,
    spec: str,
    *,
    local: bool = False,
    event_format: str | None = None,
    properties: Mapping[str, str] | None = None,
) -> Stream:
    """Create stream ``name`` (declared ``schema``) fed by the source ``kind`` ``spec``, and
    start the source.  Everything is checked first: a wrong spec, format or property
    creates nothing."""
    properties = dict(properties or {})
    kind = kind.upper()
    if kind == "NODE":
        raise UnsupportedError(
            f"FROM NODE {spec!r} (a Flume logical node) is not available yet: rillet reads "
            "FILE 'path' and SOURCE 'tail(\"path\")'",
            source=spec,
        )
    if kind not in KINDS:
        raise UnsupportedError(f"FROM {kind} is not a source kind ({', '.join(KINDS)})")
    path = local_path(spec, "FILE") if kind == "FILE" else tail_path(spec)
    if path.is_dir():
        raise ConfigError(
            f"{kind} {spec!r} names a directory ({path}); a source reads a file", source=spec
        )
    if kind == "FILE" and not path.is_file():
        raise NotFoundError(
            f"FILE {spec!r}: no such file ({path})", kind="file", name=str(path), suggestion=None
        )
    declared = [c for c in schema.columns if not (schema.implicit_time and c.name == "_time")]
    fmt = make_format(event_format, declared, properties)
    if kind == "SOURCE" and not fmt.line_based:
        raise UnsupportedError(
            f"event format {fmt.name!r} cannot be followed with tail (a binary format): "
            "read it with FROM FILE",
            source=spec,
        )
    policy = policy_of(properties.get("malformed"))
    # an empty field of a non-STRING column is NULL even when declared NOT NULL, and the
    # event is kept (FlumeBase's rule): the stored columns all take NULL
    stored = Schema(
        [Column(c.name, c.type.with_nullable(True)) for c in declared],
        _time_column(declared, properties.get("timestamp.col"))
        or (None if schema.implicit_time else schema.time_column),
    )
    return _start(db, name, stored, fmt, path, policy, finite=kind == "FILE")


def _start(
    db: Database, name: str, stored: Schema, fmt: EventFormat, path: Path, policy: str,
    *, finite: bool,
) -> Stream:  # fmt: skip
    stream = db._create_stream(name, stored, StreamOptions())
    rejected = None
    try:
        if policy == "skip":
            rejected_name = f"{name}.rejected"
            if rejected_name in {s.name for s in db.streams()}:  # left from an older session
                db.drop_stream(rejected_name)
            rejected = db._create_stream(
                rejected_name, Schema.build(REJECTED_COLUMNS), StreamOptions()
            )
        feeder = Feeder(stream, fmt, str(path), policy, rejected)
        source: Source = FileSource(feeder, path) if finite else TailSource(feeder, path)
        db._sources[stream.name] = source
    except BaseException:
        db.drop_stream(stream.name)
        raise
    source.start()
    return stream


def source_of(db: Database, name: str) -> Source | None:
    """The source feeding stream ``name``, or None (a stream fed by ``append``)."""
    return db._sources.get(name)


__all__ = ["FileSource", "Source", "TailSource", "create_source_stream", "source_of"]
