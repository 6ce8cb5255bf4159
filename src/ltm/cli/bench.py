"""``ltm bench ...``: the benchmark commands. Each parses its options, calls its runner (the
work lives in ``ltm.bench``, ``ltm.replay.bench``), writes the result files and prints the
summary; a benchmark whose checks fail exits 1.

Only click and the standard library are imported at module level.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ..bench.peers import PEERS
from .common import errors_to_exit, fail, progress_default, writable

RESULTS = Path("benchmarks/results")
PEER_NAMES = sorted(PEERS)


def parse_sets(sets: tuple[str, ...]) -> dict[str, Any]:
    """``--set KEY=VALUE`` options as typed settings overrides."""
    from ..config import Settings, _coerce

    overrides: dict[str, Any] = {}
    types = {f: str(t) for f, t in Settings.__annotations__.items()}
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or key not in types:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE with a known setting",
                                     param_hint="--set")
        overrides[key] = _coerce(key, value, types[key])
    return overrides


def _write_json(result: dict[str, Any], path: Path) -> None:
    """A benchmark's result as JSON at ``path`` (its folder made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))


def _write_table(table: str, md_out: str | None) -> None:
    """A benchmark's markdown section at ``md_out`` (its folder made if missing), if asked."""
    if md_out:
        Path(md_out).parent.mkdir(parents=True, exist_ok=True)
        Path(md_out).write_text(table)


@contextlib.contextmanager
def _missing_data() -> Iterator[None]:
    """A data folder or file the benchmark cannot find in it: one line, exit code 2."""
    try:
        yield
    except FileNotFoundError as exc:
        fail(str(exc), 2, "InvalidInput")


@click.command()
@click.option("--data", envvar="LTM_LOCOMO", required=True, type=click.Path(exists=True),
              help="Path to locomo10.json, or the folder that holds it (env LTM_LOCOMO).")
@click.option("--embedder", default=None, help="Embedder name (default: wordllama).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="JSON output (default benchmarks/results/locomo-<embedder>.json).")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the markdown table here.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N conversations.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a setting for this run (repeatable), e.g. --set dense_weight=0.7.")
@click.option("--facts", is_flag=True,
              help="Also ingest LoCoMo's per-session observations as facts with sources; a "
                   "fact hit counts as hitting its source turns.")
@click.option("--no-time-phrases", is_flag=True,
              help="Ignore time phrases in questions (same as --set time_phrases=off).")
@click.option("--now-end", is_flag=True,
              help="Ask each question as of its conversation's last session (the reference "
                   "time for 'last year', recency) instead of the present.")
def locomo(data: str, embedder: str | None, out: str | None, md_out: str | None,
           limit: int | None, sets: tuple[str, ...], facts: bool, no_time_phrases: bool,
           now_end: bool) -> None:
    """Retrieval quality on LoCoMo: turn and session evidence recall@5/10/20 for ltm, BM25
    alone and dense alone, per category, with latency."""
    overrides = parse_sets(sets)
    if no_time_phrases:
        overrides["time_phrases"] = "off"
    writable(out, "--out")
    writable(md_out, "--markdown")
    from ..bench.locomo import markdown, run

    with errors_to_exit():
        result = run(data, embedder=embedder, limit=limit, settings_overrides=overrides,
                     facts=facts, now_end=now_end)
    name = result["embedder"].split(":")[0]
    path = Path(out or f"benchmarks/results/locomo-{name}.json")
    _write_json(result, path)
    table = markdown(result)
    if md_out:
        Path(md_out).write_text(table)
    click.echo(table)
    click.echo(f"wrote {path}", err=True)


@click.command()
@click.option("--data", envvar="LTM_BEAM", required=True,
              type=click.Path(exists=True, file_okay=False),
              help="The BEAM 100K folder (<n>/chat.json, <n>/probing_questions.json), or the "
                   "data set's folder above it (env LTM_BEAM).")
