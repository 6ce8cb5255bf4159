"""Bad input through the Python API on every backend (issue 14, F4): each is an
``ltm.errors`` type and writes nothing."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable

import numpy as np
import pytest

import ltm
from ltm import ids
from ltm.errors import InvalidInput, LtmError, ScopeError


def _export(store: ltm.MemoryStore) -> str:
    buf = io.StringIO()
    store.export(buf)
    return buf.getvalue()


def _rejected(store: ltm.MemoryStore, call: Callable[[], object],
              error: type[LtmError] = InvalidInput) -> LtmError:
    """``call`` raises ``error`` and leaves the store as it was."""
    before = _export(store)
    with pytest.raises(error) as caught:
        call()
    assert _export(store) == before
    return caught.value


def test_explicit_ids_that_repeat_or_are_taken(copen: Callable[..., ltm.MemoryStore],
                                               backend_kind: str) -> None:
    store = copen(embedder="hash")
    a = store.add("alice's note", user="alice")
    b = store.add("bob's note", user="bob")
    fresh = ids.new_id()
    err = _rejected(store, lambda: store.add_many([
        {"text": "one", "user": "alice", "id": fresh},
        {"text": "two", "user": "alice", "id": fresh}]))
    assert isinstance(err, InvalidInput) and err.field == "id" and fresh in str(err)
    own = _rejected(store, lambda: store.add_many([
        {"text": "new", "user": "alice"}, {"text": "again", "user": "alice", "id": a.id}]))
    assert isinstance(own, InvalidInput) and own.field == "id" and own.item == 1
    if backend_kind == "sqlite":  # ids are unique store-wide: the same words for bob's id
        other = _rejected(store, lambda: store.add_many([
            {"text": "new", "user": "alice"}, {"text": "again", "user": "alice", "id": b.id}]))
        assert str(other).replace(b.id, "ID") == str(own).replace(a.id, "ID")
    else:  # PostgreSQL keys ids by user: bob's memory is untouched, nothing is revealed
        store.add_many([{"text": "mine", "user": "alice", "id": b.id}])
        assert store.get(b.id, user="bob").text == "bob's note"
        assert store.get(b.id, user="alice").text == "mine"
    assert store.add_many([{"text": "fresh", "user": "alice", "id": fresh}])[0].id == fresh


def _export_lines(store: ltm.MemoryStore, n: int, user: str = "u") -> list[str]:
    store.add_many([{"text": f"line memory {i}", "user": user} for i in range(n)])
    lines = _export(store).splitlines()
    store.forget(user=user)
    return lines


def test_import_is_all_or_nothing(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    lines = _export_lines(store, 1_300)
    lines[1_201] = '{"id": "not an id"}'  # line 1,202, after the first batch of 1,000
    before = _export(store)
    with pytest.raises(InvalidInput, match="line 1202") as caught:
        store.import_(io.StringIO("\n".join(lines) + "\n"))
    assert caught.value.item == 1202
    assert _export(store) == before
    assert store.stats()["memories"] == 0
    # the same file without the bad line goes in whole
    report = store.import_(io.StringIO("\n".join(lines[:1_201] + lines[1_202:]) + "\n"))
    assert report.imported == store.stats()["memories"] == 1_299


def test_import_ids_that_repeat_or_belong_to_another_user(
        copen: Callable[..., ltm.MemoryStore], backend_kind: str) -> None:
    store = copen(embedder="hash")
    lines = _export_lines(store, 3)
    twice = lines + [lines[2]]
    _rejected(store, lambda: store.import_(io.StringIO("\n".join(twice) + "\n")))
    b = store.add("bob's note", user="bob")
    record = json.loads(lines[1])
    record["id"] = b.id  # bob's id on a line of user u
    clash = [lines[0], json.dumps(record), lines[2]]
    if backend_kind == "sqlite":
        err = _rejected(store, lambda: store.import_(io.StringIO("\n".join(clash) + "\n")))
        assert "line 2" in str(err) and "already in use" in str(err)
    else:
        assert store.import_(io.StringIO("\n".join(clash) + "\n")).imported == 2
        assert store.get(b.id, user="bob").text == "bob's note"
    # ids already present for the same user are skipped, as before
    store.import_(io.StringIO("\n".join(lines) + "\n"))
    again = store.import_(io.StringIO("\n".join(lines) + "\n"))
    assert (again.imported, again.skipped) == (0, 3)


def _with_vector(line: str, vec: np.ndarray) -> str:
    record = json.loads(line)
    record["embedding_f32"] = base64.b64encode(vec.astype(np.float32).tobytes()).decode()
    return json.dumps(record)


def test_imported_vectors_are_checked_as_add_checks_them(
        copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    lines = _export_lines(store, 3)
    dim = store.embedder.dim
    for bad in (np.full(dim, np.nan), np.full(dim, np.inf), np.ones(dim + 1)):
        text = "\n".join([lines[0], lines[1], _with_vector(lines[2], bad), lines[3]]) + "\n"
        err = _rejected(store, lambda: store.import_(io.StringIO(text)))
        assert "line 3" in str(err)
    huge = _with_vector(lines[2], np.full(dim, 1e30))
    store.import_(io.StringIO("\n".join([lines[0], lines[1], huge, lines[3]]) + "\n"))
    got = store.backend.vectors([json.loads(huge)["id"]], "u")
    (vec,) = got.values()
    assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5  # kept at unit length
    hits = store.search("line memory 2", user="u", k=3)
    assert hits and len({round(h.score, 6) for h in hits}) > 1  # not one flat score


@pytest.mark.parametrize("op", ["get", "history", "forget", "update"])
def test_unencodable_ids_are_invalid_input(copen: Callable[..., ltm.MemoryStore],
                                           op: str) -> None:
    store = copen(embedder="hash")
    store.add("something", user="alice")
    for bad in ("\ud800", "a\x00b", 5, None if op != "forget" else b"x"):
        if op == "update":
            call: Callable[[], object] = lambda: store.update(bad, user="alice", text="x")  # type: ignore[arg-type]  # noqa: E731
        else:
            call = lambda: getattr(store, op)(bad, user="alice")  # noqa: E731
        _rejected(store, call)


def test_metadata_limits_and_shapes(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash", max_metadata_bytes=1_000, max_metadata_depth=4)
    deep: dict[str, object] = {}
    cur = deep
    for _ in range(100_000):
        cur["a"] = {}
        cur = cur["a"]  # type: ignore[assignment]
    m = store.add("kept", user="u", metadata={"a": {"b": {"c": [1]}}})  # 4 deep: allowed
    for meta in (deep, {"a": {"b": {"c": {"d": {}}}}}, {"a": [[[[1]]]]}, {"x": "y" * 1_000}):
        for call in (lambda: store.add("x", user="u", metadata=meta),
                     lambda: store.add_many([{"text": "x", "user": "u", "metadata": meta}]),
                     lambda: store.update(m.id, user="u", metadata=meta)):
            err = _rejected(store, call)
            assert err.field == "metadata"  # type: ignore[attr-defined]
    cycle: dict[str, object] = {}
    cycle["self"] = cycle
    _rejected(store, lambda: store.add("x", user="u", metadata=cycle))
    # the defaults: 65,536 bytes, 32 levels
    plain = copen(embedder="hash")
    _rejected(plain, lambda: plain.add("x", user="u", metadata={"x": "y" * 70_000}))
    _rejected(plain, lambda: plain.add("x", user="u", metadata=deep))
    assert plain.add("x", user="u", metadata={"x": "y" * 60_000}).metadata["x"]


def test_import_applies_the_metadata_limits(copen: Callable[..., ltm.MemoryStore]) -> None:
    store = copen(embedder="hash")
    lines = _export_lines(store, 2)
    record = json.loads(lines[2])
    record["metadata"] = {"x": "y" * 70_000}
    _rejected(store, lambda: store.import_(io.StringIO(
        "\n".join([lines[0], lines[1], json.dumps(record)]) + "\n")))
    deep = lines[1][:-1] + ', "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}"
    err = _rejected(store, lambda: store.import_(io.StringIO(lines[0] + "\n" + deep + "\n")))
    assert "line 2" in str(err)


@pytest.mark.parametrize("items", [None, 5, "text", {"text": "x", "user": "u"}, b"xy",
                                   [None], [{"text": "x"}]])
def test_add_many_rejects_what_is_not_a_list_of_items(
        copen: Callable[..., ltm.MemoryStore], items: object) -> None:
    store = copen(embedder="hash")
    _rejected(store, lambda: store.add_many(items))  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["\u200b", "\ufeff", "\u200b\u200c\u200d\u2060\ufeff",
                                  " \t\ufeff\n", "\x01\x02", "\u00ad", "\u202e\u200f"])
def test_invisible_text_and_control_queries_are_rejected(
        copen: Callable[..., ltm.MemoryStore], text: str) -> None:
    store = copen(embedder="hash")
    store.add("visible", user="u")
    _rejected(store, lambda: store.add(text, user="u"))
    _rejected(store, lambda: store.add_many([{"text": "fine", "user": "u"},
                                             {"text": text, "user": "u"}]))
    _rejected(store, lambda: store.search(text, user="u"))
    _rejected(store, lambda: store.context(text, user="u"))
    _rejected(store, lambda: store.add("x", user=text), ScopeError)
    assert store.search("visible\u200b", user="u")  # invisible marks around words are fine


@pytest.mark.parametrize("query", ["\x00", "\x00\x00 \x7f", "\x1b"])
def test_control_character_queries(copen: Callable[..., ltm.MemoryStore], query: str) -> None:
    store = copen(embedder="hash")
    store.add("visible", user="u")
    _rejected(store, lambda: store.search(query, user="u"))


@pytest.mark.parametrize("setting,value", [
    ("dense_weight", "abc"), ("dense_weight", -1), ("dense_weight", float("nan")),
    ("text_weight", None), ("candidates", 2.5), ("candidates", True), ("candidates", 0),
    ("context_window", "2"), ("mmr_lambda", 1.5), ("recency_half_life_days", 0),
    ("erase", 1), ("time_phrases", "sometimes"), ("embed_url", 5), ("llm_timeout_s", 0),
    ("max_metadata_bytes", 0), ("max_metadata_depth", "deep"), ("retention", "{not json"),
    ("retention", '{"episode": {"ttl_days": -1}}'), ("busy_timeout_ms", 10**30)])
def test_settings_are_checked_at_open(location: str, setting: str, value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ltm.open(location, embedder="hash", **{setting: value})
    assert setting in str(caught.value) or caught.value.field in (setting, "ttl_days")


@pytest.mark.parametrize("items", [None, 5, "text", {"text": "x", "user": "u"}, [None],
                                   [{"text": "x", "user": "u", "colour": "red"}]])
def test_add_vectors_and_conversations_reject_what_is_not_a_list_of_items(
        copen: Callable[..., ltm.MemoryStore], items: object) -> None:
    store = copen(embedder="hash")
    vecs = np.ones((1, store.embedder.dim), dtype=np.float32)
    _rejected(store, lambda: store.add_vectors(items, vecs))  # type: ignore[arg-type]
    if not isinstance(items, list) or items[0] is None:  # messages may carry any field
        _rejected(store, lambda: store.add_conversation(items,  # type: ignore[arg-type]
                                                        user="u", session="s"))
    _rejected(store, lambda: store.add_vectors([{"text": "x", "user": "u"}],
                                               "not vectors"))  # type: ignore[arg-type]
    _rejected(store, lambda: store.add_conversation([{"content": "x"}], user="u", session="s",
                                                    metadata=5))  # type: ignore[arg-type]
