"""REFRESH STREAM survives SIGKILL: a process refreshing a roll-up (and the roll-up over it)
is killed at moments spread over the refresh; reopened, the folder holds either the old rows
of every refreshed flow or the new ones, never a mix, and nothing is lost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

import rillet
from tests.crash.refresh_writer import REFRESH, prepare, settle, table

pytestmark = pytest.mark.crash

WRITER = Path(__file__).with_name("refresh_writer.py")
ROOT = Path(__file__).parents[2]


def _kill_after(folder: Path, delay: float | None) -> float:
    """Runs the refresh over ``folder`` and SIGKILLs it ``delay`` s after it starts (None:
    once it has finished); how long it had run (from the start to the kill, or to its end)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(WRITER), str(folder)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        began = time.monotonic()
        if delay is None:
            assert process.stdout.readline().strip() == "done"
        else:
            time.sleep(delay)
        ran = time.monotonic() - began
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
        if process.stdout is not None:
            process.stdout.close()
    return ran


def _state(folder: Path) -> dict[str, pa.Table]:
    with rillet.connect(folder) as db:
        settle(db)
        names = {s.name for s in db.streams()}
        return {n: table(db, n) for n in ("m", "h", "m.late") if n in names}


def test_a_killed_refresh_leaves_the_old_rows_or_the_new_ones(tmp_path: Path) -> None:
    base = tmp_path / "base"
    prepare(base)
    old = _state(base)
    refreshed = tmp_path / "refreshed"
    shutil.copytree(base, refreshed)
    with rillet.connect(refreshed) as db:
        db.execute(REFRESH)
        settle(db)
    new = _state(refreshed)
    assert 0 < new["m.late"].num_rows < old["m.late"].num_rows  # those before SINCE stay
    assert not old["m"].equals(new["m"]) and not old["h"].equals(new["h"])
    # the kills spread over the time a refresh takes here (however loaded the machine),
    # the last ones after it
    timing = tmp_path / "timing"
    shutil.copytree(base, timing)
    took = _kill_after(timing, None)
    shutil.rmtree(timing)
    seen = set()
    for step in range(14):
        folder = tmp_path / f"run{step}"
        shutil.copytree(base, folder)
        _kill_after(folder, took * step / 11)
        after = _state(folder)
        kind = "new" if after["m"].equals(new["m"]) else "old"
        expected = new if kind == "new" else old
        assert after.keys() == expected.keys(), (step, kind)
        for name, rows in expected.items():
            assert after[name].equals(rows), (step, kind, name)
        seen.add(kind)
        shutil.rmtree(folder)
    assert seen == {"old", "new"}
    for point in ("seeds", "forget"):  # killed after the transaction, at each later step
        folder = tmp_path / point
        shutil.copytree(base, folder)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        run = subprocess.run(
            [sys.executable, str(WRITER), str(folder), point], env=env, capture_output=True
        )
        assert run.returncode == -signal.SIGKILL, run.stderr
        after = _state(folder)
        assert after.keys() == new.keys(), point
        for name, rows in new.items():
            assert after[name].equals(rows), (point, name)
        shutil.rmtree(folder)


KILLED_IN_DROP = """
import os, signal, sys
import pyarrow as pa
import rillet
from rillet.stream import Stream
db = rillet.connect(sys.argv[1])
stream = db.create_stream("x", "v BIGINT")
stream.append_many(pa.table({"v": [1, 2, 3]}))
stream.flush()
Stream._destroy = lambda self: os.kill(os.getpid(), signal.SIGKILL)  # between commit and rm
db.drop_stream("x")
"""


def test_a_stream_dropped_by_a_killed_process_does_not_come_back(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-c", KILLED_IN_DROP, str(tmp_path)], env=env)
    assert run.returncode == -signal.SIGKILL
    assert (tmp_path / "streams" / "x").exists()  # the kill left its folder
    with rillet.connect(tmp_path) as db:
        assert "x" not in {s.name for s in db.streams()}
        again = db.create_stream("x", "v BIGINT")
        assert len(again) == 0 and db.sql("SELECT * FROM x").fetchall() == []
