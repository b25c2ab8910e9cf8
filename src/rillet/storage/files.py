"""Crash-safe file operations and the data folder's lock."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rillet.errors import LockedError


def fsync_dir(path: Path) -> None:
    """Make renames and deletions inside ``path`` survive power loss."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers see the old file or the new one, never half."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


class FolderLock:
    """An exclusive lock on a data folder, held while a Database has it open.

    flock is released by the kernel when the process dies, so a crash never leaves a stale lock.
    """

    def __init__(self, folder: Path) -> None:
        self.path = folder / "LOCK"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            holder = self.path.read_text().strip() or "another process"
            raise LockedError(
                f"data folder {str(folder)!r} is in use by process {holder}; one process writes "
                "a folder at a time",
                path=str(folder),
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
