"""Every public method of a database and a stream, given an argument of a wrong Python type:
each raises the rillet error of that argument's role with an exact message naming the method
and the argument, and changes nothing (streams, records, offsets, monitors, callbacks).

The table is complete by construction: the methods and parameters it covers are compared with
those of ``rillet.Database`` and ``rillet.Stream`` read by introspection, so a new public
method or parameter fails here until it has a row (or, taking no arguments, is listed in
``NO_ARGUMENTS``).
"""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rillet
from rillet import errors
from rillet.arguments import INT, check
from tests.unit.support import MANUAL, at, catalog_monitors

SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE"
HOOK = "http://127.0.0.1:9/hook"
TIME = "a time (datetime, ISO-8601 text or epoch ns) or None"
#: calls get the database and stream as Any: the wrong types are the point
Call = Callable[[Any, Any], object]
connect: Any = rillet.connect

SchemaE, ConfigE, InputE, RecordE = (
    errors.SchemaError,
    errors.ConfigError,
    errors.InputError,
    errors.RecordError,
)

#: (owner, method, argument, call, error class, exact message)
CASES: list[tuple[str, str, str, Call, type[errors.InputError], str]] = [
    # -- rillet.connect
    ("rillet", "connect", "target", lambda db, s: connect(5), ConfigE,
     "connect(): target must be a str or a pathlib.Path or None, not int (5)"),
    ("rillet", "connect", "clock", lambda db, s: connect(clock=5), ConfigE,
     "connect(): clock must be callable, not int (5)"),
    # -- Database
    ("Database", "create_stream", "name", lambda db, s: db.create_stream(5, "v INT"), SchemaE,
     "create_stream(): name must be a str, not int (5)"),
    ("Database", "create_stream", "schema", lambda db, s: db.create_stream("t", 5), SchemaE,
     "create_stream(): schema must be rtsql text, a list of (name, type) pairs or a pyarrow "
     "schema, not int (5)"),
    ("Database", "create_stream", "time_column",
     lambda db, s: db.create_stream("t", "v INT", time_column=0), SchemaE,
     "create_stream(): time_column must be a str or None, not int (0)"),
    ("Database", "create_stream", "partition",
     lambda db, s: db.create_stream("t", "v INT", partition=3600), ConfigE,
     "create_stream(): partition must be a str, not int (3600)"),
    ("Database", "create_stream", "retention",
     lambda db, s: db.create_stream("t", "v INT", retention=dt.timedelta(days=7)), ConfigE,
     "create_stream(): retention must be a str or None, not timedelta "
     "(datetime.timedelta(days=7))"),
    ("Database", "create_stream", "max_bytes",
     lambda db, s: db.create_stream("t", "v INT", max_bytes="10"), ConfigE,
     "create_stream(): max_bytes must be an int or None, not str ('10')"),
    ("Database", "create_stream", "durability",
     lambda db, s: db.create_stream("t", "v INT", durability=True), ConfigE,
     "create_stream(): durability must be a str, not bool (True)"),
    ("Database", "create_stream", "log_compression",
     lambda db, s: db.create_stream("t", "v INT", log_compression=4), ConfigE,
     "create_stream(): log_compression must be a str or None, not int (4)"),
    ("Database", "stream", "name", lambda db, s: db.stream(5), SchemaE,
     "stream(): name must be a str, not int (5)"),
    ("Database", "drop_stream", "name", lambda db, s: db.drop_stream(None), SchemaE,
     "drop_stream(): name must be a str, not None"),
    ("Database", "sql", "query", lambda db, s: db.sql(5), InputE,
     "sql(): query must be a str, not int (5)"),
    ("Database", "sql", "params", lambda db, s: db.sql("SELECT ?", 5), InputE,
     "sql(): params must be a sequence or mapping of parameters or None, not int (5)"),
    ("Database", "sql", "include_open", lambda db, s: db.sql("SELECT 1", include_open=1),
     ConfigE, "sql(): include_open must be a bool, not int (1)"),
    ("Database", "confine_sql", "directories", lambda db, s: db.confine_sql("/tmp"), ConfigE,
     "confine_sql(): directories must be a list of folders, not str ('/tmp')"),
    ("Database", "execute", "text", lambda db, s: db.execute(5), InputE,
     "execute(): text must be a str, not int (5)"),
    ("Database", "flow", "flow_id", lambda db, s: db.flow("1"), InputE,
     "flow(): flow_id must be an int, not str ('1')"),
    ("Database", "name_flow", "flow_id", lambda db, s: db.name_flow("1", "x"), InputE,
     "name_flow(): flow_id must be an int, not str ('1')"),
    ("Database", "name_flow", "name", lambda db, s: db.name_flow(1, 5), SchemaE,
     "name_flow(): name must be a str, not int (5)"),
    ("Database", "unname_flow", "flow_id", lambda db, s: db.unname_flow(1.5), InputE,
     "unname_flow(): flow_id must be an int, not float (1.5)"),
    ("Database", "set", "key", lambda db, s: db.set(5, 1), ConfigE,
     "set(): key must be a str, not int (5)"),
    ("Database", "set", "value", lambda db, s: db.set("rillet.slack.time", [1]), ConfigE,
     "set(): value must be a str, int or bool, not list ([1])"),
    # -- Stream: records
    ("Stream", "append", "row", lambda db, s: s.append(5), RecordE,
     "row 0 of stream 'perf' must be a tuple, list or mapping, not int"),
    ("Stream", "append_many", "data", lambda db, s: s.append_many(5), RecordE,
     "append_many(): data for stream 'perf' must be rows, a dict of columns, an Arrow table or "
     "batch, or a pandas or polars DataFrame, not int"),
    ("Stream", "read", "offset", lambda db, s: s.read("a"), InputE,
     "read(): offset must be an int, not str ('a')"),
    ("Stream", "read", "count", lambda db, s: s.read(0, 2.0), InputE,
     "read(): count must be an int of 0 or more or None, not float (2.0)"),
    ("Stream", "read", "count", lambda db, s: s.read(0, -1), InputE,
     "read(): count must be an int of 0 or more or None, not int (-1)"),
    ("Stream", "scan", "start", lambda db, s: s.scan(1.5), InputE,
     f"scan(): start must be {TIME}, not float (1.5)"),
    ("Stream", "scan", "end", lambda db, s: s.scan(None, "tomorrow"), InputE,
     f"scan(): end must be {TIME}, not str ('tomorrow')"),
    ("Stream", "scan_tables", "start", lambda db, s: s.scan_tables(1.5), InputE,
     f"scan_tables(): start must be {TIME}, not float (1.5)"),
    ("Stream", "scan_tables", "end", lambda db, s: s.scan_tables(None, "tomorrow"), InputE,
     f"scan_tables(): end must be {TIME}, not str ('tomorrow')"),
    ("Stream", "take", "offsets", lambda db, s: s.take("0"), InputE,
     "take(): offsets must be a 1-d array or list of int offsets, not str ('0')"),
    ("Stream", "stored", "low", lambda db, s: s.stored("0"), InputE,
     "stored(): low must be an int, not str ('0')"),
    ("Stream", "stored", "high", lambda db, s: s.stored(0, 2.5), InputE,
     "stored(): high must be an int or None, not float (2.5)"),
    ("Stream", "stored", "dictionaries", lambda db, s: s.stored(0, None, "yes"), ConfigE,
     "stored(): dictionaries must be a bool, not str ('yes')"),
    ("Stream", "seal", "everything", lambda db, s: s.seal(1), ConfigE,
     "seal(): everything must be a bool, not int (1)"),
    # -- Stream: subscribers
    ("Stream", "subscribe", "subscriber", lambda db, s: s.subscribe(print, "p"), ConfigE,
     "subscribe(): subscriber must be a subscriber (with observe and forget_before methods), "
     "not builtin_function_or_method (<built-in function print>)"),
    ("Stream", "subscribe", "name", lambda db, s: s.subscribe(Counter(), 5), ConfigE,
     "subscribe(): name must be a str, not int (5)"),
    ("Stream", "subscribe", "from_offset", lambda db, s: s.subscribe(Counter(), "c", "0"), InputE,
     "subscribe(): from_offset must be an int or None, not str ('0')"),
    ("Stream", "subscribe", "dictionaries", lambda db, s: s.subscribe(Counter(), "c", 0, 1),
     ConfigE, "subscribe(): dictionaries must be a bool, not int (1)"),
    ("Stream", "unsubscribe", "subscription", lambda db, s: s.unsubscribe("monitors"), ConfigE,
     "unsubscribe(): subscription must be a Subscription from subscribe(), not str ('monitors')"),
    # -- Stream: monitors
    ("Stream", "add_index", "column", lambda db, s: s.add_index(2), SchemaE,
     "add_index(): column must be a str, not int (2)"),
    ("Stream", "add_index", "bucket_size",
     lambda db, s: s.add_index("ms", bucket_size="x"), ConfigE,
     "add_index(): bucket_size must be a number, not str ('x')"),
    ("Stream", "add_index", "backfill", lambda db, s: s.add_index("host", backfill="no"), ConfigE,
     "add_index(): backfill must be a bool, not str ('no')"),
    ("Stream", "remove_index", "column", lambda db, s: s.remove_index(["ms"]), SchemaE,
     "remove_index(): column must be a str, not list (['ms'])"),
    ("Stream", "add_filter", "name", lambda db, s: s.add_filter(5, "ms > 1"), ConfigE,
     "add_filter(): name must be a str, not int (5)"),
    ("Stream", "add_filter", "expression", lambda db, s: s.add_filter("f", 5), ConfigE,
     "add_filter(): expression must be a str, not int (5)"),
    ("Stream", "add_filter", "resolution",
     lambda db, s: s.add_filter("f", "ms > 1", resolution=1), ConfigE,
     "add_filter(): resolution must be a str or None, not int (1)"),
    ("Stream", "add_filter", "backfill",
     lambda db, s: s.add_filter("f", "ms > 1", backfill=None), ConfigE,
     "add_filter(): backfill must be a bool, not None"),
    ("Stream", "remove_filter", "name", lambda db, s: s.remove_filter(5), ConfigE,
     "remove_filter(): name must be a str, not int (5)"),
    ("Stream", "add_aggregate", "name", lambda db, s: s.add_aggregate(5, None, "MAX(ms)"), ConfigE,
     "add_aggregate(): name must be a str, not int (5)"),
    ("Stream", "add_aggregate", "filter", lambda db, s: s.add_aggregate("a", 5, "MAX(ms)"), ConfigE,
     "add_aggregate(): filter must be a str or None, not int (5)"),
    ("Stream", "add_aggregate", "expression",
     lambda db, s: s.add_aggregate("a", None, max), ConfigE,
     "add_aggregate(): expression must be a str, not builtin_function_or_method "
     "(<built-in function max>)"),
    ("Stream", "add_aggregate", "resolution",
     lambda db, s: s.add_aggregate("a", None, "MAX(ms)", resolution=1.0), ConfigE,
     "add_aggregate(): resolution must be a str or None, not float (1.0)"),
    ("Stream", "add_aggregate", "backfill",
     lambda db, s: s.add_aggregate("a", None, "MAX(ms)", backfill="yes"), ConfigE,
     "add_aggregate(): backfill must be a bool, not str ('yes')"),
    ("Stream", "remove_aggregate", "name", lambda db, s: s.remove_aggregate(5), ConfigE,
     "remove_aggregate(): name must be a str, not int (5)"),
    ("Stream", "install_trigger", "name", lambda db, s: s.install_trigger(5, "mx > 1"), ConfigE,
     "install_trigger(): name must be a str, not int (5)"),
    ("Stream", "install_trigger", "condition", lambda db, s: s.install_trigger("t", True), ConfigE,
     "install_trigger(): condition must be a str, not bool (True)"),
    ("Stream", "install_trigger", "period",
     lambda db, s: s.install_trigger("t", "mx > 1", period=5), ConfigE,
     "install_trigger(): period must be a str, not int (5)"),
    ("Stream", "remove_trigger", "name", lambda db, s: s.remove_trigger(5), ConfigE,
     "remove_trigger(): name must be a str, not int (5)"),
    ("Stream", "execute_filter", "expression", lambda db, s: s.execute_filter(5), InputE,
     "execute_filter(): expression must be a str, not int (5)"),
    ("Stream", "execute_filter", "start", lambda db, s: s.execute_filter("ms > 1", 1.5), InputE,
     f"execute_filter(): start must be {TIME}, not float (1.5)"),
    ("Stream", "execute_filter", "end",
     lambda db, s: s.execute_filter("ms > 1", None, True), InputE,
     f"execute_filter(): end must be {TIME}, not bool (True)"),
    ("Stream", "query_filter", "name", lambda db, s: s.query_filter(5), ConfigE,
     "query_filter(): name must be a str, not int (5)"),
    ("Stream", "query_filter", "start", lambda db, s: s.query_filter("low", [0]), InputE,
     f"query_filter(): start must be {TIME}, not list ([0])"),
    ("Stream", "query_filter", "end", lambda db, s: s.query_filter("low", None, "noon"), InputE,
     f"query_filter(): end must be {TIME}, not str ('noon')"),
    ("Stream", "get_aggregate", "name", lambda db, s: s.get_aggregate(5), ConfigE,
     "get_aggregate(): name must be a str, not int (5)"),
    ("Stream", "get_aggregate", "start", lambda db, s: s.get_aggregate("mx", 1.0), InputE,
     f"get_aggregate(): start must be {TIME}, not float (1.0)"),
    ("Stream", "get_aggregate", "end",
     lambda db, s: s.get_aggregate("mx", None, dt.timedelta(0)), InputE,
     f"get_aggregate(): end must be {TIME}, not timedelta (datetime.timedelta(0))"),
    ("Stream", "get_alerts", "start", lambda db, s: s.get_alerts("yesterday"), InputE,
     f"get_alerts(): start must be {TIME}, not str ('yesterday')"),
    ("Stream", "get_alerts", "end", lambda db, s: s.get_alerts(None, 1.5), InputE,
     f"get_alerts(): end must be {TIME}, not float (1.5)"),
    ("Stream", "get_alerts", "trigger", lambda db, s: s.get_alerts(None, None, 5), ConfigE,
     "get_alerts(): trigger must be a str or None, not int (5)"),
    ("Stream", "on_alert", "callback", lambda db, s: s.on_alert("print"), ConfigE,
     "on_alert(): callback must be callable, not str ('print')"),
    ("Stream", "add_webhook", "url", lambda db, s: s.add_webhook(5), ConfigE,
     "add_webhook(): url must be a str, not int (5)"),
    ("Stream", "add_webhook", "trigger", lambda db, s: s.add_webhook(HOOK, 5), ConfigE,
     "add_webhook(): trigger must be a str or None, not int (5)"),
    ("Stream", "remove_webhook", "url", lambda db, s: s.remove_webhook(None), ConfigE,
     "remove_webhook(): url must be a str, not None"),
    ("Stream", "remove_webhook", "trigger", lambda db, s: s.remove_webhook(HOOK, 5), ConfigE,
     "remove_webhook(): trigger must be a str or None, not int (5)"),
]  # fmt: skip

