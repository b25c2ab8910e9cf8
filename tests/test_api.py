"""The public API is exactly what __init__ exports (httpx tests/test_exported_members.py)."""

import rillet
from rillet import errors


def test_all_is_exact_and_sorted() -> None:
    assert rillet.__all__ == sorted(rillet.__all__)
    public = {name for name in dir(rillet) if not name.startswith("_")}
    modules = {"api", "arguments", "batches", "buffer", "cli", "database", "datatypes", "errors"}
    modules |= {"query", "record", "clock", "calendar"}
    modules |= {"schema", "settings", "storage", "stream", "streaming", "subscription", "time"}
    modules |= {"expressions", "aggregates", "monitors"}
    modules |= {"flows"}
    modules |= {"rtsql"}
    modules |= {"timeseries"}
    modules |= {"formats", "sources", "commands", "shell", "server", "client", "dashboard"}
    assert public - modules == set(rillet.__all__) - {"errors"}


def test_every_error_is_a_rillet_error_with_a_json_shape() -> None:
    classes = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert {c.__name__ for c in classes} == {
        "RilletError", "InputError", "SchemaError", "RecordError", "ParseError", "TypeCheckError",
        "ConfigError", "NotFoundError", "ConflictError", "AccessError", "OverloadedError",
        "StorageError", "LockedError", "CorruptionError", "FlowError", "UnavailableError",
        "QueryError", "UnknownColumnError", "AmbiguousColumnError",
        "UnsupportedError",
        "UnknownTypeError", "IntervalConfigError", "UnknownIntervalError", "ValueTypeError",
        "BackendUnavailableError",
    }  # fmt: skip
    for cls in classes:
        assert issubclass(cls, errors.RilletError)
        err = cls("something went wrong", column="x")
        assert err.to_dict() == {
            "error": cls.__name__,
            "message": "something went wrong",
            "detail": {"column": "x"},
        }


def test_input_errors_are_the_ones_that_promise_no_change() -> None:
    inputs: list[type[errors.RilletError]] = [errors.SchemaError, errors.RecordError]
    inputs += [errors.ParseError, errors.TypeCheckError, errors.ConfigError]
    for cls in inputs:
        assert issubclass(cls, errors.InputError)
    assert issubclass(errors.LockedError, errors.StorageError)
    assert issubclass(errors.CorruptionError, errors.StorageError)


LOWER = ["arguments", "errors", "settings", "datatypes", "schema", "batches", "time", "clock"]
LOWER += ["record", "buffer"]
LOWER += ["subscription", "stream", "streaming", "storage"]
UPPER = ("rillet.monitors", "rillet.query", "rillet.database", "rillet.flows", "rillet.server")


def test_layers_point_one_way() -> None:
    """Core, storage and the stream import nothing of the monitors, queries or database above
    them (not even for type hints): those build on the stream, as its subscribers."""
    import ast
    from pathlib import Path

    root = Path(rillet.__file__).parent
    offenders = []
    for name in LOWER:
        paths = sorted((root / name).rglob("*.py")) if (root / name).is_dir() else []
        for path in paths or [root / f"{name}.py"]:
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(UPPER):
                    offenders.append(f"{path.relative_to(root)} imports {node.module}")
    assert offenders == []


#: public names of the embedded classes that are engine plumbing, not part of the protocols
#: the remote client implements (sealing and retention by hand, subscribers, background work)
STREAM_ENGINE = {
    "apply_retention", "caught_up", "granularity", "log_bytes_written", "monitors", "options",
    "partitions", "paused", "root", "scan_tables", "seal", "stored", "subscribe", "take",
    "unsubscribe", "wait_subscribers", "watermark",
}  # fmt: skip
DATABASE_ENGINE = {"clock", "confine_sql", "path", "settings"}


def test_the_embedded_classes_implement_the_protocols() -> None:
    from rillet.api import DatabaseAPI, StreamAPI

    def public(obj: object) -> set[str]:
        return {n for n in dir(obj) if not n.startswith("_")}

    with rillet.connect() as db:
        api: DatabaseAPI = db  # mypy checks the signatures; isinstance the names
        stream: StreamAPI = api.create_stream("t", "v INT")
        assert isinstance(db, DatabaseAPI) and isinstance(stream, StreamAPI)
        # a new public method is in the protocol, or listed here as plumbing
        assert public(stream) - public(StreamAPI) == STREAM_ENGINE
        assert public(db) - public(DatabaseAPI) == DATABASE_ENGINE


def test_every_public_method_and_property_has_its_own_docstring() -> None:
    import inspect

    from rillet.api import DatabaseAPI, FlowAPI, StreamAPI
    from rillet.client.database import RemoteDatabase, RemoteStream

    missing = []
    classes = (rillet.Database, rillet.Stream, DatabaseAPI, StreamAPI, FlowAPI)
    for cls in (*classes, RemoteDatabase, RemoteStream):
        for name, member in inspect.getmembers(cls):
            if name.startswith("_"):
                continue
            function = member.fget if isinstance(member, property) else member
            if callable(function) and not (function.__doc__ or "").strip():
                missing.append(f"{cls.__name__}.{name}")
    assert missing == []


def test_the_remote_client_refuses_exactly_the_engine_plumbing() -> None:
    from rillet.client.database import DATABASE_ONLY_EMBEDDED, STREAM_ONLY_EMBEDDED

    assert STREAM_ONLY_EMBEDDED == STREAM_ENGINE
    assert DATABASE_ONLY_EMBEDDED == DATABASE_ENGINE


def test_the_remote_flow_refuses_exactly_what_only_an_embedded_flow_has() -> None:
    from rillet.client.flow import FLOW_ONLY_EMBEDDED, RemoteFlow

    db = rillet.connect()
    db.create_stream("s", "a INT")
    flow = db.execute("SELECT a FROM s")
    embedded = {m for m in dir(flow) if not m.startswith("_")}
    flow.cancel()
    db.close()
    remote = {m for m in dir(RemoteFlow) if not m.startswith("_")}
    remote |= {"id", "query", "columns", "name", "attached", "stream", "streams"}
    assert embedded - remote == FLOW_ONLY_EMBEDDED
