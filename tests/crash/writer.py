"""A writer that the crash tests SIGKILL:
``writer.py FOLDER DURABILITY SEED COMMIT_INTERVAL LOG_COMPRESSION``.

It opens (or creates, with LOG_COMPRESSION) the stream ``ev`` in FOLDER and appends records
forever: single ``append`` calls and ``append_many`` batches (lists of rows, dicts of columns,
Arrow tables).
Every value is derived from the record's offset (see :func:`expected_row`), so whoever reopens
the folder can check each record exactly.  Event time advances 5 ms per offset, so with
``partition="1s"`` a partition closes every 200 records and is sealed and the log trimmed
while the writer runs; every 13th record arrives 1.5 s late, into an already sealed partition.

It reports on stdout, one ``os.write`` per line:

- ``ready N``: the folder is open and the next offset is N;
- ``try A B``: an append of offsets A..B (inclusive) is about to start;
- ``ack A B``: that append returned;
- ``flushed N``: ``s.flush()`` returned with offsets below N appended (relaxed durability).

A wrong offset from ``append`` ends it with exit status 3.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
from typing import Any

import pyarrow as pa

import rillet

STREAM = "ev"
SCHEMA = "ts TIMESTAMP, v BIGINT, msg STRING"
PARTITION = "1s"
BASE_NS = 1_700_000_000 * 10**9  # a whole second: partitions start at offsets 0, 200, 400...
STEP_NS = 5_000_000  # 5 ms per offset: 200 records per 1 s partition
LATE_NS = 1_500_000_000  # a late record lands in a partition sealed ~1.5 s earlier
SETTINGS: dict[str, Any] = {
    "maintenance_interval": 0.05,
    # seal_grace=0.0 is rejected by Settings.from_kwargs ("must be a positive number"):
    # 1% of a 1 s partition is the closest allowed value.
    "seal_grace": 0.01,
    # Small, so that the log rolls over and is trimmed as the writer goes, even compressed.
    "segment_bytes": 16 * 1024,
}
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def event_ns(offset: int) -> int:
    """The event time (epoch ns, whole microseconds) of the record at ``offset``."""
    ns = BASE_NS + offset * STEP_NS
    return ns - LATE_NS if offset % 13 == 5 else ns


def expected_row(offset: int) -> tuple[int, int, str]:
    """The values written at ``offset``: (event time in epoch ns, v, msg)."""
    return event_ns(offset), offset * 7, f"m{offset}-" + "x" * (offset % 37)


def expected_read(offset: int) -> tuple[dt.datetime, int, str]:
    """The values a reader gets back for ``offset`` (the time as a UTC datetime)."""
    ns, v, msg = expected_row(offset)
    return EPOCH + dt.timedelta(microseconds=ns // 1000), v, msg


def say(line: str) -> None:
    os.write(1, (line + "\n").encode())


def batch(first: int, count: int, form: int) -> Any:
    rows = [expected_row(o) for o in range(first, first + count)]
    if form == 0:
        return rows
    if form == 1:
        return {
            "ts": [r[0] for r in rows],
            "v": [r[1] for r in rows],
            "msg": [r[2] for r in rows],
        }
    return pa.table(
        {
            "ts": pa.array([r[0] // 1000 for r in rows], pa.timestamp("us", tz="UTC")),
            "v": pa.array([r[1] for r in rows], pa.int64()),
            "msg": pa.array([r[2] for r in rows], pa.string()),
        }
    )


def main(
    folder: str, durability: str, seed: int, commit_interval: float, log_compression: str
) -> int:
    rng = random.Random(seed)
    db = rillet.connect(folder, commit_interval=commit_interval, **SETTINGS)
    if any(s.name == STREAM for s in db.streams()):
        stream = db.stream(STREAM)
    else:
        stream = db.create_stream(
            STREAM,
            SCHEMA,
            time_column="ts",
            durability=durability,
            partition=PARTITION,
            log_compression=log_compression,
        )
    say(f"ready {stream.next_offset}")
    # Even seeds: append_many batches too (each also writes the buffered single records out);
    # odd seeds: single records only, which stay buffered until a commit or a flush.
    singles = 0.6 if seed % 2 == 0 else 0.9
    while True:
        first = stream.next_offset
        choice = rng.random()
        if choice < singles:
            say(f"try {first} {first}")
            got = stream.append(expected_row(first))
            count = 1
        elif choice < 0.9:
            count = rng.randint(1, 40)
            say(f"try {first} {first + count - 1}")
            got = stream.append_many(batch(first, count, rng.randrange(3)))
        else:
            stream.flush()
            say(f"flushed {first}")
            continue
        if got != first:
            say(f"mismatch {first} {got}")
            return 3
        say(f"ack {first} {first + count - 1}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]))