#: public methods that take no argument (besides self): there is nothing to check in them
NO_ARGUMENTS = {
    ("Database", "streams"),
    ("Database", "flows"),
    ("Database", "close"),
    ("Stream", "flush"),
    ("Stream", "caught_up"),
    ("Stream", "partitions"),
    ("Stream", "wait_subscribers"),
    ("Stream", "apply_retention"),
    ("Stream", "paused"),
}
OWNERS: dict[str, Any] = {"rillet": rillet, "Database": rillet.Database, "Stream": rillet.Stream}


class Counter:
    """A subscriber that counts the records handed to it."""

    def __init__(self) -> None:
        self.rows = 0

    def observe(self, batch: Any, history: bool) -> None:
        self.rows += len(batch)

    def forget_before(self, start_us: int) -> None:
        pass


def public_methods(owner: str) -> dict[str, inspect.Signature]:
    """The public methods of an owner and their signatures (``connect`` for the module)."""
    if owner == "rillet":
        return {"connect": inspect.signature(rillet.connect)}
    cls = OWNERS[owner]
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def parameters(signature: inspect.Signature) -> set[str]:
    """The named parameters of a signature, without self (``**settings`` is checked by
    Settings.from_kwargs, in tests/unit/test_database.py)."""
    named = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    return {
        p.name for p in signature.parameters.values() if p.name != "self" and p.kind not in named
    }


