"""Checks of what callers hand the store: each returns the value to store, or raises an
``ltm.errors`` type (``InvalidInput``; ``ScopeError`` for the user) naming the argument.
Nothing here touches storage."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

import numpy as np

from . import ids as _ids
from .backends.base import is_encodable
from .errors import DimensionMismatch, InvalidInput, ScopeError
from .model import KIND_NAME

MAX_TEXT_CHARS = 100_000
MAX_K = 1000
MAX_NAME_CHARS = 256
# metadata limits when no settings are at hand (Settings.max_metadata_bytes / _depth)
MAX_METADATA_BYTES = 65_536
MAX_METADATA_DEPTH = 32
# Characters that show nothing: whitespace, control characters (Cc), zero-width and
# direction marks, the BOM, soft hyphen, fillers, variation selectors and tag characters.
# A text made only of these has no content to store or search for.
_INVISIBLE = ("\\s\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
              "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0"
              "\ufff9-\ufffb\U0001d173-\U0001d17a\U000e0000-\U000e0fff")
_VISIBLE = re.compile(f"[^{_INVISIBLE}]")


def has_content(value: str) -> bool:
    """True when ``value`` holds at least one character that shows."""
    return _VISIBLE.search(value) is not None


# in API keys (ltm.server.auth) the users a key reaches: '*' is every user, so it names none;
# REST and MCP refuse it as a user, and so does every other face
ALL_USERS = "*"
NOT_A_USER = "'*' is not a user name: it stands for every user in API keys"


# names (users, agents, sessions) found valid lately: a batch names the same few again and
# again (checked by value: a name that passed once passes again, but for '*' as a user)
_NAMES: dict[str, None] = {}
_NAMES_MAX = 4096


def _known_name(value: object) -> TypeGuard[str]:
    return type(value) is str and value in _NAMES


def _remember_name(value: str) -> None:
    if type(value) is str:
        if len(_NAMES) >= _NAMES_MAX:
            _NAMES.clear()
        _NAMES[value] = None


def user(value: object, field: str = "user", *, stored: bool = False) -> str:
    """``value`` as a user scope, or ScopeError. ``stored=True`` (forget, export, gc: what
    lets a store written by an earlier ltm, which accepted it, erase or move out what it
    holds) also takes '*'."""
    if _known_name(value) and value != ALL_USERS:
        return value
    if not isinstance(value, str) or not has_content(value):
        raise ScopeError(f"{field} must be a non-empty string naming the scope, got {value!r}")
    if len(value) > MAX_NAME_CHARS or "\x00" in value or not is_encodable(value):
        raise ScopeError(f"{field} must be at most {MAX_NAME_CHARS} characters of valid "
                         "Unicode, without NUL")
    if value == ALL_USERS and not stored:
        raise ScopeError(NOT_A_USER)
    _remember_name(value)
    return value


def opt_name(value: object, field: str) -> str | None:
    if value is None:
        return None
    if _known_name(value):
        return value
    if not isinstance(value, str) or not has_content(value) or len(value) > MAX_NAME_CHARS \
            or "\x00" in value or not is_encodable(value):
        raise InvalidInput(f"{field} must be a non-empty string of at most {MAX_NAME_CHARS} "
                           "characters", field=field)
    _remember_name(value)
    return value


def text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"text must be a string, not {type(value).__name__}", field="text")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidInput(f"text is longer than {MAX_TEXT_CHARS} characters", field="text")
    if not has_content(value):
        raise InvalidInput("text must not be empty (nothing but whitespace, control or "
                           "zero-width characters)", field="text")
    if "\x00" in value:
        raise InvalidInput("text must not contain NUL characters", field="text")
    if not is_encodable(value):
        raise InvalidInput("text is not valid Unicode (lone surrogate)", field="text")
    return value


def query(value: object) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS or not has_content(value) \
            or not is_encodable(value):
        raise InvalidInput(f"query must be a non-empty string of valid Unicode, at most "
                           f"{MAX_TEXT_CHARS} characters, with something besides whitespace "
                           "and control characters", field="query")
    return value


def memory_id(value: object, field: str = "id") -> str:
    """An id to look up. Any string may name a memory that does not exist (NotFound follows);
    one that no database can hold (a lone surrogate, NUL) is invalid input."""
    if not isinstance(value, str) or "\x00" in value or not is_encodable(value):
        raise InvalidInput(f"{field} must be a string of valid Unicode", field=field)
    return value


def new_id(value: object) -> str | None:
    """An id the caller picked for a new memory (None: the store makes one)."""
    if value is None:
        return None
    if not isinstance(value, str) or not _ids.is_id(value):
        raise InvalidInput(f"id {value!r} is not a ULID", field="id")
    if value != value.upper():  # the same ULID in capitals would be another id
        raise InvalidInput(f"id {value!r} must be written in capitals, as ULIDs are",
                           field="id")
    return value


def importance(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput("importance must be a number in [0, 1]", field="importance")
    value = float(value)
    if not math.isfinite(value) or not 0.0 <= value <= 1.0:
        raise InvalidInput(f"importance must be in [0, 1], got {value!r}", field="importance")
    return value


def kind(value: object) -> str:
    if not isinstance(value, str) or not KIND_NAME.fullmatch(value):
        raise InvalidInput(f"kind must be a lowercase word such as 'episode', 'fact' or "
                           f"'summary', got {value!r}", field="kind")
    return value


def _depth_within(value: object, limit: int) -> bool:
    """False when containers nest deeper than ``limit`` (walked without recursion: a
    100,000-deep value must not exhaust the stack; a cycle counts as too deep)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Iterable[object] = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children)
    return True


