"""What an update costs at RealTimeQA 2022 scale, delta beside the base versus a full rebuild, in one run,
and whether answers change when 5% of the corpus sits in the delta.

    .venv/bin/python benchmarks/updates.py

Works on a copy of the benchmark index's database (its embedding cache spares re-embedding):
1. 95% of the articles are built in full, then the other 5% arrive as one update (a delta).
2. Quality: the 449 questions on that index against the benchmark index built in full in one go.
3. One new article: added as a delta, and added with a full rebuild forced (what every update did
   before), wall and CPU time of each; then how long until a running searcher answers from it.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, BENCH_INDEX, bench_embedder  # noqa: E402

import index.engines.folder.generations.building as generation_files  # noqa: E402
from index import Index, Settings  # noqa: E402
from index.answering.evaluate import evaluate, format_table, load_questions  # noqa: E402
from index.engines.folder.store import Store  # noqa: E402

NEW_ARTICLE = (
    "Harbour crane collapse halts container traffic\n\n"
    "A container crane collapsed onto the quay at the port of Rotterdam on Tuesday night, halting traffic at "
    "two terminals, the port authority said. Nobody was injured. Engineers expect the terminals to reopen by "
    "Friday once the wreck of the crane has been cut apart and lifted away by a floating crane."
)
QUESTION = "which port's terminals were halted when a container crane collapsed?"


def timed(label: str, action):
    """Run `action`, print its wall and CPU seconds (all threads), return its result and the two times."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"| {label} | {wall:.1f} | {cpu:.1f} |")
    return result, wall, cpu


def split_corpus(folder: Path, share: float = 0.05) -> tuple[Path, Path]:
    """The benchmark articles in two files: the newest `share` (the delta) and the rest (the base)."""
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for line in lines]
    records.sort(key=lambda r: (r.get("published") or "", r["id"]))
    cut = int(len(records) * (1 - share))
    base, recent = folder / "base.jsonl.gz", folder / "recent.jsonl.gz"
    for path, part in ((base, records[:cut]), (recent, records[cut:])):
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in part)
    return base, recent


def main() -> int:
    if not (BENCH_INDEX / "newsbot.sqlite").exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    embedder = bench_embedder()
    with tempfile.TemporaryDirectory(dir=ROOT / ".bench") as scratch:
        folder = Path(scratch)
        (folder / "index").mkdir()
        shutil.copy(BENCH_INDEX / "newsbot.sqlite", folder / "index" / "newsbot.sqlite")
        base, recent = split_corpus(folder)
        settings = Settings(index_dir=folder / "index", articles_dir=base)
        index = Index.open(settings=settings, embedder=embedder, log=lambda m: None)
        print("| step | wall s | CPU s |\n|---|---|---|")
        timed("95% of the corpus, full build (vectors from the cache)", lambda: index.update([base], rebuild=True, progress=False))
        summary, _, _ = timed("the newest 5% as one update (a delta; 2,450 passages re-embedded)", lambda: index.update([base, recent], progress=False))
        assert Store(index.directory).delta_path(summary.generation).exists(), "expected a delta"
        # answers and latency in a fresh process: after a large embedding job torch answers a single
        # question 2-3x slower in the same process, which would blur the comparison
        table = subprocess.run([sys.executable, __file__, "--evaluate", str(folder / "index")],
                               capture_output=True, text=True, check=True).stdout

        news = folder / "news"
        news.mkdir()
        index.search(QUESTION)  # a running searcher, on the current generation
        (news / "crane.txt").write_text(NEW_ARTICLE, encoding="utf-8")
        embedder.encode(["load the model before timing"])
        _, wall, _ = timed("one new article, as a delta", lambda: index.update([base, recent, news], progress=False))
        swap = time.perf_counter()
        answer = index.search(QUESTION).answers[0]
        swap = time.perf_counter() - swap
        assert "Rotterdam" in answer.quote
        (news / "crane-2.txt").write_text(NEW_ARTICLE.replace("Rotterdam", "Antwerp"), encoding="utf-8")
        limits = generation_files.MIN_SIZE, generation_files.MAX_SHARE
        generation_files.MIN_SIZE, generation_files.MAX_SHARE = 0, 0.0  # what every update did before deltas
        try:
            timed("one new article, full rebuild forced (before)", lambda: index.update([base, recent, news], progress=False))
        finally:
            generation_files.MIN_SIZE, generation_files.MAX_SHARE = limits
        print(f"\nanswerable {wall + swap:.1f} s after the update started (update {wall:.1f} s, first question "
              f"after it {swap * 1000:.0f} ms, loading the delta)\n")
        print(table)
    return 0


def evaluate_both(delta_index: Path) -> None:
    """The 449 questions on the benchmark index (built in full) and on `delta_index`, interleaved runs."""
    embedder = bench_embedder()
    questions = load_questions(BENCH / "questions.jsonl")
    full = Index.open(settings=Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz"),
                      embedder=embedder, log=lambda m: None)
    delta = Index.open(settings=Settings(index_dir=delta_index, articles_dir=BENCH / "articles.jsonl.gz"),
                       embedder=embedder, log=lambda m: None)
    for warm in (full, delta):
        warm.warm_up()
    rows = [
        evaluate("full build (benchmark index)", questions, lambda q, **kw: full.search(q, k=10, **kw)),
        evaluate("95% base + newest 5% in a delta", questions, lambda q, **kw: delta.search(q, k=10, **kw)),
    ]
    print(format_table(rows))


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--evaluate":
        evaluate_both(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
