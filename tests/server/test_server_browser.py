"""The web page in a real browser: Debian's Chromium driven by Playwright. A screenshot goes to
test-artifacts/server-web.png."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from server_support import Served

import ltm
from ltm.server.app import create_app
from ltm.server.live import LiveServer

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium for the module; each test opens its own context."""
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.fail("Chromium is not installed: run scripts/ensure-chromium "
                    "(apt-get install chromium) before the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


def _page(chromium: Any, errors: list[str], **context: Any) -> Any:
    """A page in a fresh context that records script errors and failed loads."""
    page = chromium.new_context(viewport={"width": 1280, "height": 900}, **context).new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return page


@pytest.fixture(scope="module")
def open_served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server over an empty store with no API keys, on loopback (what `ltm serve` gives on a
    fresh machine)."""
    path = tmp_path_factory.mktemp("open") / "store"
    store = ltm.open(path)
    app = create_app(store)
    with LiveServer(app) as srv:
        yield Served(srv.url, store, app.state.keys, path)
    store.close()


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


def test_web_page_search_browse_history_forget(seeded: Served, chromium: Any) -> None:
    from playwright.sync_api import expect

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    page = _page(chromium, errors)
    page.goto(seeded.url + "/")
    # a server with keys waits for one
    expect(page.locator("#status")).to_contain_text("needs an API key")

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
    rows = page.locator("#results tbody tr")
    hits = rows.count()
    assert hits >= 3
    veg_id = first.get_attribute("data-id")
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
    # the search results are refreshed: the erased memory is no longer listed
    expect(page.locator(f'#results tbody tr[data-id="{veg_id}"]')).to_have_count(0)
    expect(rows).to_have_count(hits - 1)
    expect(page.locator("#results")).not_to_contain_text("vegetarian")

    # forget a session, with confirmation
    page.select_option("#session-filter", "trip")
    page.click("#forget-session")
    expect(page.locator("#status")).to_contain_text("forgot 2 memories of session trip")
    expect(page.locator("#total")).to_have_text("3 memories")
    assert 'session "trip"' in dialogs[1]
    expect(rows).to_have_count(hits - 3)
    expect(page.locator("#results")).not_to_contain_text("Lisbon")
    page.screenshot(path=str(ARTIFACTS / "server-web-after-forget.png"), full_page=True)
    # the refused key's 401 is the one error the console saw
    assert [e for e in errors if "401" not in e] == []

    texts = {m.text for m, _ in seeded.store.backend.iter_export("dana", with_vectors=False)}
    assert texts == {"Dana's sister lives in Porto", "Dana runs every morning",
                     "Summary: Dana has family in Porto and a morning routine"}
    assert (ARTIFACTS / "server-web.png").stat().st_size > 10_000


def test_a_refused_user_clears_the_previous_users_view(served: Served, chromium: Any) -> None:
    """A 403 on "bob" leaves nothing of alice on screen: chart, timeline, filters, results
    and the open memory are emptied before bob is asked for."""
    from playwright.sync_api import expect

    with served.client("alice") as c:
        r = c.post("/v1/users/alice/memories/batch", json={"items": [
            {"text": "Alice drinks jasmine tea", "kind": "fact", "time": "2026-02-01T08:00:00Z"},
            {"text": "Alice flew to Oslo", "session": "work", "time": "2026-02-03T08:00:00Z"}]})
        assert r.status_code == 201
    errors: list[str] = []
    page = _page(chromium, errors)
    page.goto(served.url + "/")
    page.fill("#key", served.key["alice"])
    page.click("#connect")
    expect(page.locator("#status")).to_contain_text("user alice")
    expect(page.locator("#total")).to_have_text("2 memories")
    expect(page.locator("#chart rect")).to_have_count(2)
    expect(page.locator("#timeline li")).to_have_count(2)
    page.fill("#query", "tea")
    page.click("#search-btn")
    page.locator("#results tbody tr").first.click()
    expect(page.locator("#detail")).to_be_visible()

    page.fill("#user", "bob")
    page.click("#open-user")
    expect(page.locator("#status")).to_contain_text("403")
    expect(page.locator("#status")).to_contain_text("does not reach that user")
    expect(page.locator("#total")).to_have_text("")
    expect(page.locator("#chart rect")).to_have_count(0)
    expect(page.locator("#chart-range")).to_have_text("")
    expect(page.locator("#timeline li")).to_have_count(0)
    expect(page.locator("#kind-filter option")).to_have_count(1)
    expect(page.locator("#session-filter option")).to_have_count(1)
    expect(page.locator("#results")).to_be_hidden()
    expect(page.locator("#results tbody tr")).to_have_count(0)
    expect(page.locator("#detail")).to_be_hidden()
    expect(page.locator("#more")).to_be_hidden()
    # and alice comes back when opened again
    page.fill("#user", "alice")
    page.click("#open-user")
    expect(page.locator("#timeline li")).to_have_count(2)
    assert [e for e in errors if "403" not in e] == []


def test_open_server_loads_without_a_click_hints_and_adds_memories(open_served: Served,
                                                                   chromium: Any) -> None:
    """On a keyless loopback server the page connects by itself; an empty store says how to
    begin; the form adds a memory with text, kind, session and a time in the browser's zone."""
    from playwright.sync_api import expect

    errors: list[str] = []
    page = _page(chromium, errors, timezone_id="Asia/Tokyo")  # UTC+9, no daylight saving
    page.goto(open_served.url + "/")
    expect(page.locator("#status")).to_contain_text("connected (open)")  # no click
    expect(page.locator("#status")).to_contain_text("0 user(s)")
    expect(page.locator("#hint")).to_be_visible()
    expect(page.locator("#hint")).to_contain_text("No memories here yet")
    expect(page.locator("#hint")).to_contain_text("ltm add")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "server-web-empty.png"), full_page=True)

    # a user with nothing yet gets its own hint
    page.fill("#user", "yan")
    page.click("#open-user")
    expect(page.locator("#hint")).to_contain_text("yan has no memories yet")
    expect(page.locator("#total")).to_have_text("0 memories")

    page.fill("#user", "zoe")
    page.fill("#add-text", "Zoe adopted a cat named Miso")
    page.fill("#add-kind", "fact")
    page.fill("#add-session", "pets")
    page.fill("#add-time", "2026-04-10T09:30")  # 09:30 in Tokyo is 00:30 UTC
    page.click("#add-btn")
    expect(page.locator("#status")).to_contain_text("added a fact for zoe at 2026-04-10 00:30:00")
    expect(page.locator("#hint")).to_be_hidden()
    expect(page.locator("#total")).to_have_text("1 memories")
    expect(page.locator("#chart rect")).to_have_count(1)
    item = page.locator("#timeline li")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Zoe adopted a cat named Miso")
    expect(item.locator(".tag")).to_have_text(["fact", "pets"])
    expect(page.locator("#add-text")).to_have_value("")

    # a bad kind is refused with the server's plain message, and nothing is stored
    page.fill("#add-text", "this one has a bad kind")
    page.fill("#add-kind", "Not A Kind")
    page.click("#add-btn")
    expect(page.locator("#status")).to_contain_text("422: kind must be a lowercase word")
    # any other lowercase word is a kind; no time means now
    page.fill("#add-kind", "note")
    page.fill("#add-session", "")
    page.fill("#add-time", "")
    page.click("#add-btn")
    expect(page.locator("#status")).to_contain_text("added a note for zoe")
    expect(page.locator("#timeline li")).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "server-web-added.png"), full_page=True)

    # a favicon, as SVG, from the page's link and at /favicon.ico
    got = page.evaluate("""async () => {
        const href = document.querySelector("link[rel=icon]").href;
        const out = [];
        for (const url of [href, "/favicon.ico"]) {
          const r = await fetch(url);
          out.push([r.status, r.headers.get("content-type"), (await r.text()).slice(0, 4)]);
        }
        return out;
    }""")
    assert got == [[200, "image/svg+xml", "<svg"]] * 2
    assert [e for e in errors if "422" not in e] == []  # only the refused kind

    stored = sorted((m for m, _ in open_served.store.backend.iter_export(
        "zoe", with_vectors=False)), key=lambda m: m.time)
    assert [(m.text, m.kind, m.session) for m in stored] == [
        ("Zoe adopted a cat named Miso", "fact", "pets"),
        ("this one has a bad kind", "note", None)]
    assert stored[0].time == datetime(2026, 4, 10, 0, 30, tzinfo=UTC)
    assert abs((stored[1].time - datetime.now(UTC)).total_seconds()) < 120
