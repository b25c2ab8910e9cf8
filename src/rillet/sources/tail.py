"""SOURCE 'tail("path")': a file followed as it grows, the way ``tail -F`` follows it.

The file is read from its start, then polled.  Only complete lines are read; a partial last
line waits for its line end.  When the path names another file (rotation: the old one was
renamed and a new one created), the rest of the old file is read, then the new one from its
start; when the file shrinks (truncation), reading starts again at its start.  A path that
does not exist (yet, or between a rotation's rename and create) is waited for.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

from rillet.sources.base import Source
from rillet.sources.reader import CHUNK, Feeder

POLL = 0.05  # seconds between looks at a file that has not grown


class TailSource(Source):
    """Follows ``path`` until stopped."""

    finite = False

    def __init__(self, feeder: Feeder, path: Path) -> None:
        super().__init__(feeder)
        self.path = path
        self._carry = b""

    def _open(self) -> tuple[BinaryIO, int] | None:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - kept open while followed
        except (FileNotFoundError, IsADirectoryError, PermissionError):
            return None
        return handle, os.fstat(handle.fileno()).st_ino

    def _drain(self, handle: BinaryIO) -> bool:
        """Read what the file holds now; True if there was anything."""
        chunk = handle.read(CHUNK)
        if not chunk:
            return False
        data = self._carry + chunk
        cut = data.rfind(b"\n") + 1
        self._carry = data[cut:]
        self.feeder.feed(data[:cut])
        return True

    def run(self) -> None:
        opened = None
        while not self._stop.is_set():
            if opened is None:
                opened = self._open()
                if opened is None:
                    self._stop.wait(POLL)
                    continue
                self.feeder.restart()
                self._carry = b""
            handle, inode = opened
            if self._drain(handle):
                continue
            try:
                now = os.stat(self.path)
            except FileNotFoundError:  # renamed away: wait for the new one
                now = None
            if now is not None and now.st_ino != inode:  # rotated: finish the old file
                while self._drain(handle):
                    pass
                if self._carry:
                    self.feeder.feed(self._carry)
                handle.close()
                opened = None
                continue
            if now is not None and now.st_size < handle.tell():  # truncated
                handle.seek(0)
                self._carry = b""
                self.feeder.restart()
                continue
            self._stop.wait(POLL)
        if opened is not None:
            opened[0].close()
