"""What every source does with what it read: parse it, append it, keep or refuse rejects.

A :class:`Feeder` numbers the lines of one file as they come, hands complete lines to the
stream's event format, appends the good rows to the stream in one batch, and applies the
stream's policy to the rejected lines: ``skip`` keeps each in ``<stream>.rejected`` with its
file, line, field and reason; ``fail`` appends the lines before it and stops the source with
a :class:`~rillet.errors.RecordError` naming file, line and field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from rillet.errors import ConfigError, RecordError
from rillet.formats import EventFormat, Parsed, Rejected

if TYPE_CHECKING:
    from rillet.stream import Stream

POLICIES = ("skip", "fail")
#: the columns of ``<stream>.rejected`` (stamped with the time the line was read)
REJECTED_COLUMNS = "file STRING, line BIGINT, field STRING, reason STRING, text STRING"
CHUNK = 8 << 20  # bytes read at once: lines become one Arrow batch per chunk


def policy_of(value: str | None) -> str:
    """The ``malformed`` property: ``skip`` (the default) or ``fail``."""
    policy = (value or "skip").lower()
    if policy not in POLICIES:
        raise ConfigError(
            f"property 'malformed' must be 'skip' (keep malformed lines in <stream>.rejected) "
            f"or 'fail' (stop at the first), not {value!r}",
            property="malformed",
        )
    return policy


class Feeder:
    """Lines of one file (``path``, as messages name it) into ``stream``."""

    def __init__(
        self, stream: Stream, fmt: EventFormat, path: str, policy: str, rejected: Stream | None
    ) -> None:
        self.stream = stream
        self.format = fmt
        self.path = path
        self.policy = policy
        self.rejected = rejected
        self.line = 1  # the number of the next line
        self.lines = 0  # lines read (events appended plus rejected)

    def restart(self) -> None:
        """The file was truncated or replaced: numbering starts again."""
        self.line = 1

    def feed(self, data: bytes) -> None:
        """Complete lines (the last line end optional)."""
        if not data:
            return
        count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        try:
            parsed = self.format.parse(data, self.line)
        except UnicodeDecodeError:
            parsed = self._by_line(data)
        self.deliver(parsed, data)
        self.line += count
        self.lines += count

    def _by_line(self, data: bytes) -> Parsed:
        """A chunk that is not all UTF-8: the bad lines rejected, the rest parsed."""
        good: list[bytes] = []
        rejected: list[Rejected] = []
        for n, line in enumerate(data.split(b"\n"), start=self.line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as exc:
                text = line.decode("utf-8", "replace")
                rejected.append(Rejected(n, None, f"not UTF-8 text: {exc}", text))
                line = b""  # keeps the numbering of the lines after it
            good.append(line)
        parsed = self.format.parse(b"\n".join(good), self.line)
        parsed.rejected = sorted(rejected + parsed.rejected, key=lambda r: r.line)
        return parsed

    def deliver(self, parsed: Parsed, data: bytes | None = None) -> None:
        if parsed.rejected and self.policy == "fail":
            first = parsed.rejected[0]
            if data is not None and first.line > self.line:  # the lines before it go in
                head = b"\n".join(data.split(b"\n")[: first.line - self.line])
                self._append(self.format.parse(head, self.line).table)
            where = f"line {first.line}" if first.line > 0 else "data"
            field = f", field {first.field!r}" if first.field else ""
            raise RecordError(
                f"{self.path}: {where}{field}: {first.reason} (stream {self.stream.name!r}; "
                f"the line: {first.text!r})",
                stream=self.stream.name,
                column=first.field,
                row=first.line,
                value=first.text,
                file=self.path,
                line=first.line,
                field=first.field,
            )
        self._append(parsed.table)
        if parsed.rejected and self.rejected is not None:
            self.rejected.append_many(
                {
                    "file": [self.path] * len(parsed.rejected),
                    "line": [r.line for r in parsed.rejected],
                    "field": [r.field for r in parsed.rejected],
                    "reason": [r.reason for r in parsed.rejected],
                    "text": [r.text for r in parsed.rejected],
                }
            )

    def _append(self, table: pa.Table) -> None:
        if table.num_rows:
            self.stream.append_many(table)
