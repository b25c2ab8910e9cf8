"""The one clock, and sleeping by it.

A database has one clock (``rillet.connect(clock=...)``, ``time.time`` by default): a callable
giving epoch seconds.  It says when a batch was ingested (``Stream._last_ingest``) and so how
long a stream has been idle, which is what closes the windows of a quiet stream's triggers;
everything else about time is event time, read from the records (docs/threads.md).

An :class:`Alarm` lets one thread sleep until a time by that clock, or until another thread
pokes it.  Against the wall clock it sleeps the difference.  A clock moved by hand (a test's)
wakes the alarms itself: if it has an ``attach`` method, each alarm made on it is attached,
and the clock calls the alarm's :meth:`Alarm.ring` whenever it moves; :meth:`Alarm.settled`
then tells it when the alarm's thread has done what the new time asked of it.

Examples:
    >>> import threading
    >>> alarm = Alarm(time.time)
    >>> alarm.sleep(time.time() - 1)  # a time already passed: at once
    True
    >>> alarm.poke()
    >>> alarm.sleep(None)  # poked before: at once
    True
    >>> alarm.close()
    >>> alarm.sleep(None)
    False
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: epoch seconds, like ``time.time``
Clock = Callable[[], float]


class Alarm:
    """Puts one thread to sleep until a time by a clock, until poked, or until closed."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._poked = False
        self._closed = False
        self._asleep = False
        self._until: float | None = None
        attach = getattr(clock, "attach", None)
        if callable(attach):
            attach(self)

    def sleep(self, until: float | None) -> bool:
        """Return once the clock reads ``until`` or later (None: never), or once poked since
        the last return; False when the alarm was closed (the thread should end)."""
        with self._changed:
            while not (self._poked or self._closed):
                now = self._clock()
                if until is not None and now >= until:
                    break
                self._asleep, self._until = True, until
                try:
                    # a clock moved by hand rings: the wait is only the wall clock's guess
                    self._changed.wait(None if until is None else until - now)
                finally:
                    self._asleep = False
            self._poked = False
            return not self._closed

    def poke(self) -> None:
        """Wake the thread now (or at once when it next sleeps)."""
        with self._changed:
            self._poked = True
            self._changed.notify_all()

    def ring(self) -> None:
        """The clock moved other than by itself: read it again."""
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        """Wake the thread for good: :meth:`sleep` returns False from now on."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def settled(self, now: float) -> bool:
        """Whether nothing is due at ``now``: closed, or the thread asleep, not poked, until
        a later time (or none)."""
        with self._changed:
            if self._closed:
                return True
            waiting = self._asleep and not self._poked
            return waiting and (self._until is None or self._until > now)
