"""Request and response bodies of the REST API (pydantic). Requests reject unknown fields and
wrong types (strict mode); the limits below are part of the published schema."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..model import ForgetReceipt, HistoryEvent, Hit, Memory
from ..store import MAX_TEXT_CHARS
from ..timeutil import to_us

MAX_K = 200  # results per search
MAX_BATCH = 1000  # memories per batch, messages per conversation
MAX_BODY_BYTES = 4 * 1024 * 1024  # a request body
MAX_BUDGET_TOKENS = 100_000
MAX_LIST = 500  # memories per page of the timeline
MAX_SOURCES = 100
MAX_NAME = 256

Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME, pattern=r"\S")]
KIND_PATTERN = r"^[a-z][a-z0-9_\-]{0,31}$"
KIND_RULE = ("a lowercase word: a letter, then up to 31 letters, digits, '_' or '-' "
             "(episode, fact, summary or any other)")
META_KEY_PATTERN = r"^[A-Za-z0-9_\-]{1,64}$"
Kind = Annotated[str, Field(pattern=KIND_PATTERN, description="Any " + KIND_RULE[2:] + ".")]
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS, pattern=r"\S")]
def time_us(value: str | float, field: str = "time") -> int:
    """A time as the store will read it; the library's own parsing refuses what it could not
    store and read back (years outside 1..9999 once converted to UTC, overflowing numbers)."""
    return to_us(value, field=field)


def _valid_time(value: str | float) -> str | float:
    time_us(value)
    return value


TimeValue = Annotated[str | float, AfterValidator(_valid_time), Field(
    description="ISO-8601 time (2026-03-02T10:00:00Z; no offset means UTC) or epoch seconds")]
Importance = Annotated[float, Field(ge=0.0, le=1.0)]
MetaScalar = str | Annotated[int, Field(ge=-2**63, le=2**63 - 1)] | float | bool | None


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class MemoryIn(_In):
    """One memory to store."""

    text: Text
    agent: Name | None = None
    session: Name | None = None
    kind: Kind = "episode"
    time: TimeValue | None = Field(None, description="When it happened; default now.")
    metadata: dict[str, Any] | None = None
    importance: Importance | None = None
    pinned: bool = False
    expires_at: TimeValue | None = None
    valid_from: TimeValue | None = None
    sources: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None, max_length=MAX_SOURCES, description="Ids of memories of the same user it was "
        "derived from (provenance).")


class MemoryCreateIn(MemoryIn):
    """One memory to store, possibly replacing a current one."""

    supersedes: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="Id of a current memory of the same user that this one replaces: it "
        "gets valid_to (this one's valid_from) and superseded_by, stays readable with as_of "
        "and ranks below its successor.")


class BatchIn(_In):
    items: list[MemoryIn] = Field(min_length=1, max_length=MAX_BATCH)


class MessageIn(_In):
    """One conversation turn."""

    content: Text
    role: Name | None = Field(None, description="Kept as metadata.speaker.")
    speaker: Name | None = Field(None, description="Overrides role as metadata.speaker.")
    time: TimeValue | None = None
    metadata: dict[str, Any] | None = None
    importance: Importance | None = None


class ConversationIn(_In):
    session: Name
    messages: list[MessageIn] = Field(min_length=1, max_length=MAX_BATCH)
    agent: Name | None = None
    time: TimeValue | None = Field(None, description="Time of turns that carry none.")
    metadata: dict[str, Any] | None = Field(None, description="Merged into every turn's.")


class UpdateIn(_In):
    """Fields to change; at least one. The old values go into the memory's history. A field
    left out keeps its value; `expires_at: null` removes the expiry (the memory no longer
    expires)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False,
                              json_schema_extra={"minProperties": 1})

    text: Text | None = None
    metadata: dict[str, Any] | None = None
    importance: Importance | None = None
    pinned: bool | None = None
    expires_at: TimeValue | None = Field(None, description=(
        "When it expires; null removes the expiry."))
    time: TimeValue | None = None
    kind: Kind | None = None
    session: Name | None = None
    agent: Name | None = None


class _Filters(_In):
    agent: Name | None = None
    session: Name | None = None
    kinds: list[Kind] | None = Field(None, min_length=1, max_length=16)
    since: TimeValue | None = None
    until: TimeValue | None = None
    as_of: TimeValue | None = Field(None, description="Only what was valid at this time.")
    metadata: dict[Annotated[str, Field(pattern=META_KEY_PATTERN)], MetaScalar] | None \
        = Field(None, max_length=16, description="Exact matches on metadata keys.")
    now: TimeValue | None = Field(None, description=(
        "Reference time for recency and time phrases in the query, default now; with a UTC "
        "offset (2026-03-09T21:00:00-05:00), 'yesterday' is read in its calendar."))


