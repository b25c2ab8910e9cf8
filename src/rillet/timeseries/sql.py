"""The SQL back end: a time series kept in one table per type, through SQLAlchemy 2.

Targets: a ``sqlite:///path`` (or ``sqlite:///:memory:``) URL, a ``postgresql://`` URL
(driven by psycopg 3), or a SQLAlchemy :class:`~sqlalchemy.engine.Engine` of either.

Tables.  One table per type and value type, shared by every time series of that type on the
database; ``prefix`` is a column, so two time series with different prefixes never see each
other's rows and tests or tenants do not multiply tables.  The default table name is the
type's (``series``, ``histogram``, ``count``, ``gauge``, ``set``), with the value type after
it when that is not ``float`` (``series_str``), so a table's value column always has one
type; ``table_name`` overrides it.  Columns (Kairos' names, so Kairos' custom ``fetch``
functions keep working):

=========  ==========================================================================
prefix     VARCHAR(string_length), ``""`` without a prefix
name       VARCHAR(string_length), the statistic
interval   VARCHAR(string_length), the configured interval's name
i_time     BIGINT, the interval bucket's start (epoch seconds, UTC)
r_time     BIGINT, the resolution bucket's start (``== i_time`` without a resolution)
value      the value type (not in ``count``)
count      ``histogram``: BIGINT occurrences of ``value``; ``count``: FLOAT, the running sum
id         ``series`` only: BIGINT identity, the write order within a bucket
=========  ==========================================================================

Keys: ``{table}_pkey`` is the primary key ``(prefix, name, interval, i_time, r_time)`` (with
``value`` for histogram and set); ``series`` has ``{table}_key_idx`` on the same columns and
``id`` instead.  Constraint and index names are made from the table's name (Kairos named
them alike in every table, so a second table failed on PostgreSQL, where index names are
unique per schema); names longer than PostgreSQL's 63 bytes end with a checksum.

Writes. :meth:`SqlStore.write` runs in one transaction: on PostgreSQL a COPY of the rows
(CSV made by Arrow) into a temporary table, then one set-based upsert from it, ``INSERT ...
SELECT ... ON CONFLICT ... DO UPDATE`` (``unnest`` of arrays for bytes values and single
inserts); on SQLite one ``INSERT ... ON CONFLICT`` executed over the rows. A failed write (a
value the column cannot hold, a lost connection) rolls back whole.

Options: ``table_name``, ``value_type`` (a name such as ``"float"``, ``"int"``, ``"str"``,
``"text"``, ``"blob"``, ``"bool"``, ``"decimal"``, ``"date"``, ``"datetime"``, ``"time"``, a
Python type, or a SQLAlchemy type class or instance; default float), ``string_length``
(VARCHAR length, default 255), ``text_length`` (TEXT/BLOB length, default 32 KiB) and
``client_config`` (keyword arguments of :func:`sqlalchemy.create_engine` for a URL).

Examples:
    >>> sql_value_type("str", 40, 100)
    SqlValueType(name='str', column=String(length=40), arrow=DataType(string))
    >>> constraint_name("series", "pkey"), len(constraint_name("t" * 80, "key_idx"))
    ('series_pkey', 63)
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from rillet.errors import (
    BackendUnavailableError,
    ConfigError,
    InputError,
    StorageError,
    ValueTypeError,
)
from rillet.timeseries.store import (
    CustomFetch,
    StoreSpec,
    check_options,
    fetch_schema,
    write_schema,
)

OPTIONS = ("table_name", "value_type", "string_length", "text_length", "client_config")
#: PostgreSQL's identifier limit in bytes (longer names are cut, and so could collide)
MAX_IDENTIFIER = 63
#: value types the sqlite3 driver takes as Python gives them
_PLAIN = ("float", "int", "bool", "str", "text", "blob")
#: rows per statement of a PostgreSQL write of arrays (one transaction holds them all)
CHUNK = 100_000


@dataclass(frozen=True)
class SqlValueType:
    """A ``value_type`` option resolved: its short name, the column type, the Arrow type."""

    name: str
    column: sa.types.TypeEngine[Any]
    arrow: pa.DataType


#: spellings of ``value_type`` (Kairos' list) -> short name
_SPELLINGS: dict[Any, str] = {
    "float": "float",
    "double": "float",
    float: "float",
    "int": "int",
    "int64": "int",
    "integer": "int",
    "long": "int",
    int: "int",
    "bool": "bool",
    "boolean": "bool",
    bool: "bool",
    "str": "str",
    "string": "str",
    "unicode": "str",
    str: "str",
    "text": "text",
    "clob": "text",
    "blob": "blob",
    "bytes": "blob",
    bytes: "blob",
    "decimal": "decimal",
    decimal.Decimal: "decimal",
    "date": "date",
    dt.date: "date",
    "datetime": "datetime",
    dt.datetime: "datetime",
    "time": "time",
    dt.time: "time",
}
#: SQLAlchemy type classes -> short name; the first that matches wins (subclasses first)
_SA_TYPES: list[tuple[type[sa.types.TypeEngine[Any]], str]] = [
    (sa.Boolean, "bool"),
    (sa.Integer, "int"),
    (sa.Float, "float"),
    (sa.Numeric, "decimal"),
    (sa.Text, "text"),
    (sa.String, "str"),
    (sa.LargeBinary, "blob"),
    (sa.DateTime, "datetime"),
    (sa.Date, "date"),
    (sa.Time, "time"),
]
_ARROW = {
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    "text": pa.string(),
    "blob": pa.binary(),
    "decimal": pa.decimal128(38, 10),
    "date": pa.date32(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "time": pa.time64("us"),
}


def _column_type(name: str, string_length: int, text_length: int) -> sa.types.TypeEngine[Any]:
    made: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
        "float": lambda: sa.Float(53),
        "int": sa.BigInteger,
        "bool": sa.Boolean,
        "str": lambda: sa.String(string_length),
        # PostgreSQL's TEXT takes no length
        "text": lambda: sa.Text(text_length).with_variant(sa.Text(), "postgresql"),
        "blob": lambda: sa.LargeBinary(text_length),
        "decimal": lambda: sa.Numeric(38, 10),
        "date": sa.Date,
        "datetime": lambda: sa.DateTime(timezone=True),
        "time": sa.Time,
    }
    return made[name]()


def sql_value_type(option: Any, string_length: int, text_length: int) -> SqlValueType:
    """Resolve a ``value_type`` option (name, Python type, Arrow type, SQLAlchemy type class
    or instance); a SQLAlchemy instance is used as the column type as given."""
    if isinstance(option, sa.types.TypeEngine):
        name = _sa_name(type(option), option)
        return SqlValueType(name, option, _ARROW[name])
    if isinstance(option, type) and issubclass(option, sa.types.TypeEngine):
        name = _sa_name(option, option)
        return SqlValueType(name, _column_type(name, string_length, text_length), _ARROW[name])
    if isinstance(option, pa.DataType):
        names = [n for n, t in _ARROW.items() if t == option]
        if not names:
            raise ConfigError(
                f"value_type {option}: the SQL back end keeps "
                + ", ".join(str(t) for t in dict.fromkeys(_ARROW.values())),
                option="value_type",
                value=str(option),
            )
        return sql_value_type(names[0], string_length, text_length)
    key = option.lower() if isinstance(option, str) else option
    try:
        name = _SPELLINGS[key]
    except (KeyError, TypeError):
        spellings = sorted(k for k in _SPELLINGS if isinstance(k, str))
        raise ConfigError(
            f"value_type {option!r} is not one of {', '.join(spellings)} (or a Python, Arrow "
            "or SQLAlchemy type)",
            option="value_type",
            value=repr(option),
        ) from None
    return SqlValueType(name, _column_type(name, string_length, text_length), _ARROW[name])


def _sa_name(kind: type[Any], option: Any) -> str:
    for base, name in _SA_TYPES:
        if issubclass(kind, base):
            return name
    raise ConfigError(
        f"value_type {option!r}: the SQL back end keeps "
        + ", ".join(base.__name__ for base, _ in _SA_TYPES),
        option="value_type",
        value=repr(option),
    )


def constraint_name(table: str, suffix: str) -> str:
    """``{table}_{suffix}``, cut to PostgreSQL's 63 bytes with a checksum of the whole name
    when longer, so two tables never get the same constraint or index name."""
    name = f"{table}_{suffix}"
    if len(name.encode()) <= MAX_IDENTIFIER:
        return name
    checksum = f"{zlib.crc32(name.encode()):08x}"
    keep = MAX_IDENTIFIER - len(suffix) - len(checksum) - 2
    head = table.encode()[:keep].decode(errors="ignore")
    return f"{head}_{checksum}_{suffix}"


def make_table(
    metadata: sa.MetaData, kind: str, name: str, value: SqlValueType, string_length: int
) -> sa.Table:
    """The table of a type (see the module docstring for the layout)."""

    def text(column: str) -> sa.Column[str]:
        return sa.Column(column, sa.String(string_length), nullable=False)

    key: list[Any] = [
        text("prefix"),
        text("name"),
        text("interval"),
        sa.Column("i_time", sa.BigInteger, nullable=False),
        sa.Column("r_time", sa.BigInteger, nullable=False),
    ]
    key_names = ["prefix", "name", "interval", "i_time", "r_time"]
    columns: list[Any] = []
    if kind == "series":
        identity = sa.BigInteger().with_variant(sa.Integer, "sqlite")
        columns.append(sa.Column("id", identity, primary_key=True, autoincrement=True))
        columns += [*key, sa.Column("value", value.column, nullable=False)]
        index = sa.Index(constraint_name(name, "key_idx"), *key_names, "id")
        return sa.Table(name, metadata, *columns, index)
    if kind == "count":
        columns = [*key, sa.Column("count", sa.Float(53), nullable=False)]
    else:
        columns = [*key, sa.Column("value", value.column, nullable=False)]
        if kind == "histogram":
            columns.append(sa.Column("count", sa.BigInteger, nullable=False))
        if kind in ("histogram", "set"):
            key_names.append("value")
    primary = sa.PrimaryKeyConstraint(*key_names, name=constraint_name(name, "pkey"))
    return sa.Table(name, metadata, *columns, primary)


def _engine(target: Any, config: Mapping[str, Any]) -> tuple[Engine, bool]:
    """The engine for a URL (made here, owned) or an Engine (the caller's)."""
    if isinstance(target, Engine):
        return target, False
    url = sa.engine.make_url(target)
    options = dict(config)
    if url.drivername in ("postgresql", "postgres"):  # psycopg 3, not SQLAlchemy's psycopg2
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() == "postgresql":
        connect_args = dict(options.get("connect_args", {}))
        connect_args.setdefault("connect_timeout", 10)
        options["connect_args"] = connect_args
    elif url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # one memory database for the store, not one per connection (SQLAlchemy's default)
        options.setdefault("poolclass", StaticPool)
        connect_args = dict(options.get("connect_args", {}))
        connect_args.setdefault("check_same_thread", False)
        options["connect_args"] = connect_args
    try:
        engine = sa.create_engine(url, **options)
    except (TypeError, sa.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(
            f"SQL back end {url.render_as_string(hide_password=True)}: {exc}",
            option="client_config",
        ) from None
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        sa.event.listen(engine, "connect", _write_ahead)
    return engine, True


def _write_ahead(connection: Any, _record: Any) -> None:
    """A SQLite file opened from a URL keeps a write-ahead log, synced at checkpoints rather
    than at every commit: an insert does not wait for the disk (a power loss can lose the
    last commits, never corrupt the file; pass an Engine to choose otherwise)."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class SqlStore:
    """A time series' rows in a SQL table (see the module docstring)."""

    def __init__(self, engine: Engine, owned: bool, spec: StoreSpec) -> None:
        self._engine, self._owned, self._spec = engine, owned, spec
        self._dialect = engine.dialect.name
        if self._dialect not in ("postgresql", "sqlite"):
            raise ConfigError(
                f"SQL back end: {self._dialect} is not supported; use SQLite or PostgreSQL",
                option="client",
                value=self._dialect,
            )
        options = spec.options
        self._string_length = _positive(options, "string_length", 255)
        text_length = _positive(options, "text_length", 32 * 1024)
        if len(spec.prefix) > self._string_length:
            raise ConfigError(
                f"prefix {spec.prefix!r} is longer than string_length={self._string_length}",
                option="prefix",
            )
        self._value = sql_value_type(
            options.get("value_type", "float"), self._string_length, text_length
        )
        default = spec.type if self._value.name == "float" else f"{spec.type}_{self._value.name}"
        table_name = options.get("table_name", default)
        if not isinstance(table_name, str) or not table_name:
            raise ConfigError(
                f"table_name must be a non-empty string, not {table_name!r}", option="table_name"
            )
        self.table = make_table(
            sa.MetaData(), spec.type, table_name, self._value, self._string_length
        )
        # one SQLite connection takes one writer at a time; a lock keeps threads in turn
        self._lock = threading.Lock() if self._dialect == "sqlite" else None
        self._create()

    # -- set-up --------------------------------------------------------------------------

    @contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        """A connection (in a transaction when ``write``), driver errors translated."""
        lock = self._lock
        if lock is not None:
            lock.acquire()
        try:
            with self._translated():
                with self._engine.begin() if write else self._engine.connect() as connection:
                    yield connection
        finally:
            if lock is not None:
                lock.release()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        where = self._engine.url.render_as_string(hide_password=True)
        try:
            yield
        except sa.exc.DataError as exc:
            raise ValueTypeError(
                f"table {self.table.name!r} on {where} cannot hold a value of this write: "
                f"{_first_line(exc)}",
                table=self.table.name,
            ) from exc
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise BackendUnavailableError(
                f"SQL back end {where} cannot be reached: {_first_line(exc)}", url=where
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(
                f"SQL back end {where}, table {self.table.name!r}: {_first_line(exc)}",
                table=self.table.name,
            ) from exc

    def _create(self) -> None:
        """Create the table unless it exists; check an existing one has this layout."""
        with self._connection(write=True) as connection:
            if not sa.inspect(connection).has_table(self.table.name):
                try:
                    with connection.begin_nested():
                        self.table.create(connection)
                except sa.exc.DBAPIError:
                    if not sa.inspect(connection).has_table(self.table.name):
                        raise  # not another process that made it meanwhile
            found = {c["name"]: c for c in sa.inspect(connection).get_columns(self.table.name)}
        missing = [c.name for c in self.table.columns if c.name not in found]
        if missing:
            raise ConfigError(
                f"table {self.table.name!r} exists with another layout (no column "
                f"{missing[0]!r}): it was not made by rillet's {self._spec.type} time series; "
                "pass table_name= to use another table",
                option="table_name",
                value=self.table.name,
            )
        if self._spec.type != "count" and not _same_kind(found["value"]["type"], self._value):
            raise ConfigError(
                f"table {self.table.name!r} keeps values of type {found['value']['type']}, not "
                f"{self._value.name}; pass table_name= to keep {self._value.name} values apart",
                option="table_name",
                value=self.table.name,
            )

    # -- the Store protocol --------------------------------------------------------------

    @property
    def value_type(self) -> pa.DataType:
        """The Arrow type of the value column."""
        return self._value.arrow

    def write(self, rows: pa.Table) -> None:
        """Keep ``rows`` in one transaction (set-based upserts; see the module docstring)."""
        if rows.num_rows == 0:
            return
        self._check_lengths(rows)
        with self._connection(write=True) as connection:
            if self._dialect == "sqlite" and self._value.name in _PLAIN:
                sql, order = self._sqlite_plain
                columns = {c: rows[c].to_pylist() for c in rows.column_names}
                columns["count" if self._spec.type == "count" else "value"] = columns["value"]
                columns["prefix"] = [self._spec.prefix] * rows.num_rows
                params = list(zip(*(columns[c] for c in order), strict=True))
                connection.exec_driver_sql(sql, params)  # sqlite3's executemany, in C
            elif self._dialect == "sqlite":
                connection.execute(self._upsert, self._records(rows))
            elif self._value.name == "blob":  # CSV has no bytes: arrays of them instead
                for start in range(0, rows.num_rows, CHUNK):
                    chunk = rows.slice(start, CHUNK)
                    connection.execute(self._upsert, self._arrays(chunk))
            else:
                self._copy_upsert(connection, rows)

    def _copy_upsert(self, connection: Connection, rows: pa.Table) -> None:
        """PostgreSQL: COPY the rows as CSV (made by Arrow) into a temporary table, then one
        set-based upsert from it, in the connection's transaction."""
        dialect = self._engine.dialect
        quote = dialect.identifier_preparer.quote
        columns = self._write_columns()
        source = ["value" if c == "count" and self._spec.type == "count" else c for c in columns]
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(
            rows.select(source), sink, pa_csv.WriteOptions(include_header=False, batch_size=65536)
        )
        loaded = ", ".join(quote(c) for c in columns)
        load = quote(constraint_name(self.table.name, "load"))
        raw: Any = connection.connection.driver_connection
        try:
            with raw.cursor() as cursor:
                cursor.execute(self._load_table)
                with cursor.copy(f"COPY {load} ({loaded}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(sink.getvalue().to_pybytes())
                cursor.execute(self._upsert_loaded, (self._spec.prefix,))
        except dialect.loaded_dbapi.Error as exc:  # the driver's own: as SQLAlchemy's
            raise sa.exc.DBAPIError.instance("COPY", None, exc, dialect.loaded_dbapi.Error) from exc

    def write_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """What :meth:`write` does, for a few rows given as tuples (single inserts)."""
        if not rows:
            return
        names = write_schema(self._spec.type, self._value.arrow).names
        columns = dict(zip(names, map(list, zip(*rows, strict=True)), strict=True))
        for column in ("name", "interval", "value"):
            if column == "value" and (self._value.name != "str" or self._spec.type == "count"):
                continue
            for row, text in enumerate(columns[column]):
                if len(text) > self._string_length:
                    raise (ValueTypeError if column == "value" else InputError)(
                        f"{column} {text!r} (row {row}) is longer than "
                        f"string_length={self._string_length} of table {self.table.name!r}",
                        column=column,
                        row=row,
                    )
        with self._connection(write=True) as connection:
            if self._dialect == "postgresql":
                connection.execute(self._upsert, self._params(columns))
            else:
                connection.execute(self._upsert, self._dicts(columns))

    def _check_lengths(self, rows: pa.Table) -> None:
        """Names, intervals and str values longer than ``string_length``: an error naming the
        row (SQLite would keep them, PostgreSQL would fail the whole write)."""
        columns = ["name", "interval"]
        if self._value.name == "str" and self._spec.type != "count":
            columns.append("value")
        for column in columns:
            too_long = pc.greater(pc.utf8_length(rows[column]), self._string_length)
            if not pc.any(too_long).as_py():
                continue
            row = pc.index(too_long, True).as_py()
            error = ValueTypeError if column == "value" else InputError
            raise error(
                f"{column} {rows[column][row].as_py()!r} (row {row}) is longer than "
                f"string_length={self._string_length} of table {self.table.name!r}",
                column=column,
                row=row,
            )

    def _write_columns(self) -> list[str]:
        columns = ["name", "interval", "i_time", "r_time"]
        if self._spec.type == "count":
            return [*columns, "count"]
        return (
            [*columns, "value", "count"]
            if self._spec.type == "histogram"
            else [
                *columns,
                "value",
            ]
        )

    def _arrays(self, rows: pa.Table) -> dict[str, Any]:
        return self._params({c: rows[c].to_pylist() for c in rows.column_names})

    def _params(self, columns: Mapping[str, list[Any]]) -> dict[str, Any]:
        """The arrays of the PostgreSQL upsert, from write columns."""
        params: dict[str, Any] = {"prefix": self._spec.prefix}
        for column in self._write_columns():
            source = "value" if column == "count" and self._spec.type == "count" else column
            params[column] = columns[source]
        return params

    def _records(self, rows: pa.Table) -> list[dict[str, Any]]:
        kept = [c for c in rows.column_names if c != "expires"]
        return self._dicts({c: rows[c].to_pylist() for c in kept})

    def _dicts(self, columns: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
        """The rows of the SQLite upsert (one dict a row), from write columns."""
        targets = {c: c for c in columns if c != "expires"}
        if self._spec.type == "count":
            targets["value"] = "count"
        lists = [columns[c] for c in targets]
        prefix = self._spec.prefix
        return [
            {"prefix": prefix, **dict(zip(targets.values(), row, strict=True))}
            for row in zip(*lists, strict=True)
        ]

    def _conflict(self) -> tuple[list[str], dict[str, str]]:
        """The key columns and, per column to update, how (``add`` or ``replace``)."""
        key = ["prefix", "name", "interval", "i_time", "r_time"]
        return {
            "series": ([], {}),
            "histogram": ([*key, "value"], {"count": "add"}),
            "count": (key, {"count": "add"}),
            "gauge": (key, {"value": "replace"}),
            "set": ([*key, "value"], {}),
        }[self._spec.type]

    @functools.cached_property
    def _load_table(self) -> str:
        """The temporary table (one a session, emptied at each commit) a COPY fills."""
        dialect = self._engine.dialect
        quote = dialect.identifier_preparer.quote
        columns = ", ".join(
            f"{quote(c)} {self.table.c[c].type.compile(dialect=dialect)}"
            for c in self._write_columns()
        )
        load = quote(constraint_name(self.table.name, "load"))
        return (
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {load} ({columns}, _ord BIGSERIAL) "
            "ON COMMIT DELETE ROWS"
        )

    @functools.cached_property
    def _upsert_loaded(self) -> str:
        """The upsert from the COPY's temporary table (``%s``: the prefix)."""
        dialect = self._engine.dialect
        quote = dialect.identifier_preparer.quote
        table = dialect.identifier_preparer.format_table(self.table)
        columns = self._write_columns()
        target = ", ".join(quote(c) for c in ["prefix", *columns])
        picked = ", ".join(quote(c) for c in columns)
        load = quote(constraint_name(self.table.name, "load"))
        sql = f"INSERT INTO {table} ({target}) SELECT %s, {picked} FROM {load} ORDER BY _ord"
        return sql + self._on_conflict()

    @functools.cached_property
    def _sqlite_plain(self) -> tuple[str, list[str]]:
        """The SQLite upsert as the driver's SQL and its parameters' column order, for value
        types sqlite3 takes as they are (no SQLAlchemy conversion to run row by row)."""
        names = ["prefix", *self._write_columns()]
        compiled = self._sqlite_insert().compile(dialect=self._engine.dialect, column_keys=names)
        return str(compiled), list(compiled.positiontup or [])

    @functools.cached_property
    def _upsert(self) -> Any:
        """The statement of a write, made once."""
        return self._unnest_insert() if self._dialect == "postgresql" else self._sqlite_insert()

    def _sqlite_insert(self) -> Any:
        table = self.table
        if self._spec.type == "series":
            return table.insert()
        statement = sqlite.insert(table)
        key, updates = self._conflict()
        if not updates:
            return statement.on_conflict_do_nothing(index_elements=key)
        return statement.on_conflict_do_update(
            index_elements=key,
            set_={
                column: table.c[column] + statement.excluded[column]
                if how == "add"
                else statement.excluded[column]
                for column, how in updates.items()
            },
        )

    def _unnest_insert(self) -> sa.TextClause:
        """``INSERT ... SELECT FROM unnest(...) [ON CONFLICT ...]`` of one chunk of arrays."""
        dialect = self._engine.dialect
        quote = dialect.identifier_preparer.quote
        table = dialect.identifier_preparer.format_table(self.table)
        columns = self._write_columns()
        casts = ", ".join(
            f"CAST(:{c} AS {self.table.c[c].type.compile(dialect=dialect)}[])" for c in columns
        )
        prefix_type = self.table.c.prefix.type.compile(dialect=dialect)
        target = ", ".join(quote(c) for c in ["prefix", *columns])
        picked = ", ".join(f"u.{quote(c)}" for c in columns)
        names = ", ".join(quote(c) for c in columns)
        source = f"unnest({casts}) WITH ORDINALITY AS u({names}, _ord)"
        sql = (
            f"INSERT INTO {table} ({target}) SELECT CAST(:prefix AS {prefix_type}), {picked} "
            f"FROM {source}"
        )
        if self._spec.type == "series":
            sql += " ORDER BY u._ord"  # ids in write order
        return sa.text(sql + self._on_conflict())

    def _on_conflict(self) -> str:
        """The ``ON CONFLICT`` clause of a PostgreSQL upsert ("" for series)."""
        quote = self._engine.dialect.identifier_preparer.quote
        table = self._engine.dialect.identifier_preparer.format_table(self.table)
        key, updates = self._conflict()
        if self._spec.type == "series":
            return ""
        target = f" ON CONFLICT ({', '.join(quote(c) for c in key)})"
        if not updates:
            return target + " DO NOTHING"
        sets = ", ".join(
            f"{quote(c)} = {table}.{quote(c)} + EXCLUDED.{quote(c)}"
            if how == "add"
            else f"{quote(c)} = EXCLUDED.{quote(c)}"
            for c, how in updates.items()
        )
        return f"{target} DO UPDATE SET {sets}"

    def _live(self, live_from: Mapping[str, int]) -> Any:
        """Rows that TTL keeps: in an interval of ``live_from`` only from its bucket on."""
        table = self.table
        if not live_from:
            return sa.true()
        return sa.or_(
            table.c.interval.not_in(list(live_from)),
            *(
                sa.and_(table.c.interval == interval, table.c.i_time >= first)
                for interval, first in live_from.items()
            ),
        )

    def fetch(self, names: Sequence[str], interval: str, start: int, end: int) -> pa.Table:
        """The rows of ``names`` in ``interval`` with ``start <= i_time < end``."""
        table = self.table
        schema = fetch_schema(self._spec.type, self._value.arrow)
        value = table.c.count if self._spec.type == "count" else table.c.value
        columns: list[Any] = [table.c.name, table.c.i_time, table.c.r_time, value.label("value")]
        order: list[Any] = [table.c.name, table.c.i_time, table.c.r_time]
        if self._spec.type == "histogram":
            columns.append(table.c.count)
        order.append(table.c.id if self._spec.type == "series" else value)
        query = (
            sa.select(*columns)
            .where(
                table.c.prefix == self._spec.prefix,
                table.c.name.in_(list(names)),
                table.c.interval == interval,
                table.c.i_time >= start,
                table.c.i_time < end,
            )
            .order_by(*order)
        )
        with self._connection() as connection:
            found = connection.execute(query).all()
        data = list(zip(*found, strict=True)) if found else [() for _ in schema]
        return pa.table(
            {
                field.name: pa.array(_arrow_values(list(column), field.type), field.type)
                for field, column in zip(schema, data, strict=True)
            },
            schema=schema,
        )

    def fetch_with(
        self, fetch: CustomFetch, name: str, interval: str, first: int, last: int
    ) -> Mapping[int, Mapping[int, Any]]:
        """Kairos' customized read: ``fetch(connection, table, name, interval, first, last)``
        with a SQLAlchemy connection and this store's Table (rows of every prefix: a custom
        fetch of a prefixed time series filters ``table.c.prefix`` itself)."""
        with self._connection() as connection:
            return fetch(connection, self.table, name, interval, first, last)

    def names(self, live_from: Mapping[str, int]) -> list[str]:
        """The names holding live rows, sorted."""
        table = self.table
        query = (
            sa.select(table.c.name)
            .where(table.c.prefix == self._spec.prefix, self._live(live_from))
            .distinct()
        )
        with self._connection() as connection:
            return sorted(connection.execute(query).scalars())

    def bounds(self, name: str, live_from: Mapping[str, int]) -> dict[str, tuple[int, int]]:
        """Per interval, the least and greatest live ``i_time`` of ``name``."""
        table = self.table
        query = (
            sa.select(table.c.interval, sa.func.min(table.c.i_time), sa.func.max(table.c.i_time))
            .where(table.c.prefix == self._spec.prefix, table.c.name == name)
            .where(self._live(live_from))
            .group_by(table.c.interval)
        )
        with self._connection() as connection:
            return {row[0]: (row[1], row[2]) for row in connection.execute(query)}

    def _delete(self, *where: Any) -> None:
        statement = self.table.delete().where(self.table.c.prefix == self._spec.prefix, *where)
        with self._connection(write=True) as connection:
            connection.execute(statement)

    def delete(self, name: str) -> None:
        """Delete every row of ``name``."""
        self._delete(self.table.c.name == name)

    def delete_all(self) -> None:
        """Delete every row of this prefix (the table stays)."""
        self._delete()

    def expire(self, name: str, live_from: Mapping[str, int]) -> None:
        """Delete the rows of ``name`` that TTL no longer keeps."""
        if not live_from:
            return
        table = self.table
        self._delete(
            table.c.name == name,
            sa.or_(
                *(
                    sa.and_(table.c.interval == interval, table.c.i_time < first)
                    for interval, first in live_from.items()
                )
            ),
        )

    def close(self) -> None:
        """Dispose of the engine if the store made it from a URL."""
        if self._owned:
            self._engine.dispose()


def _arrow_values(values: list[Any], kind: pa.DataType) -> list[Any]:
    """Driver values as Arrow takes them (SQLite gives naive datetimes: they are UTC)."""
    if pa.types.is_timestamp(kind):
        return [v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v for v in values]
    return values


def _same_kind(found: sa.types.TypeEngine[Any], wanted: SqlValueType) -> bool:
    """Whether a reflected value column holds ``wanted`` values (SQLite reports REAL for a
    float and so on: compare the Python types the columns give)."""
    try:
        return bool(found.python_type is wanted.column.python_type)
    except NotImplementedError:
        return True


def _positive(options: Mapping[str, Any], name: str, default: int) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name} must be a positive int, not {value!r}", option=name)
    return value


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__


def open_store(target: Any, spec: StoreSpec) -> SqlStore:
    """The SQL store of ``spec`` on a URL or Engine (a back end it cannot reach raises
    :class:`~rillet.errors.BackendUnavailableError`)."""
    engine, owned = _engine(target, check_options(spec, OPTIONS, "SQL"))
    try:
        return SqlStore(engine, owned, spec)
    except BaseException:
        if owned:
            engine.dispose()
        raise


__all__ = ["SqlStore", "constraint_name", "make_table", "open_store", "sql_value_type"]
