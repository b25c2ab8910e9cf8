"""``make run``'s demo feed: a service performance log and a web access log, a few thousand
records a second each, with a filter, an aggregate and a trigger installed."""

from __future__ import annotations

import threading
import time

import numpy as np
import pyarrow as pa

from rillet.commands.demo import PERF_LOG, perf_batch
from rillet.database import Database
from rillet.errors import NotFoundError

ACCESS_LOG = (
    "ts TIMESTAMP, host STRING, method STRING, path STRING, status INT, bytes BIGINT, ms DOUBLE"
)
PATHS = ["/", "/login", "/api/items", "/api/items/42", "/static/app.js", "/search"]


class DemoFeed:
    """Appends both logs every 100 ms on a thread of its own until stopped."""

    def __init__(self, db: Database, per_second: int = 3000) -> None:
        self.db = db
        self.per_tick = max(per_second // 10, 1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rillet-demo-feed", daemon=True)
        self.rng = np.random.default_rng()

    def start(self) -> None:
        self._ensure()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _ensure(self) -> None:
        try:
            self.db.stream("perf_log")
        except NotFoundError:
            s = self.db.create_stream(
                "perf_log", PERF_LOG, time_column="timestamp", partition="1m", retention="1h"
            )
            s.add_filter("low_resources", "cpu_util > 0.8 || mem_avail < 0.1")
            s.add_aggregate("max_latency_ms", "low_resources", "MAX(op_latency_ms)")
            s.install_trigger("high_latency_trigger", "max_latency_ms > 500", period="1s")
        try:
            self.db.stream("access_log")
        except NotFoundError:
            s = self.db.create_stream(
                "access_log", ACCESS_LOG, time_column="ts", partition="1m", retention="1h"
            )
            s.add_filter("errors", "status >= 500")
            s.add_aggregate("errors_per_s", "errors", "COUNT(*)")
            s.add_aggregate("p99_ms", None, "APPROX_QUANTILE(ms, 0.99)")
            s.install_trigger("error_burst", "errors_per_s > 20", period="1s")

    def _run(self) -> None:
        perf = self.db.stream("perf_log")
        access = self.db.stream("access_log")
        while not self._stop.wait(0.1):
            now_us = time.time_ns() // 1000
            step = 100_000 // self.per_tick
            perf.append_many(perf_batch(self.per_tick, now_us - 100_000, step, self.rng))
            access.append_many(self._access(now_us - 100_000, step))

    def _access(self, start_us: int, step_us: int) -> pa.Table:
        n, rng = self.per_tick, self.rng
        times = start_us + np.arange(n, dtype=np.int64) * step_us
        burst = rng.random() < 0.05  # now and then, a burst of server errors
        status = rng.choice([200, 200, 200, 200, 304, 404, 500 if burst else 200], n)
        return pa.table(
            {
                "ts": pa.array(times).view(pa.timestamp("us", tz="UTC")),
                "host": pa.array(rng.choice([f"10.0.0.{i}" for i in range(1, 40)], n)),
                "method": pa.array(rng.choice(["GET", "GET", "GET", "POST"], n)),
                "path": pa.array(rng.choice(PATHS, n)),
                "status": pa.array(status.astype(np.int32)),
                "bytes": pa.array(rng.integers(200, 60_000, n)),
                "ms": pa.array(rng.lognormal(2.5, 0.8, n)),
            }
        )
