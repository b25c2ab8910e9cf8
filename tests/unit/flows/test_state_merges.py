"""A roll-up over a roll-up: kll_merge, hll_merge, top_k_merge and their finishing forms
merge the minute states of a roll-up into hours.  While the sketches hold their values
exactly, the hourly states are byte for byte those of the same aggregates over the raw
records; past that, within the sketches' documented error.  Expected values are computed
here in plain Python."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter, defaultdict
from typing import Any

import datasketches as ds
import numpy as np
import pyarrow as pa
import pytest

import rillet
from rillet.errors import InputError, RilletError
from tests.property.cases import EPS, ranks
from tests.unit.support import wait_until

T0 = 1_767_225_600_000_000  # 2026-01-01 00:00 UTC, in microseconds
HOUR = 3_600_000_000
MINUTELY = (
    "CREATE STREAM m AS SELECT host, window_start, count(*) AS n, distribution(v) AS lat, "
    "approx_quantile(v, 0.9) AS p90, approx_count_distinct(u) AS users, top_k(u, 3) AS tops "
    "FROM ev GROUP BY host, TUMBLE(ts, INTERVAL '1' MINUTE)"
)
MERGED = (
    "CREATE STREAM h AS SELECT host, window_start, sum(n) AS n, kll_merge(lat) AS lat, "
    "kll_merge_quantile(p90, 0.9) AS p90, hll_merge(users) AS users, "
    "hll_merge_count(users) AS du, top_k_merge(tops) AS tops, "
    "top_k_merge_items(tops, 3) AS top3 "
    "FROM m GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
)
DIRECT = (
    "CREATE STREAM d AS SELECT host, window_start, count(*) AS n, distribution(v) AS lat, "
    "approx_quantile(v, 0.9) AS p90, approx_count_distinct(u) AS users, "
    "approx_count_distinct(u) AS du, top_k(u, 3) AS tops, top_k(u, 3) AS top3 "
    "FROM ev GROUP BY host, TUMBLE(ts, INTERVAL '1' HOUR)"
)
_NOT_KLL = "^%s: a value is not a KLL state"
COLUMNS = ("n", "lat", "p90", "users", "du", "tops", "top3")


def _events(every_s: int, hours: int, seed: int) -> pa.Table:
    """Two hosts taking turns, a record each ``every_s`` seconds, for ``hours`` hours and
    two minutes (the first closes the last hour; the second, in the minutely roll-up, that
    minute, which closes the hour in the hourly one)."""
    rng = np.random.default_rng(seed)
    count = (hours * 3600 + 120) // every_s
    return pa.table(
        {
            "ts": pa.array(T0 + np.arange(count) * every_s * 1_000_000, pa.timestamp("us", "UTC")),
            "host": [f"h{i % 2}" for i in range(count)],
            "u": [f"u{x}" for x in rng.zipf(1.5, count) % 150],
            "v": np.round(rng.lognormal(3.0, 0.7, count), 3),
        }
    )


def _rows(db: rillet.Database, name: str) -> dict[tuple[str, int], dict[str, Any]]:
    table = db.sql(f"SELECT * FROM {name} ORDER BY host, window_start").arrow()
    rows = {}
    for row in table.to_pylist():
        start = int(row["window_start"].timestamp()) * 1_000_000
        rows[(row["host"], start)] = {c: row[c] for c in COLUMNS}
    return rows


def _by_hour(events: pa.Table) -> dict[tuple[str, int], tuple[list[float], list[str]]]:
    groups: dict[tuple[str, int], tuple[list[float], list[str]]] = defaultdict(lambda: ([], []))
    for ts, host, u, v in zip(
        events.column("ts").cast(pa.int64()).to_pylist(),
        events.column("host").to_pylist(),
        events.column("u").to_pylist(),
        events.column("v").to_pylist(),
        strict=True,
    ):
        values, users = groups[(host, (ts - T0) // HOUR * HOUR + T0)]
        values.append(v)
        users.append(u)
    return groups


def _run(events: pa.Table, seed: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """The merged hours and the direct ones, the records appended in random batches."""
    hours = (int(events.column("ts")[-1].value) - T0) // HOUR
    with rillet.connect() as db:
        stream = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, host STRING, u STRING, v DOUBLE", time_column="ts"
        )
        for statement in (MINUTELY, MERGED, DIRECT):
            db.execute(statement)
        rng = np.random.default_rng(seed)
        start = 0
        while start < events.num_rows:
            size = int(rng.integers(1, 400))
            stream.append_many(events.slice(start, size))
            start += size
        assert wait_until(lambda: len(db.stream("h")) == len(db.stream("d")) == 2 * hours, 20)
        return _rows(db, "h"), _rows(db, "d")


def _kll(data: bytes) -> Any:
    return ds.kll_doubles_sketch.deserialize(data)


@pytest.mark.parametrize("seed", [1, 2])
def test_hours_merged_from_minute_states_are_the_hours_of_the_records(seed: int) -> None:
    events = _events(every_s=20, hours=3, seed=seed)  # 90 values a host and hour: exact
    merged, direct = _run(events, seed)
    assert merged.keys() == direct.keys()
    for key, row in merged.items():
        assert row == direct[key], key  # every state byte for byte
        values, users = _by_hour(events)[key]
        assert row["n"] == len(values)
        lat = _kll(row["lat"])
        assert sorted(lat.get_quantiles(np.linspace(0, 1, 11), True)) == [
            sorted(values)[max(math.ceil(q * len(values)) - 1, 0)] for q in np.linspace(0, 1, 11)
        ]
        assert (
            _kll(row["p90"]).get_quantile(0.9, True)
            == sorted(values)[math.ceil(0.9 * len(values)) - 1]
        )
        for hll in (row["users"], row["du"]):
            assert round(ds.hll_sketch.deserialize(hll).get_estimate()) == len(set(users))
        counts = Counter(users)
        top = ds.frequent_strings_sketch.deserialize(row["tops"])
        assert {u: top.get_estimate(u) for u in counts} == counts
    with rillet.connect() as db:  # the finishing forms as values: the same answers
        stream = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, host STRING, u STRING, v DOUBLE", time_column="ts"
        )
        db.execute(MINUTELY)
        db.execute(
            "CREATE STREAM hv WITH (sketches = 'value') AS SELECT host, window_start, "
            "kll_merge_quantile(p90, 0.9) AS p90, hll_merge_count(users) AS du, "
            "top_k_merge_items(tops, 2) AS top2 "
            "FROM m GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
        )
        stream.append_many(events)
        assert wait_until(lambda: len(db.stream("hv")) == 6, 20)
        for host, start, p90, du, top2 in db.sql(
            "SELECT host, window_start, p90, du, top2 FROM hv"
        ).fetchall():
            values, users = _by_hour(events)[(host, int(start.timestamp()) * 1_000_000)]
            assert p90 == sorted(values)[math.ceil(0.9 * len(values)) - 1]
            assert du == len(set(users))
            heaviest = sorted(Counter(users).values(), reverse=True)[:2]
            assert [Counter(users)[u] for u in top2] == heaviest


def test_hours_past_k_merged_within_the_sketches_error() -> None:
    events = _events(every_s=2, hours=2, seed=3)  # 900 values a host and hour: sketched
    merged, direct = _run(events, 3)
    for key, row in merged.items():
        values, users = _by_hour(events)[key]
        assert row["n"] == direct[key]["n"] == len(values)
        for state in (row["lat"], row["p90"]):
            sketch = _kll(state)
            assert sketch.n == len(values) and sketch.is_estimation_mode()
            assert (sketch.get_min_value(), sketch.get_max_value()) == (min(values), max(values))
            for q in (0.1, 0.5, 0.9, 0.99):
                below, at_most = ranks(values, sketch.get_quantile(q, True))
                assert below - EPS <= q <= at_most + EPS
        assert row["users"] == direct[key]["users"]  # the union of the minutes' HLLs
        assert round(ds.hll_sketch.deserialize(row["users"]).get_estimate()) == len(set(users))


def test_merging_what_is_not_a_state_is_refused() -> None:
    with rillet.connect() as db:
        stream = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, host STRING, u STRING, v DOUBLE", time_column="ts"
        )
        db.execute(MINUTELY)
        with pytest.raises(RilletError, match="kll_merge takes a BINARY argument|BINARY"):
            db.execute(
                "CREATE STREAM x AS SELECT host, kll_merge(v) AS s FROM ev "
                "GROUP BY host, TUMBLE(ts, INTERVAL '1' HOUR)"
            )
        assert "x" not in {s.name for s in db.streams()}
        db.execute(  # an HLL state is no KLL state: the flow fails, naming the function
            "CREATE STREAM y AS SELECT host, kll_merge(users) AS s FROM m "
            "GROUP BY host, TUMBLE(window_start, INTERVAL '1' HOUR)"
        )
        stream.append_many(_events(every_s=20, hours=1, seed=4))
        flows = {f.name: f for f in db.flows()}
        assert wait_until(lambda: flows["y"].state == "failed", 10)
        assert "kll_merge: a value is not a KLL state" in str(flows["y"].error)
        assert db.sql("SELECT count(*) FROM y").fetchall() == [(0,)]


def test_states_of_no_value_merge_into_empty_states_and_other_sketches_are_refused() -> None:
    """A minute whose records hold no value keeps empty states (not NULL): merged, they
    stay empty states, as the hour's own would be.  In db.sql a KLL function over HLL or
    TOP_K states, or any bytes, is an error naming it, never a number read from them."""
    with rillet.connect() as db:
        stream = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, host STRING, u STRING, v DOUBLE", time_column="ts"
        )
        db.execute(MINUTELY)
        db.execute(MERGED)
        db.execute(DIRECT)
        start = dt.datetime.fromtimestamp(T0 / 1e6, dt.UTC)
        stream.append_many(
            [(start + dt.timedelta(minutes=m), "h0", None, None) for m in (0, 61, 62)]
        )
        assert wait_until(lambda: len(db.stream("h")) == len(db.stream("d")) == 1, 10)
        assert _rows(db, "h") == _rows(db, "d")
        [(users, du, tops, top3)] = db.sql("SELECT users, du, tops, top3 FROM h").fetchall()
        assert ds.hll_sketch.deserialize(users).is_empty() and ds.hll_sketch.deserialize(du)
        assert ds.frequent_strings_sketch.deserialize(tops).is_empty()
        assert db.sql("SELECT hll_count(users), top_k_items(tops, 3) FROM h").fetchall() == [
            (0, [])
        ]
        # the error is the function's own words, naming it: not DuckDB's wrapping of them
        for query, said in (
            ("SELECT kll_merge_quantile(list(users), 0.5) FROM m", _NOT_KLL % "kll_merge_quantile"),
            ("SELECT kll_merge_quantile(list(tops), 0.5) FROM m", _NOT_KLL % "kll_merge_quantile"),
            ("SELECT kll_quantile(users, 0.5) FROM m", _NOT_KLL % "kll_quantile"),
            (
                "SELECT kll_merge_quantile(list(host::BLOB), 0.5) FROM m",
                _NOT_KLL % "kll_merge_quantile",
            ),
            ("SELECT kll_quantile(lat, 1.5) FROM m", "^kll_quantile: a quantile's rank"),
            ("SELECT kll_quantile(lat, 'nan'::DOUBLE) FROM m", "^kll_quantile: .* rank .* got nan"),
            ("SELECT hll_count(host::BLOB) FROM m", "^hll_count: "),
            ("SELECT hll_merge_count(list(lat)) FROM m", "^hll_merge_count: a value is not an"),
            ("SELECT top_k_merge_items(list(users), 3) FROM m", "^top_k_merge_items: a value"),
            ("SELECT top_k_items(tops, -1) FROM m", "^top_k_items: k must be a positive integer"),
            ("SELECT top_k_items(host::BLOB, 2) FROM m", "^top_k_items: "),
        ):
            with pytest.raises(InputError, match=said):
                db.sql(query)


def test_an_hour_merging_a_compacted_minute_with_exact_ones_reads_open_and_closed() -> None:
    """An hour of a few values a minute but one minute of 300 a host (its state compacted):
    the hour's kll_merge of the minutes holds fewer values than a window keeps as they are,
    yet one state is compacted; it reads open (include_open), then closed, within the
    sketch's rank error of the hour's values."""
    quiet = T0 + np.arange(0, 3720, 10) * 1_000_000  # a record each 10 s, 62 minutes
    burst = T0 + 30 * 60_000_000 + np.arange(600) * 100_000  # minute 30: 600 records
    times = np.sort(np.concatenate([quiet, burst]))
    rng = np.random.default_rng(5)
    events = pa.table(
        {
            "ts": pa.array(times, pa.timestamp("us", "UTC")),
            "host": [f"h{i % 2}" for i in range(len(times))],
            "u": [f"u{i % 7}" for i in range(len(times))],
            "v": np.round(rng.lognormal(3.0, 0.7, len(times)), 3),
        }
    )
    half = int(np.searchsorted(times, T0 + 40 * 60_000_000))
    with rillet.connect() as db:
        stream = db.create_stream(
            "ev", "ts TIMESTAMP NOT NULL, host STRING, u STRING, v DOUBLE", time_column="ts"
        )
        db.execute(MINUTELY)
        db.execute(MERGED)
        stream.append_many(events.slice(0, half))
        assert wait_until(lambda: len(db.stream("m")) == 2 * 39, 20)
        opened = db.sql(
            "SELECT host, n, kll_count(lat) FROM h WHERE is_open ORDER BY host", include_open=True
        ).fetchall()
        assert opened == [(h, n, n) for h, n in ((h, 300 + 117) for h in ("h0", "h1"))]
        stream.append_many(events.slice(half))
        assert wait_until(lambda: len(db.stream("h")) == 2, 20)
        rows = _rows(db, "h")
    for (host, start), row in rows.items():
        values, _ = _by_hour(events)[(host, start)]
        sketch = _kll(row["lat"])
        assert row["n"] == sketch.n == len(values) and sketch.is_estimation_mode()
        for q in (0.1, 0.5, 0.9):
            below, at_most = ranks(values, sketch.get_quantile(q, True))
            assert below - EPS <= q <= at_most + EPS