class SearchIn(_Filters):
    query: Text
    k: int = Field(10, ge=1, le=MAX_K)
    min_relevance: float = Field(0.0, ge=0.0, le=1.0, description=(
        "Leave out memories whose relevance (probability, 0-1) is below this."))


class ContextIn(_Filters):
    query: Text
    k: int = Field(50, ge=1, le=MAX_K)
    budget_tokens: int = Field(1000, ge=1, le=MAX_BUDGET_TOKENS)
    min_relevance: float | None = Field(None, ge=0.0, le=1.0, description=(
        "Leave out memories below this relevance (default: the store's "
        "context_min_relevance); the context may then be empty."))


class ForgetIn(_In):
    """Forget by filter: a session and/or everything before a time (at least one)."""

    session: Name | None = None
    before: TimeValue | None = None


# -- responses ---------------------------------------------------------------------------------
class MemoryOut(BaseModel):
    id: str
    user: str
    text: str
    kind: str
    time: datetime
    recorded_at: datetime
    agent: str | None = None
    session: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    importance: float | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    superseded_by: str | None = None
    sources: list[str] = Field(default_factory=list)
    access_count: int = 0
    last_accessed: datetime | None = None
    pinned: bool = False
    expires_at: datetime | None = None
    seq: int | None = None

    @classmethod
    def of(cls, m: Memory) -> MemoryOut:
        return cls(id=m.id, user=m.user, text=m.text, kind=m.kind, time=m.time,
                   recorded_at=m.recorded_at, agent=m.agent, session=m.session,
                   metadata=m.metadata, importance=m.importance, valid_from=m.valid_from,
                   valid_to=m.valid_to, superseded_by=m.superseded_by, sources=list(m.sources),
                   access_count=m.access_count, last_accessed=m.last_accessed, pinned=m.pinned,
                   expires_at=m.expires_at, seq=m.seq)


class MemoriesOut(BaseModel):
    memories: list[MemoryOut]
    next_before: str | None = Field(None, description="Pass as `before` for the next page.")


class HitOut(BaseModel):
    memory: MemoryOut
    score: float
    relevance: float = Field(description=(
        "Probability (0-1) that the memory is evidence for the query; hits are ranked by it."))
    signals: dict[str, float] = Field(description="Per-signal scores that made `score`.")

    @classmethod
    def of(cls, h: Hit) -> HitOut:
        def finite(x: float) -> float:
            return x if math.isfinite(x) else 0.0
        return cls(memory=MemoryOut.of(h.memory), score=finite(float(h.score)),
                   relevance=min(1.0, max(0.0, finite(float(h.relevance)))),
                   signals={k: finite(float(v)) for k, v in h.signals.items()})


class SearchOut(BaseModel):
    hits: list[HitOut]


class ContextOut(BaseModel):
    context: str


class ReceiptOut(BaseModel):
    count: int
    ids_by_kind: dict[str, list[str]]
    at: datetime

    @classmethod
    def of(cls, r: ForgetReceipt) -> ReceiptOut:
        return cls(count=r.count, ids_by_kind=r.ids_by_kind, at=r.at)


class HistoryEventOut(BaseModel):
    memory_id: str
    event: str
    at: datetime
    data: dict[str, Any] | None = None

    @classmethod
    def of(cls, e: HistoryEvent) -> HistoryEventOut:
        return cls(memory_id=e.memory_id, event=e.event, at=e.at, data=e.data)


class HistoryOut(BaseModel):
    events: list[HistoryEventOut]


class SessionOut(BaseModel):
    session: str
    count: int
    first: datetime
    last: datetime


class DayCount(BaseModel):
    day: str = Field(description="YYYY-MM-DD (UTC)")
    count: int


class UserStatsOut(BaseModel):
    user: str
    memories: int
    by_kind: dict[str, int]
    sessions: list[SessionOut]
    per_day: list[DayCount]


class StoreStatsOut(BaseModel):
    memories: int
    users: int
    by_kind: dict[str, int]
    deleted_total: int
    bytes_on_disk: int
    embedder: str
    dim: int | None = None


class HealthOut(BaseModel):
    status: str
    version: str
    auth: str = Field(description="'keys' when requests need an API key, 'open' otherwise")


class MeOut(BaseModel):
    key_id: str
    users: list[str] = Field(description="Users this key reaches; '*' means every user.")
    rights: list[str]
    auth: str


class UsersOut(BaseModel):
    users: list[str]


class ErrorOut(BaseModel):
    error: str = Field(description="A stable code: invalid_input, not_found, forbidden, ...")
    message: str
    field: str | None = None
