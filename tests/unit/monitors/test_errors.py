"""Errors of the monitor API: each one a specific rillet.errors class with a message a person
can act on, raised before anything changes — the monitor does not exist afterwards, and the
catalog is the same, also after reopening."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rillet
from rillet import errors
from tests.unit.support import DAY, MANUAL, catalog_monitors

SCHEMA = (
    "timestamp TIMESTAMP, op_latency_ms DOUBLE, cpu_util DOUBLE, mem_avail DOUBLE, log_msg STRING"
)
HOOK = "http://127.0.0.1:9/hook"
Call = Callable[[rillet.Database, rillet.Stream], object]
#: (id, call, error class, exact message, detail fields)
CASES: list[tuple[str, Call, type[errors.RilletError], str, dict[str, Any]]] = [
    # -- parse errors: line and column
    ("parse-end", lambda db, s: s.add_filter("f", "cpu_util > "), errors.ParseError,
     "expected an expression at 1:12, found end of input", {"line": 1, "col": 12}),
    ("parse-line-2", lambda db, s: s.add_filter("f", "cpu_util >\n (0.5 +"), errors.ParseError,
     "expected an expression at 2:8, found end of input", {"line": 2, "col": 8}),
    ("parse-paren", lambda db, s: s.add_filter("f", "(cpu_util > 1"), errors.ParseError,
     "expected ')' at 1:14, found end of input", {"line": 1, "col": 14, "expected": "')'"}),
    ("parse-operator", lambda db, s: s.add_filter("f", "cpu_util > 0.5 0.7"), errors.ParseError,
     "expected an operator or end of input at 1:16, found '0.7'", {"line": 1, "col": 16}),
    ("parse-quote", lambda db, s: s.add_filter("f", "'unterminated"), errors.ParseError,
     "unexpected \"'\" at 1:1; expected a closing quote (')", {"line": 1, "col": 1}),
    ("parse-aggregate", lambda db, s: s.add_aggregate("a", "low", "MAX(op_latency_ms"),
     errors.ParseError, "expected ',' or ')' at 1:18, found end of input",
     {"line": 1, "col": 18}),
    ("parse-trigger", lambda db, s: s.install_trigger("t", "mx >"), errors.ParseError,
     "expected an expression at 1:5, found end of input", {"line": 1, "col": 5}),
    ("parse-execute", lambda db, s: s.execute_filter("cpu_util >> 1"), errors.ParseError,
     "expected an expression at 1:11, found '>'", {"line": 1, "col": 11}),
    # -- type errors
    ("unknown-column", lambda db, s: s.add_filter("f", "cpu_utl>0.8 || mem_avail<0.1"),
     errors.TypeCheckError, "unknown column 'cpu_utl' at 1:1; did you mean 'cpu_util'?",
     {"line": 1, "col": 1, "name": "cpu_utl", "suggestion": "cpu_util"}),
    ("unknown-column-later", lambda db, s: s.add_filter("f", "mem_avail < 0.1 && cpu_utl > 0.8"),
     errors.TypeCheckError, "unknown column 'cpu_utl' at 1:20; did you mean 'cpu_util'?",
     {"line": 1, "col": 20, "suggestion": "cpu_util"}),
    ("not-boolean", lambda db, s: s.add_filter("f", "cpu_util + 1"), errors.TypeCheckError,
     "a filter must be a condition (BOOLEAN), but 'cpu_util + 1' is DOUBLE", {}),
    ("not-operand", lambda db, s: s.add_filter("f", "NOT cpu_util"), errors.TypeCheckError,
     "NOT needs a BOOLEAN operand, got DOUBLE at 1:1", {"line": 1, "col": 1}),
    ("like-pattern", lambda db, s: s.add_filter("f", "log_msg LIKE 5"), errors.TypeCheckError,
     "LIKE needs a constant string pattern at 1:14", {"line": 1, "col": 14}),
    ("sum-string", lambda db, s: s.add_aggregate("a", None, "SUM(log_msg)"),
     errors.TypeCheckError, "sum takes a numeric argument, got STRING at 1:5", {"col": 5}),
    ("aggregate-expression", lambda db, s: s.add_aggregate("a", None, "MAX(op_latency_ms) + 1"),
     errors.TypeCheckError, "an aggregate must be one aggregate function call such as "
     "MAX(op_latency_ms), not 'MAX(op_latency_ms) + 1'", {}),
    ("aggregate-column", lambda db, s: s.add_aggregate("a", "low", "op_latency_ms"),
     errors.TypeCheckError, "an aggregate must be one aggregate function call such as "
     "MAX(op_latency_ms), not 'op_latency_ms'", {}),
    ("nested-aggregate", lambda db, s: s.add_aggregate("a", "low", "MAX(MIN(cpu_util))"),
     errors.TypeCheckError, "aggregate function min cannot be nested in an aggregate at 1:5",
     {"col": 5}),
    ("parameter-constant",
     lambda db, s: s.add_aggregate("a", None, "APPROX_QUANTILE(cpu_util, cpu_util)"),
     errors.TypeCheckError, "the approx_quantile parameter must be a constant at 1:27", {}),
    ("parameter-type", lambda db, s: s.add_aggregate("a", None, "TOP_K(log_msg, 2.5)"),
     errors.TypeCheckError, "the top_k parameter k must be BIGINT, got DOUBLE NOT NULL at 1:16",
     {"line": 1, "col": 16}),
    ("unknown-function", lambda db, s: s.add_aggregate("a", None, "NOPE(cpu_util)"),
     errors.TypeCheckError, "unknown function 'nope' at 1:1", {"name": "nope"}),
    ("trigger-unknown-aggregate", lambda db, s: s.install_trigger("t", "mxx > 1000"),
     errors.TypeCheckError, "unknown column 'mxx' at 1:1; did you mean 'mx'?",
     {"suggestion": "mx"}),
    ("trigger-not-boolean", lambda db, s: s.install_trigger("t", "mx + 1"),
     errors.TypeCheckError, "a trigger condition must be BOOLEAN, got DOUBLE", {}),
    ("trigger-no-aggregate", lambda db, s: s.install_trigger("t", "1 > 0"),
     errors.TypeCheckError, "trigger condition '1 > 0' names no aggregate", {}),
    ("execute-not-boolean", lambda db, s: s.execute_filter("cpu_util"), errors.TypeCheckError,
     "a filter must be a condition (BOOLEAN), but 'cpu_util' is DOUBLE", {}),
    # -- unknown names
    ("unknown-stream", lambda db, s: db.stream("perf_lg"), errors.NotFoundError,
     "unknown stream 'perf_lg'; did you mean 'perf_log'?",
     {"kind": "stream", "name": "perf_lg", "suggestion": "perf_log"}),
    ("aggregate-unknown-filter", lambda db, s: s.add_aggregate("a", "lo", "MAX(cpu_util)"),
     errors.NotFoundError, "unknown filter 'lo' on stream 'perf_log'; did you mean 'low'?",
     {"kind": "filter", "suggestion": "low"}),
    ("query-unknown-filter", lambda db, s: s.query_filter("lowx"), errors.NotFoundError,
     "unknown filter 'lowx' on stream 'perf_log'; did you mean 'low'?", {"suggestion": "low"}),
    ("get-unknown-aggregate", lambda db, s: s.get_aggregate("m"), errors.NotFoundError,
     "unknown aggregate 'm' on stream 'perf_log'; did you mean 'mx'?",
     {"kind": "aggregate", "name": "m", "suggestion": "mx"}),
    ("alerts-unknown-trigger", lambda db, s: s.get_alerts(None, None, "trgx"),
     errors.NotFoundError, "unknown trigger 'trgx' on stream 'perf_log'; did you mean 'trg'?",
     {"kind": "trigger", "suggestion": "trg"}),
    ("remove-unknown-filter", lambda db, s: s.remove_filter("lw"), errors.NotFoundError,
     "unknown filter 'lw' on stream 'perf_log'; did you mean 'low'?", {"suggestion": "low"}),
    ("remove-unknown-aggregate", lambda db, s: s.remove_aggregate("mxx"), errors.NotFoundError,
     "unknown aggregate 'mxx' on stream 'perf_log'; did you mean 'mx'?", {"suggestion": "mx"}),
    ("remove-unknown-trigger", lambda db, s: s.remove_trigger("trgg"), errors.NotFoundError,
     "unknown trigger 'trgg' on stream 'perf_log'; did you mean 'trg'?", {"suggestion": "trg"}),
    ("remove-unknown-index", lambda db, s: s.remove_index("cpu_util"), errors.NotFoundError,
     "unknown index 'cpu_util' on stream 'perf_log'", {"kind": "index", "suggestion": None}),
    ("remove-unknown-webhook", lambda db, s: s.remove_webhook("http://127.0.0.1:1/x"),
     errors.NotFoundError, f"unknown webhook 'http://127.0.0.1:1/x'; did you mean {HOOK!r}?",
     {"kind": "webhook", "suggestion": HOOK}),
    # -- names already taken, monitors still in use
    ("duplicate-filter", lambda db, s: s.add_filter("low", "cpu_util > 0.1"),
     errors.ConflictError, "filter 'low' already exists on stream 'perf_log'",
     {"kind": "filter", "name": "low"}),
    ("duplicate-filter-case", lambda db, s: s.add_filter("LOW", "cpu_util > 0.1"),
     errors.ConflictError, "filter 'low' already exists on stream 'perf_log'", {}),
    ("duplicate-aggregate", lambda db, s: s.add_aggregate("mx", None, "COUNT(*)"),
     errors.ConflictError, "aggregate 'mx' already exists on stream 'perf_log'",
     {"kind": "aggregate"}),
    ("duplicate-trigger", lambda db, s: s.install_trigger("trg", "mx > 2"),
     errors.ConflictError, "trigger 'trg' already exists on stream 'perf_log'", {}),
    ("duplicate-index", lambda db, s: s.add_index("op_latency_ms", bucket_size=2.0),
     errors.ConflictError, "index 'op_latency_ms' already exists on stream 'perf_log'", {}),
    ("remove-used-filter", lambda db, s: s.remove_filter("low"), errors.ConflictError,
     "filter 'low' is used by mx; remove those first", {"kind": "filter", "name": "low"}),
    ("remove-used-aggregate", lambda db, s: s.remove_aggregate("mx"), errors.ConflictError,
     "aggregate 'mx' is used by trg; remove those first", {"kind": "aggregate"}),
    # -- bad settings
    ("period-unit", lambda db, s: s.install_trigger("t", "mx > 1", period="1x"),
     errors.ConfigError, "period '1x' is not a duration such as '5s', '15m', '1h', '7d' or "
     "'daily'", {"option": "period", "value": "1x"}),
    ("period-zero", lambda db, s: s.install_trigger("t", "mx > 1", period="0s"),
     errors.ConfigError, "period '0s' is not a duration such as '5s', '15m', '1h', '7d' or "
     "'daily'", {"option": "period"}),
    ("period-calendar", lambda db, s: s.install_trigger("t", "mx > 1", period="monthly"),
     errors.ConfigError, "period 'monthly' is not a duration such as '5s', '15m', '1h', '7d' "
     "or 'daily'", {}),
    ("resolution-word", lambda db, s: s.add_filter("f", "cpu_util > 1", resolution="soon"),
     errors.ConfigError, "resolution 'soon' is not a duration such as '5s', '15m', '1h', '7d' "
     "or 'daily'", {"option": "resolution", "value": "soon"}),
    ("resolution-negative",
     lambda db, s: s.add_aggregate("a", None, "COUNT(*)", resolution="-1s"),
     errors.ConfigError, "resolution '-1s' is not a duration such as '5s', '15m', '1h', '7d' "
     "or 'daily'", {}),
    ("period-given-resolution",
     lambda db, s: s.install_trigger("t", "fixed > 1", period="1500ms"), errors.ConfigError,
     "period of trigger 't' (1500ms) must be whole buckets of aggregate 'fixed', which was "
     "given resolution='1s': use a period that is a multiple of 1s, or re-create aggregate "
     "'fixed' with resolution='500ms' or without one (automatic)",
     {"kind": "trigger", "name": "t"}),
    ("period-below-given-resolution",
     lambda db, s: s.install_trigger("t", "mx > 1 AND fixed > 1", period="250ms"),
     errors.ConfigError, "period of trigger 't' (250ms) must be whole buckets of aggregate "
     "'fixed', which was given resolution='1s': use a period that is a multiple of 1s, or "
     "re-create aggregate 'fixed' with resolution='250ms' or without one (automatic)", {}),
    ("period-filter-resolution",
     lambda db, s: s.install_trigger("t", "per_min > 1", period="10s"), errors.ConfigError,
     "period of trigger 't' (10s) must be whole buckets of aggregate 'per_min', which takes "
     "resolution='1m' from filter 'coarse': use a period that is a multiple of 1m, or "
     "re-create aggregate 'per_min' with resolution='10s', or filter 'coarse' without a "
     "resolution", {"kind": "trigger"}),
    ("period-finer-than-automatic",
     lambda db, s: s.install_trigger("t", "mx > 1", period="1500us"), errors.ConfigError,
     "period of trigger 't' (1500us) would need buckets of 500us in aggregate 'mx'; automatic "
     "resolutions stop at 1ms: use a period of whole milliseconds, or re-create aggregate "
     "'mx' with resolution='500us'", {"kind": "trigger", "name": "t"}),
    ("webhook-scheme", lambda db, s: s.add_webhook("ftp://x"), errors.ConfigError,
     "webhook url 'ftp://x' must start with http:// or https://", {"option": "url"}),
    ("webhook-no-scheme", lambda db, s: s.add_webhook("localhost:8000/hook"),
     errors.ConfigError, "webhook url 'localhost:8000/hook' must start with http:// or "
     "https://", {}),
    ("monitor-name", lambda db, s: s.add_filter("bad name", "cpu_util > 1"), errors.ConfigError,
     "monitor name 'bad name' must be an identifier (letters, digits, _)", {"option": "name"}),
    ("monitor-name-digit", lambda db, s: s.install_trigger("1st", "mx > 1"), errors.ConfigError,
     "monitor name '1st' must be an identifier (letters, digits, _)", {}),
    ("index-bucket", lambda db, s: s.add_index("cpu_util", bucket_size=0), errors.ConfigError,
     "index on 'cpu_util' needs a positive bucket_size", {"column": "cpu_util"}),
    ("index-bucket-negative", lambda db, s: s.add_index("cpu_util", bucket_size=-1.0),
     errors.ConfigError, "index on 'cpu_util' needs a positive bucket_size", {}),
    ("index-timestamp", lambda db, s: s.add_index("timestamp"), errors.ConfigError,
     "column 'timestamp' is TIMESTAMP NOT NULL; indexes take numeric, STRING or BOOLEAN "
     "columns", {"column": "timestamp"}),
    ("index-unknown-column", lambda db, s: s.add_index("cpu_utl"), errors.SchemaError,
     "unknown column 'cpu_utl' in stream 'perf_log'; did you mean 'cpu_util'?",
     {"column": "cpu_utl"}),
]  # fmt: skip


def define(s: rillet.Stream) -> None:
    s.add_index("op_latency_ms", bucket_size=1.0)
    s.add_filter("low", "cpu_util > 0.8")
    s.add_aggregate("mx", "low", "MAX(op_latency_ms)")
    s.install_trigger("trg", "mx > 1000")
    s.add_webhook(HOOK, trigger="trg")
    s.add_aggregate("fixed", None, "COUNT(*)", resolution="1s")
    s.add_filter("coarse", "mem_avail < 0.5", resolution="1m")
    s.add_aggregate("per_min", "coarse", "COUNT(*)")


def monitors(s: rillet.Stream) -> dict[str, list[str]]:
    """The names of every monitor the stream has now."""
    m = s.monitors
    return {
        "index": sorted(m.indexes),
        "filter": sorted(m.filters),
        "aggregate": sorted(m.aggregates),
        "trigger": sorted(m.triggers),
        "webhook": sorted(f"{h.url} {h.trigger}" for h in m.delivery.webhooks),
    }


DEFINED = {
    "index": ["op_latency_ms"],
    "filter": ["coarse", "low"],
    "aggregate": ["fixed", "mx", "per_min"],
    "trigger": ["trg"],
    "webhook": [f"{HOOK} trg"],
}


@pytest.fixture
def db(db: rillet.Database) -> rillet.Database:
    """conftest's database in ``folder``, with the stream perf_log and its monitors."""
    define(db.create_stream("perf_log", SCHEMA, time_column="timestamp"))
    return db


