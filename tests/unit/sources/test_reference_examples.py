"""Every example of the rtsql reference that reads a file, end to end through db.execute."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import rillet
from rillet import errors
from rillet.sources import source_of
from tests.unit.sources.test_sources import DEADLINE, ids, until

DATA = "1,aaron,purple,42\n2,bob,blue,11\n3,cindy,green,312\n"


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def test_the_tour(db: rillet.Database, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text(DATA)
    result = db.execute(
        "CREATE STREAM data(id int, name string, favcolor string,\n"
        f"luckynumber int) FROM LOCAL SOURCE 'tail(\"{path}\")';"
    )
    assert str(result) == "CREATE STREAM"
    flow = db.execute("SELECT * FROM data;")
    until(lambda: ids(db) == [1, 2, 3], "the file's lines")
    # $ echo 4,dave,orange,611 >> /path/to/data.txt  (another process)
    subprocess.run(
        [sys.executable, "-c", "import sys; open(sys.argv[1], 'a').write('4,dave,orange,611\\n')",
         str(path)], check=True, timeout=DEADLINE,
    )  # fmt: skip
    until(lambda: ids(db) == [1, 2, 3, 4], "the appended line")
    assert flow.running  # the flow runs as long as we allow it
    db.execute(f"DROP FLOW {flow.id}")  # \d 1
    assert [(r["id"], r["name"], r["favcolor"], r["luckynumber"]) for r in flow] == [
        (1, "aaron", "purple", 42),
        (2, "bob", "blue", 11),
        (3, "cindy", "green", 312),
        (4, "dave", "orange", 611),
    ]
    flow = db.execute("SELECT favcolor FROM data WHERE luckynumber = 42;")
    batches = flow.batches(timeout=None)
    first = next(batches)
    assert first.column("favcolor").to_pylist() == ["purple"]  # one row from the data set
    with open(path, "a") as out:  # more lines with luckynumber 42 appear too
        out.write("5,erin,red,42\n")
    assert next(batches).column("favcolor").to_pylist() == ["red"]
    flow.cancel()


@pytest.mark.parametrize(
    "spec",
    ["FROM FILE '{path}'", "FROM LOCAL FILE '{path}'", "FROM FILE 'file://{path}'"],
)
def test_the_three_equivalent_ways_to_name_a_local_file(
    db: rillet.Database, tmp_path: Path, spec: str
) -> None:
    path = tmp_path / "foo.txt"
    path.write_text("hello\nworld\n")
    db.execute(f"CREATE STREAM foo (x STRING) {spec.format(path=path)}")
    flow = db.execute("SELECT x FROM foo")
    assert [r["x"] for r in flow] == ["hello", "world"]  # ends at the end of the file


def test_a_file_on_another_file_system_is_not_available_yet(db: rillet.Database) -> None:
    with pytest.raises(errors.UnsupportedError, match="only local files"):
        db.execute(
            "CREATE STREAM foo (x STRING) FROM FILE\n'hdfs://nn.example.com/user/aaron/foo.txt';"
        )
    assert db.streams() == []


def test_a_pipe_delimited_file_relative_to_the_working_directory(
    db: rillet.Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "foo.txt").write_text("1|2\n3|\n|4\n")
    monkeypatch.chdir(tmp_path)
    db.execute(
        "CREATE STREAM x(a int, b int) FROM LOCAL FILE 'foo.txt'\n"
        "EVENT FORMAT 'delimited' PROPERTIES ('delimiter' = '|');"
    )
    flow = db.execute("SELECT a, b FROM x")
    assert [(r["a"], r["b"]) for r in flow] == [(1, 2), (3, None), (None, 4)]
    source = source_of(db, "x")
    assert source is not None and source.finished() and source.lines == 3


def test_timestamp_col_gives_the_records_their_event_time(
    db: rillet.Database, tmp_path: Path
) -> None:
    path = tmp_path / "events.txt"
    path.write_text("100,a\n900,b\n,c\n")
    db.execute(
        f"CREATE STREAM ev (ts TIMESTAMP, k STRING) FROM LOCAL FILE '{path}' "
        "EVENT FORMAT 'delimited' PROPERTIES ('timestamp.col' = 'ts')"
    )
    got = [(r["k"], r.timestamp) for r in db.execute("SELECT k FROM ev")]
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert got[:2] == [("a", epoch + dt.timedelta(milliseconds=100)),
                       ("b", epoch + dt.timedelta(milliseconds=900))]  # fmt: skip
    assert got[2][0] == "c" and got[2][1].year >= 2024  # NULL: the arrival time
