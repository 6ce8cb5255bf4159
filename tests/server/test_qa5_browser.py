"""The web page in Chromium (Playwright) on memories the other browser tests do not have: a
user whose name is '..' (a path segment fetch would resolve away), memories dated before 1970
paged with "Older…", and a chart whose days start in year 1."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import ltm
from ltm.server.app import create_app
from ltm.server.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def test_pages_before_1970_and_a_user_named_dot_dot(tmp_path: Path, chromium: Any) -> None:
    from playwright.sync_api import expect

    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        mem.add_many([{"text": f"old note {n}", "user": "old", "session": "past",
                       "time": f"{1900 + n}-05-01T12:00:00Z"} for n in range(55)]
                     + [{"text": "the very first note", "user": "old",
                         "time": "0001-01-02T00:00:00Z"}])
        mem.add("a memory of the user named ..", user="..")
        with LiveServer(create_app(mem, require_keys=False, mcp=False)) as srv:
            errors: list[str] = []
            page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(srv.url + "/")
            # an open server opens its first user by itself: not '..' (sorted first), which
            # cannot be reached, but 'old'
            expect(page.locator("#status")).to_contain_text("user old")
            expect(page.locator("#user")).to_have_value("old")
            expect(page.locator("#total")).to_have_text("56 memories")
            expect(page.locator("#chart-range")).to_contain_text("0001-01-02")
            assert page.locator("#chart rect").count() >= 2
            expect(page.locator("#timeline li")).to_have_count(50)
            page.click("#more")  # the cursor of a memory of 1905 is a negative time
            expect(page.locator("#timeline li")).to_have_count(56)
            expect(page.locator("#timeline li").last).to_contain_text("the very first note")
            expect(page.locator("#more")).to_be_hidden()

            # '..' resolves away in a URL ('/v1/users/../stats' is '/v1/stats'): the page says
            # so instead of showing the store's totals as the user's
            page.fill("#user", "..")
            page.click("#open-user")
            expect(page.locator("#status")).to_contain_text("cannot be reached over HTTP")
            expect(page.locator("#total")).to_have_text("")
            expect(page.locator("#timeline li")).to_have_count(0)
            page.fill("#add-text", "to the user named ..")
            page.click("#add-btn")
            expect(page.locator("#status")).to_contain_text("cannot be reached over HTTP")
            assert errors == []
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        assert [m.text for m in mem.list("..").memories] == ["a memory of the user named .."]
