"""The rillet back end on a remote database (``rillet.connect("http://...")``): the data is
the server's streams (queryable with its ``db.sql``), each write is one Arrow append, and
a new connection rebuilds the index from the server's records, deletions included.  The
conformance suite runs on it too (the ``rillet-remote`` row of conformance.py)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import rillet
from rillet.timeseries import Timeseries, embedded
from rillet.timeseries.store import StoreSpec
from tests.timeseries.conformance import Served, count_writes, unique_prefix
from tests.timeseries.test_embedded import MINUTE, T, fill, rebuilds_with_deletions


@pytest.fixture
def connect(rillet_server: Served) -> Iterator[Any]:
    """``connect()``: a new remote database on the test server, closed after the test."""
    made: list[Any] = []

    def make() -> Any:
        made.append(rillet.connect(rillet_server.url))
        return made[-1]

    yield make
    for db in made:
        db.close()


def test_the_data_is_queryable_with_the_servers_db_sql(rillet_server: Served, connect: Any) -> None:
    remote = connect()
    prefix = unique_prefix()
    with Timeseries(remote, type="count", intervals=MINUTE, prefix=prefix) as t:
        fill(t)
        stream = embedded.stream_name(StoreSpec("count", prefix))
        query = (
            f"SELECT name, interval, i_time, r_time, sum(value) FROM {stream} "
            "WHERE interval = 'minute' GROUP BY ALL ORDER BY ALL"
        )
        expected = [("a", "minute", T, T, 4.0), ("a", "minute", T + 60, T + 60, 3.0),
                    ("b", "minute", T, T, 4.0)]  # fmt: skip
        assert rillet_server.db.sql(query).fetchall() == expected
        assert remote.sql(query).fetchall() == expected
        t.delete_all()
    assert stream not in [s.name for s in rillet_server.db.streams()]


def test_each_write_is_one_arrow_append(connect: Any) -> None:
    remote = connect()
    appends: Counter[str] = Counter()

    def count(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path.endswith("/records"):
            appends[request.headers["content-type"]] += 1

    remote._connection.http.event_hooks["request"].append(count)
    with Timeseries(remote, type="histogram", intervals=MINUTE, prefix=unique_prefix()) as t:
        t.insert("a", 1.0, timestamp=T)  # one row an interval: 2 rows, 1 append
        t.bulk_insert({T + i: {"a": [1.0, 2.0], "b": [3.0]} for i in range(0, 600, 7)})
        t.insert("b", [4.0, 5.0], timestamp=T)
        assert appends == Counter({"application/vnd.apache.arrow.stream": 3})
        assert t.get("a", "minute", timestamp=T) == {T: {1.0: 10, 2.0: 9}}
        t.delete_all()


def test_a_new_connection_rebuilds_the_index_with_deletions(
    connect: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(embedded, "PAGE", 3)  # the records read back in several pages
    rebuilds_with_deletions(connect, unique_prefix())  # a new connection each time


def test_a_custom_fetch_gets_the_remote_database(connect: Any) -> None:
    with Timeseries(connect(), type="count", intervals=MINUTE, prefix=unique_prefix()) as t:
        fill(t)

        assert t.series("a", "minute", start=T, steps=2, fetch=count_writes) == {
            T: 2.0,
            T + 60: 1.0,
        }
        t.delete_all()
