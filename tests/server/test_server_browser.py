"""The web page in a real browser: Debian's Chromium driven by Playwright. A screenshot goes to
test-artifacts/server-web.png."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from server_support import Served

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded(served: Served) -> Served:
    with served.client("root") as c:
        r = c.post("/v1/users/dana/conversations", json={"session": "trip", "messages": [
            {"content": "We should plan the Lisbon trip for May", "role": "user",
             "time": "2026-04-01T09:00:00Z"},
            {"content": "Sure, flights to Lisbon are cheapest on Tuesdays", "role": "assistant",
             "time": "2026-04-01T09:01:00Z"}]})
        assert r.status_code == 201
        r = c.post("/v1/users/dana/memories/batch", json={"items": [
            {"text": "Dana is vegetarian", "kind": "fact", "time": "2026-03-15T12:00:00Z"},
            {"text": "Dana's sister lives in Porto", "kind": "fact",
             "time": "2026-03-20T12:00:00Z"},
            {"text": "Dana runs every morning", "session": "health",
             "time": "2026-04-03T07:00:00Z"}]})
        assert r.status_code == 201
        made = r.json()["memories"]
        mid = made[0]["id"]
        r = c.post("/v1/users/dana/memories", json={
            "text": "Summary: Dana has family in Porto and a morning routine", "kind": "summary",
            "time": "2026-04-05T12:00:00Z", "sources": [made[1]["id"], made[2]["id"]]})
        assert r.status_code == 201
        assert c.patch(f"/v1/users/dana/memories/{mid}",
                       json={"text": "Dana is vegetarian (no fish either)"}).status_code == 200
    served.key["dana"] = served.keys.create(["dana"], "read,write")[0]
    return served


def test_web_page_search_browse_history_forget(seeded: Served) -> None:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium "
                    "(apt-get install chromium) before the browser tests")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(seeded.url + "/")

        # a wrong key is refused with a message
        page.fill("#key", "ltm_nope_nope")
        page.click("#connect")
        expect(page.locator("#status")).to_contain_text("401")

        page.fill("#key", seeded.key["dana"])
        page.click("#connect")
        expect(page.locator("#status")).to_contain_text("user dana")
        expect(page.locator("#total")).to_have_text("6 memories")
        assert page.locator("#chart rect").count() == 5  # five distinct days
        expect(page.locator("#timeline li")).to_have_count(6)

        # provenance: a summary lists its sources, and a source opens on click
        page.locator("#timeline li", has_text="Summary:").click()
        expect(page.locator("#d-sources li")).to_have_count(2)
        page.locator("#d-sources a").first.click()
        expect(page.locator("#d-text")).to_have_text("Dana's sister lives in Porto")

        # filters
        page.select_option("#kind-filter", "fact")
        expect(page.locator("#timeline li")).to_have_count(2)
        page.select_option("#kind-filter", "")
        page.select_option("#session-filter", "trip")
        expect(page.locator("#timeline li")).to_have_count(2)
        page.select_option("#session-filter", "")

        # search with per-signal scores
        page.fill("#query", "vegetarian food")
        page.click("#search-btn")
        first = page.locator("#results tbody tr").first
        expect(first).to_contain_text("vegetarian")
        expect(first.locator("td.signals")).to_contain_text("dense")

        # open it: history and provenance
        first.click()
        expect(page.locator("#d-text")).to_have_text("Dana is vegetarian (no fish either)")
        expect(page.locator("#history li")).to_have_count(2)
        expect(page.locator("#history")).to_contain_text("was {\"text\":\"Dana is vegetarian\"}")
        expect(page.locator("#d-sources")).to_contain_text("no sources")
        page.screenshot(path=str(ARTIFACTS / "server-web.png"), full_page=True)

        # forget it, answering the confirmation
        dialogs: list[str] = []

        def accept(d: object) -> None:
            dialogs.append(d.message)  # type: ignore[attr-defined]
            d.accept()  # type: ignore[attr-defined]

        page.on("dialog", accept)
        page.click("#forget-one")
        expect(page.locator("#status")).to_contain_text("forgot 1")
        assert "Forget this memory" in dialogs[0]
        expect(page.locator("#timeline li")).to_have_count(5)

        # forget a session, with confirmation
        page.select_option("#session-filter", "trip")
        page.click("#forget-session")
        expect(page.locator("#status")).to_contain_text("forgot 2 memories of session trip")
        expect(page.locator("#total")).to_have_text("3 memories")
        assert 'session "trip"' in dialogs[1]
        page.screenshot(path=str(ARTIFACTS / "server-web-after-forget.png"), full_page=True)
        browser.close()
        assert errors == []

    texts = {m.text for m, _ in seeded.store.backend.iter_export("dana", with_vectors=False)}
    assert texts == {"Dana's sister lives in Porto", "Dana runs every morning",
                     "Summary: Dana has family in Porto and a morning routine"}
    assert (ARTIFACTS / "server-web.png").stat().st_size > 10_000
