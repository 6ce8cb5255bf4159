"""The web page shows a memory's history readably and a fact chain one click at a time
(helper 66, thirteenth session): an update's previous times were shown as microseconds
('was {"time":1717200000000000}'), and a superseded fact's successor was plain text."""

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


@pytest.fixture
def chromium() -> Iterator[Any]:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def test_history_times_are_dates_and_a_successor_is_a_link(tmp_path: Path,
                                                            chromium: Any) -> None:
    from playwright.sync_api import expect

    with ltm.open(tmp_path / "s", embedder="hash") as store:
        old = store.add("Ana works at Acme", user="ana", kind="fact", valid_from="2019-01-01",
                        time="2019-01-05T10:00:00Z", expires_at="2030-01-01T00:00:00Z")
        store.update(old.id, user="ana", time="2019-01-06T11:30:00Z",
                     expires_at="2031-01-01T00:00:00Z")
        new = store.add("Ana works at Initech", user="ana", kind="fact",
                        valid_from="2021-03-01")
        store.update(new.id, user="ana", importance=0.5)
        # (the successor written after the update, as a superseding write)
        newer = store.add("Ana works at Initech in Porto", user="ana", kind="fact",
                          valid_from="2022-01-01", supersedes=new.id)
        with LiveServer(create_app(store)) as srv:
            errors: list[str] = []
            page = chromium.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.url + "/")
            expect(page.locator("#status")).to_contain_text("user ana")
            # a fact that no longer holds says until when it held, in the timeline too
            expect(page.locator(f"#timeline li[data-id='{new.id}']")).to_contain_text(
                "until 2022-01-01 00:00:00")
            expect(page.locator(f"#timeline li[data-id='{newer.id}']")).not_to_contain_text(
                "until")
            page.locator(f"#timeline li[data-id='{old.id}']").click()
            expect(page.locator("#d-id")).to_have_text(old.id)
            history = page.locator("#history")
            expect(history).to_contain_text('"time":"2019-01-05 10:00:00"')
            expect(history).to_contain_text('"expires_at":"2030-01-01 00:00:00"')
            assert "1546" not in history.inner_text()  # no microseconds since 1970
            # the superseded fact links to the one that replaced it
            page.locator(f"#timeline li[data-id='{new.id}']").click()
            expect(page.locator("#d-id")).to_have_text(new.id)
            expect(page.locator("#history")).to_contain_text('"valid_to":null')
            page.locator("#d-fields a.src", has_text=newer.id).click()
            expect(page.locator("#d-id")).to_have_text(newer.id)
            expect(page.locator("#d-text")).to_have_text("Ana works at Initech in Porto")
            assert errors == []


def test_search_reads_time_phrases_in_the_browsers_calendar(tmp_path: Path,
                                                           chromium: Any) -> None:
    # the page sent no `now`, so "yesterday" was the server's UTC yesterday, while its add
    # form reads times in the browser's zone: at 12:00 in Tokyo (03:00 UTC) on April 11,
    # yesterday is April 10 in Tokyo, when the hike in the hills happened (01:00 there)
    from playwright.sync_api import expect

    with ltm.open(tmp_path / "s", embedder="hash") as store:
        hills = store.add("I went hiking in the hills", user="ana", time="2026-04-09T16:00:00Z")
        store.add("I went hiking along the coast", user="ana", time="2026-04-10T16:00:00Z")
        with LiveServer(create_app(store)) as srv:
            errors: list[str] = []
            context = chromium.new_context(timezone_id="Asia/Tokyo")
            page = context.new_page()
            page.clock.set_fixed_time("2026-04-11T03:00:00Z")
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(srv.url + "/")
            expect(page.locator("#status")).to_contain_text("user ana")
            page.fill("#query", "what did I do yesterday?")
            page.click("#search-btn")
            expect(page.locator("#status")).to_contain_text("result(s)")
            first = page.locator("#results tbody tr").first
            expect(first).to_have_attribute("data-id", hills.id)
            assert errors == []
