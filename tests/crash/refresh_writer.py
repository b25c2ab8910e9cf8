"""A process refreshing a named flow until it is SIGKILLed (tests/crash).

``python refresh_writer.py FOLDER [STEP]``: opens the folder (made by :func:`prepare`),
prints ``ready``, runs ``REFRESH STREAM m SINCE ...``, waits until the refreshed flows have
settled, prints ``done`` and waits to be killed.  With ``STEP``, the process kills itself
at that step of the refresh, after its catalog transaction: ``seeds`` before the kept
rows are appended to the emptied streams, ``forget`` after they are (durably), before the
catalog forgets them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pyarrow as pa

import rillet
from tests.crash.named_writer import records, setup

RECORDS = 30_000
#: a day into the 58 hours of records: the rows and late records before it are kept
REFRESH = "REFRESH STREAM m SINCE '2026-01-02'"


def prepare(folder: Path) -> None:
    """The input ``ev`` with late records, ``m`` over it and ``h`` over ``m``, settled."""
    with rillet.connect(folder) as db:
        stream = setup(db)
        for first in range(0, RECORDS, 1000):
            stream.append_many(records(first, 1000))
        settle(db)


def settle(db: rillet.Database) -> None:
    """Waits until ``m`` and ``h`` hold every closed window of what ``ev`` holds."""
    previous: tuple[int, ...] = ()
    while True:
        time.sleep(0.3)
        now = tuple(len(db.stream(n)) for n in ("m", "h"))
        if now == previous and all(now):
            return
        previous = now


def table(db: rillet.Database, name: str) -> pa.Table:
    """Stream ``name``'s rows in a stable order, without ``is_open``."""
    stream = db.stream(name)
    stream.flush()
    rows = pa.Table.from_batches(list(stream.stored()), schema=None)
    rows = rows.drop_columns([rows.schema.names[-1]])  # the offsets
    return rows.sort_by([(c, "ascending") for c in rows.schema.names if c != "is_open"])


def _kill_at(step: str) -> None:
    """Make the refresh SIGKILL this process at ``step``."""
    import os
    import signal

    from rillet.database import Database
    from rillet.storage.catalog import Catalog

    def kill(*_: object) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    if step == "seeds":
        setattr(Database, "_plant_seeds", kill)  # noqa: B010
    elif step == "forget":
        setattr(Catalog, "forget_seed", kill)  # noqa: B010
    else:
        raise SystemExit(f"unknown step {step!r}")


def main(folder: str, step: str | None = None) -> None:
    db = rillet.connect(folder)
    if step is not None:
        _kill_at(step)
    print("ready", flush=True)
    db.execute(REFRESH)
    settle(db)
    print("done", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main(*sys.argv[1:])
