"""Figures: how they are timed and how each one prints, on a line of its own.

``name: value unit  (target ...: met|missed)`` for rillet, and
``peer name: value unit  ratio rillet/peer: x.xx`` for the system it is set beside.
Benchmarks print figures and never assert on them.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """What a figure should reach: at least ``bound`` (rates) or at most (times, ratios).

    Examples:
        >>> str(Target(1_000_000, at_least=True, unit="records/s"))
        '≥ 1,000,000 records/s'
        >>> Target(1.3, at_least=False, unit="", label="ratio rillet/DuckDB").met(1.2)
        True
    """

    bound: float
    at_least: bool
    unit: str
    label: str = ""

    def met(self, value: float) -> bool:
        return value >= self.bound if self.at_least else value <= self.bound

    def __str__(self) -> str:
        bound = f"{self.bound:,.0f}" if self.bound == int(self.bound) else f"{self.bound:g}"
        text = f"{'≥' if self.at_least else '≤'} {bound}"
        return " ".join(part for part in (self.label, text, self.unit) if part)


def number(value: float) -> str:
    """A figure's value: whole and thousands-separated from 1,000, two decimals below 10.

    Examples:
        >>> number(1234567.8), number(38.25), number(1.234)
        ('1,234,568', '38.2', '1.23')
    """
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def figure(name: str, value: float, unit: str, target: Target, judged: float | None = None) -> None:
    """Print a rillet figure; ``judged`` is what the target is about when it is not ``value``
    (a ratio to a peer)."""
    verdict = "met" if target.met(value if judged is None else judged) else "missed"
    print(f"{name}: {number(value)} {unit}  (target {target}: {verdict})", flush=True)


def peer(name: str, value: float, unit: str, ratio: float) -> None:
    """Print a peer's figure with rillet's value divided by the peer's."""
    print(f"peer {name}: {number(value)} {unit}  ratio rillet/peer: {ratio:.2f}", flush=True)


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


def medians(runs: Sequence[Callable[[], T]], repeat: int = 5) -> list[tuple[float, T]]:
    """For each of ``runs``, the median wall time of ``repeat`` calls and what its last call
    returned.  The calls take turns, after one untimed warm-up round, so that a drift in the
    machine's speed touches each of them alike."""
    results = [run() for run in runs]
    times: list[list[float]] = [[] for _ in runs]
    for _ in range(repeat):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            results[i] = run()
            times[i].append(time.perf_counter() - start)
    return [(statistics.median(t), result) for t, result in zip(times, results, strict=True)]


@contextmanager
def input_set_aside() -> Iterator[None]:
    """Hide everything that exists now, the pre-built input above all, from the collector.

    A source reading a socket or a file holds a few records at a time; a benchmark holds
    millions, and every full collection would walk them and charge the time to rillet.
    """
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
