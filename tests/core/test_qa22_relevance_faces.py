"""QA of issue 15's functional promises (helper 22): relevance stays a probability and search
keeps working whatever a store's own ranker weights hold (they are ignored, with a warning,
when corrupt or of another shape), and the commands that fit the relevance model or run the
benchmarks turn bad arguments and data into one-line errors with exit code 2 before any long
work, instead of Python tracebacks (some after minutes of fitting)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import ltm
from ltm.cli import main
from ltm.retrieval.feedback import load_feedback
from ltm.retrieval.ranker import META_KEY, shipped

FACTS = ["Priya has been vegetarian since 2019 and avoids eggs",
         "Priya works as a nurse at the city hospital"]


def _variant(change: str) -> str:
    d = shipped().to_dict()
    own, full = d["own"], d["full"]
    if change == "own_short":
        own["weights"] = own["weights"][:1]
    elif change == "huge":
        full["weights"] = [1e308] * len(full["weights"])
    elif change == "window_negative":
        d["context_window"] = -3
    elif change == "window_text":
        d["context_window"] = "2"
    return json.dumps(d)


@pytest.mark.parametrize("raw", [
    "[1, 2]", "null", '"weights"', "5",  # JSON, but not an object: AttributeError per search
    _variant("own_short"),  # ValueError (matmul) in every search
    _variant("huge"),  # relevance NaN
    _variant("window_negative"), _variant("window_text"),
], ids=["list", "null", "string", "number", "own_short", "huge", "window_negative",
        "window_text"])
def test_corrupt_store_weights_fall_back_to_the_shipped_ones(
        open_store: Callable[..., ltm.MemoryStore], raw: str,
        caplog: pytest.LogCaptureFixture) -> None:
    store = open_store()
    for f in FACTS:
        store.add(f, user="p", kind="fact", time="2024-01-01")
    query, now = "what does Priya eat", "2024-06-01"
    expected = [(h.memory.id, h.relevance) for h in store.search(query, user="p", now=now)]
    store.backend.set_meta(META_KEY, raw)
    fresh = open_store()  # as another process would: it reads the weights anew
    with caplog.at_level(logging.WARNING, logger="ltm.retrieval.feedback"):
        hits = fresh.search(query, user="p", now=now)
    assert [(h.memory.id, h.relevance) for h in hits] == expected
    assert all(0.0 <= h.relevance <= 1.0 and math.isfinite(h.relevance) for h in hits)
    assert fresh.ranker is shipped()
    assert "ignoring the store's ranker weights" in caplog.text


def _cli(*args: str) -> tuple[int, str, BaseException | None]:
    got = CliRunner().invoke(main, list(args))
    exc = None if isinstance(got.exception, SystemExit) else got.exception
    return got.exit_code, got.output, exc


@pytest.mark.parametrize("spec", [
    "small:abc", "small:1-x", "small:3-1",  # ValueError / IndexError tracebacks
    "locomo", "locomo:", "beam:",  # a source without its path (locomo read the folder '.')
    "locomo:{folder}", "locomo:{not_json}", "locomo:{other_json}", "beam:{beam_bad}",
])
def test_train_ranker_data_that_holds_no_such_data(tmp_path: Path, spec: str) -> None:
    (tmp_path / "not.json").write_text("not json\n")
    (tmp_path / "other.json").write_text('{"a": 1}\n')
    (tmp_path / "beam" / "1").mkdir(parents=True)
    (tmp_path / "beam" / "1" / "chat.json").write_text("[{")
    (tmp_path / "beam" / "1" / "probing_questions.json").write_text("{}")
    spec = spec.format(folder=tmp_path, not_json=tmp_path / "not.json",
                       other_json=tmp_path / "other.json", beam_bad=tmp_path / "beam")
    out = tmp_path / "r.json"
    code, text, exc = _cli("train", "ranker", "--data", spec, "--out", str(out))
    assert (code, exc) == (2, None), text
    assert "Invalid value for --data" in text and "Traceback" not in text, text
    assert not out.exists()


def test_bench_data_that_holds_no_such_data(tmp_path: Path) -> None:
    (tmp_path / "not.json").write_text("not json\n")
    (tmp_path / "other.json").write_text('[{"conversation": 1}]\n')
    beam = tmp_path / "beam" / "1"
    beam.mkdir(parents=True)
    (beam / "chat.json").write_text('[{"turns": [[{"content": "hi"}]]}]')  # no message id
    (beam / "probing_questions.json").write_text("{}")
    for args in (["locomo", "--data", str(tmp_path / "not.json")],
                 ["locomo", "--data", str(tmp_path / "other.json")],
                 ["beam", "--data", str(tmp_path / "beam")]):
        code, text, exc = _cli("bench", *args, "--out", str(tmp_path / "b.json"))
        assert (code, exc) == (2, None), (args, text)
        assert text.startswith("ltm: ") and "holds no" in text, (args, text)
    assert not (tmp_path / "b.json").exists()


@pytest.mark.parametrize("args", [
    ["--folds", "0"], ["--folds", "1"],  # silently ran 2 folds
    ["--l2", "-1"], ["--l2", "nan"],  # nan: weights of NaN written to --out
    ["--context-window", "-1"],
    ["--out", "{file}/r.json"],  # after the whole fit: FileExistsError
    ["--report", "{file}/cv.json"],
    ["--store", "{tmp}/store"],  # --store with --data/--out: they were ignored
    ["--embedder", "bogus"],  # InvalidInput traceback
])
def test_train_ranker_refuses_bad_options_before_fitting(tmp_path: Path,
                                                         args: list[str]) -> None:
    (tmp_path / "file").write_text("")
    args = [a.format(file=tmp_path / "file", tmp=tmp_path) for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "r.json")]
    code, text, exc = _cli("train", "ranker", "--data", "small:1", *args)
    assert (code, exc) == (2, None), text
    assert "Traceback" not in text and not (tmp_path / "r.json").exists(), text


@pytest.mark.parametrize("args", [
    ["small", "--stores", "0"],  # ValueError: min() arg is an empty sequence
    ["small", "--stores", "1", "--out", "{file}/s.json"],  # after the run: FileExistsError
    ["small", "--stores", "1", "--markdown", "{file}/s.md"],
    ["beam", "--data", "{beam}", "--limit", "0"],  # 0 ran every conversation
    ["beam", "--data", "{beam}", "--plot", "{file}/b.png"],
    ["locomo", "--data", "{locomo}", "--limit", "-1"],  # dropped the last conversation
    ["locomo", "--data", "{locomo}", "--out", "{file}/l.json"],
])
def test_bench_refuses_bad_options_before_running(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "file").write_text("")
    # one tiny conversation of each (the old commands ran them, then failed or wrote)
    turn = {"speaker": "Ann", "dia_id": "D1:1", "text": "I adopted a cat named Miso"}
    (tmp_path / "locomo.json").write_text(json.dumps([{
        "sample_id": "c1", "qa": [{"question": "what is the cat's name?", "category": 4,
                                   "evidence": ["D1:1"]}],
        "conversation": {"session_1": [turn],
                         "session_1_date_time": "1:56 pm on 8 May, 2023"}}]))
    (tmp_path / "beam" / "1").mkdir(parents=True)
    (tmp_path / "beam" / "1" / "chat.json").write_text(json.dumps([{"batch_number": 1, "turns": [
        [{"role": "user", "id": 1, "content": "I adopted a cat named Miso"}]]}]))
    (tmp_path / "beam" / "1" / "probing_questions.json").write_text(json.dumps({
        "information_extraction": [{"question": "what is my cat's name?",
                                    "source_chat_ids": [1]}]}))
    args = [a.format(file=tmp_path / "file", beam=tmp_path / "beam",
                     locomo=tmp_path / "locomo.json") for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "b.json")]
    code, text, exc = _cli("bench", *args)
    assert (code, exc) == (2, None), text
    assert "Traceback" not in text and not (tmp_path / "b.json").exists(), text


def test_a_query_judged_on_a_forgotten_memory_goes_with_all_its_judgments(
        store_path: Path) -> None:
    """A judgment of the same query on another memory kept the query, which quotes what was
    erased: its words stayed in the store's files."""
    with ltm.open(store_path) as mem:
        secret = mem.add("Zanzibar-octopus-7731 is my recovery phrase", user="u", session="sx")
        other = mem.add("an ordinary note about gardening", user="u")
        mem.feedback("what is my Zanzibar recovery phrase", secret.id, True, user="u")
        mem.feedback("what is my Zanzibar recovery phrase", other.id, False, user="u")
        mem.feedback("when do I garden", other.id, True, user="u")
        mem.forget(session="sx", user="u")
        assert [j["query"] for j in load_feedback(mem.backend, "u")] == ["when do I garden"]
    raw = b"".join(p.read_bytes() for p in sorted(store_path.rglob("*")) if p.is_file())
    for needle in (b"Zanzibar", b"recovery phrase"):
        assert needle not in raw, needle


