"""db.sql against DuckDB on the same rows; time-predicate pruning; Result; SQL errors."""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import rillet
from rillet import errors
from rillet.query import Bounds, _caret_position, _translate, line_col, referenced
from tests.unit.support import (
    HOUR_US,
    MANUAL,
    at,
    file_times,
    parquet_files,
    ref_rows,
    reference,
    us,
)

SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE, n INT"
HOSTS = ["a", "b", "c", None]


@dataclass
class Loaded:
    db: rillet.Database
    folder: Path
    data: pa.Table  # every row appended to stream "perf", as appended
    ref: duckdb.DuckDBPyConnection  # the same rows in a separate DuckDB, for expected answers


def _rows(seed: int) -> list[tuple[dt.datetime, str | None, float, int]]:
    """Rows over 2024-05-01 00:00-08:00; ms are quarters, so sums are exact in any order."""
    rng = random.Random(seed)
    times = [at(0) + dt.timedelta(microseconds=rng.randrange(8 * HOUR_US)) for _ in range(400)]
    times += [at(h) for h in range(8)]  # partition boundaries
    times += [at(2, 30)] * 3 + [at(5, 59, 59, 999999), at(6, 0, 0, 1)]
    return [
        (t, rng.choice(HOSTS), rng.randrange(-400, 4000) / 4, rng.randrange(-1000, 1000))
        for t in times
    ]


def _table(rows: list[tuple[dt.datetime, str | None, float, int]]) -> pa.Table:
    return pa.table(
        {
            "ts": pa.array([r[0] for r in rows], pa.timestamp("us", tz="UTC")),
            "host": pa.array([r[1] for r in rows], pa.string()),
            "ms": pa.array([r[2] for r in rows], pa.float64()),
            "n": pa.array([r[3] for r in rows], pa.int32()),
        }
    )


