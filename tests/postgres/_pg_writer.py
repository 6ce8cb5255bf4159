"""A writer process for the concurrency test: appends to one shared conversation and adds
memories of its own user, in small transactions, then prints how many it wrote."""

from __future__ import annotations

import sys

import ltm


def main(url: str, worker: int, rounds: int) -> None:
    with ltm.open(url, embedder="hash") as store:
        written = 0
        for r in range(rounds):
            store.add_conversation([{"content": f"worker {worker} round {r} turn {t}"}
                                    for t in range(2)], user="shared", session="s")
            store.add_many([{"text": f"note {worker}-{r}-{i}", "user": f"w{worker}"}
                            for i in range(3)])
            written += 5
        print(written)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
