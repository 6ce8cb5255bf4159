"""Retrieval: search, context, and a user's stats (the web page's chart)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI

from ...store import MemoryStore
from .. import models as M
from ..errors import retry
from . import Routes, U


def _user_stats(store: MemoryStore, user: str) -> M.UserStatsOut:
    st = store.user_stats(user)
    return M.UserStatsOut(
        user=user, memories=st.memories, by_kind=st.by_kind,
        sessions=[M.SessionOut(session=x.session, count=x.count, first=x.first, last=x.last)
                  for x in st.sessions],
        per_day=[M.DayCount(day=d, count=c) for d, c in st.per_day])


def install(app: FastAPI, r: Routes) -> None:
    def _filters(body: M._Filters) -> dict[str, Any]:
        return {k: getattr(body, k) for k in ("agent", "session", "kinds", "since", "until",
                                              "as_of", "metadata", "now")}

    @app.post(U + "/search", response_model=M.SearchOut, tags=["retrieval"])
    def search(body: M.SearchIn, user: str = Depends(r.read)) -> M.SearchOut:
        """The k memories most relevant to the query, best first, with per-signal scores."""
        hits = retry(lambda: r.mem.search(body.query, user=user, k=body.k,
                                         min_relevance=body.min_relevance, **_filters(body)))
        return M.SearchOut(hits=[M.HitOut.of(h) for h in hits])

    @app.post(U + "/context", response_model=M.ContextOut, tags=["retrieval"])
    def context(body: M.ContextIn, user: str = Depends(r.read)) -> M.ContextOut:
        """Relevant memories packed into a token budget, chronological, ready for a prompt."""
        text = retry(lambda: r.mem.context(body.query, user=user, k=body.k,
                                          budget_tokens=body.budget_tokens,
                                          min_relevance=body.min_relevance, **_filters(body)))
        return M.ContextOut(context=text)

    @app.get(U + "/stats", response_model=M.UserStatsOut, tags=["retrieval"])
    def user_stats(user: str = Depends(r.read)) -> M.UserStatsOut:
        """Counts by kind, sessions, and memories per day (for the web page's chart)."""
        return retry(lambda: _user_stats(r.mem, user))