def test_refitting_without_feedback_goes_back_to_the_shipped_weights(tmp_path: Path) -> None:
    """Once the judgments are erased (the user forgotten), ``ltm train ranker --store`` said
    "it keeps the shipped weights" while the store went on searching with the weights fitted
    from them."""
    path = tmp_path / "store"
    with ltm.open(path) as mem:
        tea = mem.add("my favourite drink is green tea", user="u", time="2020-01-01")
        coffee = mem.add("these days I mostly drink coffee", user="u", time="2024-06-01")
        for n in range(10):
            mem.feedback(f"what do I drink {n}", tea.id, True, user="u")
            mem.feedback(f"what do I drink {n}", coffee.id, False, user="u")
    code, text, exc = _cli("train", "ranker", "--store", str(path))
    assert (code, exc) == (0, None) and "from 20 judgments" in text, text
    with ltm.open(path) as mem:
        assert mem.ranker is not shipped()
        mem.forget(user="u")
    code, text, exc = _cli("train", "ranker", "--store", str(path))
    assert (code, exc) == (0, None) and "searches use the shipped ones" in text, text
    with ltm.open(path) as mem:
        assert mem.ranker is shipped()
    code, text, exc = _cli("train", "ranker", "--store", str(path))
    assert "it keeps the shipped weights" in text, text


