"""Server-sent events (flows, alerts, a stream's tail), overload, and SIGTERM with appends
in flight, against real servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

import rillet
from tests.server.conftest import Running, free_port, wait_served
from tests.unit.support import wait_until

SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE"


def events(
    http: httpx.Client,
    path: str,
    count: int,
    headers: dict[str, str] | None = None,
    then: Callable[[int], object] | None = None,
) -> list[dict[str, object]]:
    """The first ``count`` events (not comments) of an event stream, parsed; ``then(n)`` is
    called once connected (n = 0: the server has subscribed before it answers) and after
    each event received (n = events so far), to feed the next one without a fixed sleep."""
    got: list[dict[str, object]] = []
    with http.stream("GET", path, headers=headers or {}, timeout=20) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        if then is not None:
            then(0)
        for event in frames(answer.iter_lines()):
            got.append(event)
            if len(got) == count:
                break
            if then is not None:
                then(len(got))
    return got


def frames(lines: Iterator[str]) -> Iterator[dict[str, object]]:
    event: dict[str, object] = {}
    for line in lines:
        if not line:
            if "event" in event:
                yield event
            event = {}
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line.startswith(("event: ", "id: ")):
            key, _, value = line.partition(": ")
            event[key] = value


def test_a_flow_streams_its_rows_and_resumes_after_the_last_event(server: Running) -> None:
    server.http.post("/v1/streams", json={"name": "s", "schema": SCHEMA, "time_column": "ts"})
    started = server.http.post(
        "/v1/rtsql", json={"statement": "SELECT host, ms FROM s WHERE ms > 1"}
    )
    assert started.status_code == 201, started.text
    flow = started.json()["flow"]
    assert started.json()["columns"] == ["timestamp", "host", "ms"]

    def feed(i: int) -> None:  # one record an event, each once the one before is out
        server.http.post(
            "/v1/streams/s/records",
            json=[{"ts": f"2026-01-01T00:00:0{i}Z", "host": f"h{i}", "ms": 1.5 + i}],
        )

    got = events(server.http, f"/v1/flows/{flow}/events", 3, then=feed)
    rows = [e["data"]["rows"] for e in got]  # type: ignore[index]
    assert [r[0][1:] for r in rows] == [["h0", 1.5], ["h1", 2.5], ["h2", 3.5]]
    assert [e["id"] for e in got] == ["1", "2", "3"]
    again = events(server.http, f"/v1/flows/{flow}/events", 1, {"last-event-id": "2"})
    assert again[0]["id"] == "3"
    listed = server.http.get("/v1/flows").json()
    assert [(f["id"], f["records_out"]) for f in listed] == [(flow, 3)]
    assert server.http.delete(f"/v1/flows/{flow}").status_code == 204
    assert server.http.get(f"/v1/flows/{flow}").status_code == 404


def test_a_named_flows_rows_are_its_events_and_counted_in_the_listing(server: Running) -> None:
    """A named flow's output goes to its stream, not to a queue: its events are the rows
    appended to that stream from the time they are asked for, and GET /v1/flows and the
    metrics count them (its rate too)."""
    http = server.http
    http.post("/v1/streams", json={"name": "s", "schema": SCHEMA, "time_column": "ts"})
    statement = (
        "CREATE STREAM per_min AS SELECT host, window_start, COUNT(*) AS n FROM s "
        "GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
    )
    assert http.post("/v1/rtsql", json={"statement": statement}).status_code == 200
    [flow] = [f["id"] for f in http.get("/v1/flows").json()]

    def feed(i: int) -> None:  # each record closes the minute before: one row an event
        for minute in [0, 1] if i == 0 else [i + 1]:
            http.post(
                "/v1/streams/s/records",
                json=[{"ts": f"2026-01-01T00:0{minute}:30Z", "host": "a", "ms": 1.0}],
            )

    got = events(http, f"/v1/flows/{flow}/events", 2, then=feed)
    assert [e["event"] for e in got] == ["rows", "rows"]
    assert [e["data"]["columns"] for e in got] == [["timestamp", "host", "window_start", "n"]] * 2  # type: ignore[index]
    assert [e["data"]["rows"][0][1:] for e in got] == [  # type: ignore[index]
        ["a", "2026-01-01T00:00:00+00:00", 1],
        ["a", "2026-01-01T00:01:00+00:00", 1],
    ]
    [listed] = http.get("/v1/flows").json()
    assert listed["records_out"] == len(
        http.post("/v1/sql", json={"sql": "SELECT * FROM per_min"}).json()["rows"]
    )
    assert listed["records_out"] >= 2 and listed["rate"] > 0
    assert (
        f'rillet_flow_output_rows{{flow="{flow}"}} {float(listed["records_out"])}'
        in http.get("/metrics").text
    )


def test_a_named_flow_that_failed_is_listed_with_its_state_and_error(server: Running) -> None:
    """GET /v1/flows keeps a failed named flow, its state and error (what went wrong)."""
    http = server.http
    http.post("/v1/streams", json={"name": "n", "schema": "v BIGINT"})
    statement = "CREATE STREAM big AS SELECT v * 4611686018427387904 AS b FROM n"
    assert http.post("/v1/rtsql", json={"statement": statement}).status_code < 300
    http.post("/v1/streams/n/records", json=[{"v": 0}, {"v": 5}])  # 5 * 2**62 overflows

    def listed() -> list[tuple[str, str, str | None, bool]]:
        flows = http.get("/v1/flows").json()
        return [(f["name"], f["state"], f["error"], f["running"]) for f in flows]

    assert wait_until(lambda: [f[1] for f in listed()] == ["failed"])
    assert listed() == [
        (
            "big",
            "failed",
            "ArrowInvalid: overflow (on the records at offsets 0..1 of stream 'n')",
            False,
        )
    ]
    flow = http.get("/v1/flows").json()[0]["id"]
    refused = http.delete(f"/v1/flows/{flow}")  # it would resume at the next open
    assert refused.status_code == 409
    assert refused.json()["error"] == "ConflictError"
    assert "DROP STREAM big removes it" in refused.json()["message"]
    assert http.post("/v1/rtsql", json={"statement": "DROP STREAM big"}).status_code < 300
    assert listed() == []


def test_alerts_are_pushed_as_they_fire(server: Running) -> None:
    http = server.http
    http.post("/v1/streams", json={"name": "s", "schema": SCHEMA, "time_column": "ts"})
    http.post("/v1/streams/s/aggregates", json={"name": "worst", "expression": "MAX(ms)"})
    http.post("/v1/streams/s/triggers", json={"name": "slow", "condition": "worst > 10"})

    def feed(received: int) -> None:
        if received:
            return
        http.post(
            "/v1/streams/s/records", json=[{"ts": "2026-01-01T00:00:00Z", "host": "a", "ms": 50}]
        )
        http.post(
            "/v1/streams/s/records", json=[{"ts": "2026-01-01T00:00:02Z", "host": "a", "ms": 1}]
        )

    began = time.monotonic()
    got = events(http, "/v1/alerts/events?stream=s&trigger=slow", 1, then=feed)
    assert time.monotonic() - began < 10
    alert = got[0]["data"]
    assert (alert["stream"], alert["trigger"], alert["value"]) == ("s", "slow", 50.0)  # type: ignore[index]
    listed = http.get("/v1/alerts", params={"stream": "s"}).json()
    assert [(a["trigger"], a["value"]) for a in listed] == [("slow", 50.0)]


def test_a_stream_tail_sends_new_records(server: Running) -> None:
    http = server.http
    http.post("/v1/streams", json={"name": "s", "schema": SCHEMA, "time_column": "ts"})
    http.post(
        "/v1/streams/s/records", json=[{"ts": "2026-01-01T00:00:00Z", "host": "old", "ms": 1}]
    )

    def feed(received: int) -> None:  # once connected: the tail sends only what is new
        if not received:
            http.post(
                "/v1/streams/s/records",
                json=[{"ts": "2026-01-01T00:00:01Z", "host": "new", "ms": 2}],
            )

    got = events(http, "/v1/streams/s/events", 1, then=feed)
    assert got[0]["event"] == "records"
    assert [r[1] for r in got[0]["data"]["rows"]] == ["new"]  # type: ignore[index]
    assert got[0]["id"] == "2"
    earlier = events(http, "/v1/streams/s/events?offset=0", 2)
    hosts = [r[1] for e in earlier for r in e["data"]["rows"]]  # type: ignore[index]
    assert hosts == ["old", "new"]


def test_overload_is_429_with_retry_after_and_loses_nothing(start: object) -> None:
    running: Running = start(ingest_slots=1, ingest_wait=0.0)  # type: ignore[operator]
    running.http.post("/v1/streams", json={"name": "s", "schema": "x INT"})
    rows = [{"x": i} for i in range(20_000)]
    acked: list[int] = []
    refused: list[httpx.Response] = []

    def send() -> None:
        with httpx.Client(base_url=running.url, timeout=30) as http:
            for _ in range(3):
                answer = http.post("/v1/streams/s/records", json=rows)
                if answer.status_code == 200:
                    acked.append(answer.json()["appended"])
                else:
                    refused.append(answer)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert refused, "six senders over one slot with no wait: some must be refused"
    assert all(r.status_code == 429 and r.headers["retry-after"] == "1" for r in refused)
    assert all(r.json()["error"] == "OverloadedError" for r in refused)
    assert len(running.db.stream("s")) == sum(acked)


def test_sigterm_drains_and_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = free_port()
    folder = tmp_path / "d"
    process = subprocess.Popen(
        [sys.executable, "-m", "rillet.cli", "serve", "--data", str(folder), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    wait_served(url, process)
    httpx.post(url + "/v1/streams", json={"name": "s", "schema": "x INT"})
    acked = []
    stop = threading.Event()

    def send(base: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = 0
            while not stop.is_set():
                try:
                    answer = http.post("/v1/streams/s/records", json=[{"x": base + i}] * 100)
                except httpx.TransportError:
                    return
                if answer.status_code == 200:
                    acked.append(answer.json()["appended"])
                i += 1

    senders = [threading.Thread(target=send, args=(n * 1_000_000,)) for n in range(4)]
    for t in senders:
        t.start()
    assert wait_until(lambda: len(acked) >= 20)  # appends in flight
    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "every acknowledged record is stored" in out
    stop.set()
    for t in senders:
        t.join()
    assert acked
    with rillet.connect(folder) as db:
        assert len(db.stream("s")) >= sum(acked)
