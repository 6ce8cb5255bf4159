"""The MCP server: tools ``remember``, ``recall``, ``forget``, ``context``, ``recent`` and a
resource of recent memories, over stdio (``ltm mcp``, or streamable HTTP with ``ltm mcp
--transport http``) or streamable HTTP (``/mcp`` under ``ltm serve``).

Every tool acts for one user. Over stdio the user is the one given to ``ltm mcp --user`` (or the
``user`` argument when the server was started without one). Over HTTP the caller's API key
(``Authorization: Bearer ltm_...``) decides which users it may name, exactly as in the REST API.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ToolError
from pydantic import Field, ValidationError

from .. import __version__
from ..errors import InvalidInput, LtmError, NotFound, ScopeError
from ..store import MemoryStore
from .auth import ALL_USERS, ApiKey

log = logging.getLogger(__name__)

#: Turns the request headers (None over stdio) into what the caller may do; raises ToolError.
Resolver = Callable[[Mapping[str, str] | None], ApiKey]

INSTRUCTIONS = """\
Long-term memory for the user you are helping. Call `recall` (or `context` for a ready-made \
prompt block) before answering anything that may depend on earlier conversations: names, \
preferences, plans, facts the user told you. Call `remember` for anything worth knowing next \
time, one self-contained statement per call, with the time it happened when known. Call \
`forget` when the user asks you to forget something."""


# tool parameters shared by several tools, each with the description an agent reads
UserArg = Annotated[str | None, Field(description=(
    "The user whose memories to use. Leave it out when the server acts for one user "
    "(`ltm mcp --user`, or an API key for exactly one user)."))]
KindsArg = Annotated[list[str] | str | None, Field(description=(
    "Only memories of these kinds, e.g. ['fact'] or 'fact' (episode, fact, summary or "
    "another lowercase word)."))]
SinceArg = Annotated[str | None, Field(description=(
    "Only memories that happened at or after this time (ISO-8601, e.g. 2026-03-02 or "
    "2026-03-02T10:00:00Z; no offset means UTC)."))]
UntilArg = Annotated[str | None, Field(description=(
    "Only memories that happened at or before this time (ISO-8601)."))]
NowArg = Annotated[str | None, Field(description=(
    "Your current time with its UTC offset (ISO-8601, e.g. 2026-03-09T21:00:00-05:00): time "
    "phrases in the query ('yesterday', 'last week') are read in its calendar. Default: the "
    "server's clock, in UTC."))]
QueryArg = Annotated[str, Field(description=(
    "What to look for, in plain words (a question or keywords)."))]


def _headers(ctx: Context | None) -> Mapping[str, str] | None:
    if ctx is None:
        return None
    try:
        return ctx.headers
    except ValueError:  # no request (called outside a session)
        return None


def _pick_user(principal: ApiKey, user: str | None, right: str) -> str:
    if user is None:
        named = [u for u in principal.users if u != ALL_USERS]
        if len(named) != 1 or ALL_USERS in principal.users:
            raise ToolError("say which user: this server serves more than one, pass `user`")
        user = named[0]
    if user == ALL_USERS:  # as in REST: '*' stands for every user in keys, it names none
        raise ToolError("invalid input: '*' is not a user name: it stands for every user in "
                        "API keys")
    if not principal.covers(user):
        raise ToolError(f"no access to user {user!r}")
    if right not in principal.rights:
        raise ToolError(f"not allowed: the {right} right is needed")
    return user


def _fail(exc: LtmError) -> ToolError:
    if isinstance(exc, NotFound):
        return ToolError(f"not found: {exc}")
    if isinstance(exc, (InvalidInput, ScopeError)):
        return ToolError(f"invalid input: {exc}")
    return ToolError(str(exc))


def _times(**values: str | None) -> None:
    from .models import time_us

    for field, value in values.items():
        if value is not None:
            try:
                time_us(value, field)
            except InvalidInput as exc:
                raise ToolError(f"invalid input: {exc}") from None


# numeric tool arguments, which a boolean is not (the library and REST refuse one too)
_NUMBERS = {"k": "an integer", "limit": "an integer", "budget_tokens": "an integer",
            "importance": "a number", "min_relevance": "a number"}


def _iso(t: Any) -> str:
    return str(t.isoformat().replace("+00:00", "Z"))


def _short(m: Any, score: float | None = None) -> dict[str, Any]:
    out = {"id": m.id, "text": m.text, "time": _iso(m.time), "kind": m.kind,
           "session": m.session}
    # when a fact held (its time is when it was recorded), and whether a newer one replaced
    # it: without them an agent cannot tell an outdated fact from the current one
    if m.kind != "episode" and m.valid_from is not None and m.valid_from != m.time:
        out["valid_from"] = _iso(m.valid_from)
    if m.valid_to is not None:
        out["valid_to"] = _iso(m.valid_to)
    if m.superseded_by is not None:
        out["superseded_by"] = m.superseded_by
    if m.metadata.get("speaker"):
        out["speaker"] = m.metadata["speaker"]
    if score is not None:
        out["relevance"] = round(float(score), 4)
    return out


def _nothing_relevant(floor: float) -> str:
    return f"No stored memory is relevant to this query (none reached relevance {floor:g})."


def recent(store: MemoryStore, user: str, limit: int = 20) -> list[Any]:
    """The user's ``limit`` most recent memories (by time), newest first."""
    return store.list(user, limit=limit).memories


