"""Any OpenAI-compatible ``/v1/embeddings`` endpoint (OpenAI, Ollama, vLLM, llama.cpp, TEI...)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

import httpx
import numpy as np

from ..errors import EmbedderError
from . import normalize_rows


class EmbeddingServiceError(EmbedderError):
    """The embeddings endpoint failed or answered something unusable."""


class OpenAIEmbedder:
    def __init__(self, base_url: str, model: str, *, api_key_env: str = "LTM_EMBED_API_KEY",
                 timeout: float = 30.0, retries: int = 3, batch_size: int = 256) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.retries = retries
        self.batch_size = batch_size
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.client = httpx.Client(timeout=timeout, headers=headers)
        self.dim = int(self._request(["dimension probe"]).shape[1])
        self.name = f"openai:{model}:{self.dim}"

    def _request(self, texts: list[str]) -> np.ndarray:
        delay = 0.5
        for attempt in range(self.retries + 1):
            try:
                resp = self.client.post(f"{self.base_url}/embeddings",
                                        json={"model": self.model, "input": texts})
                if resp.status_code < 500 and resp.status_code != 429:
                    resp.raise_for_status()
                    data = sorted(resp.json()["data"], key=lambda d: d["index"])
                    return np.asarray([d["embedding"] for d in data], dtype=np.float32)
                reason = f"HTTP {resp.status_code}"
            except httpx.HTTPStatusError as exc:
                raise EmbeddingServiceError(
                    f"{self.base_url}/embeddings answered {exc.response.status_code}: "
                    f"{exc.response.text[:200]}") from None
            except (httpx.TransportError, KeyError, TypeError, ValueError) as exc:
                reason = str(exc) or type(exc).__name__
            if attempt < self.retries:
                time.sleep(delay)
                delay *= 2
        raise EmbeddingServiceError(f"{self.base_url}/embeddings failed: {reason}")

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        parts = [self._request(list(texts[i:i + self.batch_size]))
                 for i in range(0, len(texts), self.batch_size)]
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(np.concatenate(parts))
