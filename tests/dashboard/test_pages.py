"""The dashboard end to end: Debian's chromium (driven by Playwright) against a real server.

Expected values come from the rows the tests append, worked out in plain Python.  Each test
saves screenshots of what it looked at into the folder the run's summary prints.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import rillet
from rillet.dashboard import routes
from tests.dashboard.conftest import call, rows_at
from tests.dashboard.served import Served

SCHEMA = "ts TIMESTAMP, host STRING, ms DOUBLE"
# the fixed stream's rows: the aggregates and queries below are worked out from these
FIXED = [("a", 5.0), ("b", 12.5), ("a", 70.25), ("b", 55.5), ("a", 98.75), ("c", 3.0)]
PHONE = {"width": 375, "height": 740}
WAIT_MS = 10_000


def shown(value: float) -> str:
    """A number as the page prints it (ui.js formatNumber) for the values used here."""
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3f}"


def plain(value: float) -> str:
    """A number as JavaScript's String() writes it (the CSV export), for the values used here."""
    return str(int(value)) if float(value).is_integer() else repr(value)


@pytest.fixture(scope="module")
def streams(server: Served) -> Iterator[list[dict[str, Any]]]:
    """``fixed`` (the rows above), ``live`` (fed every 100 ms while the module runs), and
    ``watched``, ``alarm`` and ``shop``, empty: the tests append to them."""
    for name in ["fixed", "live", "watched", "alarm", "shop"]:
        call(server, "POST", "/v1/streams", {"name": name, "schema": SCHEMA, "time_column": "ts"})
    now = dt.datetime.now(dt.UTC)
    fixed = rows_at(now, FIXED)
    call(server, "POST", "/v1/streams/fixed/records", fixed)
    stop = threading.Event()
    rng = random.Random(17)

    def feed() -> None:
        while not stop.wait(0.1):
            values = [(rng.choice("xyz"), rng.uniform(0, 100)) for _ in range(5)]
            with contextlib.suppress(OSError):  # while the restart test has it stopped
                call(
                    server,
                    "POST",
                    "/v1/streams/live/records",
                    rows_at(dt.datetime.now(dt.UTC), values),
                )

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    yield fixed
    stop.set()
    feeder.join(5)


@pytest.fixture
def page(browser: Any, server: Served, streams: list[dict[str, Any]]) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.set_default_timeout(WAIT_MS)
    yield tab
    context.close()
    assert errors == [], errors


def go(page: Any, server: Served, view: str) -> None:
    page.goto(f"{server.url}/#/{view}")
    page.wait_for_selector(f'body[data-view="{view.split("/")[0]}"]')


def type_query(page: Any, text: str) -> None:
    """Type into the console's editor as a person would (after clearing it)."""
    page.click("#query-editor .cm-content")
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type(text)
    page.keyboard.press("Escape")  # close a completion list the typing may have opened


def records_shown(page: Any) -> int:
    text = page.inner_text('#streams-table tr[data-stream="live"] td.records')
    return int(text.replace(",", ""))


def test_overview_lists_a_fed_stream_with_a_rising_count(
    page: Any, server: Served, shots: Path
) -> None:
    go(page, server, "overview")
    row = page.locator('#streams-table tr[data-stream="live"]')
    row.wait_for()
    assert "ms DOUBLE" in row.locator("td").nth(1).inner_text()
    first = records_shown(page)
    page.wait_for_function(
        """first => Number(document.querySelector('#streams-table tr[data-stream="live"]'
            + ' td.records').textContent.replace(/,/g, '')) > first""",
        arg=first,
    )
    assert records_shown(page) > first
    # the rate comes from the server's samples, a second apart: a fed stream's is above 0
    page.wait_for_function(
        """() => /[1-9][0-9,]*\\/s/.test(document.querySelector(
            '#streams-table tr[data-stream="live"] td.rate').textContent)"""
    )
    assert page.locator('#streams-table tr[data-stream="live"] td.rate svg').count() == 1
    fixed = page.inner_text('#streams-table tr[data-stream="fixed"] td.records')
    assert fixed == str(len(FIXED))
    assert page.inner_text("#health-status") == "ok"
    page.screenshot(path=shots / "overview.png", full_page=True)


