"""Alarms (:mod:`rillet.clock`): a thread sleeps until a time by the injected clock, until
poked, or until closed; a clock moved by hand rings the alarms attached to it."""

from __future__ import annotations

import threading
import time

from rillet.clock import Alarm
from tests.unit.support import FakeClock, wait_until


class Sleeper:
    """A thread sleeping on an alarm over and over, until the times given, one a wake."""

    def __init__(self, alarm: Alarm, untils: list[float | None]) -> None:
        self.alarm = alarm
        self.woke: list[float] = []  # the clock's time at each wake
        self._untils = untils
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for until in self._untils:
            if not self.alarm.sleep(until):
                return
            self.woke.append(until if until is not None else -1.0)
        self.alarm.sleep(None)


def test_a_clock_moved_by_hand_wakes_its_alarm_at_the_time_asked_for() -> None:
    clock = FakeClock(100.0)
    alarm = Alarm(clock)
    sleeper = Sleeper(alarm, [110.0, 120.0])
    clock.settle()  # asleep until 110
    assert not alarm.settled(110.0) and alarm.settled(109.999)
    clock.advance(9.5)
    clock.settle()
    assert sleeper.woke == []
    clock.advance(0.5)  # 110: wakes, then sleeps until 120
    clock.settle()
    assert sleeper.woke == [110.0]
    clock.advance(30)
    clock.settle()
    assert sleeper.woke == [110.0, 120.0]
    alarm.close()
    sleeper.thread.join()


def test_a_poke_wakes_the_sleeper_once_even_if_it_came_first() -> None:
    clock = FakeClock(0.0)
    alarm = Alarm(clock)
    alarm.poke()  # before it sleeps: the next sleep returns at once
    assert alarm.sleep(None) is True
    sleeper = Sleeper(alarm, [None, None])
    clock.settle()
    assert sleeper.woke == []
    alarm.poke()
    assert wait_until(lambda: sleeper.woke == [-1.0])
    clock.settle()  # asleep again, the poke taken
    assert sleeper.woke == [-1.0]
    alarm.close()
    sleeper.thread.join()
    assert alarm.sleep(None) is False  # closed: every sleep returns False at once
    assert alarm.settled(0.0)


def test_the_wall_clock_needs_no_ringing() -> None:
    """Against the wall clock the alarm sleeps the difference: it returns once the clock
    reads the time asked for, never before."""
    alarm = Alarm(time.time)
    until = time.time() + 0.02
    assert alarm.sleep(until) is True
    assert time.time() >= until
