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


def require(module: str, extra: str) -> None:
    """Import ``module`` or raise ``MissingDependency`` that names the extra to install."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingDependency(module.split(".")[0], extra) from None
