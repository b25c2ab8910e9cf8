"""A process making and dropping named flows until it is SIGKILLed (tests/crash).

``python churn_writer.py FOLDER``: opens the folder, creates ``ev`` with records when
missing, prints ``ready``, then forever: creates the roll-ups ``m`` and ``h`` (over ``m``)
where missing, appends a few records, drops ``h``, then ``m``.
"""

from __future__ import annotations

import sys

import rillet
from tests.crash.named_writer import HOURLY, MINUTELY, records


def main(folder: str) -> None:
    db = rillet.connect(folder, checkpoint_interval=0.05)
    if "ev" not in {s.name for s in db.streams()}:
        db.create_stream("ev", "ts TIMESTAMP NOT NULL, host STRING, v DOUBLE", time_column="ts")
        db.stream("ev").append_many(records(0, 2_000))
    ev = db.stream("ev")
    print("ready", flush=True)
    while True:
        names = {s.name for s in db.streams()}
        for name, statement in (("m", MINUTELY), ("h", HOURLY)):
            if name not in names:
                db.execute(statement)
        ev.append_many(records(ev.next_offset, 20))
        db.execute("DROP STREAM h")
        db.execute("DROP STREAM m")


if __name__ == "__main__":
    main(sys.argv[1])
