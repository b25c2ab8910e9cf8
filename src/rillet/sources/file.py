"""FILE 'path': a file read once, to its end."""

from __future__ import annotations

from pathlib import Path

from rillet.sources.base import Source
from rillet.sources.reader import CHUNK, Feeder


class FileSource(Source):
    """Reads a file in chunks of complete lines (or, for a binary format, whole) and ends."""

    def __init__(self, feeder: Feeder, path: Path) -> None:
        super().__init__(feeder)
        self.path = path

    def run(self) -> None:
        fmt = self.feeder.format
        if not fmt.line_based:
            for parsed in fmt.read_file(self.path):
                if self._stop.is_set():
                    return
                self.feeder.deliver(parsed)
            return
        carry = b""
        with open(self.path, "rb") as handle:
            while not self._stop.is_set():
                chunk = handle.read(CHUNK)
                if not chunk:
                    break
                data = carry + chunk
                cut = data.rfind(b"\n") + 1
                carry = data[cut:]
                self.feeder.feed(data[:cut])
        if carry and not self._stop.is_set():
            self.feeder.feed(carry)  # the last line, without a line end