def test_the_table_covers_every_public_method_and_parameter() -> None:
    covered: dict[tuple[str, str], set[str]] = {}
    for owner, method, argument, *_ in CASES:
        covered.setdefault((owner, method), set()).add(argument)
    wanted: dict[tuple[str, str], set[str]] = {}
    for owner in OWNERS:
        for method, signature in public_methods(owner).items():
            if parameters(signature):
                wanted[(owner, method)] = parameters(signature)
            else:
                assert (owner, method) in NO_ARGUMENTS, f"{owner}.{method} takes no arguments?"
    assert covered == wanted
    no_arguments = {(o, m) for o in OWNERS for m, sig in public_methods(o).items()}
    assert NO_ARGUMENTS == no_arguments - set(wanted)


@pytest.fixture
def setup(folder: Path) -> Iterator[tuple[rillet.Database, rillet.Stream]]:
    """A stream with records and one monitor of each kind, in a data folder."""
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("perf", SCHEMA, time_column="ts")
        s.append_many([(at(0, 0, i), "a", float(i)) for i in range(5)])
        s.append((at(0, 0, 9), "b", 9.0))  # buffered, not yet in memory
        s.add_index("ms")
        s.add_filter("low", "ms < 3")
        s.add_aggregate("mx", "low", "MAX(ms)")
        s.install_trigger("trg", "mx > 100")
        s.add_webhook(HOOK, "trg")
        s.on_alert(lambda alert: None)
        yield db, s


