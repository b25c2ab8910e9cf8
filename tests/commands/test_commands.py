"""``rillet sql``, ``rillet streams`` and ``rillet ingest`` as processes over a data folder,
checked against DuckDB reading the same files."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

import rillet

ROWS = [
    ("2026-01-01T00:00:00Z", "a", 1.5),
    ("2026-01-01T00:00:01Z", "b", 2.5),
    ("2026-01-01T00:00:02Z", "a", 4.0),
]


def rillet_command(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``rillet ARGS`` as a process of its own, as the installed command would run."""
    return subprocess.run(
        [sys.executable, "-m", "rillet.cli", *args],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def write_csv(path: Path) -> Path:
    with path.open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["ts", "host", "lat"])
        out.writerows(ROWS)
    return path


def test_ingest_creates_a_stream_from_a_csv_and_sql_reads_it_as_duckdb_does(
    tmp_path: Path,
) -> None:
    data = str(tmp_path / "d")
    source = write_csv(tmp_path / "r.csv")
    done = rillet_command(
        "ingest", "--data", data, "--stream", "reqs", "--create", "--time-column", "ts", str(source)
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3 records appended to reqs (next offset 3)\n"
    query = "SELECT host, sum(lat) AS s, count(*) AS n FROM {} GROUP BY host ORDER BY host"
    done = rillet_command("sql", "--data", data, "--format", "json", query.format("reqs"))
    assert done.returncode == 0, done.stderr
    relation = duckdb.sql(query.format(f"read_csv('{source}')"))
    assert relation is not None
    expected = relation.fetchall()
    got = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["host"], r["s"], r["n"]) for r in got] == expected
    done = rillet_command("sql", "--data", data, "--format", "csv", query.format("reqs"))
    assert done.stdout.splitlines() == ['"host","s","n"', '"a",5.5,2', '"b",2.5,1']
    done = rillet_command("sql", "--data", data, query.format("reqs"))
    assert [line.split() for line in done.stdout.splitlines()[2:]] == [
        ["a", "│", "5.5", "│", "2"],
        ["b", "│", "2.5", "│", "1"],
    ]


