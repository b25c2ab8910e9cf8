"""The dashboard's files are served with their cache headers, and every file the page names
ships in the package."""

from __future__ import annotations

import fnmatch
import re
import tomllib
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette

from rillet.dashboard import STATIC_DIR, routes
from tests.dashboard.served import Served


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    with Served(lambda: Starlette(routes=routes())) as server:
        yield server


def test_page_is_served_and_revalidated(served: Served) -> None:
    with served.get("/") as response:
        body = response.read().decode()
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert response.headers["Cache-Control"] == "no-cache"
    assert body == (STATIC_DIR / "index.html").read_text()


def test_every_file_the_page_names_is_served(served: Served) -> None:
    page = (STATIC_DIR / "index.html").read_text()
    named = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert len(named) == 4
    modules = sorted((STATIC_DIR / "js").rglob("*.js"))
    named += ["/static/" + str(m.relative_to(STATIC_DIR)) for m in modules]
    for path in named:
        with served.get(path) as response:
            assert response.status == 200, path
            vendored = path.startswith("/static/vendor/")
            expected = "public, max-age=86400" if vendored else "no-cache"
            assert response.headers["Cache-Control"] == expected, path
            assert response.read() == (STATIC_DIR / path.removeprefix("/static/")).read_bytes()


def test_unchanged_file_answers_not_modified(served: Served) -> None:
    with served.get("/static/js/api.js") as response:
        etag = response.headers["ETag"]
    with pytest.raises(urllib.error.HTTPError) as raised:
        served.get("/static/js/api.js", {"If-None-Match": etag})
    raised.value.close()
    assert raised.value.code == 304


def test_the_page_imports_only_its_own_files() -> None:
    """No request to any outside host at run time: no absolute URL in the page or modules."""
    for path in [STATIC_DIR / "index.html", *sorted((STATIC_DIR / "js").rglob("*.js"))]:
        text = path.read_text()
        assert not re.search(r"""(src|href|import[^"']*|fetch\()\s*=?\s*["']https?://""", text), (
            path
        )


def test_vendored_libraries_keep_their_licences() -> None:
    vendor = STATIC_DIR / "vendor"
    assert "MIT License" in (vendor / "LICENSE.uPlot").read_text()
    licences = (vendor / "LICENSE.codemirror").read_text()
    for package in ["codemirror@6.", "@codemirror/view@", "@codemirror/lang-sql@", "@lezer/lr@"]:
        assert f"==== {package}" in licences
    assert (vendor / "codemirror.js").stat().st_size > 100_000


def test_package_data_ships_every_static_file() -> None:
    """The wheel carries what setuptools' package-data globs match: every file of static/."""
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["rillet"]
    package = STATIC_DIR.parents[1]
    for path in STATIC_DIR.rglob("*"):
        if path.is_file():
            relative = path.relative_to(package).as_posix()
            assert any(
                fnmatch.fnmatch(relative, g) and g.count("/") == relative.count("/") for g in globs
            ), relative
