"""A source: a background thread owned by the database that feeds one stream."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod

from rillet.sources.reader import Feeder

log = logging.getLogger("rillet")


class Source(ABC):
    """Reads ``feeder.path`` into its stream on a thread of its own until it is done
    (:meth:`finished`) or stopped (:meth:`stop`)."""

    finite = True  # False: runs until stopped (a tail), so flows over it never end

    def __init__(self, feeder: Feeder) -> None:
        self.feeder = feeder
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._main, name=f"rillet-source-{feeder.stream.name}", daemon=True
        )

    @property
    def name(self) -> str:
        """The stream's name."""
        return self.feeder.stream.name

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # kept for the flows over the stream, which fail with it
            if not self._stop.is_set():
                log.error("source of stream %r failed: %s", self.name, exc)
                self.error = exc
        finally:
            self._done.set()

    @abstractmethod
    def run(self) -> None:
        """Read until done or ``self._stop`` is set."""

    def stop(self) -> None:
        """Stop reading (DROP STREAM, close()) and wait for the thread to end."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def finished(self) -> bool:
        """True once everything was read; the source's error if it failed."""
        if self.error is not None:
            raise self.error
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the source is done (a finite one: read to its end); False on timeout."""
        return self._done.wait(timeout)

    @property
    def lines(self) -> int:
        """Lines read so far."""
        return self.feeder.lines
