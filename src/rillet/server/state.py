"""What a running server holds beside the database: its settings, metrics, the ingest
limit, and the feeds that turn flows, alerts and streams into server-sent events."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from prometheus_client.core import GaugeMetricFamily

from rillet.database import Database
from rillet.errors import RilletError
from rillet.monitors import Alert
from rillet.server.config import ServerConfig
from rillet.server.errors import json_bytes
from rillet.server.metrics import Metrics
from rillet.server.rates import Rates
from rillet.server.sse import Feed
from rillet.server.wire import table_json


class FlowFeed(Feed):
    """A flow's output as ``rows`` events (the output columns, ``timestamp`` first): a
    thread takes its batches (a flow's output has one reader) and publishes them; ``end``
    when the flow ends.  A named flow's output is its stream's: the feed follows the rows
    appended to it from now on."""

    def __init__(self, flow: Any, output: Any = None) -> None:
        super().__init__()
        self.flow = flow
        self.rows = 0
        self.names = ["timestamp", *flow.columns]
        if output is not None:
            output.subscribe(self, f"server-flow-{flow.id}", output.next_offset)
            return
        self.thread = threading.Thread(target=self._pump, name=f"rillet-server-flow-{flow.id}")
        self.thread.daemon = True
        self.thread.start()

    def _pump(self) -> None:
        try:
            for batch in self.flow.batches():
                self._rows(batch)
        except RilletError as exc:
            self.publish("error", json_bytes(exc.to_dict()))
        self.end(json_bytes({"flow": self.flow.id, "rows": self.rows}))

    def _rows(self, batch: pa.RecordBatch) -> None:
        self.rows += batch.num_rows
        self.publish("rows", json_bytes(table_json(batch.select(self.names))))

    def observe(self, batch: pa.RecordBatch, history: bool) -> None:
        """Rows a named flow appended to its stream."""
        if batch.num_rows:
            self._rows(batch)

    def forget_before(self, start_us: int) -> None:
        """Retention is the stream's business: the feed keeps no rows."""


class ServerState:
    """The server's side of the database."""

    def __init__(self, db: Database, config: ServerConfig) -> None:
        self.db = db
        self.config = config
        self.started = time.time()
        self.metrics = Metrics(self._gauges)
        self.flows: dict[int, FlowFeed] = {}
        self.alerts = Feed(keep=1000)
        self._watched: set[str] = set()
        self._lock = threading.Lock()
        # bound to the event loop on first use (Python 3.10+), whichever loop serves
        self.ingest = asyncio.Semaphore(config.ingest_slots)
        self.waiting = 0
        self.rates = Rates()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch_alerts, daemon=True)
        self._watcher.name = "rillet-server-alerts"
        self._watcher.start()

    def stop(self) -> None:
        self._stop.set()
        self.alerts.end()
        for feed in list(self.flows.values()):
            feed.end()

    def feed(self, flow: Any) -> FlowFeed:
        """The feed of a flow's output (made, and its reader started, on first use)."""
        with self._lock:
            feed = self.flows.get(flow.id)
            if feed is None:
                named = flow.name is not None and not flow.attached  # output: its stream
                output = self.db.stream(flow.name) if named else None
                feed = self.flows[flow.id] = FlowFeed(flow, output)
            return feed

    def _watch_alerts(self) -> None:
        # streams made by rtsql or named flows appear without the server: look every 0.2 s;
        # sample the ingest rates every second
        sampled = 0.0
        while not self._stop.wait(0.2):
            self.watch_streams()
            now = time.monotonic()
            if now - sampled >= 1.0:
                sampled = now
                self.sample_rates(now)

    def sample_rates(self, now: float) -> None:
        """Note every stream's next offset (for :attr:`rates`)."""
        try:
            streams = self.db.streams()
        except RilletError:
            return
        for stream in streams:
            self.rates.sample(stream.name, stream.next_offset, now)
        self.rates.keep_only({stream.name for stream in streams})

    def watch_streams(self) -> None:
        try:
            streams = self.db.streams()
        except RilletError:
            return
        for stream in streams:
            if stream.name not in self._watched:
                self._watched.add(stream.name)
                stream.on_alert(self._alert)

    def _alert(self, alert: Alert) -> None:
        self.alerts.publish("alert", json_bytes(alert.to_dict()))

    def _gauges(self) -> Iterator[GaugeMetricFamily]:
        records = GaugeMetricFamily("rillet_stream_records", "Records stored", labels=["stream"])
        logged = GaugeMetricFamily(
            "rillet_stream_log_bytes", "Write-ahead log bytes written", labels=["stream"]
        )
        lag = GaugeMetricFamily(
            "rillet_monitor_lag_batches", "Batches the monitors have not evaluated yet",
            labels=["stream"],
        )  # fmt: skip
        try:
            streams = self.db.streams()
        except RilletError:
            streams = []
        for stream in streams:
            records.add_metric([stream.name], len(stream))
            logged.add_metric([stream.name], stream.log_bytes_written)
            lag.add_metric([stream.name], stream.monitors.lag)
        yield from (records, logged, lag)
        try:
            flows = list(self.db.flows())
        except RilletError:
            flows = []
        out = GaugeMetricFamily("rillet_flow_output_rows", "Rows a flow has sent", labels=["flow"])
        for flow in flows:
            out.add_metric([str(flow.id)], flow.records_out)
        yield out
        behind = GaugeMetricFamily(
            "rillet_flow_lag_batches", "Batches ingested that a flow has not read yet",
            labels=["flow"],
        )  # fmt: skip
        for flow in flows:
            behind.add_metric([str(flow.id)], flow.lag)
        yield behind
        clients = GaugeMetricFamily("rillet_sse_clients", "Event-stream readers connected")
        clients.add_metric(
            [], self.alerts.clients + sum(f.clients for f in list(self.flows.values()))
        )
        yield clients
        waiting = GaugeMetricFamily("rillet_ingest_waiting", "Appends waiting for a slot")
        waiting.add_metric([], self.waiting)
        yield waiting
        running = GaugeMetricFamily("rillet_flows_running", "Flows running")
        # a named flow that failed stays listed (with its error) but does not run
        count = 0 if self._stop.is_set() else sum(f.running for f in self.db.flows())
        running.add_metric([], count)
        yield running