@pytest.mark.parametrize(("call", "kind", "message", "detail"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_error_is_specific_and_changes_nothing(
    db: rillet.Database,
    folder: Path,
    call: Call,
    kind: type[errors.RilletError],
    message: str,
    detail: dict[str, Any],
) -> None:
    s = db.stream("perf_log")
    s.append_many([(DAY, 500.0, 0.9, 0.03, "WARN")])  # no alert: mx stays <= 1000
    catalog = catalog_monitors(folder, state=True)
    with pytest.raises(kind) as caught:
        call(db, s)
    assert type(caught.value) is kind
    assert caught.value.message == message == str(caught.value)
    for key, value in detail.items():
        assert getattr(caught.value, key) == value, key
    if isinstance(caught.value, errors.ParseError | errors.TypeCheckError):
        assert isinstance(caught.value, errors.InputError)
    assert monitors(s) == DEFINED
    assert catalog_monitors(folder, state=True) == catalog
    assert [db.stream(n).name for n in ("perf_log", "perf_log")] == ["perf_log", "perf_log"]
    # the stream and its monitors still work
    s.append_many([(DAY.replace(second=5), 600.0, 0.95, 0.5, "WARN")])
    assert s.query_filter("low").offsets.tolist() == [0, 1]
    assert s.get_aggregate("mx") == 600.0
    assert s.get_alerts() == []
    # a refused trigger made no aggregate finer
    resolutions = {n: a.resolution_us for n, a in s.monitors.aggregates.items()}
    assert resolutions == {"mx": 1_000_000, "fixed": 1_000_000, "per_min": 60_000_000}


def test_nothing_changed_after_reopening(folder: Path) -> None:
    with rillet.connect(folder, **MANUAL) as db:
        s = db.create_stream("perf_log", SCHEMA, time_column="timestamp")
        define(s)
        catalog = catalog_monitors(folder, state=True)
        for _, call, kind, _, _ in CASES:
            with pytest.raises(kind):
                call(db, s)
        assert catalog_monitors(folder, state=True) == catalog
    with rillet.connect(folder, **MANUAL) as db:
        assert monitors(db.stream("perf_log")) == DEFINED
        assert [s.name for s in db.streams()] == ["perf_log"]
    assert catalog_monitors(folder, state=True) == catalog


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("APPROX_QUANTILE(op_latency_ms, 1.5)", "approx_quantile: q must be a number between "
         "0 and 1, got 1.5"),
        ("TOP_K(log_msg, 0)", "top_k: k must be a positive integer, got 0"),
    ],
)  # fmt: skip
def test_bad_aggregate_parameter_is_rejected_at_definition(
    db: rillet.Database, folder: Path, expression: str, message: str
) -> None:
    s = db.stream("perf_log")
    catalog = catalog_monitors(folder, state=True)
    with pytest.raises(errors.TypeCheckError) as caught:
        s.add_aggregate("a", None, expression)
    assert caught.value.message == message
    assert catalog_monitors(folder, state=True) == catalog
    assert s.append_many([(DAY, 1.0, 0.5, 0.5, "INFO")]) == 0


