"""A flow on a server: its output read from the flow's event stream, reconnecting with
``Last-Event-ID`` when the connection drops, so no row is lost or repeated."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from rillet.client.http import Connection, events
from rillet.errors import FlowError, NotFoundError, RilletError, UnsupportedError
from rillet.flows.flow import FlowRecord

#: what an embedded flow has that a remote one does not: the engine's side of it
FLOW_ONLY_EMBEDDED = frozenset(
    {"cancelled", "emit", "fail", "finish", "graph", "on_read", "read_offsets", "since_us",
     "sorted_through", "start", "start_offsets", "types"}
)  # fmt: skip


class RemoteFlow:
    """What ``execute("SELECT ...")`` returns remotely: iterate it for its records, or
    ``batches()`` for Arrow batches; ``cancel()``, ``wait()``."""

    def __init__(self, connection: Connection, info: dict[str, Any]) -> None:
        self._connection = connection
        self.id: int = info["id"]
        self.query: str = info.get("query", "")
        self.columns: list[str] = [c for c in info["columns"] if c != "timestamp"]
        self.name: str | None = info.get("name")
        self.attached: bool = bool(info.get("attached", False))
        self.stream: str | None = info.get("stream")
        self.streams: list[str] = info.get("streams", [])
        self._index = {name: i for i, name in enumerate(self.columns)}
        self._out = threading.Condition()
        self._batches: deque[pa.RecordBatch] = deque()
        self._done = False
        self._failure: RilletError | None = None
        self._produced = 0
        self._reader: threading.Thread | None = None

    # -- state -------------------------------------------------------------------------

    def _info(self) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._connection.json("GET", f"/v1/flows/{self.id}")
            return found
        except NotFoundError:
            return None

    @property
    def running(self) -> bool:
        info = self._info()
        return info is not None and bool(info["running"])

    @property
    def state(self) -> str:
        """Where the flow is: "running", "failed" (a named flow: ``error`` tells why), or
        "ended" once the server lists it no more (cancelled or its input ended)."""
        info = self._info()
        return str(info.get("state", "running")) if info is not None else "ended"

    @property
    def error(self) -> str | None:
        """What made the flow fail, as text; None while it has not failed."""
        info = self._info()
        return info.get("error") if info is not None else None

    def _number(self, key: str) -> float:
        """A number the server lists of the flow (0 once it lists the flow no more)."""
        info = self._info()
        return float(info[key]) if info else 0.0

    @property
    def lag(self) -> int:
        """Batches its input streams have ingested that the flow has not read yet."""
        return int(self._number("lag"))

    @property
    def records_out(self) -> int:
        """Output rows the flow has made since the server started it."""
        return int(self._number("records_out"))

    @property
    def rate(self) -> float:
        """Output rows a second since the server started the flow."""
        return self._number("rate")

    @property
    def late_events(self) -> int:
        return int(self._number("late_events"))

    @property
    def dropped_events(self) -> int:
        return int(self._number("dropped_events"))

    def cancel(self, drain: bool = False) -> None:
        try:
            self._connection.call("DELETE", f"/v1/flows/{self.id}")
        except NotFoundError:
            pass  # it has ended already

    def wait(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        # a failed named flow stays listed (with its error): ended, though still there
        while (info := self._info()) is not None and info["running"]:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    # -- output ------------------------------------------------------------------------

    def _start(self) -> None:
        if self._reader is None:
            self._reader = threading.Thread(
                target=self._read, name=f"rillet-remote-flow-{self.id}", daemon=True
            )
            self._reader.start()

    def _read(self) -> None:
        # from the flow's first kept event ("0"): rows may have come before we asked
        for kind, data in events(self._connection, f"/v1/flows/{self.id}/events", last="0"):
            if kind == "rows":
                self._take(data)
            elif kind == "error":
                return self._finish(FlowError(data["message"], flow=self.id))
        self._finish(None)

    def _take(self, data: dict[str, Any]) -> None:
        names, rows = data["columns"], data["rows"]
        columns = {name: [row[i] for row in rows] for i, name in enumerate(names)}
        columns["timestamp"] = [_time(v) for v in columns["timestamp"]]
        batch = pa.RecordBatch.from_pydict(
            {**{n: columns[n] for n in self.columns}, "timestamp": columns["timestamp"]}
        )
        with self._out:
            self._batches.append(batch)
            self._out.notify_all()

    def _finish(self, failure: RilletError | None) -> None:
        with self._out:
            self._done = True
            self._failure = failure
            self._out.notify_all()

    def batches(self, timeout: float | None = None) -> Iterator[pa.RecordBatch]:
        """The output as Arrow batches (the output columns, then ``timestamp``); ends when
        the flow ends, or after ``timeout`` seconds without output."""
        self._start()
        while True:
            with self._out:
                if not self._out.wait_for(lambda: self._batches or self._done, timeout):
                    return
                if not self._batches:
                    if self._failure is not None:
                        raise self._failure
                    return
                batch = self._batches.popleft()
            yield batch

    def __iter__(self) -> Iterator[FlowRecord]:
        for batch in self.batches():
            columns = [batch.column(i).to_pylist() for i in range(len(self.columns))]
            times = batch.column("timestamp").to_pylist()
            for values, stamp in zip(zip(*columns, strict=True), times, strict=True):
                yield FlowRecord(self._index, values, self._produced, stamp)
                self._produced += 1

    def __getattr__(self, name: str) -> Any:
        if name in FLOW_ONLY_EMBEDDED:
            raise UnsupportedError(
                f"Flow.{name} is the embedded engine's and does not work on a remote database "
                "(the server keeps it); see the README's list of what does not work remotely",
                method=name,
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __repr__(self) -> str:
        return f"RemoteFlow(id={self.id}, query={self.query!r})"


def _time(value: Any) -> Any:
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    return value
