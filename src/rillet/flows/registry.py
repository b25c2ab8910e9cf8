"""The flows of one database: their numbers, the running ones, and the session settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from rillet.errors import NotFoundError
from rillet.flows import config as settings
from rillet.flows.flow import Flow


class FlowRegistry:
    """Numbers flows from 1, lists the running ones, and keeps the ``rillet.*`` settings
    (a change affects the flows submitted after it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next = 1
        self._running: dict[int, Flow] = {}
        self._config: dict[str, Any] = settings.defaults()

    def start(self, make: Callable[[int], Flow], run: bool = True) -> Flow:
        """Make the next flow with its number, list it, and start it (``run``: a named
        flow that cannot start is listed, failed, without running)."""
        with self._lock:
            number = self._next
            self._next += 1
        flow = make(number)
        with self._lock:
            self._running[number] = flow
        if run:
            try:
                flow.start()
            except BaseException:  # half subscribed: what it subscribed to lets it go
                flow.cancel()
                self.ended(flow)
                raise
        return flow

    def ended(self, flow: Flow) -> None:
        """Take ``flow`` off the list."""
        with self._lock:
            self._running.pop(flow.id, None)

    def running(self) -> list[Flow]:
        """The flows listed, by number: those running and the named flows that failed."""
        with self._lock:
            return [self._running[k] for k in sorted(self._running)]

    def get(self, flow_id: int) -> Flow:
        with self._lock:
            flow = self._running.get(flow_id)
            numbers = sorted(self._running)
        if flow is None:
            running = ", ".join(map(str, numbers)) or "none"
            raise NotFoundError(
                f"no running flow {flow_id} (running: {running})",
                kind="flow",
                name=str(flow_id),
                suggestion=None,
            )
        return flow

    def set(self, key: str, value: Any) -> None:
        key = settings.canonical(key)
        checked = settings.validate(key, value)
        with self._lock:
            self._config[key] = checked

    @property
    def config(self) -> Mapping[str, Any]:
        with self._lock:
            return MappingProxyType(dict(self._config))

    def cancel_all(self) -> None:
        for flow in self.running():
            flow.cancel()

    def cancel_reading(self, stream: str) -> None:
        """Cancel the flows that read ``stream`` (it is being dropped), once the records
        appended before the drop went through them."""
        for flow in self.running():
            if stream in flow.streams:
                flow.cancel(drain=True)
