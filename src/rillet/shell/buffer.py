"""The statement buffer: lines in, complete statements out.

A statement ends at a ``;`` outside quotes (``'...'`` with ``''`` or Java escapes, ``"..."``)
and comments (``-- ...`` to the end of the line, ``/* ... */``), and may span lines.  A line
that ends with ``\\c`` cancels the statement being typed.  Backslash commands are read by the
session, not here: they stand alone on a line, outside a statement.
"""

from __future__ import annotations


class StatementBuffer:
    """Collects typed lines until they hold whole statements.

    Examples:
        >>> b = StatementBuffer()
        >>> b.feed("SELECT 'a;b'")
        []
        >>> b.pending
        True
        >>> b.feed("FROM s; SHOW STREAMS;")
        ["SELECT 'a;b'\\nFROM s;", 'SHOW STREAMS;']
        >>> b.feed("SELECT x -- not here; \\\\c")
        []
        >>> b.pending
        False
    """

    def __init__(self) -> None:
        self._text = ""

    @property
    def pending(self) -> bool:
        """Whether part of a statement has been typed (the prompt shows ``->``)."""
        return bool(self._text.strip())

    def cancel(self) -> None:
        """Forget the statement being typed."""
        self._text = ""

    def feed(self, line: str) -> list[str]:
        """Add a line; the statements it completes, each with its ``;``."""
        if line.rstrip().endswith("\\c"):
            self._text = ""
            return []
        self._text = f"{self._text}\n{line}" if self._text else line
        statements, self._text = split(self._text)
        return statements


def split(text: str) -> tuple[list[str], str]:
    """``text`` cut into its complete statements and the unfinished rest.

    Examples:
        >>> split("SHOW STREAMS; DESCRIBE s")
        (['SHOW STREAMS;'], 'DESCRIBE s')
        >>> split("SELECT '\\\\';' FROM s; /* ; */")
        (["SELECT '\\\\';' FROM s;"], '/* ; */')
    """
    statements: list[str] = []
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in "'\"":
            i = _after_quoted(text, i)
            continue
        if text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        if c == ";":
            statement = text[start : i + 1].strip()
            if statement != ";":
                statements.append(statement)
            start = i + 1
        i += 1
    return statements, text[start:].strip()


def _after_quoted(text: str, i: int) -> int:
    """The index after the quoted text that starts at ``i`` (the end if it is unclosed)."""
    quote = text[i]
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and quote == "'":
            i += 2  # a Java escape: \' does not close the literal
            continue
        if c == quote:
            if text.startswith(quote * 2, i):
                i += 2  # doubled quote inside the literal
                continue
            return i + 1
        i += 1
    return i
