"""The synthetic corpus is reproducible, varied, and spread over users as declared."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from ltm.bench.corpus import Corpus, user_name


def test_same_seed_same_corpus_and_queries() -> None:
    a, b = Corpus(3000, 30, seed=7), Corpus(3000, 30, seed=7)
    assert list(a.items()) == list(b.items())
    assert a.queries(50) == b.queries(50)


def test_other_seed_other_corpus() -> None:
    a = [i.text for i in Corpus(500, 5, seed=1).items()]
    b = [i.text for i in Corpus(500, 5, seed=2).items()]
    assert sum(x != y for x, y in zip(a, b)) > 400


def test_reproducible_across_processes() -> None:
    # string seeds must not depend on PYTHONHASHSEED
    code = ("from ltm.bench.corpus import Corpus;"
            "print(hash(tuple(i.text for i in Corpus(300, 3, seed=5).items())) and "
            "'|'.join(i.text for i in Corpus(300, 3, seed=5).items()))")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={"PYTHONHASHSEED": str(h)}, check=True).stdout
            for h in (1, 2)}
    assert len(outs) == 1
    assert outs.pop().strip() == "|".join(i.text for i in Corpus(300, 3, seed=5).items())


def test_counts_users_and_order() -> None:
    c = Corpus(1003, 10, seed=0)
    items = list(c.items())
    assert len(items) == 1003
    per_user = Counter(i.user for i in items)
    assert set(per_user) == {user_name(u) for u in range(10)}
    assert sorted(per_user.values()) == [100] * 7 + [101] * 3
    # a batch of 100 holds many users (interleaved), and each user's time moves forward
    assert len({i.user for i in items[:100]}) == 10
    for u in per_user:
        times = [i.time for i in items if i.user == u]
        assert times == sorted(times)
    # sessions belong to one user
    owners = {}
    for i in items:
        assert owners.setdefault(i.session, i.user) == i.user


def test_texts_are_varied_not_templated() -> None:
    texts = [i.text for i in Corpus(5000, 50, seed=0).items()]
    assert len(set(texts)) > 0.9 * len(texts)
    words = Counter(w.lower() for t in texts for w in t.split())
    assert len(words) > 1000  # a long tail of names, places, foods, activities
    openings = Counter(" ".join(t.split()[:3]) for t in texts)  # "I" alone opens ~30%
    assert openings.most_common(1)[0][1] < 0.1 * len(texts)
    queries = [q for _, q in Corpus(5000, 50).queries(300)]
    assert len(set(queries)) > 200
    assert not set(queries) & set(texts)