def test_filter_and_aggregate_added_from_the_page_show_their_value(
    page: Any, server: Served, shots: Path
) -> None:
    go(page, server, "stream/shop")
    page.fill("#add-filter input[name=name]", "big")
    page.fill("#add-filter input[name=expression]", "ms > 50")
    page.click("#add-filter button")
    page.locator('#filters-table tr[data-filter="big"]').wait_for()
    page.locator('#add-aggregate select[name=filter] option[value="big"]').wait_for(
        state="attached"
    )

    page.fill("#add-aggregate input[name=name]", "big_max")
    page.select_option("#add-aggregate select[name=filter]", "big")
    page.fill("#add-aggregate input[name=expression]", "MAX(ms)")
    page.click("#add-aggregate button")
    page.locator('#aggregates-table tr[data-aggregate="big_max"]').wait_for()
    page.fill("#add-aggregate input[name=name]", "big_count")
    page.select_option("#add-aggregate select[name=filter]", "big")
    page.fill("#add-aggregate input[name=expression]", "COUNT(*)")
    page.click("#add-aggregate button")

    page.locator('#aggregates-table tr[data-aggregate="big_count"]').wait_for()
    # monitors see the records appended after them
    call(server, "POST", "/v1/streams/shop/records", rows_at(dt.datetime.now(dt.UTC), FIXED))
    big = [ms for _, ms in FIXED if ms > 50]
    value = page.locator('#aggregates-table tr[data-aggregate="big_max"] td.value')
    count = page.locator('#aggregates-table tr[data-aggregate="big_count"] td.value')
    page.wait_for_function(
        "([a, b]) => document.querySelector(a)?.textContent === b",
        arg=['#aggregates-table tr[data-aggregate="big_max"] td.value', shown(max(big))],
    )
    assert value.inner_text() == shown(max(big))
    page.wait_for_function(
        "([a, b]) => document.querySelector(a)?.textContent === b",
        arg=['#aggregates-table tr[data-aggregate="big_count"] td.value', shown(len(big))],
    )
    assert count.inner_text() == shown(len(big))
    monitors = call(server, "GET", "/v1/streams/shop/monitors")
    assert {a["name"]: a["value"] for a in monitors["aggregates"]} == {
        "big_max": max(big),
        "big_count": len(big),
    }
    page.screenshot(path=shots / "stream.png", full_page=True)

    page.click('button[data-remove="aggregates/big_count"]')
    page.locator('#aggregates-table tr[data-aggregate="big_count"]').wait_for(state="detached")
    names = [a["name"] for a in call(server, "GET", "/v1/streams/shop/monitors")["aggregates"]]
    assert names == ["big_max"]


def test_a_trigger_fired_during_the_test_is_listed_within_a_second(
    page: Any, server: Served, shots: Path
) -> None:
    go(page, server, "alerts")
    page.locator("#alert-count").wait_for()
    base = "/v1/streams/alarm"
    call(
        server,
        "POST",
        f"{base}/aggregates",
        {"name": "worst", "filter": None, "expression": "MAX(ms)"},
    )
    call(
        server,
        "POST",
        f"{base}/triggers",
        {"name": "too_slow", "condition": "worst > 90", "period": "100ms"},
    )
    call(
        server,
        "POST",
        f"{base}/records",
        rows_at(dt.datetime.now(dt.UTC), [("a", 10.0), ("b", 95.5)]),
    )

    deadline = time.monotonic() + WAIT_MS / 1000
    alerts: list[Any] = []
    while not alerts and time.monotonic() < deadline:
        time.sleep(0.02)
        alerts = call(server, "GET", "/v1/alerts?stream=alarm&trigger=too_slow")
    assert alerts, "the trigger did not fire"
    row = page.locator('#alerts-table tr[data-stream="alarm"][data-trigger="too_slow"]').first
    row.wait_for(timeout=1000)
    cells = row.locator("td").all_inner_texts()
    assert cells[1:4] == ["alarm", "too_slow", shown(95.5)]
    assert cells[4] == "worst > 90"

    page.fill("#alert-trigger", "no_such_trigger")
    assert page.inner_text("#alerts") == "No alert matches."
    page.fill("#alert-trigger", "too_slow")
    row.wait_for()
    page.screenshot(path=shots / "alerts.png", full_page=True)


