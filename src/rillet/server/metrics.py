"""``/metrics`` in Prometheus' text format (prometheus_client): what the server counts as
requests go by, and what it reads off the engine at each scrape."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class Metrics:
    """One registry a server: counters and latency histograms, and the engine's gauges."""

    def __init__(self, engine: Callable[[], Iterator[GaugeMetricFamily]]) -> None:
        self.registry = CollectorRegistry()
        self.records = Counter(
            "rillet_ingested_records", "Records appended over HTTP", ["stream"],
            registry=self.registry,
        )  # fmt: skip
        self.bytes = Counter(
            "rillet_ingested_bytes", "Request body bytes appended over HTTP", ["stream"],
            registry=self.registry,
        )  # fmt: skip
        self.requests = Histogram(
            "rillet_request_seconds", "HTTP request latency", ["route", "method", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.queries = Histogram(
            "rillet_query_seconds", "SQL query latency (POST /v1/sql)", registry=self.registry,
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10),
        )  # fmt: skip
        self.rejected = Counter(
            "rillet_overloaded_requests", "Requests answered 429 or 503 (overload)",
            registry=self.registry,
        )  # fmt: skip
        self.registry.register(_Engine(engine))

    def text(self) -> bytes:
        return generate_latest(self.registry)


class _Engine(Collector):
    def __init__(self, gauges: Callable[[], Iterator[GaugeMetricFamily]]) -> None:
        self._gauges = gauges

    def collect(self) -> Iterator[Any]:
        yield from self._gauges()