def test_duplicate_webhook(db: rillet.Database, folder: Path) -> None:
    s = db.stream("perf_log")
    catalog = catalog_monitors(folder, state=True)
    with pytest.raises(errors.ConflictError) as caught:
        s.add_webhook(HOOK, trigger="trg")
    assert monitors(s) == DEFINED
    assert catalog_monitors(folder, state=True) == catalog
    assert caught.value.message == (
        f"webhook {HOOK!r} (trigger 'trg') already exists on stream 'perf_log'"
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_aggregate("mx", "yesterday"),
        lambda s: s.query_filter("low", None, "not a time"),
        lambda s: s.execute_filter("cpu_util > 0.5", "yesterday"),
        lambda s: s.get_alerts("yesterday"),
    ],
    ids=["get_aggregate", "query_filter", "execute_filter", "get_alerts"],
)
def test_bad_time_bound_is_an_input_error(
    db: rillet.Database, call: Callable[[rillet.Stream], object]
) -> None:
    expected = r"\(\): (start|end) must be a time \(datetime, ISO-8601 text or epoch ns\) or None"
    with pytest.raises(
        errors.InputError, match=expected + r", not str \('(yesterday|not a time)'\)"
    ):
        call(db.stream("perf_log"))


def test_remove_webhook_with_the_wrong_trigger_names_the_trigger(db: rillet.Database) -> None:
    s = db.stream("perf_log")
    with pytest.raises(errors.NotFoundError) as caught:
        s.remove_webhook(HOOK)  # it was added for trigger 'trg' only
    assert monitors(s) == DEFINED
    assert "trg" in caught.value.message