def build_mcp(store: MemoryStore, resolve: Resolver, *, name: str = "ltm",
              static_recent: bool = False) -> MCPServer:
    """An MCP server over ``store``; ``resolve`` authorises each call. ``static_recent`` adds
    ``memories://recent`` for a server that acts for one fixed user (stdio)."""
    server: MCPServer = MCPServer(name, instructions=INSTRUCTIONS, version=__version__,
                                  log_level="WARNING")

    def who(ctx: Context | None, user: str | None, right: str) -> str:
        return _pick_user(resolve(_headers(ctx)), user, right)

    sdk_call_tool = server.call_tool
    takes: dict[str, set[str]] = {}  # tool -> its argument names (read on the first call)

    async def call_tool(name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        """The SDK's call, with arguments of the wrong type said in plain words, as REST
        says them, instead of pydantic's dump ('1 validation error for recallArguments'),
        and an argument the tool does not take refused (as REST refuses an unknown field):
        the SDK dropped it, so an agent's 'limit' for recall's 'k' went unnoticed."""
        if not takes:
            takes.update({t.name: set((t.input_schema or {}).get("properties") or ())
                          for t in await server.list_tools()})
        unknown = sorted(set(arguments or {}) - takes[name], key=str) if name in takes else []
        if unknown:
            raise ToolError(f"Error executing tool {name}: invalid input: unknown argument "
                            f"{unknown[0]!r} ({name} takes {', '.join(sorted(takes[name]))})")
        for arg, kind in _NUMBERS.items():  # (pydantic's lax mode reads true as 1)
            if isinstance((arguments or {}).get(arg), bool):
                raise ToolError(f"Error executing tool {name}: invalid input: {arg} must be "
                                f"{kind}, not true or false")
        try:
            return await sdk_call_tool(name, arguments, context)
        except ToolError as exc:
            if not isinstance(exc.__cause__, ValidationError):
                raise
            from .messages import plain_errors

            # (located as in a request body: an argument named 'query' is no location; a
            # union member's tag such as 'list[str]' is no field)
            message, _ = plain_errors([
                {**e, "loc": ("body", *(p for p in e["loc"] if "[" not in str(p)))}
                for e in exc.__cause__.errors()])
            raise ToolError(f"Error executing tool {name}: invalid input: {message}") from None

    server.call_tool = call_tool  # type: ignore[method-assign]

    @server.tool(description=(
        "Store one memory about the user so it can be recalled in later conversations. "
        "Write a self-contained statement ('Alice moved to Lisbon in March 2026'), not a "
        "fragment. `time` is when it happened (ISO-8601, default now); `kind` is 'episode' "
        "(something said or done) or 'fact' (a stable truth); `session` groups a conversation; "
        "`supersedes` names the id of a memory this one replaces (a fact that changed: the old "
        "one stays in the history and ranks below it). Returns the new memory's id."))
    def remember(
        text: Annotated[str, Field(description=(
            "The memory: one self-contained statement, e.g. 'Alice moved to Lisbon in "
            "March 2026'."))],
        user: UserArg = None,
        session: Annotated[str | None, Field(description=(
            "The conversation it belongs to (any label); recall and forget can narrow to "
            "it."))] = None,
        kind: Annotated[str, Field(description=(
            "'episode' (something said or done), 'fact' (a stable truth), 'summary', or "
            "another lowercase word."))] = "episode",
        time: Annotated[str | None, Field(description=(
            "When it happened (ISO-8601, e.g. 2026-03-02T10:00:00Z; no offset means UTC); "
            "default now."))] = None,
        importance: Annotated[float | None, Field(description=(
            "How much it matters, 0 to 1 (higher ranks higher and is kept longer); default "
            "unset."))] = None,
        metadata: Annotated[dict[str, Any] | None, Field(description=(
            "Extra JSON fields kept with the memory, e.g. {\"speaker\": \"user\"}."))] = None,
        supersedes: Annotated[str | None, Field(description=(
            "Id of a current memory of the user that this one replaces (from recall), e.g. "
            "the old job when the user changed jobs."))] = None,
        ctx: Context | None = None) -> dict[str, Any]:
        u = who(ctx, user, "write")
        _times(time=time)
        try:
            m = store.add(text, user=u, session=session, kind=kind, time=time,
                          importance=importance, metadata=metadata, supersedes=supersedes)
        except LtmError as exc:
            raise _fail(exc) from None
        return {"id": m.id, "time": _short(m)["time"], "user": u}

    @server.tool(description=(
        "Search the user's memories for what is relevant to `query` (hybrid full-text + "
        "semantic search). Returns up to `k` memories, best first, each with id, text, time, "
        "kind, session and relevance (the probability, 0-1, that it bears on the query); a "
        "fact also with when it held (`valid_from`, `valid_to`) and, once replaced, the id "
        "of the fact that replaced it (`superseded_by`: it is outdated). "
        "Only memories with relevance >= `min_relevance` (default: the store's "
        "context_min_relevance) are returned; when none is, the answer is one entry whose "
        "`note` says that nothing stored is relevant. Narrow with `session`, `kinds` (e.g. "
        "['fact']), `since` / `until` (ISO-8601). Use the ids with `forget`."))
    def recall(
        query: QueryArg,
        user: UserArg = None,
        k: Annotated[int, Field(description="How many memories at most, 1 to 50.")] = 5,
        session: Annotated[str | None, Field(description=(
            "Only memories of this conversation (the session given to remember)."))] = None,
        kinds: KindsArg = None,
        since: SinceArg = None,
        until: UntilArg = None,
        min_relevance: Annotated[float | None, Field(description=(
            "Leave out memories whose relevance (0-1) is below this; default: the "
            "store's context_min_relevance."))] = None,
        now: NowArg = None,
        ctx: Context | None = None) -> list[dict[str, Any]]:
        u = who(ctx, user, "read")
        if isinstance(k, bool) or not 1 <= k <= 50:
            raise ToolError("invalid input: k must be between 1 and 50")
        _times(since=since, until=until, now=now)
        floor = store.settings.context_min_relevance if min_relevance is None \
            else min_relevance
        try:
            hits = store.search(query, user=u, k=k, session=session, kinds=kinds, since=since,
                                until=until, min_relevance=floor, now=now)
        except LtmError as exc:
            raise _fail(exc) from None
        if not hits:
            return [{"note": _nothing_relevant(floor)}]
        return [_short(h.memory, h.relevance) for h in hits]

    @server.tool(description=(
        "Get a prompt-ready block of the user's memories relevant to `query`, packed into "
        "`budget_tokens` tokens, in chronological order with dates and session labels. Paste "
        "it into your reasoning before answering. Only memories with relevance >= "
        "`min_relevance` (default: the store's context_min_relevance) go in; when none does, "
        "the answer is a one-line note saying that nothing stored is relevant."))
    def context(
        query: QueryArg,
        user: UserArg = None,
        budget_tokens: Annotated[int, Field(description=(
            "The most tokens the block may take, 1 to 100000."))] = 800,
        min_relevance: Annotated[float | None, Field(description=(
            "Leave out memories whose relevance (0-1) is below this; default: the "
            "store's context_min_relevance."))] = None,
        now: NowArg = None,
        ctx: Context | None = None) -> str:
        u = who(ctx, user, "read")
        if isinstance(budget_tokens, bool) or not 1 <= budget_tokens <= 100_000:
            raise ToolError("invalid input: budget_tokens must be between 1 and 100000")
        _times(now=now)
        floor = store.settings.context_min_relevance if min_relevance is None \
            else min_relevance
        try:
            block = store.context(query, user=u, budget_tokens=budget_tokens,
                                  min_relevance=floor, now=now)
            if block:
                return block
            # (a look, not a retrieval: the agent gets none of it)
            if store.search(query, user=u, k=1, min_relevance=floor, now=now,
                            count_access=False):
                return (f"The relevant memories do not fit in {budget_tokens} tokens; ask "
                        "again with a larger budget_tokens.")
        except LtmError as exc:
            raise _fail(exc) from None
        return _nothing_relevant(floor)

    @server.tool(description=(
        "Erase memories of the user for good: one memory by `memory_id` (from `recall`), or "
        "a whole conversation by `session`. Give exactly one. The text is removed, only a "
        "content-free record of the deletion stays. Returns how many memories were erased."))
    def forget(
        memory_id: Annotated[str | None, Field(description=(
            "The id of the memory to erase (from recall or recent)."))] = None,
        session: Annotated[str | None, Field(description=(
            "Erase every memory of this conversation instead."))] = None,
        user: UserArg = None,
        ctx: Context | None = None) -> dict[str, Any]:
        u = who(ctx, user, "write")
        if (memory_id is None) == (session is None):
            raise ToolError("invalid input: give exactly one of memory_id or session")
        try:
            receipt = store.forget(memory_id, user=u, session=session)
        except LtmError as exc:
            raise _fail(exc) from None
        return {"forgotten": receipt.count, "ids": receipt.ids}

    @server.tool(name="recent", description=(
        "List the user's memories by time, newest first, without a query: what was said or "
        "learned most recently. Up to `limit` (1-100) memories, each with id, text, time, "
        "kind and session; narrow with `session`, `kinds`, `since` / `until` (ISO-8601). "
        "Pass the returned `next_cursor` as `cursor` for older ones (null: no more)."))
    def recent_tool(
        user: UserArg = None,
        limit: Annotated[int, Field(description="How many memories at most, 1 to 100.")] = 20,
        session: Annotated[str | None, Field(description=(
            "Only memories of this conversation."))] = None,
        kinds: KindsArg = None,
        since: SinceArg = None,
        until: UntilArg = None,
        cursor: Annotated[str | None, Field(description=(
            "The next_cursor of the previous answer, for older memories."))] = None,
        ctx: Context | None = None) -> dict[str, Any]:
        u = who(ctx, user, "read")
        if isinstance(limit, bool) or not 1 <= limit <= 100:
            raise ToolError("invalid input: limit must be between 1 and 100")
        _times(since=since, until=until)
        try:
            page = store.list(u, limit=limit, session=session, kinds=kinds, since=since,
                              until=until, cursor=cursor)
        except LtmError as exc:
            raise _fail(exc) from None
        return {"memories": [_short(m) for m in page], "next_cursor": page.next_cursor}

    @server.resource("memories://{user}/recent", mime_type="application/json",
                     description="The user's 20 most recent memories, newest first (JSON).")
    def recent_memories(user: str, ctx: Context) -> str:
        try:
            u = who(ctx, user, "read")
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps([_short(m) for m in recent(store, u)], ensure_ascii=False)

    if not static_recent:
        return server

    # stdio only: a static resource gets no request context, so it can only serve the user
    # the process was started for
    @server.resource("memories://recent", mime_type="application/json",
                     description="The 20 most recent memories of the user this server acts "
                     "for, newest first (JSON).")
    def recent_default() -> str:
        try:
            u = who(None, None, "read")
        except ToolError as exc:
            raise ResourceError(str(exc)) from None
        return json.dumps([_short(m) for m in recent(store, u)], ensure_ascii=False)

    return server
