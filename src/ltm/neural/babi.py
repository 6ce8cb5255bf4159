"""bAbI QA tasks 1-20 (Weston et al. 2015): parsing, vocabulary, tensors.

The data directory holds ``qaN_<name>_{train,test}.txt`` (``en/`` is the 1k setting,
``en-10k/`` the 10k one). It comes from ``--data``, else ``$LTM_BABI_DIR``, else
``../shared/data/babi/en`` relative to the working directory.

Format: ``<n> <sentence>`` facts; ``<n> <question>\\t<answer>\\t<supporting ids>`` questions;
``n`` restarts at 1 for each new story. Questions are not stored as memories.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

DEFAULT_DIR = Path("..") / "shared" / "data" / "babi" / "en"
ENV_VAR = "LTM_BABI_DIR"
NIL = "<nil>"

_TOKEN = re.compile(r"[A-Za-z0-9,]+")


def resolve_data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """``path`` if given, else ``$LTM_BABI_DIR``, else ``../shared/data/babi/en``. The data
    set's folder (task files in ``en/``, ``en-10k/``) stands for its 1k setting, ``en``."""
    chosen = Path(path) if path else Path(os.environ.get(ENV_VAR) or DEFAULT_DIR)
    if not chosen.is_dir():
        raise FileNotFoundError(
            f"bAbI directory {chosen} not found; pass --data DIR or set {ENV_VAR}")
    if not any(chosen.glob("qa*_*.txt")) and any((chosen / "en").glob("qa*_*.txt")):
        return chosen / "en"
    return chosen


def tokenize(text: str) -> list[str]:
    """Lower-cased words; punctuation dropped (``n,w`` answers stay one token)."""
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass
class Sample:
    story: list[list[str]]  # facts before the question, oldest first
    question: list[str]
    answer: str
    supporting: list[int] = field(default_factory=list)  # indices into ``story``


def parse_babi(lines: list[str] | str) -> list[Sample]:
    """Parse bAbI text into samples (one per question)."""
    if isinstance(lines, str):
        lines = lines.splitlines()
    samples: list[Sample] = []
    story: list[list[str]] = []
    line_to_idx: dict[int, int] = {}
    for raw in lines:
        raw = raw.rstrip("\n")
        if not raw.strip():
            continue
        num_str, _, rest = raw.strip().partition(" ")
        num = int(num_str)
        if num == 1:
            story, line_to_idx = [], {}
        if "\t" in rest:
            parts = rest.split("\t")
            if len(parts) < 2:
                raise ValueError(f"bad question line: {raw!r}")
            q, answer = parts[0], parts[1].strip().lower()
            support = [int(s) for s in parts[2].split()] if len(parts) > 2 else []
            samples.append(Sample(
                story=list(story), question=tokenize(q), answer=answer,
                supporting=[line_to_idx[s] for s in support if s in line_to_idx],
            ))
        else:
            line_to_idx[num] = len(story)
            story.append(tokenize(rest))
    return samples


def task_file(data_dir: str | os.PathLike[str], task: int, split: str) -> Path:
    if not 1 <= task <= 20:
        raise ValueError("bAbI tasks are numbered 1..20")
    matches = sorted(Path(data_dir).glob(f"qa{task}_*_{split}.txt"))
    if not matches:
        raise FileNotFoundError(f"no qa{task}_*_{split}.txt in {data_dir}")
    return matches[0]


def load_task(data_dir: str | os.PathLike[str], task: int) -> tuple[list[Sample], list[Sample]]:
    """(train, test) samples of one task."""
    def read(split: str) -> list[Sample]:
        return parse_babi(task_file(data_dir, task, split).read_text(encoding="utf-8"))
    return read("train"), read("test")


class Vocab:
    """Word <-> id; id 0 is the nil word (padding, zero embedding)."""

    def __init__(self, words: list[str] | None = None) -> None:
        self.itos: list[str] = [NIL]
        self.stoi: dict[str, int] = {NIL: 0}
        for w in words or []:
            self.add(w)

    def add(self, word: str) -> int:
        if word not in self.stoi:
            self.stoi[word] = len(self.itos)
            self.itos.append(word)
        return self.stoi[word]

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, words: list[str]) -> list[int]:
        return [self.stoi.get(w, 0) for w in words]

    @classmethod
    def build(cls, *sample_lists: list[Sample]) -> Vocab:
        words: set[str] = set()
        for samples in sample_lists:
            for s in samples:
                for sent in s.story:
                    words.update(sent)
                words.update(s.question)
                words.add(s.answer)
        return cls(sorted(words))


@dataclass
class BabiTensors:
    stories: torch.Tensor  # [N, M, L] word ids; slot 0 = most recent fact
    queries: torch.Tensor  # [N, L]
    answers: torch.Tensor  # [N]
    mem_mask: torch.Tensor  # [N, M] 1 where a fact is stored

    def __len__(self) -> int:
        return int(self.answers.shape[0])

    def subset(self, idx: torch.Tensor) -> BabiTensors:
        return BabiTensors(self.stories[idx], self.queries[idx], self.answers[idx],
                           self.mem_mask[idx])


def sentence_size(*sample_lists: list[Sample]) -> int:
    longest = 1
    for samples in sample_lists:
        for s in samples:
            longest = max([longest, len(s.question)] + [len(x) for x in s.story])
    return longest


def vectorize(
    samples: list[Sample], vocab: Vocab, memory_size: int, sent_size: int
) -> BabiTensors:
    """Keep the ``memory_size`` most recent facts, most recent first; pad with nil."""
    n = len(samples)
    stories = torch.zeros(n, memory_size, sent_size, dtype=torch.long)
    queries = torch.zeros(n, sent_size, dtype=torch.long)
    answers = torch.zeros(n, dtype=torch.long)
    mask = torch.zeros(n, memory_size)
    for i, s in enumerate(samples):
        recent = s.story[-memory_size:][::-1]
        for j, sent in enumerate(recent):
            ids = vocab.encode(sent[:sent_size])
            stories[i, j, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[i, j] = 1.0
        q = vocab.encode(s.question[:sent_size])
        queries[i, : len(q)] = torch.tensor(q, dtype=torch.long)
        answers[i] = vocab.stoi.get(s.answer, 0)
    return BabiTensors(stories, queries, answers, mask)


TASK_NAMES = {
    1: "single-supporting-fact", 2: "two-supporting-facts", 3: "three-supporting-facts",
    4: "two-arg-relations", 5: "three-arg-relations", 6: "yes-no-questions", 7: "counting",
    8: "lists-sets", 9: "simple-negation", 10: "indefinite-knowledge",
    11: "basic-coreference", 12: "conjunction", 13: "compound-coreference",
    14: "time-reasoning", 15: "basic-deduction", 16: "basic-induction",
    17: "positional-reasoning", 18: "size-reasoning", 19: "path-finding",
    20: "agents-motivations",
}