def test_a_query_typed_into_the_console_returns_its_rows(
    page: Any, server: Served, shots: Path
) -> None:
    go(page, server, "query")
    page.select_option("#query-mode", "sql")
    type_query(
        page,
        "SELECT host, count(*) AS n, sum(ms) AS total FROM fixed GROUP BY host ORDER BY host",
    )
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#query-results tbody tr")
    expected: dict[str, list[float]] = {}
    for host, ms in FIXED:
        expected.setdefault(host, []).append(ms)
    table = [
        [host, shown(len(values)), shown(sum(values))] for host, values in sorted(expected.items())
    ]
    rows = page.locator("#query-results tbody tr")
    assert [rows.nth(i).locator("td").all_inner_texts() for i in range(rows.count())] == table
    assert page.inner_text("#query-status").startswith(f"{len(table)} rows")
    page.screenshot(path=shots / "query.png", full_page=True)

    with page.expect_download() as download:
        page.click("#query-csv")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines == ["host,n,total"] + [
        f"{host},{len(values)},{plain(sum(values))}" for host, values in sorted(expected.items())
    ]


def test_a_syntax_error_is_shown_at_its_position(page: Any, server: Served, shots: Path) -> None:
    go(page, server, "query")
    page.select_option("#query-mode", "sql")
    text = "SELECT host FROM FROM fixed"
    type_query(page, text)
    page.click("#query-run")
    error = page.locator("#query-error")
    error.wait_for()
    at = text.index("FROM", text.index("FROM") + 1)  # the second FROM
    assert (error.get_attribute("data-line"), error.get_attribute("data-col")) == ("1", str(at + 1))
    assert error.inner_text().startswith(f"at line 1, column {at + 1}: ParseError")
    # the editor underlines the word there and puts the cursor on it
    assert page.inner_text("#query-editor .cm-lintRange-error") == "FROM"
    head = page.evaluate("document.getElementById('view').editor.state.selection.main.head")
    assert head == at
    page.screenshot(path=shots / "query-error.png", full_page=True)


def test_a_watched_flow_adds_rows_live_and_is_cancelled_from_the_flows_view(
    page: Any, server: Served, shots: Path
) -> None:
    go(page, server, "query")
    page.select_option("#query-mode", "rtsql")
    type_query(page, "SELECT host, ms FROM watched WHERE ms > 1")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("document.getElementById('query-status').dataset.flow !== undefined")
    flow = page.get_attribute("#query-status", "data-flow")
    assert flow is not None

    def appended(values: list[tuple[str, float]], total: int) -> list[list[str]]:
        call(
            server, "POST", "/v1/streams/watched/records", rows_at(dt.datetime.now(dt.UTC), values)
        )
        page.wait_for_function(
            f"document.getElementById('query-results').dataset.rows === '{total}'"
        )
        rows = page.locator("#query-results tbody tr")
        # a flow's rows carry their timestamp first
        return [rows.nth(i).locator("td").all_inner_texts()[1:3] for i in range(rows.count())]

    # newest first; the row of ms 0.5 is filtered out by the flow
    assert appended([("a", 2.5), ("b", 0.5), ("c", 7.25)], 2) == [["c", "7.250"], ["a", "2.500"]]
    assert appended([("d", 4.0)], 3) == [["d", "4"], ["c", "7.250"], ["a", "2.500"]]
    page.screenshot(path=shots / "query-flow.png", full_page=True)

    go(page, server, "flows")
    row = page.locator(f'#flows-table tr[data-flow="{flow}"]')
    row.wait_for()
    page.screenshot(path=shots / "flows.png", full_page=True)
    row.locator("button", has_text="cancel").click()
    row.wait_for(state="detached")
    assert all(str(f["id"]) != flow for f in call(server, "GET", "/v1/flows"))


def test_the_flows_view_shows_a_failed_named_flow_with_its_error(
    page: Any, server: Served, shots: Path
) -> None:
    call(server, "POST", "/v1/streams", {"name": "nums", "schema": "v BIGINT"})
    statement = "CREATE STREAM huge AS SELECT v * 4611686018427387904 AS b FROM nums"
    call(server, "POST", "/v1/rtsql", {"statement": statement})
    call(server, "POST", "/v1/streams/nums/records", [{"v": 0}, {"v": 5}])  # 5 * 2**62 overflows
    go(page, server, "flows")
    state = page.locator('#flows-table td.flow-state[data-state="failed"]')
    state.wait_for()
    assert state.locator(".flow-error").inner_text() == (
        "ArrowInvalid: overflow (on the records at offsets 0..1 of stream 'nums')"
    )
    row = page.locator('#flows-table tbody tr:has(td.flow-state[data-state="failed"])')
    assert row.locator("button").count() == 0  # a named flow goes with DROP STREAM only
    assert "DROP STREAM removes it" in row.inner_text()
    page.screenshot(path=shots / "flows-failed.png", full_page=True)
    call(server, "POST", "/v1/rtsql", {"statement": "DROP STREAM huge"})
    state.wait_for(state="detached")


