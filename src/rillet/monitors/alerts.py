"""Alerts: the firings of triggers, and their delivery to callbacks and webhooks.

Delivery runs on a thread of its own, so a slow callback or an unreachable webhook never
holds up ingestion; webhooks are retried with exponential backoff.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("rillet")
ALERTS_SCHEMA = (
    "time TIMESTAMP, trigger STRING NOT NULL, condition STRING NOT NULL, aggregate STRING, "
    "value DOUBLE"
)


@dataclass(frozen=True, slots=True)
class Alert:
    """One firing of a trigger: for the window starting at ``time``, ``condition`` held;
    ``value`` is the value of the (first) aggregate the condition names."""

    trigger: str
    time: dt.datetime
    value: Any
    condition: str
    aggregate: str
    stream: str = ""

    def to_dict(self) -> dict[str, Any]:
        value = (
            self.value
            if isinstance(self.value, int | float | str | bool | None)
            else str(self.value)
        )
        return {
            "stream": self.stream,
            "trigger": self.trigger,
            "time": self.time.isoformat(),
            "value": value,
            "condition": self.condition,
            "aggregate": self.aggregate,
        }


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    trigger: str | None


class Delivery:
    """Hands alerts to callbacks and webhooks on a background thread."""

    def __init__(self, attempts: int = 5, first_backoff: float = 0.1) -> None:
        self.callbacks: list[Callable[[Alert], None]] = []
        self.webhooks: list[Webhook] = []
        self.attempts = attempts
        self.first_backoff = first_backoff
        self._queue: queue.Queue[Alert | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def send(self, alerts: list[Alert]) -> None:
        if not (self.callbacks or self.webhooks) or not alerts:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="rillet-alerts", daemon=True)
                self._thread.start()
        for alert in alerts:
            self._queue.put(alert)

    def _run(self) -> None:
        while (alert := self._queue.get()) is not None:
            for callback in list(self.callbacks):
                try:
                    callback(alert)
                except Exception:
                    log.exception("alert callback %r failed", callback)
            for hook in list(self.webhooks):
                if hook.trigger is None or hook.trigger == alert.trigger:
                    self._post(hook.url, alert)

    def _post(self, url: str, alert: Alert) -> None:
        body = json.dumps(alert.to_dict()).encode()
        delay = self.first_backoff
        for attempt in range(1, self.attempts + 1):
            request = urllib.request.Request(
                url, data=body, method="POST", headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status < 300:
                        return
            except (urllib.error.URLError, OSError, ValueError) as exc:
                log.warning("webhook %s attempt %d failed: %s", url, attempt, exc)
            if attempt < self.attempts:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        log.error(
            "webhook %s gave up on alert %s after %d attempts", url, alert.trigger, self.attempts
        )

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=10)
