"""A process running named flows, appending until it is SIGKILLed (tests/crash).

``python named_writer.py FOLDER [CHECKPOINT_INTERVAL]``: opens the folder (named flows
checkpointing every CHECKPOINT_INTERVAL seconds, 10 by default), creates the input stream
``ev`` and the named flows ``m`` (a 1-minute roll-up) and ``h`` (hourly, over ``m``) when
missing, prints ``ready``, then appends batches of records derived from their offsets
forever.
"""

from __future__ import annotations

import datetime as dt
import sys
import time

import pyarrow as pa

import rillet

BASE_US = int(dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp() * 1_000_000)
BATCH = 150
MINUTELY = (
    "CREATE STREAM m AS SELECT host, window_start, count(*) AS n, sum(v) AS total, max(v) AS top, "
    "avg(v) AS mean "
    "FROM ev GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
)
HOURLY = (
    "CREATE STREAM h AS SELECT host, sum(n) AS n, sum(total) AS total "
    "FROM m GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
)


def records(first: int, count: int) -> pa.Table:
    """Records ``first`` .. ``first + count - 1``: every 7 s, one in 50 three minutes late,
    with values whose plain float sums depend on how they are grouped."""
    offsets = range(first, first + count)
    times = [BASE_US + i * 7_000_000 - (180_000_000 if i % 50 == 49 else 0) for i in offsets]
    return pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", tz="UTC")),
            "host": [f"h{i % 4}" for i in offsets],
            # float sums that depend on the grouping, as a plain float sum would group them
            "v": [(i % 97) * 0.1 + (i % 13) * 1e-7 for i in offsets],
        }
    )


def setup(db: rillet.Database) -> rillet.Stream:
    """The input stream and the named flows (created once)."""
    names = {s.name for s in db.streams()}
    if "ev" not in names:
        db.create_stream("ev", "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE", time_column="ts")
    if "m" not in names:
        db.execute(MINUTELY)
    if "h" not in names:
        db.execute(HOURLY)
    return db.stream("ev")


def main(folder: str, interval: float) -> None:
    db = rillet.connect(folder, checkpoint_interval=interval)
    stream = setup(db)
    print("ready", flush=True)
    while True:
        stream.append_many(records(stream.next_offset, BATCH))
        time.sleep(0.005)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 10.0)
