"""A shell session: the database it is connected to, the flows it watches, and FlumeBase's
backslash commands.

Lines go in through :meth:`Session.line`; statements (ended by ``;``) go to
``db.execute``, backslash commands (alone on a line) are run here.  A SELECT starts a flow;
with ``rillet.flow.autowatch`` (the default) the session watches it: a thread of the session
prints its rows as they come, the ``timestamp`` column first.  Output of a flow nobody watches
is dropped, as in FlumeBase.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import rillet
from rillet.errors import ConfigError, NotFoundError, RilletError
from rillet.flows.flow import refuse_stopping_named
from rillet.shell.buffer import StatementBuffer
from rillet.shell.output import Console, Rows, describe_error, table

DEFAULT_PORT = 9470

HELP = """\
All text commands must end with a ';' character.
Session control commands must be on a line by themselves.
Session control commands:
  \\c                   Cancel the current input statement.
  \\d flowId            Drop the specified flow.
  \\D flowId            Drop a flow and wait for it to stop.
  \\dname flowId        Remove the stream name from a flow (the flow goes on; the
                       stream is dropped).
  \\disconnect          Disconnect from the database.
  \\f                   List running flows.
  \\h, help;            Show this help.
  \\name flowId stream  Attach a new stream to a running flow: it gets the flow's
                       output from now on.
  \\open server [port]  Connect to a rillet server (default port 9470), or a URL.
  \\open local          Connect to the local database.
  \\q, exit;            Quit the shell.
  \\set                 Show the session settings; \\set prefix. shows those under it.
  \\set key[=value]     Show or set one setting (new flows use it).
  \\shutdown!           Stop the local database and every flow in it.
  \\u flowId            Stop watching a flow (also \\unwatch).
  \\w flowId            Watch a flow's output (also \\watch).
