"""The HTTP API against a real server: what each endpoint answers, checked against the
library (DuckDB's answer for SQL), and that a refused request changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pytest

from rillet.batches import ipc_bytes
from tests.server.conftest import Running
from tests.unit.support import wait_until

SCHEMA = "ts TIMESTAMP, host STRING NOT NULL, ms DOUBLE"
ROWS = [
    {"ts": "2026-01-01T00:00:00Z", "host": "a", "ms": 1.5},
    {"ts": "2026-01-01T00:00:01Z", "host": "b", "ms": 2.5},
    {"ts": "2026-01-01T00:00:02Z", "host": "a", "ms": 4.0},
]


def make(server: Running, name: str = "req") -> None:
    answer = server.http.post(
        "/v1/streams", json={"name": name, "schema": SCHEMA, "time_column": "ts"}
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["schema"] == [
        {"name": "ts", "type": "TIMESTAMP", "nullable": False},
        {"name": "host", "type": "STRING", "nullable": False},
        {"name": "ms", "type": "DOUBLE", "nullable": True},
    ]


def test_streams_are_made_listed_described_and_dropped(server: Running) -> None:
    make(server)
    names = [s["name"] for s in server.http.get("/v1/streams").json()]
    assert names == ["req"]
    described = server.http.get("/v1/streams/req").json()
    assert (described["records"], described["time_column"], described["partition"]) == (
        0, "ts", "1h",
    )  # fmt: skip
    again = server.http.post("/v1/streams", json={"name": "req", "schema": SCHEMA})
    assert again.status_code == 409 and again.json()["error"] == "ConflictError"
    assert server.http.delete("/v1/streams/req").status_code == 204
    missing = server.http.get("/v1/streams/req")
    assert missing.status_code == 404
    assert missing.json()["error"] == "NotFoundError"
    assert missing.json()["detail"]["name"] == "req"


def test_a_stream_carries_its_ingest_rates_sampled_every_second(server: Running) -> None:
    make(server, "rated")

    def rates() -> list[float]:
        return list(server.http.get("/v1/streams/rated").json()["ingest_rates"])

    assert wait_until(lambda: len(rates()) >= 1)  # sampled twice: records from now count
    assert set(rates()) == {0.0}
    appended = server.http.post("/v1/streams/rated/records", json=ROWS)
    assert appended.status_code == 200, appended.text
    # the 3 records fall between two samples a second apart: one rate of about 3/s, the
    # rest 0; they are sampled by the server, whoever looked meanwhile
    assert wait_until(lambda: sum(rates()) > 0)
    history = rates()
    assert all(r >= 0 for r in history)
    assert 0 < max(history) <= 3  # samples are at least a second apart
    listed = {s["name"]: s for s in server.http.get("/v1/streams").json()}
    assert listed["rated"]["ingest_rates"][: len(history)] == history


def test_every_body_format_appends_and_reads_back_in_every_format(server: Running) -> None:
    make(server)
    post = server.http.post
    assert post("/v1/streams/req/records", json=ROWS[0]).json() == {
        "appended": 1, "first_offset": 0, "next_offset": 1,
    }  # fmt: skip
    assert post("/v1/streams/req/records", json=ROWS[1:]).json()["next_offset"] == 3
    ndjson = "\n".join(
        f'{{"ts": "2026-01-01T00:00:03Z", "host": "c", "ms": {i}}}' for i in range(2)
    )
    answer = post(
        "/v1/streams/req/records", content=ndjson, headers={"content-type": "application/x-ndjson"}
    )
    assert answer.json()["next_offset"] == 5
    csv = "host,ts,ms\nd,2026-01-01T00:00:04Z,7\n"
    answer = post("/v1/streams/req/records", content=csv, headers={"content-type": "text/csv"})
    assert answer.json()["next_offset"] == 6, answer.text
    table = pa.table(
        {
            "ts": pa.array([dt.datetime(2026, 1, 1, 0, 0, 5, tzinfo=dt.UTC)]),
            "host": ["e"],
            "ms": [8.0],
        }
    )
    answer = post(
        "/v1/streams/req/records",
        content=ipc_bytes(table),
        headers={"content-type": "application/vnd.apache.arrow.stream"},
    )
    assert answer.json() == {"appended": 1, "first_offset": 6, "next_offset": 7}
    hosts = ["a", "b", "a", "c", "c", "d", "e"]
    got = server.http.get("/v1/streams/req/records", params={"offset": 0, "count": 10}).json()
    assert got["columns"] == ["ts", "host", "ms"]
    assert [r[1] for r in got["rows"]] == hosts
    assert got["rows"][0] == ["2026-01-01T00:00:00+00:00", "a", 1.5]
    tail = server.http.get("/v1/streams/req/records", params={"tail": 2}).json()
    assert [r[1] for r in tail["rows"]] == ["d", "e"]
    scan = server.http.get(
        "/v1/streams/req/records",
        params={"start": "2026-01-01T00:00:01Z", "end": "2026-01-01T00:00:04Z"},
    ).json()
    assert [r[1] for r in scan["rows"]] == ["b", "a", "c", "c"]
    arrow = server.http.get(
        "/v1/streams/req/records",
        params={"offset": 2, "count": 2},
        headers={"accept": "application/vnd.apache.arrow.stream"},
    )
    assert ipc.open_stream(arrow.content).read_all().column("host").to_pylist() == ["a", "c"]


def test_sql_answers_as_duckdb_does_in_each_format(server: Running) -> None:
    make(server)
    server.http.post("/v1/streams/req/records", json=ROWS)
    query = "SELECT host, sum(ms) AS total, count(*) AS n FROM req GROUP BY host ORDER BY host"
    frame = pa.Table.from_pylist([{"host": r["host"], "ms": r["ms"]} for r in ROWS])
    con = duckdb.connect()
    con.register("frame", frame)
    expected = con.sql(query.replace("FROM req", "FROM frame")).fetchall()
    got = server.http.post("/v1/sql", json={"sql": query}).json()
    assert got["columns"] == ["host", "total", "n"]
    assert [tuple(r) for r in got["rows"]] == expected
    nd = server.http.post(
        "/v1/sql", json={"sql": query}, headers={"accept": "application/x-ndjson"}
    )
    assert [
        tuple(line.values()) for line in map(__import__("json").loads, nd.text.splitlines())
    ] == expected
    csv = server.http.post("/v1/sql", json={"sql": query}, headers={"accept": "text/csv"})
    assert pacsv.read_csv(pa.py_buffer(csv.content)).to_pylist()[0]["total"] == expected[0][1]
    arrow = server.http.post(
        "/v1/sql",
        json={"sql": "SELECT ms FROM req WHERE host = ?", "params": ["b"]},
        headers={"accept": "application/vnd.apache.arrow.stream"},
    )
    assert ipc.open_stream(arrow.content).read_all().to_pylist() == [{"ms": 2.5}]


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/rillet-should-not-exist.csv'",
        "ATTACH '/tmp/rillet-attached.duckdb' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "CREATE TABLE x AS SELECT 1",
        "SELECT 1; SELECT 2",
    ],
)
def test_sql_over_http_only_reads_the_streams(server: Running, query: str) -> None:
    answer = server.http.post("/v1/sql", json={"sql": query})
    assert answer.status_code in (400, 403), answer.text
    assert answer.json()["error"] in ("AccessError", "InputError")


def test_bad_input_is_a_4xx_naming_it_and_appends_nothing(server: Running) -> None:
    make(server)
    post = server.http.post
    bad_value = post("/v1/streams/req/records", json=[ROWS[0], {**ROWS[1], "ms": "slow"}])
    assert bad_value.status_code == 400
    body = bad_value.json()
    assert body["error"] == "RecordError"
    assert (body["detail"]["column"], body["detail"]["row"], body["detail"]["value"]) == (
        "ms", 1, "slow",
    )  # fmt: skip
    unknown = post("/v1/streams/req/records", json=[{**ROWS[0], "nope": 1}])
    assert unknown.status_code == 400 and unknown.json()["error"] in ("SchemaError", "RecordError")
    assert "nope" in unknown.json()["message"]
    broken = post(
        "/v1/streams/req/records", content=b'[{"ts": 1,\n "host": }]',
        headers={"content-type": "application/json"},
    )  # fmt: skip
    assert broken.status_code == 400
    assert broken.json()["detail"]["line"] == 2
    not_utf8 = post(
        "/v1/streams/req/records",
        content=b"\xff\xfe\x00",
        headers={"content-type": "application/json"},
    )
    assert not_utf8.status_code == 400
    kind = post("/v1/streams/req/records", content=b"x", headers={"content-type": "image/png"})
    assert kind.status_code == 400 and "image/png" in kind.json()["message"]
    parse = post("/v1/sql", json={"sql": "SELECT 1 FROM\n WHERE"})
    assert parse.status_code == 400 and parse.json()["error"] == "ParseError"
    assert parse.json()["detail"]["line"] == 2
    rtsql = post("/v1/rtsql", json={"statement": "SELECT x FROM"})
    assert rtsql.status_code == 400 and rtsql.json()["detail"]["line"] == 1
    field = post("/v1/streams", json={"name": 7, "schema": SCHEMA})
    assert field.status_code == 400 and field.json()["detail"] == {"field": "name"}
    assert server.http.get("/v1/nowhere").status_code == 404
    assert server.http.get("/v1/nowhere").json()["error"] == "NotFoundError"
    assert len(server.db.stream("req")) == 0


def test_a_body_past_the_limit_is_413(start: object) -> None:
    running = start(max_body=1000)  # type: ignore[operator]
    make(running)
    answer = running.http.post("/v1/streams/req/records", json=ROWS * 100)
    assert answer.status_code == 413 and answer.json()["error"] == "BodyTooLarge"
    assert len(running.db.stream("req")) == 0


def test_tokens_and_roles(start: object) -> None:
    running = start(tokens={"r": "read", "w": "write", "a": "admin"})  # type: ignore[operator]
    http = running.http

    def as_(token: str | None) -> dict[str, str]:
        return {"authorization": f"Bearer {token}"} if token else {}

    assert http.get("/healthz").status_code == 200
    assert http.get("/v1/streams").status_code == 401
    assert http.get("/v1/streams", headers=as_("wrong")).status_code == 401
    assert http.get("/v1/streams", headers=as_("r")).status_code == 200
    made = http.post("/v1/streams", json={"name": "s", "schema": "x INT"}, headers=as_("r"))
    assert made.status_code == 403 and made.json()["detail"] == {"role": "read", "needed": "write"}
    assert (
        http.post(
            "/v1/streams", json={"name": "s", "schema": "x INT"}, headers=as_("w")
        ).status_code
        == 201
    )
    assert (
        http.post("/v1/rtsql", json={"statement": "DROP STREAM s"}, headers=as_("r")).status_code
        == 403
    )
    assert (
        http.post("/v1/rtsql", json={"statement": "SHOW STREAMS"}, headers=as_("r")).status_code
        == 200
    )
    assert http.delete("/v1/streams/s", headers=as_("w")).status_code == 403
    assert http.delete("/v1/streams/s", headers=as_("a")).status_code == 204


def test_a_flow_is_named_and_unnamed_over_http(start: object) -> None:
    running = start(tokens={"r": "read", "w": "write", "a": "admin"})  # type: ignore[operator]
    http = running.http
    w = {"authorization": "Bearer w"}
    r = {"authorization": "Bearer r"}
    a = {"authorization": "Bearer a"}
    made = http.post(
        "/v1/streams", json={"name": "req", "schema": SCHEMA, "time_column": "ts"}, headers=w
    )
    assert made.status_code == 201
    flow = http.post("/v1/rtsql", json={"statement": "SELECT host, ms FROM req"}, headers=r)
    flow_id = flow.json()["flow"]
    assert http.put(f"/v1/flows/{flow_id}/name", json={"stream": "x"}, headers=r).status_code == 403
    named = http.put(f"/v1/flows/{flow_id}/name", json={"stream": "x"}, headers=w)
    assert named.status_code == 201, named.text
    assert (named.json()["name"], named.json()["time_column"]) == ("x", "timestamp")
    shown = http.get(f"/v1/flows/{flow_id}", headers=r).json()
    assert (shown["name"], shown["attached"]) == ("x", True)
    http.post("/v1/streams/req/records", json=ROWS, headers=w)
    got = http.post("/v1/sql", json={"sql": "SELECT host, ms FROM x ORDER BY ms"}, headers=r)
    assert got.json()["rows"] == [["a", 1.5], ["b", 2.5], ["a", 4.0]]
    again = http.put(f"/v1/flows/{flow_id}/name", json={"stream": "y"}, headers=w)
    assert again.status_code == 409 and again.json()["error"] == "ConflictError"
    bad = http.put(f"/v1/flows/{flow_id}/name", json={"stream": 5}, headers=w)
    assert bad.status_code == 400
    assert http.put("/v1/flows/99/name", json={"stream": "y"}, headers=w).status_code == 404
    # removing the name drops its stream: admin, as DELETE /v1/streams/{s}
    assert http.delete(f"/v1/flows/{flow_id}/name", headers=r).status_code == 403
    assert http.delete(f"/v1/flows/{flow_id}/name", headers=w).status_code == 403
    assert http.delete(f"/v1/flows/{flow_id}/name", headers=a).status_code == 204
    assert [s["name"] for s in http.get("/v1/streams", headers=r).json()] == ["req"]
    gone = http.delete(f"/v1/flows/{flow_id}/name", headers=a)
    assert gone.status_code == 404 and gone.json()["error"] == "NotFoundError"
    spec = http.get("/v1/openapi.json").json()["paths"]["/v1/flows/{flow}/name"]
    assert (spec["put"]["x-role"], spec["delete"]["x-role"]) == ("write", "admin")


def test_monitors_over_http(server: Running) -> None:
    make(server)
    http = server.http
    assert (
        http.post(
            "/v1/streams/req/filters", json={"name": "slow", "expression": "ms > 2"}
        ).status_code
        == 201
    )
    made = http.post(
        "/v1/streams/req/aggregates",
        json={"name": "worst", "filter": "slow", "expression": "MAX(ms)"},
    )
    assert made.status_code == 201, made.text
    assert (
        http.post(
            "/v1/streams/req/triggers",
            json={"name": "bad", "condition": "worst > 3", "period": "1s"},
        ).status_code
        == 201
    )
    http.post("/v1/streams/req/records", json=ROWS)
    value = http.get("/v1/streams/req/aggregates/worst").json()
    assert value == {"name": "worst", "value": 4.0}
    listed = http.get("/v1/streams/req/monitors").json()
    assert [f["name"] for f in listed["filters"]] == ["slow"]
    assert listed["aggregates"][0]["value"] == 4.0
    matched = http.get("/v1/streams/req/filters/slow/records").json()
    assert [r[1] for r in matched["rows"]] == ["b", "a"]
    series = http.get(
        "/v1/streams/req/aggregates/worst/series",
        params={"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:00:03Z", "step": "1s"},
    ).json()
    assert series["values"] == [None, 2.5, 4.0]
    assert http.delete("/v1/streams/req/triggers/bad").status_code == 204
    assert http.delete("/v1/streams/req/wheels/bad").status_code == 400
    assert http.get("/v1/streams/req/monitors").json()["triggers"] == []


def test_metrics_health_and_openapi(server: Running) -> None:
    make(server)
    server.http.post("/v1/streams/req/records", json=ROWS)
    text = server.http.get("/metrics").text
    assert 'rillet_ingested_records_total{stream="req"} 3.0' in text
    assert 'rillet_stream_records{stream="req"} 3.0' in text
    assert "rillet_request_seconds_bucket" in text
    health = server.http.get("/healthz").json()
    assert health["status"] == "ok" and health["streams"] == 1
    spec = server.http.get("/v1/openapi.json").json()
    assert spec["openapi"] == "3.1.0"
    assert "post" in spec["paths"]["/v1/streams/{stream}/records"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/streams/req/records",
        "/v1/streams/req/aggregates/worst",
        "/v1/streams/req/aggregates/worst/series",
        "/v1/streams/req/filters/slow/records",
        "/v1/streams/req/matches",
        "/v1/alerts",
    ],
)
@pytest.mark.parametrize(
    "bound, value",
    [
        ("start", "99999999999999999999999"),  # epoch ns past the year 9999
        ("end", "-99999999999999999999999"),
        ("end", "0001-01-01T00:00:00Z"),  # a series' default start is a minute before it
    ],
)
def test_a_time_out_of_range_is_a_400_naming_the_parameter(
    server: Running, path: str, bound: str, value: str
) -> None:
    make(server)
    server.http.post("/v1/streams/req/filters", json={"name": "slow", "expression": "ms > 2"})
    server.http.post(
        "/v1/streams/req/aggregates",
        json={"name": "worst", "filter": "slow", "expression": "MAX(ms)"},
    )
    extra = {"expression": "ms > 1"} if path.endswith("matches") else {}
    answer = server.http.get(path, params={bound: value, **extra})
    if value.startswith("0001") and not path.endswith("series"):
        assert answer.status_code == 200, answer.text  # a time, before every record
        return
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "InputError"
    assert set(body) == {"error", "message", "detail"}
    assert body["detail"]["parameter"] == ("step" if value.startswith("0001") else bound)


def test_a_filter_keeps_its_resolution_and_an_index_its_bucket_size(server: Running) -> None:
    make(server)
    http = server.http
    made = http.post(
        "/v1/streams/req/filters", json={"name": "slow", "expression": "ms > 2", "resolution": "1m"}
    )
    assert made.status_code == 201, made.text
    assert made.json() == {"name": "slow", "expression": "ms > 2", "resolution": "1m"}
    listed = http.get("/v1/streams/req/monitors").json()
    assert [(f["name"], f["resolution"]) for f in listed["filters"]] == [("slow", "1m")]
    bad = http.post(
        "/v1/streams/req/filters", json={"name": "f2", "expression": "ms > 2", "resolution": "zz"}
    )
    assert bad.status_code == 400 and bad.json()["error"] == "ConfigError"
    for size in (0, -1.5):
        zero = http.post("/v1/streams/req/indexes", json={"column": "ms", "bucket_size": size})
        assert zero.status_code == 400, zero.text
        assert zero.json()["error"] == "ConfigError"
        assert zero.json()["message"] == "index on 'ms' needs a positive bucket_size"
    assert (
        http.post("/v1/streams/req/indexes", json={"column": "ms", "bucket_size": 2.5}).status_code
        == 201
    )
    assert http.get("/v1/streams/req/monitors").json()["indexes"] == [
        {"name": "ms", "bucket_size": 2.5}
    ]
    assert [f["name"] for f in http.get("/v1/streams/req/monitors").json()["filters"]] == ["slow"]


def test_a_csv_value_that_does_not_fit_names_its_column_row_and_value(server: Running) -> None:
    make(server)
    csv_body = b'ts,host,ms\n2026-01-01T00:00:00Z,a,1\n2026-01-01T00:00:01Z,b,"1,5"\n'
    answer = server.http.post(
        "/v1/streams/req/records", content=csv_body, headers={"content-type": "text/csv"}
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "RecordError",
        "message": "column 'ms' of row 1 in stream 'req': '1,5' is not a DOUBLE",
        "detail": {"stream": "req", "column": "ms", "row": 1, "value": "1,5"},
    }
    bad_time = server.http.post(
        "/v1/streams/req/records", content=b"ts,host\nyesterday,a\n",
        headers={"content-type": "text/csv"},
    )  # fmt: skip
    assert bad_time.json()["detail"] == {
        "stream": "req",
        "column": "ts",
        "row": 0,
        "value": "yesterday",
    }
    ragged = server.http.post(
        "/v1/streams/req/records", content=b"ts,host,ms\n2026-01-01T00:00:00Z,a\n",
        headers={"content-type": "text/csv"},
    )  # fmt: skip
    assert ragged.status_code == 400 and ragged.json()["error"] == "InputError"
    assert "Expected 3 columns, got 2" in ragged.json()["message"]
    assert len(server.db.stream("req")) == 0


@pytest.mark.parametrize("accept", ["application/json", "application/x-ndjson", "text/csv"])
def test_sql_values_json_and_csv_have_no_type_for_are_sent_as_text(
    server: Running, accept: str
) -> None:
    query = (
        "SELECT INTERVAL 1 DAY AS i, map([1], [2]) AS m, '101'::BIT AS b, [1, 2]::INT[2] AS a, "
        "'infinity'::TIMESTAMP AS t, '-infinity'::DATE AS d"
    )
    answer = server.http.post("/v1/sql", json={"sql": query}, headers={"accept": accept})
    assert answer.status_code == 200, answer.text
    if accept == "application/json":
        assert answer.json()["rows"] == [
            [[0, 1, 0], [[1, 2]], "05fd", [1, 2], "infinity", "-infinity"]
        ]
    elif accept == "application/x-ndjson":
        assert json.loads(answer.text) == {
            "i": [0, 1, 0], "m": [[1, 2]], "b": "05fd", "a": [1, 2],
            "t": "infinity", "d": "-infinity",
        }  # fmt: skip
    else:
        header, row = answer.text.splitlines()
        assert header == '"i","m","b","a","t","d"'
        assert row.startswith('"[0,1,0]","[[1,2]]","05fd","[1,2]",')


def test_a_column_named_twice_or_a_request_nested_too_deeply_is_a_400(server: Running) -> None:
    make(server)
    post = server.http.post
    twice = pa.table([pa.array([1.0]), pa.array([2.0])], names=["ms", "ms"])
    bodies = [
        (b"ts,ts\n2026-01-01T00:00:00Z,2026-01-01T00:00:01Z\n", "text/csv", "ts"),
        (b"ts,ts\n1,2\n", "text/csv", "ts"),
        (ipc_bytes(twice), "application/vnd.apache.arrow.stream", "ms"),
    ]
    for content, kind, column in bodies:
        answer = post("/v1/streams/req/records", content=content, headers={"content-type": kind})
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "error": "SchemaError",
            "message": f"column '{column}' appears twice in the body for stream 'req'",
            "detail": {"stream": "req", "column": column},
        }
    deep = "(" * 5000 + "ms > 1" + ")" * 5000
    for answer in [
        server.http.get("/v1/streams/req/matches", params={"expression": deep}),
        post("/v1/streams/req/filters", json={"name": "f", "expression": deep}),
        post("/v1/sql", json={"sql": "SELECT " + deep + " FROM req"}),
        post("/v1/rtsql", json={"statement": "SELECT " + deep + " FROM req"}),
    ]:
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"] == "InputError"
        assert answer.json()["message"] == "the request is nested too deeply to be read"
    assert server.http.get("/v1/streams/req/monitors").json()["filters"] == []
    long = post("/v1/streams", json={"name": "s" * 5000, "schema": "n INT"})
    assert long.status_code == 400 and long.json()["error"] == "SchemaError"
    assert (
        long.json()["message"]
        == "stream name 'ssssssssssssssssssss'... is 5000 characters; at most 200"
    )
    assert post("/v1/streams", json={"name": "s" * 200, "schema": "n INT"}).status_code == 201
    assert len(server.db.stream("req")) == 0


def test_metrics_carry_monitor_and_flow_lag_and_the_queues(server: Running) -> None:
    make(server)
    made = server.http.post("/v1/rtsql", json={"statement": "SELECT host FROM req"})
    flow = made.json()["flow"]
    server.http.post("/v1/streams/req/records", json=ROWS)
    assert wait_until(lambda: server.http.get(f"/v1/flows/{flow}").json()["lag"] == 0)
    text = server.http.get("/metrics").text
    for line in [
        'rillet_monitor_lag_batches{stream="req"} 0.0',
        f'rillet_flow_lag_batches{{flow="{flow}"}} 0.0',
        "rillet_ingest_waiting 0.0",
        "rillet_sse_clients 0.0",
        'rillet_ingested_bytes_total{stream="req"}',
        "rillet_query_seconds_bucket",
    ]:
        assert line in text, line


def test_rtsql_needs_the_role_its_endpoint_would(
    start: Callable[..., Running], tmp_path: Path
) -> None:
    running = start(tokens={"r": "read", "w": "write", "a": "admin"})

    def rtsql(statement: str, token: str) -> httpx.Response:
        return running.http.post(
            "/v1/rtsql", json={"statement": statement}, headers={"authorization": f"Bearer {token}"}
        )

    assert rtsql("CREATE STREAM s (x INT)", "w").status_code == 200
    dropped = rtsql("DROP STREAM s", "w")
    assert dropped.status_code == 403
    assert dropped.json() == {
        "error": "AccessError",
        "message": "a DropStream statement (it drops a stream, or reads the server's files) "
        "needs an admin token",
        "detail": {"role": "write", "needed": "admin"},
    }
    assert [s.name for s in running.db.streams()] == ["s"]
    secret = tmp_path / "secret.txt"
    secret.write_text("1\n2\n")
    reading = rtsql(f"CREATE STREAM f (x INT) FROM LOCAL FILE '{secret}'", "w")
    assert reading.status_code == 403 and reading.json()["detail"]["needed"] == "admin"
    assert [s.name for s in running.db.streams()] == ["s"]
    assert rtsql(f"CREATE STREAM f (x INT) FROM LOCAL FILE '{secret}'", "a").status_code == 200
    assert rtsql("DROP STREAM s", "a").status_code == 200
    assert rtsql("SHOW STREAMS", "r").status_code == 200
    assert rtsql("CREATE STREAM t (x INT)", "r").json()["detail"] == {
        "role": "read", "needed": "write",
    }  # fmt: skip
