"""Judging a stream's triggers: on the windows event time closed, after each live batch, and
on those idleness closed, on a thread that sleeps by the database's clock.

A window closes when event time passes its end, or when the stream has been idle (no batch
ingested) for a whole period of that trigger: then the windows up to the clock's time, at
most a period past event time, are closed (when to wake: :mod:`rillet.monitors.idle`).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager

from rillet.clock import Alarm
from rillet.monitors.aggregate import AggregateMonitor
from rillet.monitors.alerts import Alert
from rillet.monitors.trigger import Trigger
from rillet.storage.catalog import Catalog
from rillet.subscription import Subscription

log = logging.getLogger("rillet")


def judge_triggers(
    triggers: Mapping[str, Trigger],
    aggregates: Mapping[str, AggregateMonitor],
    idle: tuple[float, float] | None,
    stream: str,
    catalog: Catalog,
) -> list[Alert]:
    """The alerts of the windows that closed: event time (each trigger's ``watermark``, what
    it observed) passed their end or, when ``idle`` is given as (clock now, last ingest),
    the stream has been idle for a whole period of that trigger.  Each trigger's
    ``checked_through`` goes to the catalog when alerts fired (a restart must not raise them
    again), else at most once a second."""
    fired: list[tuple[dt.datetime, Alert]] = []  # by the end of its window
    idle_us = (idle[0] - idle[1]) * 1e6 if idle is not None else -1.0
    for trigger in triggers.values():
        closed = trigger.watermark
        if idle is not None:  # the idle thread's check: only idleness closes more windows
            if idle_us < trigger.period_us:
                continue
            closed = max(closed, min(int(idle[0] * 1e6), closed + trigger.period_us))
        try:
            windows = trigger.due(aggregates, closed)
            if not windows:
                continue
            alerts = trigger.evaluate(aggregates, windows, stream)
        except Exception as exc:  # a trigger must never fail ingestion
            trigger.errors += 1
            log.warning("trigger %r on stream %r failed: %s", trigger.name, stream, exc)
            continue
        period = dt.timedelta(microseconds=trigger.period_us)
        fired.extend((alert.time + period, alert) for alert in alerts)
        # re-judging a quiet window after a crash raises nothing new
        if not alerts and time.monotonic() - trigger.saved_at < 1.0:
            continue
        trigger.saved_at = time.monotonic()
        try:
            catalog.set_monitor_state(
                stream, "trigger", trigger.name, {"checked_through": trigger.checked_through}
            )
        except Exception as exc:  # e.g. a full disk: the appender's records are stored
            log.error("trigger %r: state not saved: %s", trigger.name, exc)
    # in the order their windows closed, whichever trigger (several batches may be judged
    # at once: the monitors take the batches queued behind one another together)
    fired.sort(key=lambda pair: pair[0])
    return [alert for _, alert in fired]


class IdleJudge:
    """The thread that judges the triggers of an idle stream, started with the first one.

    It sleeps until ``judge(now)`` said to wake by the clock (``until``), or, when that was
    None, until :meth:`wake` says records came; ``judge`` and ``until`` are used under
    ``lock`` (the monitors' lock), ``publish`` after it is released.
    """

    def __init__(
        self,
        stream: str,
        clock: Callable[[], float],
        lock: AbstractContextManager[object],
        pending: Callable[[], Subscription | None],
        judge: Callable[[float], float | None],
        publish: Callable[[], None],
    ) -> None:
        self.stream = stream
        self.clock = clock
        self.until: float | None = None  # when it next wakes by the clock, under lock
        self._lock = lock
        self._pending = pending
        self._judge = judge
        self._publish = publish
        self._alarm: Alarm | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Alarm:
        """Start the thread (once); the alarm it sleeps on."""
        if self._alarm is not None:
            return self._alarm
        self._alarm = alarm = Alarm(self.clock)
        alarm.poke()  # a first look: a stream opened idle closes its windows, too
        self._thread = threading.Thread(
            target=self._run, args=(alarm,), name=f"rillet-idle-{self.stream}", daemon=True
        )
        self._thread.start()
        return alarm

    def wake(self) -> None:
        """Records came: wake the thread if it waits for them (the caller holds ``lock``)."""
        if self.until is None and self._alarm is not None:
            self._alarm.poke()

    def _run(self, alarm: Alarm) -> None:
        until: float | None = None
        while alarm.sleep(until):
            try:
                subscription = self._pending()
                if subscription is not None and subscription.lag:
                    subscription.wait()  # not idle: the records handed over are judged first
                with self._lock:
                    until = self.until = self._judge(self.clock())
                self._publish()
            except Exception:  # keep judging; the next records wake it again
                log.exception("idle triggers of stream %r failed", self.stream)
                with self._lock:
                    until = self.until = None

    def close(self) -> None:
        """Stop the thread."""
        if self._alarm is not None:
            self._alarm.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()
