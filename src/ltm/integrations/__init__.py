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

from ..errors import MissingDependency
from ..validate import MAX_TEXT_CHARS, has_content


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