def state(db: rillet.Database, s: rillet.Stream, folder: Path) -> tuple[Any, ...]:
    """What a rejected call must leave as it was."""
    return (
        [each.name for each in db.streams()],
        len(s),
        s.next_offset,
        [tuple(r) for r in s.read(0, 10)],
        catalog_monitors(folder),
        [sorted(s.monitors.indexes), sorted(s.monitors.filters), sorted(s.monitors.aggregates)],
        sorted(s.monitors.triggers),
        len(s.monitors.delivery.webhooks),
        len(s.monitors.delivery.callbacks),
        s.get_aggregate("mx"),
    )


@pytest.mark.parametrize(
    ("owner", "method", "argument", "call", "kind", "message"),
    CASES,
    ids=[f"{c[1]}-{c[2]}" for c in CASES],
)
def test_a_wrong_type_is_a_precise_error_and_changes_nothing(
    setup: tuple[rillet.Database, rillet.Stream],
    folder: Path,
    owner: str,
    method: str,
    argument: str,
    call: Call,
    kind: type[errors.InputError],
    message: str,
) -> None:
    db, s = setup
    before = state(db, s, folder)
    with pytest.raises(errors.RilletError) as info:
        call(db, s)
    assert type(info.value) is kind
    assert isinstance(info.value, errors.InputError)  # the promise that nothing changed
    assert str(info.value) == message
    assert argument in str(info.value)
    if kind is not errors.RecordError:  # records keep their own fields (.row, .column, ...)
        assert info.value.detail["method"] == method
        assert info.value.detail["argument"] == argument
        assert info.value.detail["expected"] in str(info.value)
    assert state(db, s, folder) == before
    assert s.append((at(0, 0, 10), "c", 10.0)) == before[2]  # no offset was used up