@click.option("--embedder", default=None, help="Embedder name (default: wordllama).")
@click.option("--out", type=click.Path(dir_okay=False), default="benchmarks/results/beam.json",
              show_default=True, help="JSON output.")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the markdown section here (e.g. benchmarks/sections/beam.md).")
@click.option("--plot", "plot_out", type=click.Path(dir_okay=False), default=None,
              help="Recall@10 plot (PNG); default: the JSON path with .png.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Only the first N conversations.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a setting for this run (repeatable).")
@click.option("--now-end", is_flag=True,
              help="Ask each question as of its conversation's last message (the reference "
                   "time for recency and time phrases) instead of the present.")
def beam(data: str, embedder: str | None, out: str, md_out: str | None, plot_out: str | None,
         limit: int | None, sets: tuple[str, ...], now_end: bool) -> None:
    """Retrieval quality on BEAM 100K: evidence recall@5/10/20 per question type for ltm, BM25
    alone and dense alone, newest-fact order on knowledge updates, abstention AUROC, latency."""
    from ..bench.beam import git_commit, markdown, plot, run

    overrides = parse_sets(sets)
    for path_, option in ((out, "--out"), (md_out, "--markdown"),
                          (plot_out or str(Path(out).with_suffix(".png")), "--plot")):
        writable(path_, option)
    with errors_to_exit(), _missing_data():
        result = run(data, embedder=embedder, limit=limit, settings_overrides=overrides,
                     now_end=now_end)
    result["commit"] = git_commit()
    path = Path(out)
    _write_json(result, path)
    png = Path(plot_out) if plot_out else path.with_suffix(".png")
    plot(result, png)
    table = markdown(result, str(png))  # BENCHMARKS.md sits at the root: paths from there
    _write_table(table, md_out)
    click.echo(table)
    click.echo(f"wrote {path} and {png}", err=True)


@click.command()
@click.option("--data", envvar="LTM_BABI", required=True,
              type=click.Path(exists=True, file_okay=False),
              help="A bAbI folder of qa<N>_<name>_test.txt files, e.g. tasks_1-20_v1-2/en (env "
                   "LTM_BABI).")
@click.option("--tasks", default="1-20", show_default=True,
              help="Task numbers: a range (1-20) or a comma list (1,2,3).")
@click.option("--limit", type=click.IntRange(min=1), default=200, show_default=True,
              help="Questions of each task's test file (its first ones).")
@click.option("--embedder", default=None, help="Embedder name (default: wordllama).")
@click.option("--out", type=click.Path(dir_okay=False), default="benchmarks/results/babi.json",
              show_default=True, help="JSON output.")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the markdown section here (e.g. benchmarks/sections/babi.md).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a setting for this run (repeatable).")
def babi(data: str, tasks: str, limit: int, embedder: str | None, out: str,
         md_out: str | None, sets: tuple[str, ...]) -> None:
    """Held-out retrieval quality on bAbI stories: P@1 and evidence recall@5 of the supporting
    facts per task for ltm, BM25 alone and dense alone (tasks 1-3: where someone is now)."""
    from ..bench.babi import TASKS, markdown, run
    from ..bench.beam import git_commit
    from ..progress import on_terminal

    try:
        if "-" in tasks:
            lo, hi = (int(x) for x in tasks.split("-", 1))
            chosen = list(range(lo, hi + 1))
        else:
            chosen = [int(x) for x in tasks.split(",") if x.strip()]
    except ValueError:
        chosen = []
    if not chosen or any(t not in TASKS for t in chosen):
        fail(f"--tasks must name tasks 1-20 as a range or a comma list, got {tasks!r}", 2,
             "InvalidInput")
    overrides = parse_sets(sets)
    writable(out, "--out")
    writable(md_out, "--markdown")
    with errors_to_exit(), _missing_data():
        result = run(data, tasks=chosen, limit=limit, embedder=embedder,
                     settings_overrides=overrides, progress=on_terminal())
    result["commit"] = git_commit()
    path = Path(out)
    _write_json(result, path)
    table = markdown(result)
    _write_table(table, md_out)
    click.echo(table)
    click.echo(f"wrote {path}", err=True)


