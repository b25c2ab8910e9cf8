"""The server on loopback: Arrow IPC and NDJSON ingest from 8 client processes, a small SQL
query's latency under that ingest, server-sent delivery of a flow's rows, and PostgreSQL's
COPY of the same rows over its socket as the reference (127.0.0.1:5432, user postgres,
database test; skipped when absent).  Each phase runs ``SECONDS`` seconds.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the ``bench`` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

from bench.figures import Target, figure, peer, section  # noqa: E402
from rillet.batches import ipc_bytes  # noqa: E402

SECONDS = float(os.environ.get("RILLET_BENCH_SERVER_SECONDS", "3"))
CLIENTS = 8
BATCH = 20_000
SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE, status INT"


def rows(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-01-01T00:00:00", "us") + seed * np.timedelta64(1, "h")
    return pa.table(
        {
            "ts": pa.array(start + np.arange(n) * np.timedelta64(1, "ms")).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "host": pa.array(rng.choice([f"h{i}" for i in range(50)], n)),
            "ms": pa.array(rng.lognormal(3, 1, n)),
            "status": pa.array(rng.choice([200, 404, 500], n).astype(np.int32)),
        }
    )


def ndjson_bytes(table: pa.Table) -> bytes:
    return "\n".join(
        json.dumps({**r, "ts": r["ts"].isoformat()}) for r in table.to_pylist()
    ).encode()


def client(url: str, kind: str, seconds: float, seed: int, done: mp.Queue) -> None:  # type: ignore[type-arg]
    table = rows(BATCH if kind == "arrow" else 2_000, seed)
    body = ipc_bytes(table) if kind == "arrow" else ndjson_bytes(table)
    media = "application/vnd.apache.arrow.stream" if kind == "arrow" else "application/x-ndjson"
    sent = 0
    with httpx.Client(base_url=url, timeout=60) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            answer = http.post(
                "/v1/streams/s/records", content=body, headers={"content-type": media}
            )
            if answer.status_code == 200:
                sent += answer.json()["appended"]
            else:
                time.sleep(0.05)  # 429: back off as a client should
    done.put(sent)


def ingest(url: str, kind: str) -> float:
    done: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    processes = [
        mp.Process(target=client, args=(url, kind, SECONDS, i, done)) for i in range(CLIENTS)
    ]
    began = time.perf_counter()
    for p in processes:
        p.start()
    total = sum(done.get() for _ in processes)
    for p in processes:
        p.join()
    rate: float = total / (time.perf_counter() - began)
    return rate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "rillet.cli", "serve", "--data", folder, "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(url + "/healthz", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def query_latency(url: str) -> list[float]:
    """Small queries, one after another, while 8 clients append Arrow batches."""
    done: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    feeders = [
        mp.Process(target=client, args=(url, "arrow", SECONDS, 100 + i, done))
        for i in range(CLIENTS)
    ]
    for p in feeders:
        p.start()
    took = []
    with httpx.Client(base_url=url, timeout=30) as http:
        time.sleep(0.3)
        end = time.monotonic() + SECONDS * 0.8
        while time.monotonic() < end:
            began = time.perf_counter()
            http.post("/v1/sql", json={"sql": "SELECT count(*) FROM small WHERE x > 5"})
            took.append(time.perf_counter() - began)
    for _ in feeders:
        done.get()
    for p in feeders:
        p.join()
    return took


def delivery(url: str) -> list[float]:
    """From an append's answer to the flow's row arriving as an event."""
    http = httpx.Client(base_url=url, timeout=30)
    http.post("/v1/streams", json={"name": "pings", "schema": "sent DOUBLE"})
    flow = http.post("/v1/rtsql", json={"statement": "SELECT sent FROM pings"}).json()["flow"]
    seen: list[float] = []
    ready = threading.Event()

    def read() -> None:
        with httpx.Client(base_url=url, timeout=None) as watcher:
            with watcher.stream("GET", f"/v1/flows/{flow}/events") as answer:
                ready.set()
                for line in answer.iter_lines():
                    if line.startswith("data: "):
                        data = json.loads(line[6:])
                        now = time.time()
                        seen.extend(now - r[1] for r in data.get("rows", []))
                        if len(seen) >= 200:
                            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    ready.wait(10)
    for _ in range(200):
        http.post("/v1/streams/pings/records", json={"sent": time.time()})
        time.sleep(0.005)
    reader.join(20)
    http.close()
    return seen


def postgres_copy(total: int) -> float | None:
    try:
        import psycopg
    except ImportError:
        return None
    table = rows(total, 7)
    lines = [
        f"{r['ts'].isoformat()}\t{r['host']}\t{r['ms']}\t{r['status']}\n" for r in table.to_pylist()
    ]
    try:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=test", connect_timeout=3) as con:
            con.execute("DROP TABLE IF EXISTS rillet_bench_copy")
            con.execute(
                "CREATE TABLE rillet_bench_copy (ts timestamptz, host text, ms float8, status int)"
            )
            began = time.perf_counter()
            with con.cursor().copy("COPY rillet_bench_copy FROM STDIN") as copy:
                for start in range(0, len(lines), 10_000):
                    copy.write("".join(lines[start : start + 10_000]))
            con.commit()
            rate = total / (time.perf_counter() - began)
            con.execute("DROP TABLE rillet_bench_copy")
            return rate
    except psycopg.OperationalError:
        return None


def run() -> None:
    section(f"the server on loopback, {CLIENTS} client processes, {SECONDS:g} s a phase")
    with tempfile.TemporaryDirectory() as folder:
        process, url = start_server(folder)
        try:
            http = httpx.Client(base_url=url, timeout=30)
            http.post("/v1/streams", json={"name": "s", "schema": SCHEMA, "time_column": "ts"})
            http.post("/v1/streams", json={"name": "small", "schema": "x INT"})
            http.post("/v1/streams/small/records", json=[{"x": i} for i in range(100)])
            arrow = ingest(url, "arrow")
            figure("Arrow IPC ingest over HTTP", arrow, "rows/s", Target(3_000_000, True, "rows/s"))
            pg = postgres_copy(500_000)
            if pg is not None:
                peer("PostgreSQL COPY (same rows, one connection)", pg, "rows/s", arrow / pg)
            nd = ingest(url, "ndjson")
            figure("NDJSON ingest over HTTP", nd, "rows/s", Target(300_000, True, "rows/s"))
            took = sorted(query_latency(url))
            p50 = statistics.median(took) * 1000
            p99 = took[int(len(took) * 0.99) - 1] * 1000 if len(took) > 1 else p50
            figure("small SQL query under ingest, p50", p50, "ms", Target(5, False, "ms"))
            figure("small SQL query under ingest, p99", p99, "ms", Target(20, False, "ms"))
            seen = sorted(delivery(url))
            if seen:
                p99 = seen[max(int(len(seen) * 0.99) - 1, 0)] * 1000
                figure("flow row to its event, p99", p99, "ms", Target(50, False, "ms"))
            http.close()
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    run()