def test_the_series_view_charts_a_column_of_a_stream_per_step(
    page: Any, server: Served, streams: list[dict[str, Any]], shots: Path
) -> None:
    go(page, server, "series/fixed")
    page.select_option("#series-column", "ms")
    page.select_option("#series-function", "max")
    page.select_option("#series-step", "1")
    # the rows' whole seconds, as the server's one-second buckets hold them
    buckets: dict[int, float] = {}
    for record in streams:
        second = int(dt.datetime.fromisoformat(record["ts"]).timestamp())
        buckets[second] = max(buckets.get(second, record["ms"]), record["ms"])
    page.wait_for_function(
        "text => document.getElementById('series-status').textContent === text",
        arg=f"{len(buckets)} points of fixed.ms (max per 1 s)",
    )
    page.locator("#series-chart canvas").wait_for()
    charted = page.evaluate("document.getElementById('series-chart').points")
    assert [(int(t), v) for t, v in charted] == sorted(buckets.items())
    page.screenshot(path=shots / "series.png", full_page=True)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_phone_sized_viewport_has_no_horizontal_scroll(
    browser: Any, server: Served, streams: list[dict[str, Any]], shots: Path, scheme: str
) -> None:
    context = browser.new_context(viewport=PHONE, color_scheme=scheme, is_mobile=True)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    try:
        for view, ready in [
            ("overview", "#streams-table"),
            ("stream/live", "#tail-table"),
            ("alerts", "#alert-count"),
            ("query", "#query-editor .cm-content"),
            ("flows", "#flows"),
            ("series/live", "#series-chart canvas"),
        ]:
            go(page, server, view)
            page.locator(ready).first.wait_for()
            widths = page.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            assert widths[0] <= widths[1] == PHONE["width"], (view, widths)
            name = view.replace("/", "-")
            page.screenshot(path=shots / f"phone-{scheme}-{name}.png", full_page=True)
    finally:
        context.close()


def test_the_live_tail_reconnects_across_a_server_restart(
    page: Any, server: Served, shots: Path
) -> None:
    go(page, server, "stream/live")
    page.locator("#tail-table tbody tr").first.wait_for()
    server.stop()
    page.locator("#conn-badge").wait_for(state="visible")
    page.screenshot(path=shots / "reconnecting.png", full_page=True)
    server.start()
    page.locator("#conn-badge").wait_for(state="hidden")
    newest = page.inner_text("#tail-table tbody tr >> nth=0")
    page.wait_for_function(
        "before => document.querySelector('#tail-table tbody tr').innerText !== before", arg=newest
    )


def test_the_page_asks_for_a_token_when_the_server_wants_one(
    browser: Any, tmp_path: Path, shots: Path
) -> None:
    server_module = pytest.importorskip("rillet.server", reason="no rillet.server")
    folder = tmp_path / "data"
    with rillet.connect(folder) as db:
        db.create_stream("guarded", SCHEMA, time_column="ts")
        config = server_module.ServerConfig(tokens={"s3cret": "read"}, data=folder)
        app = server_module.build_app(db, config, extra=routes())
        with Served(lambda: app) as served:
            context = browser.new_context()
            page = context.new_page()
            page.set_default_timeout(WAIT_MS)
            try:
                page.goto(f"{served.url}/#/overview")
                page.locator("#token-dialog").wait_for(state="visible")
                page.screenshot(path=shots / "token.png")
                page.fill("#token-input", "wrong")
                page.click("#token-form button")
                page.wait_for_function(
                    "document.getElementById('token-reason').textContent.includes('refused')"
                )
                page.fill("#token-input", "s3cret")
                page.click("#token-form button")
                page.locator('#streams-table tr[data-stream="guarded"]').wait_for()
                assert page.evaluate("sessionStorage.getItem('rillet.token')") == "s3cret"
                # the event streams carry it too: the tail shows a record appended now
                go(page, served, "stream/guarded")
                page.locator("#stream-info b").first.wait_for()
                db.stream("guarded").append(
                    {"ts": dt.datetime.now(dt.UTC), "host": "tok", "ms": 1.5}
                )
                page.locator("#tail-table td", has_text="tok").wait_for()
            finally:
                context.close()