A flow's output is kept in a stream of its own with \\name, or from its start and across
restarts with CREATE STREAM name AS SELECT ...; (DROP STREAM name removes it)."""


class Quit(Exception):
    """Raised by ``\\q`` and ``exit;``: the shell ends."""


@dataclass
class Watcher:
    """The thread that takes a flow's output; it prints the rows while ``watched``."""

    flow: Any
    console: Console
    watched: bool = True
    stopped: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    failed: bool = False

    def start(self) -> None:
        self.thread = threading.Thread(
            target=self._run, name=f"rillet-shell-watch-{self.flow.id}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        rows = Rows()
        try:
            while not self.stopped.is_set():
                for batch in self.flow.batches(timeout=0.2):
                    if self.watched:
                        for line in rows.lines(batch):
                            self.console.print(line)
                if not self.flow.running:
                    # an ended flow's last batches are out once batches() returns
                    for batch in self.flow.batches(timeout=0):
                        if self.watched:
                            for line in rows.lines(batch):
                                self.console.print(line)
                    return
        except RilletError as exc:
            self.failed = True
            for line in describe_error(exc):
                self.console.error(line)

    def done(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the flow to end and its rows to be printed."""
        if self.thread is None:
            return True
        self.thread.join(timeout)
        return not self.thread.is_alive()


class Session:
    """One user's session.  ``local`` opens the local database (a data folder or memory)."""

    def __init__(self, console: Console, local: Callable[[], Any], token: str | None = None):
        self.console = console
        self._local_factory = local
        self._local: Any = None
        self._token = token
        self.db: Any = None
        self.target = ""
        self.buffer = StatementBuffer()
        self.watchers: dict[int, Watcher] = {}
        self.errors = 0
        self._commands: dict[str, Callable[[list[str]], None]] = {
            "\\c": self._cancel_input,
            "\\d": lambda a: self._drop(a, wait=False),
            "\\D": lambda a: self._drop(a, wait=True),
            "\\dname": self._dname,
            "\\disconnect": self._disconnect,
            "\\f": self._flows,
            "\\h": self._help,
            "\\name": self._name,
            "\\open": self._open,
            "\\q": self._quit,
            "\\set": self._set,
            "\\shutdown!": self._shutdown,
            "\\u": self._unwatch,
            "\\unwatch": self._unwatch,
            "\\w": self._watch,
            "\\watch": self._watch,
        }

    # -- input -------------------------------------------------------------------------

    @property
    def prompt(self) -> str:
        return "    -> " if self.buffer.pending else "rtsql> "

    def line(self, text: str) -> None:
        """Take one typed line; raises :class:`Quit` when the session is to end."""
        stripped = text.strip()
        if stripped.startswith("\\") and not self.buffer.pending:
            self.command(stripped)
            return
        for statement in self.buffer.feed(text):
            self.statement(statement)

    def command(self, text: str) -> None:
        """Run one backslash command (``\\f``, ``\\w 3``, ``\\set key=value``, ...)."""
        word, *args = text.split(maxsplit=1)
        run = self._commands.get(word)
        if run is None:
            self._fail(f"unknown command {word}: \\h lists the commands")
            return
        try:
            run(args[0].split() if args else [])
        except Quit:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed command never ends the session
            self._report(exc)

    def statement(self, text: str) -> None:
        """Run one statement ended by ``;``."""
        body = text.rstrip(";").strip()
        if body.lower() == "exit":
            raise Quit
        if body.lower() == "help":
            self._help([])
            return
        if self.db is None:
            self._fail("not connected: \\open local or \\open server [port]")
            return
        try:
            result = self.db.execute(body)
        except Exception as exc:  # noqa: BLE001 - shown with its class; the session goes on
            self._report(exc, body)
            return
        if hasattr(result, "batches"):
            self.console.print(f"Started flow: flow[mId={result.id}]")
            if _true(self.db.config.get("rillet.flow.autowatch", True)):
                self._watcher(result).watched = True
            return
        for line in result:  # a SHOW of nothing prints nothing
            self.console.print(line)

    # -- connection --------------------------------------------------------------------

    def open_local(self) -> None:
        self._disconnect([])
        if self._local is None:
            self._local = self._local_factory()
        self.db = self._local
        self.target = "local"

    def open_remote(self, url: str) -> None:
        self._disconnect([])
        db = rillet.connect(url, token=self._token) if self._token else rillet.connect(url)
        self.db = db
        self.target = url

    def close(self) -> None:
        """End the session: stop printing, close what the session opened."""
        self._disconnect([])
        if self._local is not None:
            self._local.close()
            self._local = None

    def drain(self, idle: float) -> None:
        """Let watched flows finish printing: each gets until it ends, or ``idle`` seconds."""
        for watcher in list(self.watchers.values()):
            if watcher.watched:
                watcher.done(idle)

    # -- commands ----------------------------------------------------------------------

    def _open(self, args: list[str]) -> None:
        if not args:
            raise ConfigError("\\open needs a server (\\open server [port]) or 'local'")
        if args == ["local"]:
            self.open_local()
            self.console.print("Connected to the local database")
            return
        host = args[0]
        if "://" in host:
            url = host
        else:
            port = args[1] if len(args) > 1 else str(DEFAULT_PORT)
            if not port.isdigit():
                raise ConfigError(f"\\open: port must be a number, got {port!r}")
            url = f"http://{host}:{port}"
        self.open_remote(url)
        self.console.print(f"Connected to {url}")

    def _disconnect(self, args: list[str]) -> None:
        for watcher in self.watchers.values():
            watcher.stopped.set()
        self.watchers.clear()
        if self.db is not None and self.db is not self._local:
            self.db.close()
        self.db = None
        self.target = ""

    def _cancel_input(self, args: list[str]) -> None:
        self.buffer.cancel()

    def _flows(self, args: list[str]) -> None:
        rows = [
            [
                "*" if self._watching(flow.id) else "",
                str(flow.id),
                flow.name or "",
                flow.query,
                flow.state,
                " ".join((flow.error or "").split()),  # one line in the table
            ]
            for flow in self._db().flows()
        ]
        for line in table(["Watch?", "FlowId", "Stream", "Query", "State", "Error"], rows):
            self.console.print(line)

    def _watch(self, args: list[str]) -> None:
        flow = self._db().flow(_flow_id(args, "\\w"))
        self._watcher(flow).watched = True
        self.console.print(f"Watching flow {flow.id}")

    def _unwatch(self, args: list[str]) -> None:
        flow_id = _flow_id(args, "\\u")
        self._db().flow(flow_id)  # NotFoundError for a flow that does not run
        watcher = self.watchers.get(flow_id)
        if watcher is not None:
            watcher.watched = False
        self.console.print(f"Unwatched flow {flow_id}")

    def _drop(self, args: list[str], wait: bool) -> None:
        command = "\\D" if wait else "\\d"
        flow = self._db().flow(_flow_id(args, command))
        refuse_stopping_named(flow, command)
        flow.cancel()
        if wait:
            flow.wait()
        watcher = self.watchers.pop(flow.id, None)
        if watcher is not None:
            watcher.stopped.set()
        self.console.print(f"Dropped flow {flow.id}")

    def _name(self, args: list[str]) -> None:
        if len(args) != 2 or not args[0].isdigit():
            raise ConfigError(
                f"\\name takes a flow id and a stream name (\\name 5 baz), got {' '.join(args)!r}"
            )
        flow_id = int(args[0])
        stream = self._db().name_flow(flow_id, args[1])
        self.console.print(f"Created stream '{stream.name}' on flow {flow_id}")

    def _dname(self, args: list[str]) -> None:
        flow_id = _flow_id(args, "\\dname")
        self._db().unname_flow(flow_id)
        self.console.print(f"Removed stream name from flow {flow_id}")

    def _set(self, args: list[str]) -> None:
        db = self._db()
        text = " ".join(args)
        if "=" in text:
            key, value = (part.strip() for part in text.split("=", 1))
            db.set(key, value)
            key = _stored_key(db.config, key)
            self._print_settings({key: db.config[key]})
            return
        config = db.config
        if not text:
            self._print_settings(config)
        elif text.endswith("."):
            prefix = "rillet." if text == "flumebase." else text
            self._print_settings({k: v for k, v in config.items() if k.startswith(prefix)})
        else:
            key = _stored_key(config, text)
            if key not in config:
                raise NotFoundError(
                    f"no setting {text!r}", kind="setting", name=text, suggestion=None
                )
            self._print_settings({key: config[key]})

    def _print_settings(self, settings: Mapping[str, Any]) -> None:
        for key in sorted(settings):
            self.console.print(f"{key} = '{_setting_text(settings[key])}'")

    def _shutdown(self, args: list[str]) -> None:
        if self.db is None:
            raise ConfigError("\\shutdown!: not connected")
        if self.db is not self._local:
            raise ConfigError(
                "\\shutdown! stops the local database only: a server is stopped with SIGTERM "
                "(rillet serve drains, seals and exits)"
            )
        self.close()
        self.console.print("Shut down the local database; \\open local starts a new one")

    def _help(self, args: list[str]) -> None:
        self.console.print(HELP)

    def _quit(self, args: list[str]) -> None:
        raise Quit

    # -- helpers -----------------------------------------------------------------------

    def _db(self) -> Any:
        if self.db is None:
            raise ConfigError("not connected: \\open local or \\open server [port]")
        return self.db

    def _watching(self, flow_id: int) -> bool:
        watcher = self.watchers.get(flow_id)
        return watcher is not None and watcher.watched

    def _watcher(self, flow: Any) -> Watcher:
        watcher = self.watchers.get(flow.id)
        if watcher is None or watcher.stopped.is_set():
            watcher = Watcher(flow, self.console)
            self.watchers[flow.id] = watcher
            watcher.start()
        return watcher

    def _report(self, exc: BaseException, statement: str | None = None) -> None:
        self.errors += 1
        for line in describe_error(exc, statement):
            self.console.error(line)

    def _fail(self, message: str) -> None:
        self.errors += 1
        self.console.error(f"error: {message}")

    def names(self) -> Iterator[tuple[str, list[str]]]:
        """Each stream's name and its columns (what completion offers)."""
        if self.db is None:
            return
        for stream in self.db.streams():
            yield stream.name, [c.name for c in stream.schema.columns]


def _flow_id(args: list[str], command: str) -> int:
    if len(args) != 1 or not args[0].isdigit():
        raise ConfigError(f"{command} takes a flow id (\\f lists them), got {' '.join(args)!r}")
    return int(args[0])


def _stored_key(config: Mapping[str, Any], key: str) -> str:
    """The key a setting is kept under (FlumeBase's ``flumebase.x`` is ``rillet.x``)."""
    if key.startswith("flumebase."):
        ours = "rillet." + key[len("flumebase.") :]
        if ours in config:
            return ours
    return key


def _setting_text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
