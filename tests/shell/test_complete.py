"""Completion at the prompt: statement words, backslash commands, and the streams and
columns of the database the shell is connected to (local here; a server answers the same
``names()``)."""

from __future__ import annotations

import io

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

import rillet
from rillet.shell.complete import ShellCompleter
from rillet.shell.output import Console
from rillet.shell.session import Session


def offered(completer: ShellCompleter, text: str) -> list[str]:
    document = Document(text, len(text))
    return [c.text for c in completer.get_completions(document, CompleteEvent())]


def test_words_commands_streams_and_columns_are_completed() -> None:
    session = Session(Console(io.StringIO(), io.StringIO()), rillet.connect)
    session.open_local()
    try:
        assert session.db is not None
        session.db.create_stream("requests", "ts TIMESTAMP, host STRING, response_ms DOUBLE")
        completer = ShellCompleter(lambda: list(session.names()), refresh=0)
        assert offered(completer, "SEL") == ["SELECT"]
        assert offered(completer, "sel") == ["select"]
        assert offered(completer, "SELECT host FROM req") == ["requests"]
        assert offered(completer, "SELECT resp") == ["response_ms"]
        assert offered(completer, "SELECT h") == ["host", "having", "hop", "hours"]  # as typed
        assert offered(completer, "\\sh") == ["\\shutdown!"]
        assert set(offered(completer, "\\d")) == {"\\d", "\\dname", "\\disconnect"}
        assert offered(completer, "SELECT ") == []
        session.db.drop_stream("requests")
        assert offered(completer, "SELECT host FROM req") == []
    finally:
        session.close()