@click.command()
@click.option("--out", type=click.Path(dir_okay=False), default="benchmarks/results/small.json",
              show_default=True, help="JSON output.")
@click.option("--markdown", "md_out", type=click.Path(dir_okay=False), default=None,
              help="Also write the markdown section here (e.g. benchmarks/sections/small.md).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Which generated stores (the benchmark reports seed 0; training uses others).")
@click.option("--stores", type=click.IntRange(min=1), default=40, show_default=True,
              help="How many stores.")
@click.option("--embedder", default=None, help="Embedder name (default: wordllama).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a setting for this run (repeatable).")
def small(out: str, md_out: str | None, seed: int, stores: int, embedder: str | None,
          sets: tuple[str, ...]) -> None:
    """First use: P@1, MRR and abstention AUROC on small generated stores (3-50 memories) for
    ltm, BM25 alone and dense alone."""
    from ..bench.beam import git_commit
    from ..bench.small import markdown, run

    writable(out, "--out")
    writable(md_out, "--markdown")
    with errors_to_exit():
        result = run(seed=seed, stores=stores, embedder=embedder,
                     settings_overrides=parse_sets(sets))
    result["commit"] = git_commit()
    path = Path(out)
    _write_json(result, path)
    table = markdown(result)
    _write_table(table, md_out)
    click.echo(table)
    click.echo(f"wrote {path}", err=True)


@click.command("scale")
@click.option("--n", "n", type=click.IntRange(min=10), default=100_000, show_default=True,
              help="Memories to generate and ingest.")
