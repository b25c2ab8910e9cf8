"""The SQL back end on SQLite and on this machine's PostgreSQL: the original's SQL bugs are not
there (constraint names colliding across tables, no ``set`` type, counts cut to int, an
IndexError on an empty interval, empty intervals dropped), a write is one transaction, table
layout and options, and an unreachable database is a BackendUnavailableError."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from rillet.errors import BackendUnavailableError, ConfigError, InputError, ValueTypeError
from rillet.timeseries import Timeseries
from rillet.timeseries import sql as sql_module
from rillet.timeseries.sql import SqlStore, constraint_name
from rillet.timeseries.store import StoreSpec
from tests.timeseries.conformance import PG_URL, rows, unique_prefix

T0 = 1_714_521_600  # 2024-05-01T00:00:00Z
H = 3600
MINUTE = {"minute": {"step": 60}}


def _reachable(url: str) -> str | None:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as exc:
        return " ".join(str(exc.orig).split())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A SQLite file, then this machine's PostgreSQL (skipped, saying why, without it)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/ts.sqlite"
    reason = _reachable(PG_URL)
    if reason is not None:
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {reason}")
    return PG_URL


@pytest.fixture
def table_names(url: str) -> Iterator[list[str]]:
    """Table names of this test's own (unique), dropped at the end."""
    made: list[str] = []
    yield made
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        for name in made:
            connection.execute(sa.text(f'DROP TABLE IF EXISTS "{name}"'))
    engine.dispose()


def _table(table_names: list[str], stem: str) -> str:
    name = f"{stem}_{uuid.uuid4().hex[:8]}"
    table_names.append(name)
    return name


def test_two_tables_of_one_type_have_their_own_constraint_names(
    url: str, table_names: list[str]
) -> None:
    """Kairos named every histogram's constraint ``unique_value``: on PostgreSQL the second
    histogram table failed to be made.  Here both are made and keep their own rows."""
    first, second = _table(table_names, "hist_a"), _table(table_names, "hist_b")
    series = [
        Timeseries(url, type=kind, intervals={"minute": {"step": 60}}, table_name=table)
        for table in (first, second)
        for kind in ("histogram",)
    ]
    series[0].insert("x", 1.0, timestamp=T0)
    series[1].insert("x", 2.0, timestamp=T0)
    assert dict(series[0].get("x", "minute", timestamp=T0)) == {T0: {1.0: 1}}
    assert dict(series[1].get("x", "minute", timestamp=T0)) == {T0: {2.0: 1}}
    inspector_engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    inspector = sa.inspect(inspector_engine)
    keys = {t: inspector.get_pk_constraint(t)["name"] for t in (first, second)}
    inspector_engine.dispose()
    if url.startswith("postgresql"):
        assert keys == {first: f"{first}_pkey", second: f"{second}_pkey"}
    for one in series:
        one.close()


def test_long_table_names_keep_distinct_constraint_names() -> None:
    """Names past PostgreSQL's 63 bytes are cut with a checksum, never to the same name."""
    a, b = "t" * 70 + "_a", "t" * 70 + "_b"
    assert constraint_name(a, "pkey") != constraint_name(b, "pkey")
    assert all(len(constraint_name(n, "key_idx")) <= 63 for n in (a, b))
    assert constraint_name("count", "pkey") == "count_pkey"


def test_set_type_and_float_counts(url: str) -> None:
    """Kairos' SQL had no ``set`` type and kept counts as Integer (1.5 became 1)."""
    prefix = unique_prefix()
    sets = Timeseries(url, type="set", intervals={"minute": {"step": 60}}, prefix=prefix)
    counts = Timeseries(url, type="count", intervals={"minute": {"step": 60}}, prefix=prefix)
    try:
        sets.bulk_insert({T0: {"x": [1.0, 2.0, 1.0]}, T0 + 1: {"x": [3.0]}})
        counts.insert("x", 1.5, timestamp=T0)
        counts.insert("x", 0.25, timestamp=T0 + 2)
        assert dict(sets.get("x", "minute", timestamp=T0)) == {T0: {1.0, 2.0, 3.0}}
        assert dict(counts.get("x", "minute", timestamp=T0)) == {T0: 1.75}
    finally:
        for one in (sets, counts):
            one.delete_all()
            one.close()


