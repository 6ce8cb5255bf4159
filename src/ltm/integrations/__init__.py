"""Adapters that let other frameworks keep their memory in ltm, each behind its own extra and
imported only when used:

- ``ltm.integrations.langchain``: ``LtmVectorStore`` (a LangChain ``VectorStore``),
  ``LtmRetriever`` (a ``BaseRetriever``) and ``LangChainEmbedder`` (extra ``ltm[langchain]``);
- ``ltm.integrations.langgraph``: ``LtmStore``, a LangGraph ``BaseStore`` (``ltm[langgraph]``);
- ``ltm.integrations.openai_agents``: ``LtmSession``, an OpenAI Agents SDK ``Session``
  (``ltm[openai-agents]``).

Importing one without its extra raises ``ltm.MissingDependency`` naming the extra.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from ..errors import LtmError, MissingDependency
from ..validate import MAX_TEXT_CHARS, has_content, is_encodable

log = logging.getLogger(__name__)


def require(module: str, extra: str) -> None:
    """Import ``module`` or raise ``MissingDependency`` that names the extra to install."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingDependency(module.split(".")[0], extra) from None


def searchable_text(text: str) -> str:
    """``text`` as an ltm memory's text can hold it: no NUL, no lone surrogate, at most
    ``MAX_TEXT_CHARS`` characters ("" when nothing visible is left). The adapters keep what
    the framework gave them whole in the metadata; the memory's text only serves search."""
    text = text.replace("\x00", " ").encode("utf-8", "replace").decode("utf-8")
    text = text[:MAX_TEXT_CHARS]
    return text if has_content(text) else ""


def findable(name: object) -> bool:
    """Whether ``name`` (a document id, an item key) can be held in metadata and matched by a
    metadata filter: a string without NUL or lone surrogates. One that is not is never
    stored, so a read of it finds nothing (the filter itself would refuse it)."""
    return isinstance(name, str) and "\x00" not in name and is_encodable(name)


def index_key(store: Any, key: str) -> None:
    """Have the store index its memories by the metadata ``key`` an adapter finds its items
    by (``SqliteBackend.metadata_index``: a get or put then reads the item's rows, not every
    row of the user); a backend without such an index is left as it is."""
    make = getattr(store.backend, "metadata_index", None)
    if make is None:
        return
    try:
        make(key)
    except LtmError as exc:  # a busy or read-only store: lookups read the user's rows
        log.info("no index on metadata %r (%s)", key, exc)
