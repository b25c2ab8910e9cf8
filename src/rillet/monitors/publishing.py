"""Where the alerts of a stream's triggers go: stored in ``<stream>.alerts``, then handed to
callbacks and webhooks (:class:`rillet.monitors.alerts.Delivery`), in the order judged.

Triggers are judged under the monitors' lock; their alerts wait in an outbox and are stored
after that lock is released, so a slow store holds up no query nor definition
(docs/threads.md).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, SupportsFloat, SupportsIndex

from rillet.errors import ConflictError, NotFoundError, not_found
from rillet.monitors.alerts import Alert, Delivery, Webhook

if TYPE_CHECKING:
    from rillet.stream import Stream

log = logging.getLogger("rillet")


class Publisher:
    """The outbox of one stream's alerts, and the callbacks and webhooks they go to."""

    def __init__(self, stream: str, alerts: Callable[[], Stream]) -> None:
        self.stream = stream
        self.alerts_stream = alerts
        self.delivery = Delivery()
        # alerts judged under MonitorSet._lock, in order, stored and delivered after it is
        # released by whichever thread holds _publishing (one at a time, so the order is kept)
        self._outbox: deque[list[Alert]] = deque()
        self._publishing = threading.Lock()

    def put(self, fired: list[Alert]) -> None:
        """Keep alerts just judged (the caller holds the monitors' lock)."""
        if fired:
            self._outbox.append(fired)

    def publish(self) -> None:
        """Store the alerts judged so far in ``<stream>.alerts`` and hand them to delivery,
        in the order judged; called holding no lock of the monitors (the alerts stream's
        locks come after them)."""
        with self._publishing:
            while self._outbox:
                fired = self._outbox.popleft()
                try:
                    self.alerts_stream().append_many(
                        {
                            "time": [a.time for a in fired],
                            "trigger": [a.trigger for a in fired],
                            "condition": [a.condition for a in fired],
                            "aggregate": [a.aggregate for a in fired],
                            "value": [_as_float(a.value) for a in fired],
                        }
                    )
                except Exception as exc:  # the alerts still reach callbacks and webhooks
                    log.error("alerts of stream %r not stored: %s", self.stream, exc)
                self.delivery.send(fired)

    def add_webhook(self, hook: Webhook) -> None:
        """Send alerts to ``hook`` too; refused if it is there already."""
        if hook in self.delivery.webhooks:
            raise ConflictError(
                f"webhook {hook.url!r} ({_for_trigger(hook.trigger)}) already exists on "
                f"stream {self.stream!r}",
                kind="webhook",
                name=webhook_name(hook),
            )
        self.delivery.webhooks.append(hook)

    def check_webhook(self, hook: Webhook) -> None:
        """Raise NotFoundError unless alerts go to ``hook``."""
        webhooks = self.delivery.webhooks
        if hook in webhooks:
            return
        same_url = [h for h in webhooks if h.url == hook.url]
        if same_url:
            have = ", ".join(_for_trigger(h.trigger) for h in same_url)
            raise NotFoundError(
                f"unknown webhook {hook.url!r} for {_for_trigger(hook.trigger)} on stream "
                f"{self.stream!r}; it has one for {have}",
                kind="webhook", name=hook.url, suggestion=None,
            )  # fmt: skip
        raise not_found("webhook", hook.url, [h.url for h in webhooks])

    def close(self) -> None:
        """Deliver what alerts remain, then stop the delivery thread."""
        self.delivery.close()


def webhook_name(hook: Webhook) -> str:
    """A webhook's name in the catalog."""
    return f"{hook.url} {hook.trigger or '*'}"


def _for_trigger(trigger: str | None) -> str:
    return f"trigger {trigger!r}" if trigger is not None else "all triggers"


def _as_float(value: object) -> float | None:
    """An alert's value as the alerts stream's DOUBLE column keeps it (None if no number)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | bytes | SupportsFloat | SupportsIndex):
        try:
            return float(value)  # numbers, Decimal, numpy scalars, numeric text
        except (TypeError, ValueError):
            return None
    return None
