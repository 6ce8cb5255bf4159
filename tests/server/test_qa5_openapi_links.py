"""The OpenAPI links from a created memory name operations that exist: they named get_memory,
update_memory, memory_history and forget_memory after those operations became getMemory,
updateMemory, getMemoryHistory and forgetMemory, so schemathesis's stateful phase (`ltm bench
fuzz --phases stateful`) refused the schema ('Invalid OpenAPI Links Definition') and never ran."""

from __future__ import annotations

import json

import httpx
from server_support import Served

from ltm.server.app import OPENAPI_PATH


def _links(schema: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    out = []
    for path, item in schema["paths"].items():
        for op in item.values():
            for response in op.get("responses", {}).values():
                for link in response.get("links", {}).values():
                    out.append((path, link["operationId"]))
    return out


def test_every_link_names_an_operation(served: Served) -> None:
    served_schema = httpx.get(served.url + "/openapi.json").json()
    committed = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    for schema in (served_schema, committed):
        ids = {op["operationId"] for item in schema["paths"].values() for op in item.values()}
        links = _links(schema)
        assert len(links) >= 8
        assert {target for _, target in links} <= ids, sorted(
            {target for _, target in links} - ids)