def metadata(value: object, *, max_bytes: int = MAX_METADATA_BYTES,
             max_depth: int = MAX_METADATA_DEPTH) -> dict[str, Any]:
    """A JSON object of at most ``max_bytes`` (UTF-8 JSON) nested at most ``max_depth``
    deep (the object itself is depth 1); returned as its JSON round trip."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput("metadata must be a JSON object (dict)", field="metadata")
    if not all(isinstance(k, str) for k in value):
        raise InvalidInput("metadata keys must be strings", field="metadata")
    if not _depth_within(value, max_depth):
        raise InvalidInput(f"metadata is nested deeper than {max_depth} levels (setting "
                           "max_metadata_depth)", field="metadata")
    try:
        raw = json.dumps(dict(value), allow_nan=False, ensure_ascii=False)
        size = len(raw.encode("utf-8"))
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError: ValueError
        raise InvalidInput(f"metadata must be JSON-serialisable: {exc}", field="metadata") from None
    if size > max_bytes:
        raise InvalidInput(f"metadata is {size} bytes of JSON, more than {max_bytes} (setting "
                           "max_metadata_bytes)", field="metadata")
    data: dict[str, Any] = json.loads(raw)
    return data


def sources(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInput("sources must be a list of memory ids", field="sources")
    out = list(value)
    if not all(isinstance(s, str) and s and "\x00" not in s and is_encodable(s) for s in out):
        raise InvalidInput("sources must be a list of memory ids", field="sources")
    return out


def top_k(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise InvalidInput(f"k must be an integer in [1, {MAX_K}], got {value!r}", field="k")
    return value


def kinds(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise InvalidInput("kinds must be a list of kind names", field="kinds")
    return tuple(kind(k) for k in value)


def unit_vectors(vectors: np.ndarray, dim: int, *, where: str = "") -> np.ndarray:
    """Vectors handed in from outside (an import, ``add_vectors``) as the store keeps them:
    float32 rows of ``dim``, finite, of unit length as the embedders make them (a row off by
    more than 1e-3 is rescaled; one within it is kept bit for bit; an all-zero row stays
    zero)."""
    prefix = f"{where}: " if where else ""
    vecs = np.array(vectors, dtype=np.float32)
    if vecs.ndim != 2:
        raise InvalidInput(f"{prefix}vectors must be a matrix", field="embedding")
    if vecs.shape[1] != dim:
        if where:
            raise InvalidInput(f"{prefix}embedding has dimension {vecs.shape[1]}, the store "
                               f"uses {dim}", field="embedding")
        raise DimensionMismatch(dim, int(vecs.shape[1]))
    if not np.all(np.isfinite(vecs)):
        raise InvalidInput(f"{prefix}embedding contains NaN or infinity", field="embedding")
    norms = np.linalg.norm(vecs.astype(np.float64), axis=1)
    off = (np.abs(norms - 1.0) > 1e-3) & (norms > 1e-12)
    if off.any():
        vecs[off] = (vecs[off].astype(np.float64) / norms[off, None]).astype(np.float32)
    return vecs
