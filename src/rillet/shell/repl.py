"""The interactive prompt (prompt-toolkit: line editing, history, completion, SQL colours)
and the non-interactive run of a script or of stdin."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.lexers import PygmentsLexer
from prompt_toolkit.patch_stdout import patch_stdout
from pygments.lexers.sql import SqlLexer

from rillet.shell.complete import ShellCompleter
from rillet.shell.session import Quit, Session


def history_path() -> Path:
    """Where typed lines are kept: ``$RILLET_HISTORY``, else ``~/.rillet_history``."""
    return Path(os.environ.get("RILLET_HISTORY") or Path.home() / ".rillet_history")


def interactive(session: Session) -> None:
    """Read lines at the ``rtsql>`` prompt until ``\\q``, ``exit;`` or end of input."""
    prompt: PromptSession[str] = PromptSession(
        history=FileHistory(str(history_path())),
        completer=ShellCompleter(lambda: list(session.names())),
        lexer=PygmentsLexer(SqlLexer),
        complete_while_typing=False,
    )
    # watched flows print from their own threads: above the prompt, not through it
    with patch_stdout(raw=True):
        while True:
            try:
                text = prompt.prompt(session.prompt)
            except KeyboardInterrupt:
                session.buffer.cancel()
                continue
            except EOFError:
                return
            try:
                session.line(text)
            except Quit:
                return


def script(session: Session, lines: Iterable[str], idle: float) -> None:
    """Run the lines of a script (``-f`` or stdin) as typed, then let each watched flow
    print until it ends, for at most ``idle`` seconds (a flow over a live stream never ends)."""
    try:
        for text in lines:
            session.line(text.rstrip("\n"))
        if session.buffer.pending:
            session.console.error("error: the input ended inside a statement (no ';')")
            session.errors += 1
    except Quit:
        pass
    session.drain(idle)
