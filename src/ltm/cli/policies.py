"""``ltm gc``, ``ltm process`` and ``ltm reindex``. Imports only click and the standard library at import time."""

from __future__ import annotations

import click

from .common import emit, errors_to_exit, opened, store_option


@click.command()
@store_option
@click.option("--user", "-u", help="Only this user (default: every user).")
@click.option("--now", "now", help="Apply the policies as of this time (ISO-8601; default now).")
@click.option("--dry-run", is_flag=True, help="Report what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def gc(store: str, user: str | None, now: str | None, dry_run: bool, as_json: bool) -> None:
    """Apply retention policies now: expire (TTL), evict decayed memories and those over
    capacity, merge near-duplicates, consolidate old sessions into summaries."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            report = mem.gc(now=now, dry_run=dry_run, user=user)

        def human(r: object) -> str:
            d = report.to_dict()
            verb = "would change" if dry_run else "changed"
            lines = [f"gc at {d['now']}: {verb} {d['count']} memories"]
            for key in ("expired", "decayed", "evicted", "removed", "archived", "cascaded"):
                if d[key]:
                    lines.append(f"  {key}: {len(d[key])}")
            if d["merged"]:
                lines.append(f"  merged: {sum(len(v) for v in d['merged'].values())} into "
                             f"{len(d['merged'])}")
            if d["consolidated"]:
                lines.append(f"  sessions consolidated: {len(d['consolidated'])}")
            for name, why in d["deferred"].items():  # (the embedder failed: the next gc)
                lines.append(f"  consolidation of {name} deferred: {why}")
            return "\n".join(lines)

        emit(report.to_dict(), as_json, human)


@click.command()
@store_option
@click.option("--user", "-u", help="Only this user (default: every user).")
@click.option("--max-batches", type=int, help="Stop after this many batches.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def process(store: str, user: str | None, max_batches: int | None, as_json: bool) -> None:
    """Extract facts from stored episodes with the configured LLM (llm_url), resuming where
    the last run stopped, within the per-user token budget."""
    with opened(store, create=False) as mem:
        with errors_to_exit():
            report = mem.process(user=user, max_batches=max_batches)
        emit(report.to_dict(), as_json, lambda d: (
            f"processed {d['episodes']} episodes in {d['batches']} batches: "
            f"{len(d['added'])} facts added, {len(d['updated'])} updated, "
            f"{len(d['superseded'])} superseded, {d['ignored']} ignored; {d['tokens']} tokens; "
            f"{d['pending']} episodes pending"
            + (f"; over budget: {', '.join(d['budget_exhausted'])}"
               if d["budget_exhausted"] else "")))



@click.command()
@store_option
@click.option("--user", "-u", help="Only this user (default: every user).")
@click.option("--embeddings", is_flag=True,
              help="Also embed every memory again with the store's embedder and replace the "
              "vectors that differ.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def reindex(store: str, user: str | None, embeddings: bool, as_json: bool) -> None:
    """Bring every memory up to this version's indexing: its full text written afresh where
    it differs (rows an older ltm process wrote after the upgrade), and with --embeddings its
    vector. A batch at a time: safe to interrupt and run again; reads go on meanwhile."""
    import sys

    from tqdm import tqdm

    from ..progress import on_terminal

    with opened(store, create=False) as mem:
        with errors_to_exit():
            show = on_terminal() and not as_json
            total = None
            if show:
                total = mem.stats()["memories"] if user is None \
                    else mem.user_stats(user).memories
                total *= 2 if embeddings else 1
            with tqdm(total=total, unit="mem", disable=not show, file=sys.stderr) as bar:
                counts = mem.reindex(user=user, embeddings=embeddings, progress=bar.update)
        emit(counts, as_json, lambda c: f"checked {c['checked']} memories: rewrote the full "
             f"text of {c['rewritten']}, re-embedded {c['reembedded']}"
             + (f", gave passage vectors to {c['passages']} long ones" if "passages" in c
                else ""))
