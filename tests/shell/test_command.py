"""``rillet shell`` as a process: scripts by -f and stdin, and the prompt on a terminal."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

SHELL = [sys.executable, "-m", "rillet.cli", "shell"]

TOUR = """\
CREATE STREAM data(id int, name string, favcolor string,
  luckynumber int) FROM LOCAL FILE '{path}';
SELECT favcolor FROM data WHERE luckynumber = 42;
"""


def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.txt"
    path.write_text("1,aaron,purple,42\n2,bob,blue,11\n3,cindy,green,312\n")
    return path


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SHELL, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_a_script_by_f_runs_the_tour_and_prints_the_flows_rows(tmp_path: Path) -> None:
    script = tmp_path / "tour.sql"
    script.write_text(TOUR.format(path=data_file(tmp_path)))
    done = run(["-f", str(script)])
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["CREATE STREAM", "Started flow: flow[mId=1]"]
    header, row = lines[2:]
    assert header.split() == ["timestamp", "favcolor"]
    assert row.split()[-1] == "purple"
    assert row.index("purple") == header.index("favcolor")  # aligned under its name


def test_statements_piped_on_stdin_and_a_failing_one_sets_the_status(tmp_path: Path) -> None:
    done = run(["local"], stdin="SHOW FUNCTIONS;\nSELECT x FROM nowhere;\nDESCRIBE count;\n")
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith("error: NotFoundError: ")
    assert "nowhere" in done.stderr
    out = done.stdout.splitlines()
    assert "count" in " ".join(out)  # SHOW FUNCTIONS ran, and DESCRIBE after the error too
    assert out[-1].startswith("count (")


def test_a_script_that_ends_inside_a_statement_fails(tmp_path: Path) -> None:
    done = run([], stdin="SHOW STREAMS")
    assert done.returncode == 1
    assert "the input ended inside a statement" in done.stderr


def test_a_data_folder_keeps_streams_between_shells(tmp_path: Path) -> None:
    folder = str(tmp_path / "d")
    make = f"CREATE STREAM s (id INT) FROM LOCAL FILE '{data_file(tmp_path)}';"
    assert run(["--data", folder], stdin=make).returncode == 0
    done = run(["--data", folder], stdin="SHOW STREAMS;")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("s (STREAM(INT))")


def test_an_unreachable_server_is_a_clear_error() -> None:
    done = run(["http://127.0.0.1:9"], stdin="SHOW STREAMS;")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert "Traceback" not in done.stderr


def read_until(fd: int, text: str, timeout: float = 20.0) -> str:
    seen = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if text.encode() in seen:
                return seen.decode(errors="replace")
    raise AssertionError(f"{text!r} not seen; got {seen.decode(errors='replace')!r}")


def test_the_prompt_on_a_terminal_watches_a_flow_and_quits(tmp_path: Path) -> None:
    path = data_file(tmp_path)
    main, child = pty.openpty()
    env = {**os.environ, "RILLET_HISTORY": str(tmp_path / "history"), "TERM": "dumb"}
    process = subprocess.Popen(SHELL, stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    try:
        read_until(main, "rtsql>")
        os.write(main, b"CREATE STREAM data(id int, name string, favcolor string,\r")
        read_until(main, "->")
        source = f"""'tail("{path}")'"""
        os.write(main, f"luckynumber int) FROM LOCAL SOURCE {source};\r".encode())
        read_until(main, "CREATE STREAM")
        os.write(main, b"SELECT name FROM data WHERE luckynumber > 100;\r")
        read_until(main, "cindy")
        with path.open("a") as grown:  # FlumeBase's tour: a line added shows up live
            grown.write("4,dave,orange,611\n")
        read_until(main, "dave")
        os.write(main, b"\\f\r")
        seen = read_until(main, "SELECT name FROM data")
        assert "Watch?" in seen and "FlowId" in seen
        os.write(main, b"\\d 1\r")
        read_until(main, "Dropped flow 1")
        os.write(main, b"\\q\r")
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(main)
    assert "SELECT name FROM data" in (tmp_path / "history").read_text()


def test_name_and_dname_through_stdin_against_a_server(tmp_path: Path) -> None:
    import threading

    import uvicorn

    import rillet
    from rillet.server import ServerConfig, build_app
    from tests.server.conftest import free_port

    served = rillet.connect(tmp_path / "served")
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(served, ServerConfig(data=tmp_path / "served")),
            host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1,
        )
    )  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        while not server.started:
            time.sleep(0.02)
        nums = served.create_stream("nums", "n INT")
        script = "\\set rillet.flow.autowatch=false\nSELECT n * 10 AS tens FROM nums;\n"
        done = run([url], stdin=script + "\\name 1 baz\n\\f\n")
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-4:] == [
            "Created stream 'baz' on flow 1",
            "Watch?  FlowId  Stream  Query                            State    Error",
            "------  ------  ------  "
            + "-" * len("SELECT n * 10 AS tens FROM nums")
            + "  -------  -----",
            "        1       baz     SELECT n * 10 AS tens FROM nums  running",
        ]
        nums.append_many([(1,), (2,), (3,)])  # the flow outlives the shell; it feeds baz
        assert served.sql("SELECT tens FROM baz ORDER BY tens").fetchall() == [(10,), (20,), (30,)]
        done = run([url], stdin="\\dname 1\n\\dname 1\n")
        assert done.returncode == 1
        assert done.stdout.splitlines() == ["Removed stream name from flow 1"]
        assert done.stderr.splitlines() == [
            "error: NotFoundError: flow 1 has no stream name to remove (\\name 1 stream attaches "
            "one)"
        ]
        assert [s.name for s in served.streams()] == ["nums"]
        assert [f.id for f in served.flows()] == [1]
    finally:
        server.should_exit = True
        thread.join(10)
        served.close()
