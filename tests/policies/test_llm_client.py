"""The OpenAI-compatible client against a real loopback HTTP server."""

from __future__ import annotations

import pytest
from _policy_fake_llm import FakeLLM

from ltm.llm import LLMClient, LLMError, LLMUnavailable, SchemaError, parse_json, validate
from ltm.prompts import ALL, EXTRACT_FACTS, by_id

SCHEMA = {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}


def test_json_round_trip_sends_model_key_and_json_mode(fake_llm: FakeLLM,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_LLM_KEY", "sekret")
    fake_llm.on("*", "", {"n": 3})
    with LLMClient(fake_llm.url, "m1", api_key_env="TEST_LLM_KEY", retries=0) as llm:
        data, done = llm.complete_json([{"role": "user", "content": "hi"}], SCHEMA)
    assert data == {"n": 3}
    assert done.tokens == 120 and llm.tokens_used == 120
    req = fake_llm.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["auth"] == "Bearer sekret"
    assert req["body"]["model"] == "m1"
    assert req["body"]["response_format"] == {"type": "json_object"}


def test_invalid_answer_is_repaired_once_then_fails(fake_llm: FakeLLM) -> None:
    fake_llm.on("*", "corrected", {"n": 5})
    fake_llm.on("*", "", {"n": "five"}, times=1)
    with LLMClient(fake_llm.url, "m", retries=0) as llm:
        data, done = llm.complete_json([{"role": "user", "content": "q"}], SCHEMA)
        assert data == {"n": 5} and done.tokens == 240
        fake_llm.on("*", "", "not json at all")
        fake_llm.rules = fake_llm.rules[-1:]
        with pytest.raises(SchemaError):
            llm.complete_json([{"role": "user", "content": "q"}], SCHEMA)


def test_retries_server_errors_with_backoff(fake_llm: FakeLLM) -> None:
    fake_llm.on("*", "", status=503, times=2)
    fake_llm.on("*", "", {"n": 1})
    with LLMClient(fake_llm.url, "m", retries=2, backoff=0.01) as llm:
        data, _ = llm.complete_json([{"role": "user", "content": "x"}], SCHEMA)
    assert data == {"n": 1}
    assert len(fake_llm.requests) == 3


def test_client_error_is_not_retried(fake_llm: FakeLLM) -> None:
    fake_llm.on("*", "", status=401)
    with LLMClient(fake_llm.url, "m", retries=3, backoff=0.01) as llm:
        with pytest.raises(LLMError, match="401"):
            llm.complete([{"role": "user", "content": "x"}])
    assert len(fake_llm.requests) == 1


def test_down_endpoint_raises_unavailable_naming_it(dead_url: str) -> None:
    with LLMClient(dead_url, "m", retries=1, backoff=0.01, timeout=2) as llm:
        with pytest.raises(LLMUnavailable) as info:
            llm.complete([{"role": "user", "content": "x"}])
    assert dead_url in str(info.value) and "2 attempts" in str(info.value)


def test_schema_subset() -> None:
    schema = EXTRACT_FACTS.schema
    validate({"facts": [{"text": "a", "sources": ["x"], "valid_from": None}]}, schema)
    with pytest.raises(SchemaError, match=r"\$\.facts\[0\]"):
        validate({"facts": [{"text": 1, "sources": []}]}, schema)
    with pytest.raises(SchemaError, match="missing"):
        validate({}, schema)
    with pytest.raises(SchemaError):
        validate({"n": True}, SCHEMA)  # a bool is not an integer
    assert parse_json('```json\n{"n": 2}\n```', SCHEMA) == {"n": 2}


def test_prompts_are_versioned_and_unique() -> None:
    ids = [p.id for p in ALL]
    assert len(set(ids)) == len(ids)
    for p in ALL:
        assert by_id(p.id) is p
        first = p.messages({"x": 1})[0]["content"].split("\n", 1)[0]
        assert first == f"ltm-prompt: {p.name}/v{p.version}"
