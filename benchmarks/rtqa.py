"""Answer quality and speed on RealTimeQA 2022 (shared/bench/rtqa-2022), every configuration in one run.

    .venv/bin/python benchmarks/rtqa.py            # full report (first run embeds the corpus: ~1 h on 2 cores)
    .venv/bin/python benchmarks/rtqa.py --quality  # quality table only
    .venv/bin/python benchmarks/rtqa.py --quality --rounds 3  # and the latency of the rankings compared, in rounds

The corpus is indexed with the project's own ingest into `.bench/rtqa-2022` (kept between runs, so a
rerun reuses the index and its embedding cache) and the questions go through the project's own search.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import CachedReader, timed_in_rounds  # noqa: E402

from index import Embedder, Index, Ranking, SearchResult, Settings  # noqa: E402
from index.answering.evaluate import Metrics, evaluate, format_table, load_questions  # noqa: E402
from index.answering.ranking import BM25_ONLY, DEFAULT_RANKING, DENSE_ONLY, PREVIOUS_RANKING, UNREAD_RANKING  # noqa: E402
from index.engines.folder.store import Store  # noqa: E402
from index.indexing.indexer import embed_text  # noqa: E402
from index.settings import DEFAULT_MODEL  # noqa: E402
from index.text.keywords import clear_caches  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "rtqa-2022"
BM25_DATES = replace(BM25_ONLY, recency=DEFAULT_RANKING.recency, untimed_recency=DEFAULT_RANKING.untimed_recency)
CONFIGURATIONS: dict[str, Ranking] = {
    "BM25 alone (title + passage)": BM25_ONLY,
    "dense alone (title + passage)": DENSE_ONLY,
    "BM25 + publication dates": BM25_DATES,
    "plain reciprocal rank fusion": replace(BM25_ONLY, fusion="rrf", dense=0.4, keyword=0.6),
    "previous default (sentences by rare words only)": PREVIOUS_RANKING,
    "previous + sentence meaning (pooled vectors)": replace(PREVIOUS_RANKING, sentence_meaning=0.5),
    "previous + names and numbers the question lacks": replace(PREVIOUS_RANKING, sentence_novelty=0.2),
    # What the ranking the reader reads is made of (each row without the reader, as the ranking before it).
    "unread + sentence retriever (100 nearest sentences)": replace(UNREAD_RANKING, sentence_candidates=100),
    "unread + closest sentence in fusion (0.2)": replace(UNREAD_RANKING, sentence_dense=0.2),
    "unread without publication dates": replace(UNREAD_RANKING, recency=0.0, untimed_recency=0.0),
    "unread without the lead passage": replace(UNREAD_RANKING, lead_passage=0.0),
    "unread without the past month's lift": replace(UNREAD_RANKING, untimed_recency=0.0),
    "unread without feedback (question moved toward the best 20)": replace(UNREAD_RANKING, feedback=0),
    "unread without recurring names in the highlight": replace(UNREAD_RANKING, redundancy=0.0),
    "unread without either (the default before 2026-12-02, late evening)": replace(
        UNREAD_RANKING, feedback=0, redundancy=0.0
    ),
    "the default before the reader (2026-12-03 to 12-06)": UNREAD_RANKING,
    "default without the reader's bold sentence": replace(DEFAULT_RANKING, rerank_highlight=None),
    "default: the reader reorders the best 10": DEFAULT_RANKING,
}


def quiet(message: str) -> None:
    """Index log lines go to stderr so the report on stdout stays clean."""
    print(message, file=sys.stderr)


# The rankings whose query latency an issue compares: the one it was filed against, the one before the last
# change, and today's.
TIMED = (
    "previous default (sentences by rare words only)",
    "the default before the reader (2026-12-03 to 12-06)",
    "default: the reader reorders the best 10",
)


def latency_rounds(index: Index, questions, rounds: int) -> None:
    """Print p50/p95 of the `TIMED` rankings timed in `rounds` rounds (`bench_index.timed_in_rounds`), pooled:
    the quality table's rows, one pass each, moved by several ms between runs of the same code."""

    def search(ranking: Ranking) -> Callable[[str, date | None], SearchResult]:
        return lambda question, asked: index.search(question, k=10, ranking=ranking, asked=asked)

    timings = timed_in_rounds({name: search(CONFIGURATIONS[name]) for name in TIMED}, questions, rounds)
    print(f"\n| ranking ({rounds} rounds of {len(questions)} questions, pooled) | query p50 ms | query p95 ms |")
    print("|---|---|---|")
    for name, passes in timings.items():
        cuts = statistics.quantiles([ms for found in passes for ms in found], n=100, method="inclusive")
        print(f"| {name} | {cuts[49]:.1f} | {cuts[94]:.1f} |")


def quality(index: Index, questions, configurations: dict[str, Ranking]) -> list[Metrics]:
    """Hits@1/5/10 and MRR@10 of every configuration over the same index and questions."""
    rows = []
    for name, ranking in configurations.items():
        clear_caches()  # each configuration reads the sentences afresh, as the first did
        rows.append(evaluate(name, questions, partial(index.search, k=10, ranking=ranking)))
        print(f"  scored: {name}", file=sys.stderr)
    return rows


