"""The shell's session in-process: statements, FlumeBase's backslash commands, settings."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TypeAlias

import pytest

import rillet
from rillet.shell.output import Console
from rillet.shell.session import Quit, Session

Shell: TypeAlias = tuple[Session, io.StringIO, io.StringIO]


@pytest.fixture
def shell() -> Iterator[Shell]:
    out, err = io.StringIO(), io.StringIO()
    session = Session(Console(out, err), rillet.connect)
    session.open_local()
    yield session, out, err
    session.close()


def take(buffer: io.StringIO) -> list[str]:
    lines = buffer.getvalue().splitlines()
    buffer.seek(0)
    buffer.truncate()
    return lines


def wait_for(buffer: io.StringIO, count: int, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(buffer.getvalue().splitlines()) < count:
        time.sleep(0.01)
    return take(buffer)


def test_a_statement_may_span_lines_and_the_prompt_says_so(shell: Shell, tmp_path: Path) -> None:
    session, out, err = shell
    (tmp_path / "f.txt").write_text("")
    assert session.prompt == "rtsql> "
    session.line("CREATE STREAM s (id INT, name STRING)")
    assert session.prompt == "    -> "
    session.line(f"  FROM LOCAL FILE '{tmp_path / 'f.txt'}';")
    assert session.prompt == "rtsql> "
    assert take(out) == ["CREATE STREAM"]
    assert err.getvalue() == ""


def test_backslash_c_cancels_the_statement_being_typed(shell: Shell) -> None:
    session, out, err = shell
    session.line("SELECT something where I made a typo")
    session.line("and then continued \\c")
    assert session.prompt == "rtsql> "
    session.line("SHOW STREAMS;")
    assert take(out) == []  # no streams; the cancelled text never ran
    assert err.getvalue() == ""


def test_a_select_is_watched_and_its_rows_print_timestamp_first(
    shell: Shell, tmp_path: Path
) -> None:
    session, out, err = shell
    data = tmp_path / "data.txt"
    data.write_text("1,aaron,purple,42\n2,bob,blue,11\n3,cindy,green,312\n")
    session.line(
        f"CREATE STREAM data(id int, name string, favcolor string, luckynumber int) "
        f"FROM LOCAL FILE '{data}';"
    )
    session.line("SELECT favcolor, luckynumber FROM data WHERE luckynumber > 40;")
    lines = wait_for(out, 5)
    assert lines[:2] == ["CREATE STREAM", "Started flow: flow[mId=1]"]
    header, *rows = lines[2:]
    assert header.split() == ["timestamp", "favcolor", "luckynumber"]
    assert [row.split()[-2:] for row in rows] == [["purple", "42"], ["green", "312"]]
    # aligned: each value starts where its header does; numbers end where theirs ends
    assert {row.index("purple") for row in rows[:1]} == {header.index("favcolor")}
    assert rows[1].rstrip().endswith("312") and len(rows[1]) == len(header)
    assert err.getvalue() == ""


def test_flows_are_listed_watched_unwatched_and_dropped(shell: Shell) -> None:
    session, out, err = shell
    session.db.create_stream("live", "ts TIMESTAMP, x INT", time_column="ts")
    session.line("SELECT x FROM live;")
    session.line("\\set rillet.flow.autowatch=false")
    session.line("SELECT x + 1 AS y FROM live;")
    take(out)
    session.line("\\f")
    assert take(out) == [
        "Watch?  FlowId  Stream  Query                        State    Error",
        "------  ------  ------  ---------------------------  -------  -----",
        "*       1               SELECT x FROM live           running",
        "        2               SELECT x + 1 AS y FROM live  running",
    ]
    session.line("\\u 1")
    session.line("\\w 2")
    assert take(out) == ["Unwatched flow 1", "Watching flow 2"]
    session.line("\\f")
    assert [line[:1] for line in take(out)[2:]] == [" ", "*"]
    session.line("\\d 1")
    session.line("\\D 2")
    assert take(out) == ["Dropped flow 1", "Dropped flow 2"]
    assert session.db.flows() == []
    assert err.getvalue() == ""


def test_a_named_flow_is_not_dropped_as_a_flow(shell: Shell) -> None:
    session, out, err = shell
    session.db.create_stream("live", "ts TIMESTAMP, x INT", time_column="ts")
    session.line("CREATE STREAM big AS SELECT x FROM live WHERE x > 1;")
    take(out)
    session.line("\\d 1")
    session.line("\\D 1")
    assert take(err) == [
        f"error: ConflictError: flow 1 is the named flow 'big': {command} would stop it only "
        "until the database opens again; DROP STREAM big removes it"
        for command in ("\\d", "\\D")
    ]
    assert [(f.id, f.state) for f in session.db.flows()] == [(1, "running")]


def test_set_shows_and_sets_settings_by_either_name(shell: Shell) -> None:
    session, out, err = shell
    session.line("\\set flumebase.aggregation.buckets=7")
    assert take(out) == ["rillet.aggregation.buckets = '7'"]
    assert session.db.config["rillet.aggregation.buckets"] == 7
    session.line("\\set rillet.slack.time")
    assert take(out) == ["rillet.slack.time = '200'"]
    session.line("\\set rillet.aggregation.")
    assert take(out) == [
        "rillet.aggregation.buckets = '7'",
        "rillet.aggregation.continuous.output = 'false'",
        "rillet.aggregation.max.prior.interval = '5000'",
    ]
    session.line("\\set")
    assert len(take(out)) == len(session.db.config)
    session.line("\\set rillet.aggregation.buckets=zero")
    assert "rillet.aggregation.buckets" in err.getvalue()
    assert session.db.config["rillet.aggregation.buckets"] == 7  # a refused value changes nothing
    assert session.errors == 1


def test_errors_name_their_position_and_are_counted(shell: Shell) -> None:
    session, out, err = shell
    session.line("SELECT x")
    session.line("FROM (;")
    assert take(err) == [
        "error: ParseError: expected 'SELECT' at 2:7, found end of input",
        "  FROM (",
        "        ^",
    ]
    session.line("\\w 9")
    session.line("\\nonesuch")
    session.line("\\name 1 baz")
    lines = take(err)
    assert lines[0].startswith("error: NotFoundError: no running flow 9")
    assert lines[1] == "error: unknown command \\nonesuch: \\h lists the commands"
    assert lines[2] == "error: NotFoundError: no running flow 1 (running: none)"
    assert session.errors == 4


def test_name_attaches_a_stream_to_a_flow_and_dname_removes_it(shell: Shell) -> None:
    session, out, err = shell
    live = session.db.create_stream("live", "ts TIMESTAMP, x INT", time_column="ts")
    session.line("\\set rillet.flow.autowatch=false")
    session.line("SELECT x * 2 AS y FROM live;")
    take(out)
    session.line("\\name 1 baz")
    assert take(out) == ["Created stream 'baz' on flow 1"]
    session.line("\\f")
    assert take(out)[2] == "        1       baz     SELECT x * 2 AS y FROM live  running"
    live.append_many([(None, 1), (None, 2), (None, 5)])
    assert session.db.sql("SELECT y FROM baz ORDER BY y").fetchall() == [(2,), (4,), (10,)]
    for line in ("\\name 1 other", "\\name 1", "\\name 7 x", "\\name 1 live"):
        session.line(line)
    assert take(err) == [
        "error: ConflictError: flow 1 already has the stream name 'baz': a flow has at most one "
        "(\\dname 1 removes it)",
        "error: ConfigError: \\name takes a flow id and a stream name (\\name 5 baz), got '1'",
        "error: NotFoundError: no running flow 7 (running: 1)",
        "error: ConflictError: flow 1 already has the stream name 'baz': a flow has at most one "
        "(\\dname 1 removes it)",
    ]
    session.line("\\dname 1")
    assert take(out) == ["Removed stream name from flow 1"]
    assert [s.name for s in session.db.streams()] == ["live"] and session.db.flow(1).running
    session.line("\\dname 1")
    session.line("\\name 1 live")
    assert take(err) == [
        "error: NotFoundError: flow 1 has no stream name to remove (\\name 1 stream attaches one)",
        "error: ConflictError: stream 'live' already exists: \\name 1 needs a new stream name",
    ]
    session.line("CREATE STREAM big AS SELECT x FROM live WHERE x > 1;")
    take(out)
    session.line("\\dname 2")
    session.line("\\name 2 other")
    lines = take(err)
    assert lines[0] == (
        "error: ConflictError: flow 2 is the named flow of stream 'big' (CREATE STREAM big AS "
        "SELECT): \\dname cannot change its name; DROP STREAM big removes the flow and its stream"
    )
    assert lines[1].startswith("error: ConflictError: flow 2 is the named flow of stream 'big'")
    assert session.db.sql("SELECT x FROM big ORDER BY x").fetchall() == [(2,), (5,)]
    assert session.errors == 8


def test_help_quit_disconnect_and_open(shell: Shell) -> None:
    session, out, err = shell
    session.line("help;")
    assert take(out)[0] == "All text commands must end with a ';' character."
    session.line("\\h")
    assert any(line.lstrip().startswith("\\shutdown!") for line in take(out))
    session.line("\\disconnect")
    session.line("SHOW STREAMS;")
    assert take(err) == ["error: not connected: \\open local or \\open server [port]"]
    session.line("\\open local")
    assert take(out) == ["Connected to the local database"]
    session.line("\\open server x")
    assert "port must be a number" in take(err)[0]
    with pytest.raises(Quit):
        session.line("exit;")
    with pytest.raises(Quit):
        session.line("\\q")


def test_shutdown_stops_the_local_database_and_its_flows(shell: Shell) -> None:
    session, out, err = shell
    session.db.create_stream("live", "ts TIMESTAMP, x INT", time_column="ts")
    session.line("SELECT x FROM live;")
    flow = session.db.flow(1)
    session.line("\\shutdown!")
    assert take(out)[-1].startswith("Shut down the local database")
    assert not flow.running
    session.line("\\open local")
    session.line("SHOW STREAMS;")
    assert take(out) == ["Connected to the local database"]  # a new, empty database