def load(folder: Path, seed: int = 7) -> Loaded:
    """Hours 0-5 sealed in six Parquet files; hours 6-7 and late rows for 2 and 4 in memory."""
    rows = _rows(seed)
    random.Random(seed).shuffle(rows)
    late = [r for r in rows if r[0].hour in (2, 4)][-12:]
    old = [r for r in rows if r[0] < at(6) and r not in late]
    new = [r for r in rows if r[0] >= at(6)]
    db = rillet.connect(folder, **MANUAL)
    s = db.create_stream("perf", SCHEMA, time_column="ts", partition="1h")
    s.append_many(_table(old))
    assert s.seal(everything=True) == 6
    s.append_many(new[: len(new) // 2])
    for row in new[len(new) // 2 :] + late:
        s.append(row)
    appended = old + new + late
    assert len(s) == len(appended)
    hosts = db.create_stream("hosts", "ts TIMESTAMP, host STRING, dc STRING", time_column="ts")
    host_rows = pa.table(
        {
            "ts": pa.array([at(1), at(3), at(7)], pa.timestamp("us", tz="UTC")),
            "host": ["a", "b", "c"],
            "dc": ["eu", "us", "eu"],
        }
    )
    hosts.append_many(host_rows)
    data = _table(appended)
    return Loaded(db, folder, data, reference({"perf": data, "hosts": host_rows}))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    state = load(tmp_path_factory.mktemp("query") / "data")
    yield state
    state.ref.close()
    state.db.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Loaded]:
    state = load(tmp_path / "data")
    yield state
    state.ref.close()
    state.db.close()


def expected(state: Loaded, query: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return ref_rows(state.ref, query, params)


def test_the_data_is_partly_sealed_and_partly_in_memory(loaded: Loaded) -> None:
    files = parquet_files(loaded.folder / "streams" / "perf")
    assert [p.parent.name for p in files] == [f"20240501T0{h}0000" for h in range(6)]
    in_files = sum(len(file_times(p, "ts")) for p in files)
    s = loaded.db.stream("perf")
    assert len(s) == loaded.data.num_rows == 413
    assert in_files == 413 - 12 - len([r for r in _rows(7) if r[0] >= at(6)])
    assert loaded.db.sql("SELECT count(*) FROM perf").fetchall() == [(413,)]


AGGREGATE = "SELECT count(*), count(host), sum(ms), sum(n), min(ts), max(ts) FROM perf"
ROWS = "SELECT ts, host, ms, n FROM perf"
ORDER = "ORDER BY ts, host NULLS FIRST, ms, n"
B = "'2024-05-01T02:30:00Z'"  # the time of three rows, inside a sealed partition
B2 = "'2024-05-01T06:00:00+00:00'"  # a partition boundary, with a row on it (in memory)
B3 = "'2024-05-01 04:00:00'"  # a sealed partition boundary, with a row on it

WHOLE = [
    AGGREGATE,
    "SELECT host, count(*), sum(ms), min(n), max(n) FROM perf GROUP BY host ORDER BY host",
    "SELECT date_trunc('hour', ts) AS h, count(*), sum(ms) FROM perf GROUP BY 1 ORDER BY 1",
    f"{ROWS} {ORDER}",
    "SELECT host, ts, ms, row_number() OVER (PARTITION BY host ORDER BY ts, ms, n) AS k "
    "FROM perf ORDER BY host, k",
]

PREDICATES = [
    f"ts > {B}",
    f"ts >= {B}",
    f"ts < {B}",
    f"ts <= {B}",
    f"ts = {B}",
    f"ts <> {B}",
    f"ts BETWEEN {B} AND {B2}",
    f"ts BETWEEN {B2} AND {B}",
    f"{B} < ts",
    f"{B} <= ts",
    f"{B} > ts",
    f"{B} >= ts",
    f"{B} = ts",
    f"ts >= {B3} AND ts < {B2}",
    f"ts > {B3} AND ts > {B} AND ts <= {B2} AND ts < '2024-05-01T07:00:00Z'",
    f"ts >= TIMESTAMP {B3} AND host = 'a'",
    "ts >= TIMESTAMPTZ '2024-05-01 05:00:00+02' AND ts < DATE '2024-05-02'",
    f"ts >= CAST({B3} AS TIMESTAMP) - INTERVAL 90 MINUTE",
    f"ts < {B} OR ts > {B2}",
    f"NOT (ts >= {B})",
    f"ts > {B} AND (ts < {B2} OR ms > 500)",
    f"(ts >= {B3})",
    "ts >= '2024-05-01T05:59:59.999999Z' AND ts <= '2024-05-01T06:00:00.000001Z'",
    "ts > NULL",
    "ms > 100 AND n < 0",
]


@pytest.mark.parametrize("query", WHOLE)
def test_sql_equals_duckdb_on_the_same_rows(loaded: Loaded, query: str) -> None:
    assert loaded.db.sql(query).fetchall() == expected(loaded, query)


@pytest.mark.parametrize("predicate", PREDICATES)
def test_time_predicates_give_duckdbs_answer(loaded: Loaded, predicate: str) -> None:
    for query in (f"{AGGREGATE} WHERE {predicate}", f"{ROWS} WHERE {predicate} {ORDER}"):
        got = loaded.db.sql(query).fetchall()
        assert got == expected(loaded, query)
    # with an alias and qualified column names
    aliased = predicate.replace("ts", "p.ts")
    query = f"SELECT count(*), sum(ms) FROM perf AS p WHERE {aliased}"
    assert loaded.db.sql(query).fetchall() == expected(loaded, query)


CORRELATED = [
    # joins: no pruning, but the right answer
    f"SELECT a.host, count(*) FROM perf a JOIN perf b ON a.host = b.host AND a.ts = b.ts "
    f"WHERE a.ts >= {B} GROUP BY 1 ORDER BY 1 NULLS FIRST",
    f"SELECT h.dc, count(*), sum(p.ms) FROM perf p JOIN hosts h ON p.host = h.host "
    f"WHERE p.ts < {B2} AND h.ts < {B2} GROUP BY 1 ORDER BY 1",
    "SELECT count(*) FROM perf p, hosts h WHERE p.host = h.host AND p.ts > h.ts",
    f"SELECT count(*) FROM perf p LEFT JOIN hosts h ON p.ts = h.ts WHERE p.ts <= {B}",
    # CTEs
    f"WITH r AS (SELECT * FROM perf WHERE ts >= {B}) SELECT host, count(*), sum(ms) FROM r "
    "GROUP BY 1 ORDER BY 1 NULLS FIRST",
    f"WITH r AS (SELECT * FROM perf) SELECT count(*) FROM r WHERE ts < {B}",
    f"WITH early AS (SELECT * FROM perf WHERE ts < {B}), late AS (SELECT * FROM perf WHERE "
    f"ts >= {B2}) SELECT (SELECT count(*) FROM early), (SELECT count(*) FROM late)",
    # subqueries
    "SELECT count(*) FROM perf WHERE ts > (SELECT min(ts) FROM perf) + INTERVAL 3 HOUR",
    f"SELECT count(*) FROM perf WHERE ts >= {B3} "
    f"AND ms > (SELECT avg(ms) FROM perf WHERE ts < {B})",
    f"SELECT count(*), sum(ms) FROM (SELECT * FROM perf WHERE ts < {B}) s WHERE ms > 10",
    f"SELECT count(*) FROM (SELECT * FROM perf) s WHERE ts < {B}",
    f"SELECT count(*) FROM perf WHERE host IN (SELECT host FROM hosts WHERE ts < {B})",
    f"SELECT count(*) FROM perf p WHERE EXISTS (SELECT 1 FROM hosts h WHERE h.host = p.host "
    f"AND h.ts > p.ts) AND p.ts >= {B}",
    f"SELECT (SELECT count(*) FROM perf), count(*) FROM perf WHERE ts >= {B2}",
    # two uses with different bounds
    "SELECT count(*) FROM (SELECT ts FROM perf WHERE ts BETWEEN '2024-05-01T04:00:00Z' AND "
    "'2024-05-01T06:00:00Z' UNION ALL SELECT ts FROM perf WHERE ts BETWEEN "
    "'2024-05-01T02:30:00Z' AND '2024-05-01T04:00:00Z')",
    f"SELECT count(*) FROM (SELECT ts FROM perf WHERE ts < {B} UNION ALL SELECT ts FROM perf)",
]


@pytest.mark.parametrize("query", CORRELATED)
def test_joins_ctes_and_subqueries_give_duckdbs_answer(loaded: Loaded, query: str) -> None:
    assert loaded.db.sql(query).fetchall() == expected(loaded, query)


def test_query_parameters_bounding_time(loaded: Loaded) -> None:
    bound = at(2, 30)
    for query in (
        f"{AGGREGATE} WHERE ts >= ?",
        f"{AGGREGATE} WHERE ? <= ts",
        f"{AGGREGATE} WHERE ts BETWEEN ? AND ?",
    ):
        params = [bound] if query.count("?") == 1 else [bound, at(6)]
        got = loaded.db.sql(query, params).fetchall()
        assert got == expected(loaded, query, params)
        assert got[0][0] > 0


def test_query_parameters_elsewhere(loaded: Loaded) -> None:
    query = f"{AGGREGATE} WHERE host = ? AND ms > ?"
    got = loaded.db.sql(query, ["a", 100.0]).fetchall()
    assert got == expected(loaded, query, ["a", 100.0])
    assert got[0][0] > 0


def test_query_parameters_bounding_time_in_memory(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
    s.append_many([(at(h), h) for h in range(5)])
    query = "SELECT sum(v) FROM t WHERE ts >= ? AND ts < ?"
    assert mem.sql(query, [at(1), "2024-05-01T04:00:00Z"]).fetchall() == [(6,)]


# -- pruning: files outside the time range are not read ------------------------------------------


def _sabotage(state: Loaded, low: dt.datetime | None, high: dt.datetime | None) -> int:
    """Delete every sealed file whose time range lies wholly outside [low, high]."""
    deleted = 0
    for path in parquet_files(state.folder / "streams" / "perf"):
        times = file_times(path, "ts")
        if (low is not None and max(times) < us(low)) or (
            high is not None and min(times) > us(high)
        ):
            path.unlink()
            deleted += 1
    return deleted


PRUNED = [
    (f"ts > {B}", at(2, 30), None),
    (f"ts >= {B}", at(2, 30), None),
    (f"ts < {B}", None, at(2, 30)),
    (f"ts <= {B}", None, at(2, 30)),
    (f"ts = {B}", at(2, 30), at(2, 30)),
    (f"ts BETWEEN {B} AND {B3}", at(2, 30), at(4)),
    (f"{B} < ts", at(2, 30), None),
    (f"{B} <= ts", at(2, 30), None),
    (f"{B} > ts", None, at(2, 30)),
    (f"{B} >= ts", None, at(2, 30)),
    (f"{B} = ts", at(2, 30), at(2, 30)),
    (f"ts >= TIMESTAMP {B3} AND ts < {B2} AND host <> 'zz'", at(4), at(6)),
    ("ts > TIMESTAMPTZ '2024-05-01 05:00:00+02'", at(3), None),
    (f"ts >= {B} AND ts >= {B3}", at(4), None),
    (f"ts <= {B} AND ts <= {B3}", None, at(2, 30)),
]


@pytest.mark.parametrize(("predicate", "low", "high"), PRUNED)
def test_sealed_files_outside_the_time_range_are_not_read(
    fresh: Loaded, predicate: str, low: dt.datetime | None, high: dt.datetime | None
) -> None:
    assert _sabotage(fresh, low, high) >= 2
    for query in (f"{AGGREGATE} WHERE {predicate}", f"{ROWS} WHERE {predicate} {ORDER}"):
        assert fresh.db.sql(query).fetchall() == expected(fresh, query)
    # the same predicate inside a CTE or a FROM subquery still prunes
    inner = f"WITH r AS (SELECT * FROM perf WHERE {predicate}) SELECT count(*), sum(ms) FROM r"
    assert fresh.db.sql(inner).fetchall() == expected(fresh, inner)
    nested = (
        f"SELECT count(*) FROM (SELECT * FROM perf AS p WHERE {predicate.replace('ts', 'p.ts')})"
    )
    assert fresh.db.sql(nested).fetchall() == expected(fresh, nested)
    # proof that the deleted files matter: without the predicate they are read and missed
    with pytest.raises(errors.RilletError, match="No files found"):
        fresh.db.sql("SELECT count(*) FROM perf")
    with pytest.raises(errors.RilletError, match="No files found"):
        fresh.db.sql(f"SELECT count(*) FROM perf WHERE {predicate} OR ms > 1e9")
    with pytest.raises(errors.RilletError, match="No files found"):
        joined = predicate.replace("ts", "a.ts")
        fresh.db.sql(f"SELECT count(*) FROM perf a JOIN hosts h USING (host) WHERE {joined}")


@pytest.mark.parametrize(
    ("first", "second", "low"),
    [
        ("'2024-05-01 04:00:00'", "'2024-05-01T02:30:00Z'", at(2, 30)),
        ("'2024-05-01T04:00:00Z'", "'2024-05-01T05:00:00+02:00'", at(3)),
    ],
)
def test_two_uses_with_bounds_written_differently_keep_every_row(
    loaded: Loaded, first: str, second: str, low: dt.datetime
) -> None:
    query = (
        f"SELECT count(*) FROM (SELECT ts FROM perf WHERE ts >= {first} UNION ALL "
        f"SELECT ts FROM perf WHERE ts >= {second})"
    )
    assert loaded.db.sql(query).fetchall() == expected(loaded, query)
    streams = {s.name: s for s in loaded.db.streams()}
    assert _evaluate(referenced(query, streams)["perf"]) == ([us(low)], [])


def test_an_unreadable_sealed_file_is_a_storage_error(fresh: Loaded) -> None:
    parquet_files(fresh.folder / "streams" / "perf")[0].unlink()
    with pytest.raises(errors.StorageError):
        fresh.db.sql("SELECT count(*) FROM perf")


KINDS = [pa.timestamp("us", tz="UTC"), pa.float64(), pa.float64(), pa.float64(), pa.string()]


def test_the_issue_example_over_files_and_memory(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cut = now - dt.timedelta(hours=1)
    rng = random.Random(3)
    rows = []
    for k in range(240):
        when = now - dt.timedelta(hours=3) + dt.timedelta(seconds=45 * k)
        if abs(when - cut) < dt.timedelta(minutes=10) or when > now - dt.timedelta(minutes=1):
            continue  # no row near the boundary, whichever instant now() is in either engine
        rows.append(
            (
                when,
                rng.randrange(1, 2000) / 4,
                rng.choice([0.25, 0.5, 0.75]),
                rng.randrange(0, 100) / 100,
                rng.choice(["INFO: ok", "WARN: Server {2} down"]),
            )
        )
    names = ["timestamp", "op_latency_ms", "cpu_util", "mem_avail", "log_msg"]
    table = pa.table(
        {
            name: pa.array([r[i] for r in rows], kind)
            for i, (name, kind) in enumerate(zip(names, KINDS, strict=True))
        }
    )
    old = table.filter(pa.array([r[0] < cut - dt.timedelta(minutes=30) for r in rows]))
    new = table.filter(pa.array([r[0] >= cut - dt.timedelta(minutes=30) for r in rows]))
    query = (
        "SELECT cpu_util, avg(op_latency_ms) FROM perf_log "
        "WHERE timestamp > now() - INTERVAL 1 HOUR GROUP BY 1"
    )
    folder = tmp_path / "data"
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream(
            "perf_log",
            "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, "
            "log_msg STRING",
            time_column="timestamp",
            partition="15m",
            retention="7d",
        )
        s.append_many(old)
        assert s.seal(everything=True) >= 4
        s.append_many(new)
        ref = reference({"perf_log": table})
        want = sorted(ref_rows(ref, query))
        ref.close()
        assert len(want) == 3
        assert sorted(db.sql(query).fetchall()) == want
        # every sealed file is older than an hour: delete them, and the query does not notice
        files = parquet_files(folder)
        assert all(max(file_times(p, "timestamp")) < us(cut) for p in files)
        for path in files:
            path.unlink()
        assert sorted(db.sql(query).fetchall()) == want
        with pytest.raises(errors.RilletError):
            db.sql("SELECT cpu_util, avg(op_latency_ms) FROM perf_log GROUP BY 1")


# -- referenced(): which streams a query reads, and their time bounds ------------------------


def _evaluate(bounds: Bounds | None) -> tuple[list[int], list[int]] | None:
    """Each bound expression evaluated by DuckDB, as epoch microseconds."""
    if bounds is None or not (bounds.low or bounds.high):
        return None  # no bound on either side: unbounded
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")

    def value(e: Any) -> int:
        row = con.execute(f"SELECT epoch_us(CAST(({e.sql(dialect='duckdb')}) AS TIMESTAMPTZ))")
        result = row.fetchone()
        assert result is not None
        return int(result[0])

    try:
        return [value(e) for e in bounds.low], [value(e) for e in bounds.high]
    finally:
        con.close()


T1 = "'2024-05-01T02:00:00Z'"
T2 = "'2024-05-01T05:00:00Z'"
U1, U2 = us(at(2)), us(at(5))
REFERENCED: list[tuple[str, dict[str, tuple[list[int], list[int]] | None]]] = [
    (f"SELECT * FROM perf WHERE ts > {T1}", {"perf": ([U1], [])}),
    (f"SELECT * FROM perf WHERE ts >= {T1}", {"perf": ([U1], [])}),
    (f"SELECT * FROM perf WHERE ts < {T1}", {"perf": ([], [U1])}),
    (f"SELECT * FROM perf WHERE ts <= {T1}", {"perf": ([], [U1])}),
    (f"SELECT * FROM perf WHERE ts = {T1}", {"perf": ([U1], [U1])}),
    (f"SELECT * FROM perf WHERE {T1} < ts", {"perf": ([U1], [])}),
    (f"SELECT * FROM perf WHERE {T1} <= ts", {"perf": ([U1], [])}),
    (f"SELECT * FROM perf WHERE {T1} > ts", {"perf": ([], [U1])}),
    (f"SELECT * FROM perf WHERE {T1} >= ts", {"perf": ([], [U1])}),
    (f"SELECT * FROM perf WHERE {T1} = ts", {"perf": ([U1], [U1])}),
    (f"SELECT * FROM perf WHERE ts BETWEEN {T1} AND {T2}", {"perf": ([U1], [U2])}),
    (f"SELECT * FROM perf WHERE ts >= {T1} AND host = 'a' AND ts < {T2}", {"perf": ([U1], [U2])}),
    (f"SELECT * FROM PERF AS p WHERE P.TS > {T1}", {"perf": ([U1], [])}),
    ("SELECT * FROM perf WHERE ts > TIMESTAMP '2024-05-01 02:00:00'", {"perf": ([U1], [])}),
    ("SELECT * FROM perf WHERE ts > DATE '2024-05-01'", {"perf": ([us(at(0))], [])}),
    (
        f"SELECT * FROM perf WHERE ts > CAST({T2} AS TIMESTAMPTZ) - INTERVAL 3 HOUR",
        {"perf": ([U1], [])},
    ),
    (f"SELECT * FROM perf WHERE ts > {T1} OR ts < {T2}", {"perf": None}),
    (f"SELECT * FROM perf WHERE NOT ts > {T1}", {"perf": None}),
    (f"SELECT * FROM perf WHERE ts IN ({T1})", {"perf": None}),
    ("SELECT * FROM perf WHERE ms > 5", {"perf": None}),
    ("SELECT * FROM perf WHERE ts::DATE = DATE '2024-05-01'", {"perf": None}),
    ("SELECT * FROM perf", {"perf": None}),
    ("SELECT * FROM perf WHERE ts > (SELECT min(ts) FROM hosts)", {"perf": None, "hosts": None}),
    (
        f"SELECT * FROM perf p JOIN hosts h ON p.host = h.host WHERE p.ts > {T1}",
        {"perf": None, "hosts": None},
    ),
    (f"SELECT * FROM perf, hosts WHERE perf.ts > {T1}", {"perf": None, "hosts": None}),
    (f"SELECT * FROM perf WHERE hosts.ts > {T1}", {"perf": None}),
    (f"WITH r AS (SELECT * FROM perf WHERE ts > {T1}) SELECT * FROM r", {"perf": ([U1], [])}),
    (f"WITH hosts AS (SELECT * FROM perf) SELECT * FROM hosts WHERE ts > {T1}", {"perf": None}),
    (f"SELECT * FROM (SELECT * FROM perf WHERE ts < {T2}) s WHERE ms > 1", {"perf": ([], [U2])}),
    (f"SELECT * FROM (SELECT * FROM perf) s WHERE ts < {T2}", {"perf": None}),
    (
        f"SELECT ts FROM perf WHERE ts BETWEEN {T1} AND {T1} UNION ALL "
        f"SELECT ts FROM perf WHERE ts BETWEEN {T2} AND {T2}",
        {"perf": ([U1], [U2])},  # the union of both uses: least low, greatest high
    ),
    (
        f"SELECT ts FROM perf WHERE ts > {T1} UNION ALL SELECT ts FROM perf WHERE ts < {T2}",
        {"perf": None},
    ),
    (f"SELECT ts FROM perf WHERE ts > {T1} UNION ALL SELECT ts FROM perf", {"perf": None}),
    ("SELECT 1", {}),
    ("SELECT * FROM other", {}),
]


@pytest.mark.parametrize(("query", "want"), REFERENCED)
def test_referenced_finds_streams_and_their_time_bounds(
    loaded: Loaded, query: str, want: dict[str, tuple[list[int], list[int]] | None]
) -> None:
    streams = {s.name: s for s in loaded.db.streams()}
    found = referenced(query, streams)
    assert {name: _evaluate(bounds) for name, bounds in found.items()} == want


@pytest.mark.parametrize(
    "query", ["FROM perf SELECT count(*)", "SUMMARIZE perf", "DESCRIBE perf", "PIVOT perf ON host"]
)
def test_duckdb_only_syntax_reaches_the_streams(loaded: Loaded, query: str) -> None:
    assert len(loaded.db.sql(query)) == len(ref_rows(loaded.ref, query)) > 0


@pytest.mark.parametrize("query", ["EXPLAIN SELECT count(*) FROM perf", "SHOW perf"])
def test_statements_sqlglot_cannot_parse_still_see_the_streams(loaded: Loaded, query: str) -> None:
    assert len(loaded.db.sql(query)) > 0


def test_referenced_gives_every_stream_unbounded_for_unparsable_sql(loaded: Loaded) -> None:
    streams = {s.name: s for s in loaded.db.streams()}
    assert referenced("SELEC x FROM perf WHERE ts >", streams) == {"hosts": None, "perf": None}


# -- Result --------------------------------------------------------------------------------------


def test_result_forms(mem: rillet.Database) -> None:
    s = mem.create_stream("t", "ts TIMESTAMP, host STRING, ms DOUBLE, n INT", time_column="ts")
    s.append_many([(at(1), "a", 1.5, 1), (at(2), None, 2.5, None), (at(3), "c", None, 3)])
    res = mem.sql("SELECT ts, host, ms, n FROM t ORDER BY ts")
    assert res.columns == ["ts", "host", "ms", "n"]
    assert len(res) == 3
    rows = [(at(1), "a", 1.5, 1), (at(2), None, 2.5, None), (at(3), "c", None, 3)]
    assert res.fetchall() == rows
    assert list(res) == rows
    assert res.fetchone() == rows[0]
    table = res.arrow()
    assert isinstance(table, pa.Table)
    assert table.schema.types == [
        pa.timestamp("us", tz="UTC"),
        pa.string(),
        pa.float64(),
        pa.int32(),
    ]
    assert table.column("ms").to_pylist() == [1.5, 2.5, None]
    frame = res.df()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["ts", "host", "ms", "n"]
    assert [t.to_pydatetime() for t in frame["ts"]] == [at(1), at(2), at(3)]
    assert frame["ms"].tolist()[:2] == [1.5, 2.5]
    assert pd.isna(frame["ms"].iloc[2])
    polars = res.pl()
    assert isinstance(polars, pl.DataFrame)
    assert polars.columns == ["ts", "host", "ms", "n"]
    assert polars.rows() == rows
    assert repr(res) == "Result(columns=['ts', 'host', 'ms', 'n'], rows=3)"
    empty = mem.sql("SELECT n FROM t WHERE false")
    assert (empty.columns, empty.fetchall(), empty.fetchone(), len(empty)) == (["n"], [], None, 0)


def test_sql_over_an_empty_stream_and_without_streams(mem: rillet.Database) -> None:
    mem.create_stream("t", "v INT")
    assert mem.sql("SELECT count(*), sum(v) FROM t").fetchall() == [(0, None)]
    assert mem.sql("SELECT 1 + 1 AS two").fetchall() == [(2,)]


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process in a time zone behind UTC (DuckDB defaults to the process's zone)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_sql_runs_in_utc_whatever_the_local_time_zone(new_york: None) -> None:
    plain = duckdb.connect(":memory:")
    local = plain.execute("SELECT CAST(TIMESTAMPTZ '2024-05-02 01:30:00+00' AS DATE)").fetchall()
    plain.close()
    assert local == [(dt.date(2024, 5, 1),)]  # the zone is in effect for DuckDB
    with rillet.connect(**MANUAL) as db:
        s = db.create_stream("t", "ts TIMESTAMP, v INT", time_column="ts")
        s.append(("2024-05-01T23:30:00-02:00", 1))  # 2024-05-02T01:30Z
        assert db.sql("SELECT CAST(ts AS DATE), hour(ts), ts FROM t").fetchall() == [
            (dt.date(2024, 5, 2), 1, at(0) + dt.timedelta(hours=25, minutes=30))
        ]
        assert db.sql("SELECT count(*) FROM t WHERE ts >= '2024-05-02'").fetchall() == [(1,)]


# -- SQL errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "kind", "words"),
    [
        ("SELEC * FROM perf_log", errors.ParseError, ['syntax error at or near "SELEC"']),
        ("SELECT * FROM perf_log WHERE", errors.ParseError, ['syntax error at or near "WHERE"']),
        (
            "SELECT * FROM perf_lgo",
            errors.NotFoundError,
            ["unknown stream 'perf_lgo'", "did you mean 'perf_log'"],
        ),
        ("SELECT nope FROM perf_log", errors.TypeCheckError, ["unknown column 'nope'"]),
        ("SELECT cpu_util + host FROM perf_log", errors.TypeCheckError, ["+(DOUBLE, VARCHAR)"]),
        ("SELECT cpu_util + 'x' FROM perf_log", errors.InputError, ["Could not convert", "'x'"]),
        ("SELECT sum(host) FROM perf_log", errors.TypeCheckError, ["sum"]),
        ("SELECT CAST(host AS INT) FROM perf_log", errors.InputError, ["Could not convert", "'a'"]),
    ],
)
def test_sql_errors_are_translated(
    mem: rillet.Database, query: str, kind: type[errors.RilletError], words: list[str]
) -> None:
    s = mem.create_stream(
        "perf_log", "ts TIMESTAMP, cpu_util DOUBLE, host STRING", time_column="ts"
    )
    s.append((at(0), 0.5, "a"))
    with pytest.raises(kind) as info:
        mem.sql(query)
    assert type(info.value) is kind
    for word in words:
        assert word in str(info.value)
    assert isinstance(info.value.__cause__, duckdb.Error)
    assert mem.sql("SELECT count(*) FROM perf_log").fetchall() == [(1,)]  # still usable


def test_a_misspelt_stream_in_sql_is_named_with_a_suggestion(mem: rillet.Database) -> None:
    mem.create_stream("perf_log", "v INT")
    with pytest.raises(errors.NotFoundError) as info:
        mem.sql("SELECT * FROM perf_lgo")
    assert (info.value.name, info.value.suggestion) == ("perf_lgo", "perf_log")


LONG = "SELECT " + ", ".join(f"cpu_util AS c{i}" for i in range(40)) + " FROM perf_log WHERE WHERE"


@pytest.mark.parametrize(
    ("query", "message", "line", "col"),
    [
        ("SELEC * FROM perf_log", 'syntax error at or near "SELEC" at 1:1', 1, 1),
        ("SELECT 1,\n  2 +\nFROM perf_log", 'syntax error at or near "FROM" at 3:1', 3, 1),
        ("SELECT *\nFROM perf_log\n  WHERE", 'syntax error at or near "WHERE" at 3:3', 3, 3),
        ("SELECT 1;\nSELECT 2 FRM perf_log", 'syntax error at or near "perf_log" at 2:14', 2, 14),
        # DuckDB's caret gives a tab no width and cuts long lines short; the column does not
        ("SELECT\t1\tFRM perf_log", 'syntax error at or near "perf_log" at 1:14', 1, 14),
        (LONG, 'syntax error at or near "WHERE" at 1:697', 1, 697),
        # columns count characters, not bytes
        ("SELECT '漢字', 'é' FRO perf_log", 'syntax error at or near "perf_log" at 1:22', 1, 22),
        ("SELECT  'unterminated", "unterminated string literal at 1:9", 1, 9),
    ],
)
def test_a_sql_syntax_error_has_its_line_and_column(
    mem: rillet.Database, query: str, message: str, line: int, col: int
) -> None:
    mem.create_stream("perf_log", "ts TIMESTAMP, cpu_util DOUBLE, host STRING", time_column="ts")
    with pytest.raises(errors.ParseError) as info:
        mem.sql(query)
    assert str(info.value) == message
    assert info.value.detail == {"line": line, "col": col, "expected": None}
    assert isinstance(info.value.__cause__, duckdb.ParserException)


@pytest.mark.parametrize(
    ("query", "kind", "message", "detail"),
    [
        (
            "SELECT cpu_utl FROM perf_log",
            errors.TypeCheckError,
            "unknown column 'cpu_utl'; did you mean 'cpu_util'?",
            {"line": None, "col": None, "name": "cpu_utl", "suggestion": "cpu_util"},
        ),
        (
            "SELECT hst FROM perf_log",
            errors.TypeCheckError,
            "unknown column 'hst'; did you mean 'host'?",
            {"line": None, "col": None, "name": "hst", "suggestion": "host"},
        ),
        (
            "SELECT coun(*) FROM perf_log",
            errors.NotFoundError,
            "unknown function 'coun'; did you mean 'count'?",
            {"kind": "function", "name": "coun", "suggestion": "count"},
        ),
        (
            "SELECT * FROM perf_lgo",
            errors.NotFoundError,
            "unknown stream 'perf_lgo'; did you mean 'perf_log'?",
            {"kind": "stream", "name": "perf_lgo", "suggestion": "perf_log"},
        ),
    ],
)
def test_duckdb_suggestions_come_through(
    mem: rillet.Database,
    query: str,
    kind: type[errors.RilletError],
    message: str,
    detail: dict[str, Any],
) -> None:
    mem.create_stream("perf_log", "ts TIMESTAMP, cpu_util DOUBLE, host STRING", time_column="ts")
    with pytest.raises(kind) as info:
        mem.sql(query)
    assert (str(info.value), info.value.detail) == (message, detail)


@pytest.mark.parametrize(
    "query",
    [
        "SELEC 1",
        "SELECT 1,\n  2 +\nFROM t",
        "SELECT\t1\t\tFRM t",
        "SELECT '漢字', 'é' FRO t",
        LONG.replace("perf_log", "t"),
        "SELECT 1;\n\n  SELECT 2 FRM t",
    ],
)
def test_the_caret_of_duckdb_s_message_gives_the_same_place_as_its_offset(query: str) -> None:
    """The fallback when DuckDB gives no offset: its caret line, read with display widths."""
    con = duckdb.connect()
    with pytest.raises(duckdb.ParserException) as plain:
        con.sql(query)
    con.execute("SET errors_as_json = true")
    with pytest.raises(duckdb.ParserException) as structured:
        con.sql(query)
    offset = int(json.loads(str(structured.value).partition(": ")[2])["position"])
    assert _caret_position(str(plain.value), query) == line_col(query, offset)
    translated = _translate(plain.value, [], query)
    assert isinstance(translated, errors.ParseError)
    assert (translated.line, translated.col) == line_col(query, offset)


def test_a_query_racing_retention_reads_the_partitions_there_are(tmp_path: Path) -> None:
    """Retention removes sealed files while queries run (a roll-up with ``retention``,
    polled): a query whose listing named a file removed before DuckDB read it runs again,
    never failing, and counts only whole partitions."""
    minute = 60_000_000_000  # a record's time as epoch nanoseconds
    with rillet.connect(tmp_path) as db:
        stream = db.create_stream("s", "v BIGINT", partition="1m", retention="2m")
        done = threading.Event()
        failures: list[BaseException] = []

        def keep_dropping() -> None:
            try:
                for i in range(300):  # a minute of 100 records at a time, sealed, then dropped
                    base = 1_699_999_980_000_000_000 + i * minute  # on a minute
                    stream.append_many([(base + j * 600_000_000, j) for j in range(100)])
                    stream.seal(everything=True)
                    stream.apply_retention()
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                done.set()

        writer = threading.Thread(target=keep_dropping)
        writer.start()
        counts = []
        while not done.is_set():
            counts.append(db.sql("SELECT count(*) FROM s").fetchall()[0][0])
        writer.join()
        assert not failures
        assert len(counts) > 50
        assert all(c % 100 == 0 and c <= 400 for c in counts), sorted(set(counts))
