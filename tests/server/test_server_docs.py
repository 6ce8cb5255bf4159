"""/docs works offline (Swagger UI from the swagger-ui-bundle package, no CDN); the schema
declares its security schemes and has readable operation ids."""

from __future__ import annotations

import re

import httpx
from server_support import Served


def test_docs_page_and_its_assets_come_from_this_server(served: Served) -> None:
    r = httpx.get(served.url + "/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    urls = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    assert urls and all(u.startswith("/") for u in urls), urls  # nothing from a CDN
    for u in urls:
        got = httpx.get(served.url + u)
        assert got.status_code == 200 and len(got.content) > 100, u


def test_schema_declares_security_and_readable_operation_ids(served: Served) -> None:
    schema = httpx.get(served.url + "/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"]["in"] == "header" and schemes["apiKey"]["name"] == "X-API-Key"
    ops = {op["operationId"]: (path, method) for path, item in schema["paths"].items()
           for method, op in item.items()}
    for name in ("createMemory", "searchMemories", "getMemory", "listMemories", "forgetMemory",
                 "buildContext", "updateMemory", "getMemoryHistory", "forgetUser"):
        assert name in ops, sorted(ops)
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", name) for name in ops), sorted(ops)
    health = schema["paths"]["/v1/health"]["get"]
    assert "security" not in health
    assert schema["paths"]["/v1/users/{user}/search"]["post"]["security"] == \
        [{"bearer": []}, {"apiKey": []}]
