"""FILE and tail() sources through db.execute: policies, errors, lifetime, and a file
followed while other processes append to it, rotate it and truncate it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import rillet
from rillet import errors
from rillet.sources import source_of

DEADLINE = 30.0  # seconds a poll waits before the test fails


def until(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something true; fail after DEADLINE."""
    end = time.monotonic() + DEADLINE
    while time.monotonic() < end:
        result = check()
        if result:
            return result
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def mem() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        yield database


def rows(db: rillet.Database, stream: str, *columns: str) -> list[tuple[Any, ...]]:
    """The records of ``stream`` in offset order."""
    s = db.stream(stream)
    count = s.next_offset
    return [tuple(r[c] for c in columns) for r in s.read(0, count)] if count else []


def ids(db: rillet.Database, stream: str = "data") -> list[int]:
    return [r[0] for r in rows(db, stream, "id")]


def rejected(db: rillet.Database, stream: str = "data") -> list[tuple[Any, ...]]:
    return rows(db, f"{stream}.rejected", "file", "line", "field", "reason", "text")


def test_a_file_stream_keeps_malformed_lines_in_rejected(
    mem: rillet.Database, tmp_path: Path
) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1,a\nx,b\n2,\n3,c,extra\n")
    mem.execute(f"CREATE STREAM data (id INT, name STRING) FROM LOCAL FILE '{path}'")
    flow = mem.execute("SELECT id, name FROM data")
    assert [(r["id"], r["name"]) for r in flow] == [(1, "a"), (2, ""), (3, "c")]
    assert rejected(mem) == [(str(path), 2, "id", "'x' is not a valid INT", "x,b")]
    assert "data.rejected" in {s.name for s in mem.streams()}


def test_the_fail_policy_names_file_line_and_field(mem: rillet.Database, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1,a\n2,b\nx,c\n4,d\n")
    mem.execute(
        f"CREATE STREAM data (id INT, name STRING) FROM LOCAL FILE '{path}' "
        "EVENT FORMAT 'delimited' PROPERTIES ('malformed' = 'fail')"
    )
    flow = mem.execute("SELECT id FROM data")
    got = []
    with pytest.raises(errors.FlowError) as info:
        for record in flow:
            got.append(record["id"])
    assert got == [1, 2]  # the lines before the bad one went through
    cause = info.value.__cause__
    assert isinstance(cause, errors.RecordError)
    assert (cause.file, cause.line, cause.field) == (str(path), 3, "id")  # type: ignore[attr-defined]
    assert f"{path}: line 3, field 'id'" in str(cause)
    assert "data.rejected" not in {s.name for s in mem.streams()}


def test_timestamp_col_is_the_event_time(mem: rillet.Database, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1,5000\n2,\n")
    mem.execute(
        f"CREATE STREAM data (id INT, ts TIMESTAMP) FROM LOCAL FILE '{path}' "
        "EVENT FORMAT 'delimited' PROPERTIES ('timestamp.col' = 'ts')"
    )
    source = source_of(mem, "data")
    assert source is not None and source.wait(DEADLINE)
    stream = mem.stream("data")
    assert stream.schema.time_column == "ts"
    times = [r[0] for r in rows(mem, "data", "ts")]
    assert times[0] == dt.datetime(1970, 1, 1, 0, 0, 5, tzinfo=dt.UTC)
    assert times[1].year >= 2024  # NULL: the arrival time


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        ("FROM NODE 'collector'", errors.UnsupportedError, "NODE 'collector'.*not available yet"),
        ("FROM SOURCE 'syslogTcp(5140)'", errors.UnsupportedError, "not available yet"),
        (
            "FROM SOURCE 'tail({path})'",
            errors.ConfigError,
            r"^source 'tail\(.*\)': tail takes one path in quotes, as in "
            r'tail\("/var/log/app.log"\)$',
        ),
        ("FROM FILE 'hdfs://nn/x.txt'", errors.UnsupportedError, "only local files"),
        ("FROM FILE '/no/such/file.txt'", errors.NotFoundError, "no such file"),
        (
            "FROM FILE '{path}' EVENT FORMAT 'xml'",
            errors.ConfigError,
            "unknown event format 'xml'",
        ),
        (
            "FROM FILE '{path}' EVENT FORMAT 'delimited' PROPERTIES ('timestamp.col' = 'id')",
            errors.ConfigError,
            "must be a TIMESTAMP",
        ),
        (
            "FROM FILE '{path}' EVENT FORMAT 'delimited' PROPERTIES ('malformed' = 'drop')",
            errors.ConfigError,
            "'skip'.*or 'fail'",
        ),
        ("FROM SOURCE 'tail(\"{path}\")' EVENT FORMAT 'avro'", errors.UnsupportedError, "tail"),
        (
            "FROM FILE '{dir}' EVENT FORMAT 'delimited'",
            errors.ConfigError,
            r"^FILE '.*' names a directory \(.*\); a source reads a file$",
        ),
        ("FROM SOURCE 'tail(\"{dir}\")'", errors.ConfigError, "names a directory"),
        (
            "FROM FILE '{path}' EVENT FORMAT 'avro' PROPERTIES ('schema' = '{{}}')",
            errors.ConfigError,
            "^property 'schema' is not an Avro schema: it has no 'type'$",
        ),
        (
            "FROM FILE '{path}' EVENT FORMAT 'delimited' "
            "PROPERTIES ('delimiter' = ',', 'delimiter' = '|')",
            errors.ParseError,
            "^expected a property not given before at 1:.*'delimiter' is given twice",
        ),
    ],
)
def test_bad_sources_say_what_is_wrong_and_create_nothing(
    mem: rillet.Database, tmp_path: Path, text: str, error: type[Exception], match: str
) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1\n")
    statement = f"CREATE STREAM data (id INT) {text.format(path=path, dir=tmp_path)}"
    with pytest.raises(error, match=match):
        mem.execute(statement)
    assert mem.streams() == []


