"""Alert delivery: on_alert callbacks and webhooks, on a delivery thread of their own.

Webhooks are POSTed as JSON to a local http.server on 127.0.0.1 (a random free port, served
from a thread); a failing endpoint is retried with backoff, and a blocked or unreachable one
never holds up appends.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable
from typing import Any

import pytest

import rillet
from rillet import errors
from tests.unit.support import DAY, Endpoint, hold_up_appends, wait_until, within

SCHEMA = "ts TIMESTAMP, host STRING, v DOUBLE"
D = dt.timedelta


@pytest.fixture
def db(mem: rillet.Database) -> rillet.Database:
    """Here ``db`` is conftest's in-memory database."""
    return mem


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def stream(db: rillet.Database) -> rillet.Stream:
    s = db.create_stream("m", SCHEMA, time_column="ts")
    s.add_aggregate("mx", None, "MAX(v)")
    s.add_aggregate("mn", None, "MIN(v)")
    s.install_trigger("hot", "mx > 10", period="10s")
    s.install_trigger("cold", "mn < 0", period="10s")
    return s


def fire(s: rillet.Stream, window: int, value: float) -> None:
    """Records that make window ``window`` (of 10 s) fire 'hot' (value > 10) or 'cold'
    (value < 0), then close it."""
    s.append_many(
        [
            (DAY + D(seconds=10 * window + 1), "a", value),
            (DAY + D(seconds=10 * window + 10), "a", 5.0),
        ]
    )


def alert(window: int, value: float, trigger: str = "hot") -> rillet.Alert:
    condition, aggregate = ("mx > 10", "mx") if trigger == "hot" else ("mn < 0", "mn")
    return rillet.Alert(trigger, DAY + D(seconds=10 * window), value, condition, aggregate, "m")


def body(window: int, value: float, trigger: str = "hot") -> dict[str, Any]:
    condition, aggregate = ("mx > 10", "mx") if trigger == "hot" else ("mn < 0", "mn")
    return {
        "stream": "m",
        "trigger": trigger,
        "time": (DAY + D(seconds=10 * window)).isoformat(),
        "value": value,
        "condition": condition,
        "aggregate": aggregate,
    }


def test_callbacks_receive_alerts_on_the_delivery_thread(db: rillet.Database) -> None:
    s = stream(db)
    got: list[tuple[rillet.Alert, str]] = []
    also: list[rillet.Alert] = []

    def broken(alert: rillet.Alert) -> None:
        raise RuntimeError("a callback that fails does not stop the others")

    s.on_alert(broken)
    s.on_alert(lambda a: got.append((a, threading.current_thread().name)))
    s.on_alert(also.append)
    fire(s, 0, 20.0)
    fire(s, 2, -3.0)
    fire(s, 4, 11.0)
    want = [alert(0, 20.0), alert(2, -3.0, "cold"), alert(4, 11.0)]
    assert wait_until(lambda: len(also) == 3)
    assert also == want
    assert [a for a, _ in got] == want
    assert all(isinstance(a, rillet.Alert) for a in also)
    assert {name for _, name in got} == {"rillet-alerts"}
    assert threading.current_thread().name != "rillet-alerts"
    assert s.get_alerts() == want


def test_webhooks_receive_json(db: rillet.Database, endpoints: Callable[..., Endpoint]) -> None:
    s = stream(db)
    every, cold = endpoints(), endpoints()
    s.add_webhook(every.url)
    s.add_webhook(cold.url, trigger="cold")
    fire(s, 0, 20.0)
    fire(s, 1, -1.5)
    fire(s, 2, 3.0)  # fires nothing
    fire(s, 3, 12.25)
    assert wait_until(lambda: len(every.received()) == 3 and len(cold.received()) == 1)
    assert every.received() == [body(0, 20.0), body(1, -1.5, "cold"), body(3, 12.25)]
    assert cold.received() == [body(1, -1.5, "cold")]
    db.close()  # waits for the delivery thread: nothing more arrives
    assert every.attempts == 3 and cold.attempts == 1


def test_failing_webhook_is_retried_until_it_accepts(
    db: rillet.Database, endpoints: Callable[..., Endpoint]
) -> None:
    s = stream(db)
    flaky = endpoints(fail_first=2)
    s.add_webhook(flaky.url)
    fire(s, 0, 20.0)
    assert wait_until(lambda: len(flaky.received()) == 1)
    assert flaky.received() == [body(0, 20.0)]
    assert flaky.attempts == 3  # two answered 500, the third was accepted
    fire(s, 1, 30.0)
    assert wait_until(lambda: len(flaky.received()) == 2)
    assert flaky.attempts == 4


