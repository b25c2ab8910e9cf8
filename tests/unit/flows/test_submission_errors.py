"""Every submission error of a SELECT: the error class and its message, raised before
anything runs (no flow is started, no flow number used up)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import rillet
from rillet import errors

W5 = "OVER RANGE INTERVAL 5 SECONDS PRECEDING"


@pytest.fixture
def db() -> Iterator[rillet.Database]:
    with rillet.connect() as database:
        database.execute("CREATE STREAM foo (a INT, b STRING, x INT)")
        database.execute("CREATE STREAM bar (x INT, y INT)")
        database.execute('CREATE STREAM "CaseSensitiveStream" (a INT)')
        yield database


CASES: list[tuple[str, type[errors.RilletError], str | None]] = [
    ("SELECT * FROM nope", errors.NotFoundError, "No such identifier: nope"),
    ("SELECT * FROM CaseSensitiveStream", errors.NotFoundError,
     "No such identifier: casesensitivestream; did you mean 'CaseSensitiveStream'?"),
    ("SELECT c FROM foo", errors.UnknownColumnError, "unknown column 'c' at 1:8"),
    ("SELECT bb FROM foo", errors.UnknownColumnError,
     "unknown column 'bb' at 1:8; did you mean 'b'?"),
    ("SELECT foo.zz FROM foo", errors.UnknownColumnError, "foo has no column 'zz' at 1:8"),
    ("SELECT q.a FROM foo", errors.UnknownColumnError, "no stream or reference 'q' at 1:8"),
    ("SELECT a FROM foo WHERE zz > 1", errors.UnknownColumnError, "unknown column 'zz' at 1:25"),
    (f"SELECT x FROM foo JOIN bar ON foo.a = bar.y {W5}", errors.AmbiguousColumnError,
     "column 'x' at 1:8 is ambiguous: qualify it as one of foo.x, bar.x"),
    ("SELECT a FROM foo WHERE 42", errors.TypeCheckError,
     "WHERE needs a BOOLEAN condition, got INT NOT NULL at 1:25"),
    ("SELECT a AND x FROM foo", errors.TypeCheckError, None),
    ("SELECT COUNT(*) FROM foo", errors.QueryError,
     "aggregate function count at 1:8 needs an OVER clause (OVER RANGE INTERVAL n unit "
     "PRECEDING): rtsql aggregates over windows only"),
    ("SELECT a, SUM(x) FROM foo GROUP BY a", errors.QueryError, None),
    ("SELECT a, b AS c FROM foo HAVING b IS NULL", errors.UnknownColumnError,
     "HAVING names 'b' at 1:34, which is not an output column (output columns: a, c)"),
    ("SELECT a AS z, z + 1 FROM foo", errors.QueryError,
     "'z' at 1:16 is the alias of another selected expression; an alias names its output "
     "column and is not visible to its sibling expressions"),
    (f"SELECT * FROM foo JOIN bar ON foo.a > bar.y {W5}", errors.QueryError,
     "a join condition must be an equality of one column of each stream (f.x = g.y), not "
     "(foo.a > bar.y) at 1:37"),
    (f"SELECT * FROM foo JOIN bar ON foo.a = foo.x {W5}", errors.QueryError, None),
    ("SELECT * FROM select", errors.ParseError, None),
    (f"SELECT b, COUNT(*) FROM foo {W5}", errors.QueryError,
     "column 'b' at 1:8 must be in GROUP BY or inside an aggregate function"),
    ("SELECT COUNT(*) FROM foo OVER w", errors.QueryError, None),
    ("SELECT a FROM foo WHERE COUNT(*) > 1", errors.TypeCheckError, None),
    ("SELECT SUM(b) FROM foo " + W5, errors.TypeCheckError, None),
    ("SELECT regexp_match(b, '[') FROM foo", errors.TypeCheckError,
     "regexp_match pattern '[' is not valid: Invalid regular expression: missing ]: [ at 1:24"),
    (f"SELECT COUNT(*) FROM foo {W5} HAVING COUNT(*) > 1", errors.QueryError,
     "HAVING calls the aggregate function count at 1:73: HAVING sees the output columns only; "
     "name the aggregate in the select list and use the name (SELECT COUNT(*) AS n ... "
     "HAVING n > 1)"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "kind", "message"), CASES, ids=[c[0] for c in CASES])
def test_each_error_is_raised_before_anything_runs(
    db: rillet.Database, query: str, kind: type[errors.RilletError], message: str | None
) -> None:
    with pytest.raises(errors.RilletError) as info:
        db.execute(query)
    assert type(info.value) is kind
    if message is not None:
        assert str(info.value) == message
    assert db.flows() == []
    flow = db.execute("SELECT a FROM foo")
    assert flow.id == 1  # no number was used up
    flow.cancel()


def test_unknown_columns_are_also_not_found_and_type_errors() -> None:
    assert issubclass(errors.UnknownColumnError, errors.NotFoundError)
    assert issubclass(errors.UnknownColumnError, errors.TypeCheckError)


def test_a_column_is_found_before_an_alias(db: rillet.Database) -> None:
    # bar has a column y: the sibling's y is the column, not the alias
    flow = db.execute("SELECT x AS y, y + 1 FROM bar")
    assert flow.columns == ["y", "y + 1"]
    flow.cancel()


def test_a_quoted_stream_keeps_its_case(db: rillet.Database) -> None:
    flow = db.execute('SELECT a FROM "CaseSensitiveStream"')
    assert flow.stream == "CaseSensitiveStream"
    flow.cancel()