def test_numpy_integers_and_other_time_forms_are_taken() -> None:
    # what the checks and to_ns take beyond the type hints: Any to mypy
    one, two = np.int32(1), np.int64(2)
    start: Any = np.datetime64("2024-05-01T00:00:02")
    day_after: Any = dt.date(2024, 5, 2)
    with rillet.connect(**MANUAL) as db:
        s: Any = db.create_stream("t", SCHEMA, time_column="ts")
        s.append_many([(at(0, 0, i), "a", float(i)) for i in range(4)])
        assert s.read(two)["ms"] == 2.0
        assert [r.offset for r in s.read(one, two)] == [1, 2]
        assert [r.offset for r in s.scan(start, at(0, 0, 3))] == [2]
        assert [r.offset for r in s.scan("2024-05-01T00:00:03Z", day_after)] == [3]
        assert s.take(np.array([0, 3])).column("_offset").to_pylist() == [0, 3]


def test_check_reports_the_first_wrong_argument_in_order() -> None:
    with pytest.raises(errors.InputError, match=r"^f\(\): b must be an int, not str \('x'\)$"):
        check("f", a=(1, INT), b=("x", INT), c=("y", INT))


def test_a_long_value_is_cut_short_in_the_message() -> None:
    with pytest.raises(errors.InputError) as info:
        check("f", a=("x" * 1000, INT))
    assert len(str(info.value)) < 100
    assert str(info.value).startswith("f(): a must be an int, not str ('xxxxxxxxxxxx")
