"""Query parameters are checked like body fields: an unknown one (a typo such as ?sesion=)
or one given twice is a 422 that names it, instead of being ignored (the timeline then listed
every session, and ?kind=a&kind=b silently filtered on b only). The page's own URLs work."""

from __future__ import annotations

import pytest
from server_support import Served

U = "/v1/users/alice"


@pytest.mark.parametrize("path, name", [
    (U + "/memories?sesion=work", "sesion"),
    (U + "/memories?kinds=fact", "kinds"),
    (U + "/memories?limit=5&offset=10", "offset"),
    (U + "/memories?kind=fact&kind=episode", "kind"),
    (U + "/stats?user=bob", "user"),
    (U + "/export?embedings=true", "embedings"),
    ("/v1/me?x=1", "x"),
])
def test_unknown_or_repeated_query_parameters_are_422(served: Served, path: str,
                                                      name: str) -> None:
    with served.client("alice") as c:
        r = c.get(path)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_input" and body["field"] == name
    assert repr(name) in body["message"]


def test_known_query_parameters_and_the_page_still_work(served: Served) -> None:
    with served.client("alice") as c:
        assert c.post(U + "/memories", json={"text": "query params note",
                                             "session": "qp"}).status_code == 201
        r = c.get(U + "/memories", params={"limit": 50, "kind": "episode", "session": "qp",
                                           "since": "2000-01-01", "until": "2100-01-01"})
        assert r.status_code == 200 and r.json()["memories"][0]["text"] == "query params note"
        assert c.get(U + "/export", params={"embeddings": "false"}).status_code == 200
        assert c.get("/?utm_source=x").status_code == 200  # the page is not an API route
        assert c.get("/static/app.js?v=2").status_code == 200
        assert c.get("/v1/health?probe=liveness").status_code == 200
