"""A small client for any OpenAI-compatible chat endpoint (OpenAI, Ollama, vLLM, llama.cpp ...).

It posts to ``{base_url}/chat/completions``, retries transport errors, 429 and 5xx with
exponential backoff, and in JSON mode parses the answer and validates it against a small JSON
schema (the subset ltm's prompts use: type, properties, required, items, enum). The API key is
read from an environment variable and never stored.

    client = LLMClient("http://127.0.0.1:11434/v1", "llama3.1")
    data = client.complete_json([{"role": "user", "content": "..."}], schema)
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

from .errors import LtmError

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger(__name__)


MAX_BACKOFF_S = 30.0  # at most this long between two tries (or the timeout, when shorter)


class LLMError(LtmError):
    """The LLM endpoint answered, but not with something usable (bad status, bad JSON)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class LLMUnavailable(LLMError):
    """The LLM endpoint could not be reached (down, refused, timed out) after all retries."""


class SchemaError(LLMError):
    """The LLM's JSON answer does not match the expected schema."""


@dataclass(frozen=True)
class Completion:
    """One chat answer: its text and the tokens it cost (from ``usage`` or estimated)."""

    text: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def estimate_tokens(text: str) -> int:
    """About 4 characters per token: used when the endpoint reports no usage."""
    return max(1, len(text) // 4)


class LLMClient:
    """Chat completions against ``base_url`` (the part before ``/chat/completions``)."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "LTM_LLM_API_KEY",
                 timeout: float = 60.0, retries: int = 3, backoff: float = 0.5,
                 json_mode: bool = True, temperature: float = 0.0) -> None:
        try:
            host = httpx.URL(base_url).host
        except httpx.InvalidURL:  # "http://[::1" (an unclosed address), a bad port
            host = ""
        if not base_url.startswith(("http://", "https://")) or not host:
            raise LLMError(f"LLM base URL must start with http:// or https://, then a host, "
                           f"got {base_url!r}", url=base_url)
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.backoff = backoff
        # the longest wait between tries: doubling without end made llm_retries = 20 (allowed
        # up to 100) wait six days before reporting the endpoint down
        self.max_delay = max(backoff, min(MAX_BACKOFF_S, timeout))
        self.json_mode = json_mode
        self.temperature = temperature
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)
        self.tokens_used = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> LLMClient | None:
        """The client the settings describe, or None when no ``llm_url`` is configured."""
        if not settings.llm_url:
            return None
        return cls(settings.llm_url, settings.llm_model, api_key_env=settings.llm_api_key_env,
                   timeout=settings.llm_timeout_s, retries=settings.llm_retries)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        return f"{self.base_url}/chat/completions"

    def complete(self, messages: Sequence[Mapping[str, str]], *, json_mode: bool | None = None,
                 max_tokens: int | None = None) -> Completion:
        """One chat completion. Raises ``LLMUnavailable`` when the endpoint cannot be reached
        after all retries and ``LLMError`` when it answers with a client error or garbage."""
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in messages],
                                "temperature": self.temperature}
        if json_mode if json_mode is not None else self.json_mode:
            body["response_format"] = {"type": "json_object"}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        delay = self.backoff
        reason = "no attempt"
        for attempt in range(self.retries + 1):
            try:
                resp = self._client.post(self.url, json=body)
            except httpx.TransportError as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if resp.status_code == 429 or resp.status_code >= 500:
                    reason = f"HTTP {resp.status_code}"
                elif resp.status_code >= 400:
                    raise LLMError(f"{self.url} answered HTTP {resp.status_code}: "
                                   f"{resp.text[:300]}", url=self.url)
                else:
                    return self._parse(resp, messages)
            if attempt < self.retries:
                log.warning("LLM request to %s failed (%s); retry %d/%d in %.1fs", self.url,
                            reason, attempt + 1, self.retries, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.max_delay)
        raise LLMUnavailable(f"the LLM endpoint {self.url} is unavailable after "
                             f"{self.retries + 1} attempts ({reason})", url=self.url)

    def _parse(self, resp: httpx.Response, messages: Sequence[Mapping[str, str]]) -> Completion:
        try:
            data = resp.json()
            text = data["choices"][0]["message"]["content"]
            if not isinstance(text, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"{self.url} answered something that is not a chat completion: "
                           f"{exc}", url=self.url) from None
        usage = data.get("usage") if isinstance(data, dict) else None
        if isinstance(usage, dict) and isinstance(usage.get("prompt_tokens"), int):
            prompt, completion = usage["prompt_tokens"], int(usage.get("completion_tokens") or 0)
        else:
            prompt = sum(estimate_tokens(m.get("content", "")) for m in messages)
            completion = estimate_tokens(text)
        self.tokens_used += prompt + completion
        return Completion(text, prompt, completion)

    def complete_json(self, messages: Sequence[Mapping[str, str]],
                      schema: Mapping[str, Any]) -> tuple[Any, Completion]:
        """A JSON answer validated against ``schema``; one repair attempt when it is not valid
        JSON or does not match (the error goes back to the model)."""
        done = self.complete(messages, json_mode=True)
        try:
            return parse_json(done.text, schema), done
        except SchemaError as exc:
            log.info("LLM answer did not match the schema (%s); asking once more", exc)
            retry = [*messages, {"role": "assistant", "content": done.text},
                     {"role": "user", "content": f"That answer is invalid: {exc}. Reply with "
                                                 "only the corrected JSON object."}]
            again = self.complete(retry, json_mode=True)
            total = Completion(again.text, done.prompt_tokens + again.prompt_tokens,
                               done.completion_tokens + again.completion_tokens)
            return parse_json(again.text, schema), total


def parse_json(text: str, schema: Mapping[str, Any]) -> Any:
    """Parse a model's JSON answer (tolerating a Markdown code fence) and validate it."""
    body = text.strip()
    if body.startswith("```"):
        body = body.split("\n", 1)[1] if "\n" in body else ""
        body = body.rsplit("```", 1)[0]
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise SchemaError(f"not valid JSON: {exc}") from None
    validate(value, schema)
    return value


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "array": (list,), "string": (str,), "integer": (int,),
    "number": (int, float), "boolean": (bool,), "null": (type(None),)}


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> None:
    """Check ``value`` against a JSON-schema subset: type (name or list), properties,
    required, items, enum, minimum/maximum. Raises ``SchemaError`` naming the path."""
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        ok = False
        for name in names:
            py = _TYPES[name]
            if isinstance(value, bool) and name in ("integer", "number"):
                continue
            if isinstance(value, py):
                ok = True
                break
        if not ok:
            raise SchemaError(f"{path} should be {' or '.join(names)}, "
                              f"got {type(value).__name__}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaError(f"{path} should be one of {schema['enum']}, got {value!r}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaError(f"{path} should be >= {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaError(f"{path} should be <= {schema['maximum']}")
    if isinstance(value, dict):
        for key in schema.get("required", ()):
            if key not in value:
                raise SchemaError(f"{path} is missing {key!r}")
        for key, sub in schema.get("properties", {}).items():
            if key in value:
                validate(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            validate(item, schema["items"], f"{path}[{i}]")