def test_drop_stream_and_close_stop_the_source_threads(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1\n")
    with rillet.connect() as db:
        db.execute(f"CREATE STREAM a (id INT) FROM SOURCE 'tail(\"{path}\")'")
        db.execute(f"CREATE STREAM b (id INT) FROM SOURCE 'tail(\"{path}\")'")
        a, b = source_of(db, "a"), source_of(db, "b")
        assert a is not None and b is not None
        until(lambda: ids(db, "a") == [1], "the tail to read the file")
        db.execute("DROP STREAM a")
        assert not a._thread.is_alive() and source_of(db, "a") is None
        assert {s.name for s in db.streams()} == {"b", "b.rejected"}
    assert not b._thread.is_alive()


def run(code: str, *args: str) -> None:
    """Another process does something to the followed file."""
    subprocess.run([sys.executable, "-c", code, *args], check=True, timeout=DEADLINE)


APPEND = "import sys; open(sys.argv[1], 'a').write(sys.argv[2])"
ROTATE = (
    "import os, sys; p = sys.argv[1]; open(p, 'a').write('5\\n'); os.rename(p, p + '.1'); "
    "open(p, 'w').write('6\\n60\\n600\\n')"
)
TRUNCATE = "import sys; f = open(sys.argv[1], 'r+'); f.truncate(0); f.write('7\\n'); f.close()"


def test_tail_follows_appends_rotation_and_truncation(mem: rillet.Database, tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1\n2\n")
    mem.execute(f"CREATE STREAM data (id INT) FROM LOCAL SOURCE 'tail(\"{path}\")'")
    flow = mem.execute("SELECT id FROM data")
    until(lambda: ids(mem) == [1, 2], "the lines already in the file")
    run(APPEND, str(path), "3\n4")  # a partial last line waits for its line end
    until(lambda: ids(mem) == [1, 2, 3], "an appended line")
    run(APPEND, str(path), "\nbad\n")
    until(lambda: ids(mem) == [1, 2, 3, 4], "the completed line")
    run(ROTATE, str(path))
    until(lambda: ids(mem) == [1, 2, 3, 4, 5, 6, 60, 600], "the rotated and the new file")
    run(TRUNCATE, str(path))
    until(lambda: ids(mem)[-1:] == [7], "the truncated file")
    assert ids(mem) == [1, 2, 3, 4, 5, 6, 60, 600, 7]
    assert rejected(mem) == [(str(path), 5, "id", "'bad' is not a valid INT", "bad")]
    assert flow.running  # a flow over a tail runs until cancelled
    flow.cancel()
    assert [r["id"] for r in flow] == [1, 2, 3, 4, 5, 6, 60, 600, 7]


WRITER = """
import sys
n = 0
with open(sys.argv[1], "a", buffering=1) as out:
    while True:
        n += 1
        out.write(f"{n}\\n")
"""


def test_tail_keeps_up_with_a_writer_killed_mid_stream(
    mem: rillet.Database, tmp_path: Path
) -> None:
    path = tmp_path / "data.txt"
    path.write_text("")
    mem.execute(f"CREATE STREAM data (id BIGINT) FROM SOURCE 'tail(\"{path}\")'")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    try:
        until(lambda: len(ids(mem)) >= 2000, "the writer's lines")
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    complete = path.read_bytes().count(b"\n")
    until(lambda: len(ids(mem)) == complete, "every complete line")
    assert ids(mem) == list(range(1, complete + 1))