def test_blocked_webhook_does_not_block_appends(
    db: rillet.Database, endpoints: Callable[..., Endpoint]
) -> None:
    gate = threading.Event()
    blocked = endpoints(gate=gate)
    s = stream(db)
    s.add_webhook(blocked.url)
    try:
        fire(s, 0, 20.0)
        assert blocked.entered.wait(timeout=10)  # the delivery thread waits on the endpoint
        # while it waits: single appends, batches, and more alerts all go through
        for i in range(2000):
            s.append((DAY + D(seconds=10, microseconds=i), "b", 1.0))
        s.flush()
        fire(s, 2, 50.0)
        fire(s, 3, -7.0)
        assert len(s) == 2 + 2000 + 4
        assert s.get_alerts() == [alert(0, 20.0), alert(2, 50.0), alert(3, -7.0, "cold")]
        assert not gate.is_set() and blocked.received() == []
    finally:
        gate.set()
    assert wait_until(lambda: len(blocked.received()) == 3)
    assert blocked.received() == [body(0, 20.0), body(2, 50.0), body(3, -7.0, "cold")]


def test_unreachable_webhook_does_not_stop_ingestion_or_other_deliveries(
    db: rillet.Database, endpoints: Callable[..., Endpoint]
) -> None:
    s = stream(db)
    good = endpoints()
    got: list[rillet.Alert] = []
    s.on_alert(got.append)
    s.add_webhook(f"http://127.0.0.1:{free_port()}/nobody")
    s.add_webhook(good.url)
    fire(s, 0, 20.0)
    offsets = [s.append((DAY + D(seconds=12 + i), "a", 1.0)) for i in range(100)]
    assert offsets == list(range(2, 102))
    assert s.get_alerts() == [alert(0, 20.0)]
    # the unreachable one is tried with backoff, then given up; the next one still gets it
    assert wait_until(lambda: len(good.received()) == 1)
    assert got == [alert(0, 20.0)]
    assert good.received() == [body(0, 20.0)]


def test_removed_webhook_receives_nothing_more(
    db: rillet.Database, endpoints: Callable[..., Endpoint]
) -> None:
    s = stream(db)
    hook = endpoints()
    s.add_webhook(hook.url, trigger="hot")
    fire(s, 0, 20.0)
    assert wait_until(lambda: len(hook.received()) == 1)
    with pytest.raises(errors.NotFoundError, match="unknown webhook"):
        s.remove_webhook(hook.url)  # it was added for trigger 'hot' only
    s.remove_webhook(hook.url, trigger="hot")
    fire(s, 1, 30.0)
    db.close()  # the delivery thread has handed out everything
    assert hook.received() == [body(0, 20.0)]
    assert hook.attempts == 1


def test_a_failing_alert_store_neither_fails_ingestion_nor_loses_the_callback(
    db: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The appender's records are stored before triggers run: if the catalog or the alerts
    stream then fails (a full disk, say), the append still succeeds and callbacks still hear."""
    s = stream(db)
    got: list[rillet.Alert] = []
    s.on_alert(got.append)

    def full_disk(*args: object, **kwargs: object) -> None:
        raise errors.StorageError("no space left on device")

    monkeypatch.setattr(s.monitors._catalog, "set_monitor_state", full_disk)
    monkeypatch.setattr(rillet.Stream, "append_many", _failing_for("m.alerts"))
    fire(s, 0, 20.0)  # must not raise
    assert len(s) == 2
    assert wait_until(lambda: got == [alert(0, 20.0)])


def _failing_for(name: str) -> Callable[..., int]:
    """Stream.append_many, but failing for the stream called ``name``."""
    original = rillet.Stream.append_many

    def append_many(self: rillet.Stream, data: Any) -> int:
        if self.name == name:
            raise errors.StorageError("no space left on device")
        return original(self, data)

    return append_many


def test_alerts_are_stored_outside_the_monitors_lock(
    db: rillet.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the monitors' thread stores a batch's alerts in ``m.alerts`` (held up here), it
    holds no lock of the monitors: another thread can change them meanwhile."""
    s = stream(db)
    entered, gate = hold_up_appends(monkeypatch, "m.alerts")

    fire(s, 0, 20.0)
    try:
        assert entered.wait(timeout=10)
        assert within(10.0, lambda: s.remove_trigger("cold")) == [None]
    finally:
        gate.set()
    assert s.get_alerts() == [alert(0, 20.0)]
    fire(s, 1, -5.0)  # 'cold' was removed: no alert
    assert s.get_alerts() == [alert(0, 20.0)]