def test_only_not_useful_judgments_fit_nothing(tmp_path: Path) -> None:
    """Judgments that only ever say "not useful" leave the ranking objective nothing to lift
    (the weights came out equal to the shipped ones), yet ``ltm train ranker --store`` said
    "fitted this store's weights from 6 judgments" and stored them as the store's own."""
    path = tmp_path / "store"
    asked = ["what does Priya eat?", "where does Priya work", "who is Priya's sister"]
    with ltm.open(path) as mem:
        for f in FACTS:
            mem.add(f, user="p", kind="fact")
        for q in asked:
            for h in mem.search(q, user="p", k=2):
                mem.feedback(q, h.memory.id, False, user="p")
    code, text, exc = _cli("train", "ranker", "--store", str(path))
    assert (code, exc) == (0, None), text
    assert "no usable feedback" in text and "keeps the shipped weights" in text, text
    with ltm.open(path) as mem:
        assert mem.ranker is shipped()
        mem.feedback(asked[0], mem.search(asked[0], user="p", k=1)[0].memory.id, True,
                     user="p")
    code, text, exc = _cli("train", "ranker", "--store", str(path))
    assert "fitted this store's weights from 3 judgments" in text, text  # that query's


def test_bench_beam_says_which_folder_to_give(tmp_path: Path) -> None:
    """``--data`` one level too high (a data set's folder with several tiers, none of them
    the 100K tier it would stand for) or too low (one conversation): the message says which
    folder holds the conversations."""
    for tier in ("1M", "10M"):
        one = tmp_path / "beam" / tier / "1"
        one.mkdir(parents=True)
        (one / "chat.json").write_text("[]")
        (one / "probing_questions.json").write_text("{}")
    for given, hint in ((tmp_path / "beam", f"e.g. {tmp_path / 'beam' / '10M'}"),
                        (one, "is one conversation, give the folder above it")):
        code, text, exc = _cli("bench", "beam", "--data", str(given), "--out",
                               str(tmp_path / "b.json"))
        assert (code, exc) == (2, None) and hint in text, text
