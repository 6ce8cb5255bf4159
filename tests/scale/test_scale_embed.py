"""The lean WordLlama path returns the vectors of ``WordLlama.embed(norm=True)``."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest

from ltm.bench.corpus import Corpus
from ltm.embed.wordllama import WordLlamaEmbedder


@pytest.fixture(scope="module")
def reference():  # type: ignore[no-untyped-def]
    import wordllama
    from wordllama import WordLlama

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    model = WordLlama.load(config="l2_supercat", cache_dir=Path(wordllama.__file__).parent,
                           disable_download=True)
    for h in list(root.handlers):  # wordllama configures logging on import
        if h not in handlers:
            root.removeHandler(h)
    root.setLevel(level)
    return model


def test_lean_path_matches_wordllama_embed(reference) -> None:  # type: ignore[no-untyped-def]
    texts = [it.text for it in Corpus(400, 7, seed=3).items()]
    texts += ["x", "Ünïcödé naïve café — 東京 2026!", "word " * 700,  # long: sliced sums
              "a b c", "I moved to Lisbon in March", "  spaced   out  "]
    ours = WordLlamaEmbedder().embed(texts)
    theirs = reference.embed(texts, norm=True)
    assert ours.shape == theirs.shape == (len(texts), 256)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_lean_path_is_batch_invariant() -> None:
    emb = WordLlamaEmbedder()
    texts = [it.text for it in Corpus(50, 3, seed=9).items()]
    together = emb.embed(texts)
    alone = np.stack([emb.embed([t])[0] for t in texts])
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-6)


def test_empty_inputs() -> None:
    emb = WordLlamaEmbedder()
    assert emb.embed([]).shape == (0, 256)
    assert not np.any(emb.embed([""]))


def test_long_text_is_summed_in_slices(reference) -> None:  # type: ignore[no-untyped-def]
    from ltm.embed import wordllama as wl

    text = " ".join(f"memory{i % 97} of Lisbon" for i in range(2000))
    emb = WordLlamaEmbedder()
    n_tokens = len(emb.tokenizer.encode(text, add_special_tokens=False).ids)  # type: ignore[attr-defined]
    assert n_tokens > wl._LONG  # the sliced branch runs (float sums of 6k rows: looser atol)
    np.testing.assert_allclose(emb.embed([text, "short one"]),
                               reference.embed([text, "short one"], norm=True), rtol=0, atol=1e-5)


def test_piece_ids_are_the_tokenizers() -> None:
    """The ids put together piece by piece (``_Pieces``, the batch path) are the tokenizer's
    own, for the ingest's text and text made to break it: runs of spaces, tabs and line
    breaks, '▁' itself, no-break spaces, combining marks, emoji, capitals, the added tokens'
    contents ('<s>', left to the tokenizer), an empty text; again from the remembered pieces."""
    from ltm.embed import wordllama as wl

    emb = WordLlamaEmbedder()
    pieces = wl._pieces_of(emb.config, emb.tokenizer)
    assert pieces is not None
    rng = random.Random(5)
    alphabet = " \t\n\u00a0\u2581abcXYZ09,.!?'<>/s-_é東京😀\u200b\u0301ßİ"
    texts = [it.text for it in Corpus(300, 5, seed=4).items()]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 40)))
              for _ in range(3000)]
    texts += ["<s>", "a<s>b", "x </s> y <unk>", "", " ", "\u2581\u2581 a", "  spaced   out  ",
              "LISBON", "word " * 700]
    theirs = [e.ids for e in emb.tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert [list(ids) for ids in pieces.ids(texts)] == theirs
    assert [list(ids) for ids in pieces.ids(texts)] == theirs


def test_pieces_only_for_a_tokenizer_without_pre_tokenizer() -> None:
    """A tokenizer that splits words before BPE (or merges across a '▁') is not taken apart
    piece by piece: ``_Pieces.of`` gives None and the batch goes to the tokenizer."""
    from tokenizers import Tokenizer, pre_tokenizers

    from ltm.embed import wordllama as wl

    tok = Tokenizer.from_str(WordLlamaEmbedder().tokenizer.to_str())
    assert wl._Pieces.of(tok) is not None
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    assert wl._Pieces.of(tok) is None


def test_long_pieces_are_not_remembered() -> None:
    """A piece longer than ``_PIECE_CHARS`` (a paragraph of Chinese has no space, a blob, a
    URL) is tokenized each time, not remembered: the memory is bounded by its count of short
    pieces, not by the texts' length. The ids stay the tokenizer's."""
    from ltm.embed import wordllama as wl

    emb = WordLlamaEmbedder()
    pieces = wl._pieces_of(emb.config, emb.tokenizer)
    assert pieces is not None
    rng = random.Random(7)
    texts = ["".join(rng.choice("東京大阪北京上海天气我们今天去") for _ in range(200))
             for _ in range(50)]
    texts += [f"see https://example.com/{rng.getrandbits(256):x}/x?y=1 now" for _ in range(50)]
    theirs = [e.ids for e in emb.tokenizer.encode_batch(texts, add_special_tokens=False)]
    assert [list(ids) for ids in pieces.ids(texts)] == theirs
    assert all(len(p) <= wl._PIECE_CHARS for p in pieces.memo)
    assert "\u2581now" in pieces.memo  # (the short ones are)