def directory_size(path: Path) -> int:
    """Bytes of every file in a folder."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def throughput(embedder: Embedder, articles: Path, sample: int) -> tuple[int, float, float]:
    """Passages per second of a cache-less `update` versus raw `encode` on the same passages."""
    with gzip.open(articles, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for _, line in zip(range(sample), handle)]
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "sample.jsonl"
        corpus.write_text("\n".join(json.dumps(r) for r in records))
        index = Index.open(settings=Settings(index_dir=Path(tmp) / "index", articles_dir=corpus), embedder=embedder, log=quiet)
        started = time.perf_counter()
        summary = index.update([corpus], progress=False)
        pipeline = summary.passages / (time.perf_counter() - started)
        with Store(index.directory).connection() as conn:
            texts = [
                embed_text(title, text[start:end])
                for title, text, start, end in conn.execute(
                    "SELECT a.title, a.text, p.char_start, p.char_end FROM passages p JOIN articles a ON a.id = p.article_id"
                )
            ]
    started = time.perf_counter()
    embedder.encode(texts, batch_size=32)  # the same model and runtime, passage vectors only
    raw = len(texts) / (time.perf_counter() - started)
    return len(texts), pipeline, raw


# Runs the CLI and, at exit, prints the process's own peak RSS (VmHWM, which exec resets; ru_maxrss of
# a child would count the pages of this big benchmark process it was forked from).
_PEAK = (
    "import atexit, runpy, sys\n"
    "atexit.register(lambda: print('peak-kb', open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr))\n"
    "sys.argv = ['newsbot', *sys.argv[1:]]\n"
    "runpy.run_module('bot.cli', run_name='__main__')\n"
)


def timed_cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak resident MB of one `newsbot` command in a fresh process (Linux: /proc)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _PEAK, *args], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    peak = next((line.split()[1] for line in done.stderr.splitlines() if line.startswith("peak-kb ")), "0")
    return seconds, int(peak) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=ROOT / ".bench" / "rtqa-2022")
    parser.add_argument("--quality", action="store_true", help="only the quality table")
    parser.add_argument("--rounds", type=int, default=0, help="also time the compared rankings in this many rounds")
    parser.add_argument("--throughput-articles", type=int, default=150)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="the embedding model (bge-small-en-v1.5: another index)")
    args = parser.parse_args()

    articles, questions_file = BENCH / "articles.jsonl.gz", BENCH / "questions.jsonl"
    settings = Settings(index_dir=args.index_dir, articles_dir=articles, model=args.model)
    reader = CachedReader()  # readings kept between runs: the quality rows read each pair once
    index = Index.open(settings=settings, cross_encoder=reader, log=quiet)
    embedder = index.embedder  # a new index: int8 ONNX, as a user's new index
    summary = index.update([articles])
    print(f"index: {summary.line()}", file=sys.stderr)
    questions = load_questions(questions_file)
    index.warm_up()
    rows = quality(index, questions, CONFIGURATIONS)
    reader.save()
    print(f"## Quality: {len(questions)} questions, {summary.indexed} articles, {summary.passages} passages\n")
    print(format_table(rows))
    # Latency with the real reader, which reads every pair (the cache would make the reader's turn free).
    index = Index.open(settings=settings, embedder=embedder, log=quiet)
    index.warm_up()
    if args.rounds > 0:
        latency_rounds(index, questions, args.rounds)
    if args.quality:
        return 0

    answered = evaluate("default, k=3 (as the bot asks)", questions, partial(index.search, k=3))
    off_topic = [line for line in (ROOT / "benchmarks" / "off_topic.txt").read_text().splitlines() if line.strip()]
    abstained = sum(index.search(question).abstained for question in off_topic)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NEWSBOT_INDEX_DIR"] = str(args.index_dir)
    reindex, _ = timed_cli(["index", "--quiet", str(articles)], env)
    cold, child_rss = timed_cli(["ask", "--json", questions[0].question], env)
    own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    passages, pipeline, raw = throughput(embedder, articles, args.throughput_articles)
    print("\n## Speed and size\n")
    print("| measure | value |\n|---|---|")
    for name, value in [
        ("query latency, k=3 with the reader (one pass): p50 / p95", f"{answered.latency(0.5):.1f} / {answered.latency(0.95):.1f} ms"),
        ("benchmark questions wrongly abstained on (default)", f"{rows[-1].abstained} of {len(questions)}"),
        ("off-topic questions abstained on (benchmarks/off_topic.txt)", f"{abstained} of {len(off_topic)}"),
        (f"indexing throughput ({passages} passages, no cache)", f"{pipeline:.1f} passages/s"),
        ("raw model encode, same passages", f"{raw:.1f} passages/s"),
        ("pipeline / raw encode", f"{pipeline / raw:.2f}"),
        ("index size on disk", f"{directory_size(args.index_dir) / 1e6:.0f} MB"),
        ("re-index unchanged corpus (`newsbot index`, whole process)", f"{reindex:.1f} s"),
        ("cold start `newsbot ask` (whole process)", f"{cold:.1f} s"),
        ("peak RSS, `newsbot ask` process", f"{child_rss:.0f} MB"),
        ("peak RSS, this benchmark process (index + model, every configuration)", f"{own_rss:.0f} MB"),
    ]:
        print(f"| {name} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
