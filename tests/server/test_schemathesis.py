"""schemathesis against the served OpenAPI description: requests made from the schema,
valid and not, never get a 5xx, and a refused one changes nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rillet
from rillet.database import Database
from rillet.server import ServerConfig, build_app

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a test extra")


def operations(schema: Any) -> list[Any]:
    # event streams never end: they are tested in test_live.py
    found = [result.ok() for result in schema.get_all_operations()]
    return [op for op in found if not op.path.endswith("/events")]


def state(db: Database) -> list[tuple[str, int]]:
    return [(s.name, len(s)) for s in db.streams()]


def test_no_request_gets_a_5xx_and_a_refused_one_changes_nothing(tmp_path: Path) -> None:
    db = rillet.connect(tmp_path / "d")
    s = db.create_stream("s", "ts TIMESTAMP, x INT", time_column="ts")
    s.add_aggregate("a", None, "MAX(x)")
    app = build_app(db, ServerConfig(data=tmp_path / "d"))
    schema = schemathesis.openapi.from_asgi("/v1/openapi.json", app)
    strategies = {f"{op.method.upper()} {op.path}": op.as_strategy() for op in operations(schema)}
    assert len(strategies) >= 25
    seen: set[int] = set()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def requests_from_the_schema(data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(strategies)))
        case = data.draw(strategies[name])
        before = state(db)
        response = case.call()
        seen.add(response.status_code // 100)
        assert response.status_code < 500, (name, response.status_code, response.text)
        if response.status_code >= 400:
            assert state(db) == before, (name, response.status_code, response.text)
            assert set(response.json()) == {"error", "message", "detail"}

    try:
        requests_from_the_schema()
    finally:
        db.close()
    assert seen == {2, 4}  # both accepted and refused requests were made
