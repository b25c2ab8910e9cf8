"""Completion at the prompt: statement words, backslash commands, streams and their columns."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

#: rtsql's statement words (what the parser knows), offered in upper case
WORDS = sorted(
    """SELECT FROM WHERE GROUP BY HAVING OVER WINDOW AS JOIN ON RANGE BETWEEN INTERVAL
    PRECEDING FOLLOWING AND OR NOT NULL IS TRUE FALSE CREATE STREAM DROP FLOW SHOW STREAMS
    FLOWS FUNCTIONS DESCRIBE EXPLAIN LOCAL FILE SOURCE NODE EVENT FORMAT PROPERTIES WITH
    TUMBLE HOP SESSION REFRESH SINCE SECONDS MINUTES HOURS DAYS WEEKS MONTHS YEARS
    INT BIGINT FLOAT DOUBLE STRING BOOLEAN TIMESTAMP PRECISE LIST COUNT SUM MIN MAX AVG""".split()
)
COMMANDS = sorted(
    r"\c \d \D \dname \disconnect \f \h \name \open \q \set \shutdown! \u \unwatch \w"
    r" \watch".split()
)


class ShellCompleter(Completer):
    """Offers what fits the word under the cursor; the names of streams and columns are
    asked of the database at most every ``refresh`` seconds (a server is not asked on every
    key)."""

    def __init__(
        self, names: Callable[[], Iterable[tuple[str, list[str]]]], refresh: float = 2.0
    ) -> None:
        self._names = names
        self._refresh = refresh
        self._cached: list[str] = []
        self._at = float("-inf")

    def _known(self) -> list[str]:
        now = time.monotonic()
        if now - self._at >= self._refresh:
            found: set[str] = set()
            try:
                for stream, columns in self._names():
                    found.add(stream)
                    found.update(columns)
            except Exception:  # noqa: BLE001 - a server gone away just completes less
                found = set(self._cached)
            self._cached = sorted(found)
            self._at = now
        return self._cached

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterator[Completion]:
        word = document.get_word_before_cursor(WORD=True)
        if document.text_before_cursor.lstrip().startswith("\\") and " " not in (
            document.text_before_cursor.strip()
        ):
            for command in COMMANDS:
                if command.startswith(word):
                    yield Completion(command, -len(word))
            return
        if not word:
            return
        lower = word.lower()
        for name in self._known():
            if name.lower().startswith(lower):
                yield Completion(name, -len(word))
        for keyword in WORDS:
            if keyword.lower().startswith(lower):
                yield Completion(keyword if word[0].isupper() else keyword.lower(), -len(word))
