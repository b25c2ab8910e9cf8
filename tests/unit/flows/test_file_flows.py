"""A flow over FILE-sourced streams ends by itself once the file is read and every window is
out: iteration stops.  (Needs the sources engine; skipped where it is not built in.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rillet

pytest.importorskip("rillet.sources", reason="the sources engine (rillet.sources) is not built in")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[rillet.Database]:
    (tmp_path / "data.txt").write_text("1,aaron,purple,42\n2,bob,blue,11\n3,cindy,green,312\n")
    with rillet.connect() as database:
        database.execute(
            "CREATE STREAM data(id int, name string, favcolor string, luckynumber int) "
            f"FROM LOCAL FILE '{tmp_path / 'data.txt'}'"
        )
        yield database


def test_a_flow_over_a_file_ends_after_it(db: rillet.Database) -> None:
    flow = db.execute("SELECT favcolor FROM data WHERE luckynumber = 42;")
    assert [r["favcolor"] for r in flow] == ["purple"]  # iteration ends by itself
    assert flow.wait(10) and db.flows() == []


def test_its_last_windows_are_flushed(db: rillet.Database) -> None:
    flow = db.execute("SELECT COUNT(*) AS n FROM data OVER RANGE INTERVAL 1 HOURS PRECEDING")
    counts = [r["n"] for r in flow]  # the last window holds the whole (short) file
    assert counts[-1] == 3
    assert flow.wait(10)
