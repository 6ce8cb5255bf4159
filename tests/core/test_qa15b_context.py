"""context() as an agent uses it (issue 15): a long memory that is the answer, text outside
ASCII, the budget counted by a real tokenizer (the LLaMA-2 one wordllama ships), dates of any
year. A memory longer than the budget was dropped whole, so a store of long notes gave an
empty block whatever the budget; Chinese, Arabic and emoji text was costed at a third of a
token a character, so a block of 300 "tokens" was 1,000+ real ones."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import pytest
from tokenizers import Tokenizer

import ltm
from ltm.retrieval.context import estimate_tokens

DIARY = "Ana's hiking diary. " + " ".join(
    f"Day {i}: we walked up the hill near the old town, had lunch by the river and went "
    "back to the hotel for the night."
    for i in range(300))


@pytest.fixture(scope="module")
def llama() -> Tokenizer:
    return Tokenizer.from_file(str(files("wordllama") / "tokenizers"
                                   / "l2_supercat_tokenizer_config.json"))


def _tokens(tok: Tokenizer, text: str) -> int:
    return len(tok.encode(text, add_special_tokens=False).ids)


def test_a_long_answer_is_cut_to_the_budget_not_dropped(tmp_path: Path,
                                                         llama: Tokenizer) -> None:
    mem = ltm.open(tmp_path / "s")
    try:
        mem.add(DIARY, user="ana", session="trip", time="2026-01-05T09:00Z")
        mem.add("Ana lives in Lisbon", user="ana", kind="fact", time="2025-01-01")
        for budget in (100, 200, 800):
            block = mem.context("where did Ana go hiking?", user="ana", budget_tokens=budget,
                                min_relevance=0.0)
            lines = block.splitlines()
            diary = [x for x in lines if "hiking diary" in x]
            assert diary and diary[0].endswith(" …"), (budget, block)
            assert diary[0].startswith("[2026-01-05 09:00 · session trip] Ana's hiking diary.")
            assert estimate_tokens(block) <= budget and _tokens(llama, block) <= budget
            assert lines == sorted(lines)  # chronological: the 2025 fact first when in
        whole = mem.context("where did Ana go hiking?", user="ana", budget_tokens=100_000,
                            min_relevance=0.0)
        assert DIARY in whole and "…" not in whole
        # one long memory does not crowd out what fits: the fact stays at every budget
        # that held it before
        assert "Ana lives in Lisbon" in mem.context("where does Ana live?", user="ana",
                                                    budget_tokens=40)
    finally:
        mem.close()


@pytest.mark.parametrize("text", [
    "我们在东京吃了寿司，然后去上野公园散步，看了樱花，晚上在浅草寺附近的小餐馆喝了清酒。",
    "انتقلت آنا إلى لشبونة في مارس واشترت قطة برتقالية اسمها ميسو وتحب السردين المشوي",
    "🎉🎂🥳 Ana's birthday party 🎈🎁 with cake 🍰🍰🍰 and fireworks 🎆🎇✨",
    "Анна переехала в Лиссабон в марте и купила оранжевую кошку по имени Мисо",
])
def test_the_budget_holds_outside_ascii(tmp_path: Path, llama: Tokenizer, text: str) -> None:
    mem = ltm.open(tmp_path / "s", embedder="hash")
    try:
        for i in range(12):
            mem.add(f"{text} ({i})", user="ana", session=f"s{i}", time=f"2026-01-{i + 1:02d}")
        budget = 150
        block = mem.context(text, user="ana", budget_tokens=budget, min_relevance=0.0)
        assert block and _tokens(llama, block) <= budget, _tokens(llama, block)
        assert estimate_tokens(text) >= _tokens(llama, text)
    finally:
        mem.close()


def test_dates_of_any_year_are_written_in_full(tmp_path: Path) -> None:
    mem = ltm.open(tmp_path / "s", embedder="hash")
    try:
        mem.add("The abbey's oak was planted", user="u", time="0999-05-01T08:05Z")
        block = mem.context("abbey oak planted", user="u", min_relevance=0.0)
        assert block == "[0999-05-01 08:05] The abbey's oak was planted"
    finally:
        mem.close()


def test_facts_are_dated_by_their_validity(tmp_path: Path) -> None:
    """Both facts of a supersession chain were dated by when they were recorded (today, the
    same minute), the outdated one with no sign of it: an agent reading the block could not
    tell where Ana works now."""
    mem = ltm.open(tmp_path / "s")
    try:
        old = mem.add("Ana works at Initech as an engineer", user="u", kind="fact",
                      valid_from="2021-01-01")
        mem.add("Ana works at Hooli as an engineer", user="u", kind="fact",
                valid_from="2024-06-01", supersedes=old.id)
        mem.add("Ana told me she loves her new job", user="u", session="s1",
                time="2024-07-01T18:30Z")
        block = mem.context("where does Ana work?", user="u", min_relevance=0.0)
        assert block.splitlines() == [
            "[2021-01-01 00:00 · fact · until 2024-06-01 00:00] Ana works at Initech as an "
            "engineer",
            "[2024-06-01 00:00 · fact] Ana works at Hooli as an engineer",
            "[2024-07-01 18:30 · session s1] Ana told me she loves her new job"]
        assert mem.context("where does Ana work?", user="u", min_relevance=0.0) == block
    finally:
        mem.close()


def test_lines_are_dated_in_the_calendar_of_nows_offset(tmp_path: Path) -> None:
    """Asked at 10:00-05:00 on Monday what was done "yesterday", the block dated the film seen
    at 23:30-05:00 on Sunday "2026-03-09 04:30" (UTC, Monday): an agent reading it would say
    nothing happened on Sunday. Dates follow now's offset, as the time phrase does."""
    mem = ltm.open(tmp_path / "s")
    try:
        mem.add("We watched a film at the cinema downtown", user="u", session="sun",
                time="2026-03-08T23:30:00-05:00")
        asked = "which film did we watch at the cinema yesterday?"
        local = mem.context(asked, user="u", now="2026-03-09T10:00:00-05:00",
                            min_relevance=0.0)
        assert local == "[2026-03-08 23:30 · session sun] We watched a film at the cinema " \
            "downtown"
        utc = mem.context(asked, user="u", now="2026-03-09T15:00:00Z", min_relevance=0.0)
        assert utc.startswith("[2026-03-09 04:30 · session sun]")
    finally:
        mem.close()


def test_one_memory_is_one_line(tmp_path: Path) -> None:
    """A multi-line note made several lines of the block, the later ones without a date, as if
    they were other memories."""
    mem = ltm.open(tmp_path / "s", embedder="hash")
    try:
        mem.add("Shopping list for the party:\n- eggs\n- milk\r\n\n- birthday candles\u2028done",
                user="u", time="2026-01-02")
        mem.add("Bought candles for the party", user="u", time="2026-01-03")
        block = mem.context("party candles", user="u", min_relevance=0.0)
        assert block.splitlines() == [
            "[2026-01-02 00:00] Shopping list for the party: - eggs - milk - birthday candles "
            "done",
            "[2026-01-03 00:00] Bought candles for the party"]
    finally:
        mem.close()
