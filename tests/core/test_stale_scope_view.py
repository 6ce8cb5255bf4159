"""A search that read a user's scope view before another thread wrote to the store still
scores that view: the postings another search cached under the new write mark hold positions
in the new (longer) view, and must not be used for the old one (a concurrent add made a search
fail with an IndexError in the REST load test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

import ltm


def test_full_text_of_a_view_read_before_a_write(tmp_path: Path) -> None:
    with ltm.open(tmp_path / "s", embedder="hash") as mem:
        backend: Any = mem.backend
        mem.add_many([{"text": f"apple pie number {i}", "user": "u"} for i in range(5)])
        before = backend.scope_view("u")
        assert before is not None and len(before) == 5
        mem.add_many([{"text": f"apple pie again {i}", "user": "u"} for i in range(5)])
        after = backend.scope_view("u")
        assert after is not None and len(after) == 10
        for query in ("apple pie", "apple"):  # per-term and one-query full-text paths
            # another thread's search of the new view caches its postings...
            ((pos, _),) = backend.scope_text(query, after, [(np.ones(10, dtype=bool), 10)])
            assert sorted(pos.tolist()) == list(range(10))
            # ...which this one, holding the view it read before the write, must not use
            ((pos, score),) = backend.scope_text(query, before,
                                                 [(np.ones(len(before), dtype=bool), 10)])
            assert sorted(pos.tolist()) == [0, 1, 2, 3, 4]
            assert np.all(score > 0)
            ((pos, _),) = backend.scope_text(query, after, [(np.ones(10, dtype=bool), 10)])
            assert sorted(pos.tolist()) == list(range(10))