def test_resolution_reads_of_empty_intervals(url: str) -> None:
    """Kairos' SQL ``get`` of an empty interval with a resolution raised IndexError, and its
    ``series`` dropped the empty intervals."""
    series = Timeseries(
        url,
        type="count",
        intervals={"hour": {"step": "1h", "resolution": 60}},
        prefix=unique_prefix(),
    )
    try:
        series.insert("x", 2, timestamp=T0 + 61)
        assert dict(series.get("x", "hour", timestamp=T0 + H)) == {}
        got = series.series("x", "hour", start=T0 - H, end=T0 + H)
        assert list(got) == [T0 - H, T0, T0 + H]
        assert dict(got[T0]) == {T0 + 60: 2.0}
        assert dict(got[T0 - H]) == {} and dict(got[T0 + H]) == {}
    finally:
        series.delete_all()
        series.close()


def test_a_failed_write_writes_nothing(url: str) -> None:
    """A bulk insert whose last row cannot be kept leaves nothing behind: on PostgreSQL the
    database refuses it (text with a NUL, which SQLite keeps); on both, a name longer than
    ``string_length`` is refused before anything is sent."""
    prefix = unique_prefix()
    store = sql_module.open_store(
        url, StoreSpec("series", prefix, ("minute",), {"value_type": "str"})
    )
    try:
        data = [("a", "minute", T0 + 60 * i, T0 + 60 * i, f"v{i}", None) for i in range(5)]
        long_name = [("b" * 300, "minute", T0, T0, "v", None)]
        with pytest.raises(InputError, match="longer than string_length=255") as caught:
            store.write(rows("series", store.value_type, data + long_name))
        assert caught.value.detail["row"] == 5
        assert store.names({}) == []
        if url.startswith("postgresql"):
            with pytest.raises(ValueTypeError):
                store.write(
                    rows("series", store.value_type, [*data, ("a", "minute", T0, T0, "\x00", None)])
                )
            assert store.fetch(["a"], "minute", T0, T0 + H).num_rows == 0
        store.write(rows("series", store.value_type, data))
        assert store.fetch(["a"], "minute", T0, T0 + H)["value"].to_pylist() == [
            f"v{i}" for i in range(5)
        ]
    finally:
        store.delete_all()
        store.close()


@pytest.mark.parametrize(
    ("value_type", "values"),
    [
        ("int", [3, -7]),
        ("str", ["GET /", "ünï"]),
        ("text", ["x" * 1000]),
        ("bool", [True, False]),
        (bytes, [b"\x00\xff", b"ab"]),
        ("datetime", [pa.scalar(T0 * 1_000_000, pa.timestamp("us", tz="UTC")).as_py()]),
        ("date", [pa.scalar(19844, pa.date32()).as_py()]),
        (sa.String(20), ["short"]),
    ],
    ids=["int", "str", "text", "bool", "bytes", "datetime", "date", "sa-String"],
)
def test_value_types_keep_their_values(url: str, value_type: object, values: list[object]) -> None:
    store = sql_module.open_store(
        url, StoreSpec("series", unique_prefix(), ("minute",), {"value_type": value_type})
    )
    try:
        store.write(
            rows("series", store.value_type, [("a", "minute", T0, T0, v, None) for v in values])
        )
        assert store.fetch(["a"], "minute", T0, T0 + 60)["value"].to_pylist() == values
    finally:
        store.delete_all()
        store.close()


def test_value_types_get_tables_of_their_own(url: str) -> None:
    spec = StoreSpec("gauge", unique_prefix(), ("minute",), {"value_type": "str"})
    store = sql_module.open_store(url, spec)
    plain = sql_module.open_store(url, StoreSpec("gauge", spec.prefix, ("minute",), {}))
    assert (store.table.name, plain.table.name) == ("gauge_str", "gauge")
    store.close()
    plain.close()


def test_a_table_of_another_layout_is_refused(url: str, table_names: list[str]) -> None:
    """A table of the same name made by something else (Kairos' own ``count`` table has no
    prefix column) is a ConfigError naming it, not a failure at the first write."""
    name = _table(table_names, "kairos_count")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(sa.text(f'CREATE TABLE "{name}" (name VARCHAR(255), count INTEGER)'))
    engine.dispose()
    with pytest.raises(ConfigError, match=f"table '{name}' exists with another layout"):
        Timeseries(url, type="count", intervals={"m": {"step": 60}}, table_name=name)