def test_ingest_of_every_format_appends_to_an_existing_stream(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with rillet.connect(data) as db:
        db.create_stream("m", "host STRING, lat DOUBLE")
    table = pa.table({"host": ["p", "q"], "lat": [1.0, 2.0]})
    pq.write_table(table, tmp_path / "m.parquet")
    with ipc.new_stream(tmp_path / "m.arrows", table.schema) as w:
        w.write_table(table)
    with ipc.new_file(tmp_path / "m.arrow", table.schema) as w:
        w.write_table(table)
    (tmp_path / "m.jsonl").write_text('{"host": "p", "lat": 1}\n{"host": "q", "lat": 2.0}\n')
    (tmp_path / "m.csv").write_text("lat,host\n1,p\n2,q\n")  # by the header's names
    for name in ("m.parquet", "m.arrows", "m.arrow", "m.jsonl", "m.csv"):
        done = rillet_command("ingest", "--data", str(data), "--stream", "m", str(tmp_path / name))
        assert done.returncode == 0, (name, done.stderr)
    done = rillet_command(
        "ingest", "--data", str(data), "--stream", "m", "--format", "csv", "-",
        stdin="host,lat\nr,3\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with rillet.connect(data) as db:
        rows = db.sql("SELECT host, lat FROM m").fetchall()
    assert rows == [("p", 1.0), ("q", 2.0)] * 5 + [("r", 3.0)]


def test_a_bad_value_anywhere_appends_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with rillet.connect(data) as db:
        db.create_stream("m", "host STRING NOT NULL, lat DOUBLE")
    (tmp_path / "bad.jsonl").write_text('{"host": "p", "lat": 1}\n{"host": null, "lat": 2}\n')
    done = rillet_command(
        "ingest", "--data", str(data), "--stream", "m", str(tmp_path / "bad.jsonl")
    )
    assert done.returncode == 1
    assert "host" in done.stderr and "nothing appended" in done.stderr
    (tmp_path / "bad.csv").write_text("host,lat\np,1\nq,x\n")
    done = rillet_command("ingest", "--data", str(data), "--stream", "m", str(tmp_path / "bad.csv"))
    assert done.returncode == 1
    assert "'x'" in done.stderr and "Traceback" not in done.stderr
    with rillet.connect(data) as db:
        assert len(db.stream("m")) == 0


def test_ingest_refuses_what_it_cannot_do_clearly(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    source = write_csv(tmp_path / "r.csv")
    done = rillet_command("ingest", "--data", data, "--stream", "nope", str(source))
    assert done.returncode == 1
    assert "no stream 'nope': give --create" in done.stderr
    (tmp_path / "r.txt").write_text("x")
    done = rillet_command("ingest", "--data", data, "--stream", "s", str(tmp_path / "r.txt"))
    assert done.returncode == 2 and "give --format" in done.stderr
    done = rillet_command("ingest", "--data", data, "--stream", "s", str(tmp_path / "none.csv"))
    assert done.returncode == 2 and "does not exist" in done.stderr


def test_streams_lists_names_sizes_and_schemas(tmp_path: Path) -> None:
    data = tmp_path / "d"
    with rillet.connect(data) as db:
        s = db.create_stream("m", "ts TIMESTAMP, host STRING", time_column="ts")
        s.append_many([(1, "a"), (2, "b")])
        db.create_stream("n", "x INT")
    done = rillet_command("streams", "--data", str(data), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [
        {
            "name": "m",
            "records": 2,
            "time_column": "ts",
            "columns": "ts TIMESTAMP NOT NULL, host STRING",
        },
        {
            "name": "n",
            "records": 0,
            "time_column": "_time",
            "columns": "x INT",
        },
    ]


def test_sql_errors_are_one_line_and_every_command_has_help(tmp_path: Path) -> None:
    done = rillet_command("sql", "--data", str(tmp_path / "d"), "SELEC 1")
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ParseError: ") and "1:1" in done.stderr
    for command in ("serve", "shell", "sql", "ingest", "streams", "demo"):
        done = rillet_command(command, "--help")
        if command == "serve" and done.returncode == 2:
            continue  # rillet serve comes with the server
        assert done.returncode == 0 and "Usage: rillet " + command in done.stdout


def test_url_and_token_reach_a_server_by_option_or_environment(tmp_path: Path) -> None:
    import os
    import signal

    from tests.server.conftest import free_port, wait_served

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "rillet.cli", "serve", "--data", str(tmp_path / "served"),
         "--port", str(port), "--token", "s3cret"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_served(url, server)
        source = write_csv(tmp_path / "requests.csv")
        done = rillet_command(
            "ingest", "--url", url, "--token", "s3cret", "--stream", "req", "--create",
            "--time-column", "ts", str(source),
        )  # fmt: skip
        assert (done.returncode, done.stdout) == (0, "3 records appended to req (next offset 3)\n")
        env = {**os.environ, "RILLET_URL": url, "RILLET_TOKEN": "s3cret"}
        query = "SELECT host, lat FROM req ORDER BY ts"
        done = subprocess.run(
            [sys.executable, "-m", "rillet.cli", "sql", query, "--format", "json"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert [json.loads(line) for line in done.stdout.splitlines()] == [
            {"host": h, "lat": lat} for _, h, lat in ROWS
        ]
        done = subprocess.run(
            [sys.executable, "-m", "rillet.cli", "streams", "--format", "csv"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert (
            done.stdout.splitlines()[1]
            == '"req",3,"ts","ts TIMESTAMP NOT NULL, host STRING, lat DOUBLE"'
        )
        for token in ([], ["--token", "wrong"]):
            refused = rillet_command("streams", "--url", url, *token)
            assert refused.returncode == 1
            assert refused.stderr == (
                "Error: AccessError: a valid 'Authorization: Bearer <token>' is required\n"
            )
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_serve_over_tls_and_only_on_loopback_without_tokens(tmp_path: Path) -> None:
    import shutil
    import signal
    import ssl
    import time

    import httpx
    import pytest

    from tests.server.conftest import free_port

    refused = rillet_command("serve", "--data", str(tmp_path / "d"), "--host", "0.0.0.0")
    assert refused.returncode == 1
    assert refused.stderr == (
        "Error: ConfigError: without tokens the server binds to loopback only, not '0.0.0.0': "
        "give --token or --tokens-file to serve other hosts\n"
    )
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes the test's certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "rillet.cli", "serve", "--data", str(tmp_path / "d"),
         "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"https://127.0.0.1:{port}"
        trusted = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(url + "/healthz", verify=trusted, timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and server.poll() is None
                time.sleep(0.1)
        assert answer.json()["status"] == "ok"
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)  # plain HTTP is not served
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
    assert server.returncode == 0
    assert f"serving {tmp_path / 'd'} at {url}/" in out
    assert "no tokens: anyone on this machine may read and write; bound to loopback only" in out


def test_sql_include_open_adds_the_rows_of_windows_still_open(tmp_path: Path) -> None:
    """``rillet sql --include-open``: a roll-up's closed windows, then its open one too
    (``is_open`` true), as ``db.sql(query, include_open=True)`` gives them."""
    data = tmp_path / "d"
    with rillet.connect(data) as db:
        db.create_stream("reqs", "ts TIMESTAMP, host STRING, lat DOUBLE", time_column="ts")
        db.execute(
            "CREATE STREAM per_s AS SELECT host, window_start, count(*) AS n FROM reqs "
            "GROUP BY host, TUMBLE(ts, INTERVAL '1' SECOND)"
        )
        db.stream("reqs").append_many(ROWS)
    query = "SELECT host, n, is_open FROM per_s ORDER BY window_start, host"
    closed = rillet_command("sql", "--data", str(data), "--format", "csv", query)
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.split() == ['"host","n","is_open"', '"a",1,false', '"b",1,false']
    both = rillet_command("sql", "--data", str(data), "--format", "csv", "--include-open", query)
    assert both.returncode == 0, both.stderr
    assert both.stdout.split() == [*closed.stdout.split(), '"a",1,true']
