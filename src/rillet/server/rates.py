"""Each stream's ingest rate over the last minutes, sampled by the server once a second, so
a page opened now draws its sparkline from history it did not watch.

Examples:
    >>> rates = Rates(window_s=3)
    >>> for t, offset in [(0.0, 0), (1.0, 10), (2.0, 30), (3.0, 30), (4.0, 70)]:
    ...     rates.sample("perf", offset, t)
    >>> rates.history("perf")  # records/s between samples, oldest first, the last 3 s
    [20.0, 0.0, 40.0]
    >>> rates.history("unknown")
    []
"""

from __future__ import annotations

import threading
from collections import deque

#: how far back the history goes
WINDOW_S = 300.0


class Rates:
    """Samples of each stream's next offset; rates between successive samples."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: dict[str, deque[tuple[float, int]]] = {}
        self._lock = threading.Lock()  # sampled by the server's watcher, read by requests

    def sample(self, stream: str, next_offset: int, now: float) -> None:
        """Note ``stream``'s next offset at ``now`` (seconds, monotonic)."""
        with self._lock:
            samples = self._samples.setdefault(stream, deque())
            samples.append((now, next_offset))
            while samples[0][0] < now - self.window_s:
                samples.popleft()

    def keep_only(self, streams: set[str]) -> None:
        """Forget the streams not in ``streams`` (dropped since)."""
        with self._lock:
            for name in self._samples.keys() - streams:
                del self._samples[name]

    def history(self, stream: str) -> list[float]:
        """Records/s between successive samples, oldest first (a stream whose offsets went
        back, dropped and made again, reads 0 there)."""
        with self._lock:
            samples = list(self._samples.get(stream, ()))
        return [
            max(0.0, (b - a) / (u - t)) if u > t else 0.0
            for (t, a), (u, b) in zip(samples, samples[1:], strict=False)
        ]