@click.option("--users", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Users the memories are spread over.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON result file [default: benchmarks/results/scale-N.json].")
@click.option("--backend", type=click.Choice(["sqlite", "postgres"]), default="sqlite",
              show_default=True, help="Storage backend to measure.")
@click.option("--dsn", default=None, envvar="LTM_POSTGRES_URL",
              help="PostgreSQL URL for --backend postgres [default: $LTM_POSTGRES_URL, else a "
                   "temporary server started from pgserver].")
@click.option("--queries", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Queries per latency measurement.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Memories per add_many call.")
@click.option("--seed", type=int, default=0, show_default=True, help="Corpus seed.")
@click.option("--single-scope/--no-single-scope", default=True, show_default=True,
              help="Also measure one scope holding all N memories (HNSW).")
@click.option("--multi-user/--no-multi-user", default=True, show_default=True,
              help="Measure the N memories spread over --users (ingest, scoped search, "
                   "reopen); --no-multi-user runs the single-scope phases alone.")
@click.option("--ef-search", type=click.IntRange(min=1), default=None,
              help="HNSW search breadth for the single scope [default: the store's setting].")
@click.option("--hnsw-min-scope", type=click.IntRange(min=1), default=None,
              help="Scope size from which HNSW is used [default: the store's setting].")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where the stores are built [default: a temporary folder, removed after].")
@click.option("--keep", is_flag=True, help="Keep the stores built in --workdir.")
@click.option("--plot/--no-plot", default=True, show_default=True,
              help="Redraw scale-vs-n.png from every scale-*.json next to the output.")
@click.option("--progress/--no-progress", default=None, callback=progress_default,
              help="Progress bars on stderr.")
def scale(n: int, users: int, out: Path | None, backend: str, dsn: str | None, queries: int,
          batch: int, seed: int, single_scope: bool, multi_user: bool, ef_search: int | None,
          hnsw_min_scope: int | None, workdir: Path | None, keep: bool, plot: bool,
          progress: bool) -> None:
    """Ingest N synthetic memories and measure ingest rate, user-scoped and one-scope search
    latency (with HNSW recall@10 against exact), reopen time and peak memory."""
    if not (single_scope or multi_user):
        raise click.UsageError("nothing to measure: both the multi-user and the single-scope "
                               "runs are switched off")
    from ..bench.scale_common import PhaseFailed

    try:
        if backend == "postgres":
            from ..bench.scale_pg import KEYS, scale_postgres

            out = out or RESULTS / f"scale-postgres-{n}.json"
            result = scale_postgres(n, users, out, dsn=dsn, queries=queries, batch=batch,
                                    seed=seed, single_scope=single_scope,
                                    hnsw_min_scope=hnsw_min_scope, keep=keep,
                                    progress=progress, multi_user=multi_user,
                                    ef_search=ef_search)
            click.echo(json.dumps({k: result.get(k) for k in KEYS}, indent=2))
            click.echo(f"wrote {out}", err=True)
            return
        from ..bench.scale import plot_scale, scale_sqlite

        out = out or RESULTS / f"scale-{n}.json"
        result = scale_sqlite(n, users, out, workdir=workdir, keep=keep, queries=queries,
                              batch=batch, seed=seed, single_scope=single_scope,
                              progress=progress, hnsw_min_scope=hnsw_min_scope,
                              multi_user=multi_user, ef_search=ef_search)
    except PhaseFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps({k: result[k] for k in (
        "ingest_per_s", "scoped_search_ms_p50", "scoped_search_ms_p95", "scoped_search_ms_p99",
        "single_scope_ms_p95", "single_scope_recall_at_10", "reopen_first_query_s",
        "peak_rss_mb") if k in result}, indent=2))
    click.echo(f"wrote {out}", err=True)
    if plot:
        png = plot_scale(out.parent)
        if png:
            click.echo(f"wrote {png}", err=True)


@click.command("peers")
@click.option("--n", "n", type=click.IntRange(min=10), default=100_000, show_default=True,
              help="Memories (vectors) loaded into every system.")
@click.option("--users", type=click.IntRange(min=1), default=None,
              help="Users the memories belong to [default: N / 1000, at least 1].")
@click.option("--queries", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Scoped top-10 queries per system.")
@click.option("--batch", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Vectors per ingest call.")
@click.option("--seed", type=int, default=0, show_default=True, help="Corpus seed.")
@click.option("--only", multiple=True, type=click.Choice(PEER_NAMES),
              help="Measure only these systems (ltm is always included).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="JSON result file [default: benchmarks/results/peers-N.json].")
@click.option("--plot/--no-plot", default=True, show_default=True,
              help="Write the PNG next to the JSON.")
def peers(n: int, users: int | None, queries: int, batch: int, seed: int, only: tuple[str, ...],
          out: Path | None, plot: bool) -> None:
    """Load the same corpus and vectors into ltm, Chroma, LanceDB, sqlite-vec, hnswlib and
    FAISS; report ingest and scoped top-10 latency as ratios to ltm, and recall@10."""
    from ..bench.peers import measure_peers, plot_peers

    out = out or RESULTS / f"peers-{n}.json"
    users = users or max(1, n // 1000)
    result = measure_peers(n, users, out, queries=queries, batch=batch, seed=seed,
                           only=list(only) or None,
                           progress=lambda msg: click.echo(msg, err=True))
    click.echo(f"{'system':<11} {'ingest/s':>10} {'x ltm':>7} {'p50 ms':>8} {'p95 ms':>8} "
               f"{'x ltm':>7} {'recall@10':>9}")
    for name, r in result["systems"].items():
        if "skipped" in r:
            click.echo(f"{name:<11} skipped: {r['skipped']}")
            continue
        click.echo(f"{name:<11} {r['ingest_per_s']:>10.0f} {r['ingest_ratio']:>7.2f} "
                   f"{r['query_ms_p50']:>8.3f} {r['query_ms_p95']:>8.3f} "
                   f"{r['query_p50_ratio']:>7.2f} {r['recall_at_10']:>9.3f}")
    click.echo(f"wrote {out}", err=True)
    if plot:
        png = plot_peers(result, out.with_suffix(".png"))
        click.echo(f"wrote {png}", err=True)


@click.command("faults")
@click.option("--kills", type=click.IntRange(min=1), default=200, show_default=True,
              help="SIGKILLs of the writing child.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the report as JSON here (e.g. benchmarks/results/faults.json).")
@click.option("--store", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Store folder (default: a fresh temporary one).")
@click.option("--embedder", default="wordllama", show_default=True,
              help="Embedder of the store ('hashing' or 'hash': no model, fast start).")
@click.option("--max-batch", type=click.IntRange(min=1), default=20_000, show_default=True,
              help="Largest add_many (sizes are log-uniform from 1).")
@click.option("--max-life", type=click.FloatRange(min=0), default=4.0, show_default=True,
              help="Seconds a child works before its kill (uniform from 0).")
@click.option("--max-rows", type=click.IntRange(min=1), default=30_000, show_default=True,
              help="Above this many rows the child forgets its largest user.")
@click.option("--fast-erase", type=click.FloatRange(0, 1), default=0.25, show_default=True,
              help='Share of the lives whose store is opened with erase="fast" (no compaction '
                   "after each forget).")
@click.option("--sample", type=click.IntRange(min=0), default=20, show_default=True,
              help="Ids checked through get and search after each kill (recent + random).")
@click.option("--reader/--no-reader", default=True, show_default=True,
              help="A second process that keeps the store open (reading) and closes after "
                   "each kill.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the workload and of the kill times (a run is repeatable).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Copy the store here after each check that found a failure.")
def faults(kills: int, out: Path | None, store: Path | None, embedder: str, max_batch: int,
           max_life: float, max_rows: int, fast_erase: float, sample: int, reader: bool,
           seed: int, keep: Path | None) -> None:
    """Kill -9 a writer at random moments and check the reopened store each time."""
    from ..bench.faults import faults_report

    data = faults_report(store, kills=kills, seed=seed, embedder=embedder,
                         max_batch=max_batch, max_life=max_life, max_rows=max_rows,
                         fast_erase=fast_erase, sample=sample, reader=reader, keep=keep,
                         progress=sys.stderr.isatty())
    click.echo(json.dumps(data, indent=1))
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    if data["failures"]:
        sys.exit(1)


@click.command("replay")
@click.option("--capacity", type=click.IntRange(min=1000), default=1_000_000, show_default=True,
              help="Buffer capacity (items) for every measurement.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("benchmarks/results/replay.json"), show_default=True,
              help="Where to write the JSON result.")
@click.option("--freq-samples", type=click.IntRange(min=10_000), default=10_000_000, show_default=True,
              help="Items drawn to measure sampling frequencies against priority/sum.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of every generator.")
def replay(capacity: int, out: Path, freq_samples: int, seed: int) -> None:
    """Benchmark the replay buffers: batched inserts/s, prioritized sample+update
    batches of 256 per second, and the largest sampling-frequency error, side by
    side with TorchRL (when importable) or a list + random.choices baseline."""
    import os

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ..replay.bench import BenchConfig, run_benchmark

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = run_benchmark(BenchConfig(capacity=capacity, freq_samples=freq_samples, seed=seed))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    peer = result["peer"]
    click.echo(f"capacity                 {capacity:,}")
    click.echo(f"inserts/s                {result['inserts_per_s']:,.0f} (in a folder: "
               f"{result['inserts_per_s_persistent']:,.0f})")
    click.echo(f"PER batches(256)/s       {result['per_batches_per_s']:,.0f} (in a folder: "
               f"{result['per_batches_per_s_persistent']:,.0f}; per CPU second: "
               f"{result['per_batches_per_cpu_s']:,.0f})")
    click.echo(f"max frequency error      {result['max_frequency_error']:.4%}")
    click.echo(f"peer: {peer['name']}: inserts/s {peer['inserts_per_s']:,.0f}, "
               f"PER batches/s {peer['per_batches_per_s']:,.1f}")
    click.echo(f"ratios (ltm / peer)      inserts x{result['ratios']['inserts']:.1f}, "
               f"PER x{result['ratios']['per_batches']:.1f}")
    click.echo(f"wrote {out}")