def test_ttl_rows_are_deleted_by_expire(url: str) -> None:
    prefix = unique_prefix()
    store = sql_module.open_store(url, StoreSpec("count", prefix, ("minute",), {}))
    try:
        store.write(
            rows(
                "count",
                store.value_type,
                [
                    ("a", "minute", T0 + 60 * i, T0 + 60 * i, 1.0, T0 + 60 * (i + 2))
                    for i in range(4)
                ],
            )
        )
        store.expire("a", {"minute": T0 + 120})
        query = sa.select(sa.func.count()).where(store.table.c.prefix == prefix)
        with store._engine.connect() as connection:  # the rows on disk, not what reads show
            assert connection.execute(query).scalar() == 2
    finally:
        store.delete_all()
        store.close()


def test_options_are_checked(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/o.sqlite"
    spec = StoreSpec("count", "", ("minute",), {"table_nmae": "x"})
    with pytest.raises(ConfigError, match="unknown SQL back-end option 'table_nmae'"):
        sql_module.open_store(url, spec)
    with pytest.raises(ConfigError, match="value_type 'quaternion'"):
        sql_module.open_store(url, StoreSpec("gauge", "", (), {"value_type": "quaternion"}))
    with pytest.raises(ConfigError, match="string_length must be a positive int"):
        sql_module.open_store(url, StoreSpec("gauge", "", (), {"string_length": 0}))


def test_an_engine_and_a_memory_database(tmp_path: Path) -> None:
    """A SQLAlchemy engine is used as given (and not disposed); ``sqlite:///:memory:`` is one
    database for the whole time series, as Kairos' example expects."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/e.sqlite")
    with Timeseries(engine, type="gauge", intervals={"minute": {"step": 60}}) as series:
        series.insert("x", 4.0, timestamp=T0)
        assert dict(series.get("x", "minute", timestamp=T0)) == {T0: 4.0}
    with engine.connect() as connection:  # still usable
        assert connection.execute(sa.text("SELECT count(*) FROM gauge")).scalar() == 1
    engine.dispose()
    with Timeseries("sqlite:///:memory:", type="series", intervals={"m": {"step": 60}}) as mem:
        mem.insert("x", [1.0, 2.0], timestamp=T0)
        assert dict(mem.get("x", "m", timestamp=T0)) == {T0: [1.0, 2.0]}
        assert isinstance(mem.store, SqlStore)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_unreachable_databases(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_closed_port()}/test"
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        Timeseries(url, type="count", intervals={"m": {"step": 60}})
    with pytest.raises(BackendUnavailableError, match="cannot be reached"):
        Timeseries(
            f"sqlite:///{tmp_path}/missing/dir/x.sqlite",
            type="count",
            intervals={"m": {"step": 60}},
        )


def test_a_kairos_custom_fetch(url: str) -> None:
    """Kairos' ``fetch(connection, table, name, interval, i_start, i_end)`` gets a SQLAlchemy
    connection and the Table, and returns ``{i_time: {r_time: data}}``."""
    prefix = unique_prefix()
    series = Timeseries(url, type="series", intervals={"minute": {"step": 60}}, prefix=prefix)

    def fetch(
        connection: sa.Connection, table: sa.Table, name: str, interval: str, first: int, last: int
    ) -> dict[int, dict[int, list[float]]]:
        query = (
            sa.select(table.c.i_time, table.c.r_time, sa.func.count())
            .where(table.c.prefix == prefix, table.c.name == name, table.c.interval == interval)
            .where(table.c.i_time.between(first, last))
            .group_by(table.c.i_time, table.c.r_time)
        )
        return {i: {r: [float(n)]} for i, r, n in connection.execute(query)}

    try:
        series.bulk_insert({T0: {"a": [5.0, 6.0]}, T0 + 60: {"a": [7.0]}})
        got = series.series("a", "minute", start=T0, steps=2, fetch=fetch)
        assert dict(got) == {T0: [2.0], T0 + 60: [1.0]}  # how many values, not the values
    finally:
        series.delete_all()
        series.close()


def test_a_sqlite_file_keeps_a_write_ahead_log(tmp_path: Path) -> None:
    """Single inserts do not wait for an fsync each: the file is in WAL mode."""
    with Timeseries(f"sqlite:///{tmp_path}/w.sqlite", type="count", intervals=MINUTE) as series:
        series.insert("x", 1.0, timestamp=T0)
        store: Any = series.store
        with store._engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
