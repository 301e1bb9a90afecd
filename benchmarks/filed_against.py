"""Today's answers against the code issue 9 was filed against (commit 5308b51), timed in the same run.

    .venv/bin/python benchmarks/filed_against.py [--rounds 3]

`rtqa.py --rounds` times the rankings the issue compares as settings of today's code, so it shows what the
ranking's own work costs. This script runs the filed-against commit itself, the product a user had: it is
checked out in a temporary git worktree and reads a copy of the benchmark index (`rtqa.py` builds it; today's
index, with the two markers that commit checks set back: the schema number, and the keyword index's format
file without the average length it predates; nothing it reads changed). Each configuration lives in a
process of its own; they answer the 449 questions in turns, in rounds, the first rotating, one at a time:

- the filed-against code (torch embeds its questions);
- today's code as shipped (`auto`: on this torch index, questions through ONNX Runtime fp32), default ranking;
- today's code with torch questions, default ranking (the same model runtime as the filed-against code);
- today's code as shipped with the ranking the issue was filed against (`PREVIOUS_RANKING`).

Each process first answers every question once for the quality rows, all scored by today's `evaluate`
(the filed-against code's answers carry the bold sentence it chose by word overlap); its Hits@1 0.579,
Hits@5 0.822 and MRR@10 0.674 are the numbers the issue quotes, so the copy is read as it was.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# bench_index's paths, written out: importing it here would import today's `index` in every worker (see `_compare`).
BENCH = ROOT.parent / "shared" / "bench" / "rtqa-2022"
BENCH_INDEX = ROOT / ".bench" / "rtqa-2022"
FILED_AGAINST = "5308b51"  # the last commit before issue 9's work (2026-11-22)
OLD_SCHEMA = "2"  # the store schema that commit writes and accepts
QUALITY_COLUMNS = ("first_highlight", "highlight@3", "hits@1", "hits@5", "hits@10", "mrr@10")


def _serve(root: str, index_dir: str, backend: str | None, rankings: list[str], conn) -> None:
    """A worker: one code base (`root`) and index, answering every question per request, timing each."""
    sys.path.insert(0, root)
    import time
    from dataclasses import replace

    from index import Index, Settings

    try:
        from index.answering.evaluate import load_questions
    except ImportError:  # the filed-against code: a flat `index` package
        from index.evaluate import load_questions

    settings = replace(Settings.from_env(), index_dir=Path(index_dir), articles_dir=BENCH / "articles.jsonl.gz")
    if backend is not None:
        settings = replace(settings, embedding_backend=backend)
    index = Index.open(settings=settings, log=lambda m: None)
    index.warm_up()
    questions = load_questions(BENCH / "questions.jsonl")
    ranking_of = {}
    if rankings != ["own"]:
        try:
            from index.answering import ranking as module
        except ImportError:  # the filed-against code
            from index import ranking as module

        ranking_of = {name: getattr(module, name) for name in rankings}

    def search(name: str):
        kwargs = {"ranking": ranking_of[name]} if name in ranking_of else {}
        return lambda question, asked=None: index.search(question, k=10, asked=asked, **kwargs)

    try:
        from index.text.keywords import clear_caches  # today's code: each pass from cold sentence caches
    except ImportError:
        clear_caches = lambda: None  # noqa: E731 - the filed-against code keeps none

    conn.send("ready")
    while (request := conn.recv()) is not None:
        kind, name = request
        clear_caches()
        if kind == "quality":
            ask = search(name)
            conn.send([_plain(ask(item.question, asked=item.asked)) for item in questions])
        else:
            ask, taken = search(name), []
            for item in questions:
                started = time.perf_counter()
                ask(item.question, asked=item.asked)
                taken.append((time.perf_counter() - started) * 1000)
            conn.send(taken)


def _plain(result) -> dict:
    """What scoring reads of a search result (either code's), as plain data for the pipe."""
    return {
        "abstained": result.abstained,
        "answers": [
            {"article": a.article.id, "also_in": [o.id for o in a.also_in], "quote": a.quote, "highlight": a.highlight}
            for a in result.answers
        ],
    }


def _scored(name: str, questions: list, results: list[dict]):
    """Today's metrics of recorded results (`_plain`), question by question."""
    from index.answering.evaluate import evaluate

    recorded = iter(
        SimpleNamespace(
            abstained=r["abstained"],
            answers=[
                SimpleNamespace(
                    article=SimpleNamespace(id=a["article"]), also_in=[SimpleNamespace(id=i) for i in a["also_in"]],
                    quote=a["quote"], highlight=a["highlight"],
                )
                for a in r["answers"]
            ],
        )
        for r in results
    )
    return evaluate(name, questions, lambda question, asked=None: next(recorded))


def old_index_copy(into: Path) -> Path:
    """A copy of the benchmark index that the filed-against code opens (its markers set back)."""
    into.mkdir()
    for name in ("newsbot.sqlite", "vectors-00000001.faiss"):
        shutil.copy2(BENCH_INDEX / name, into / name)
    shutil.copytree(BENCH_INDEX / "keywords-00000001", into / "keywords-00000001")
    format_file = into / "keywords-00000001" / "newsbot.json"
    written = json.loads(format_file.read_text())
    written.pop("average_length", None)
    format_file.write_text(json.dumps(written))
    with sqlite3.connect(into / "newsbot.sqlite") as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'schema'", (OLD_SCHEMA,))
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed passes per configuration (default 3)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if not (BENCH_INDEX / "newsbot.sqlite").exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="newsbot-filed-") as scratch:
        code = Path(scratch) / "code"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(code), FILED_AGAINST], check=True)
        try:
            return _compare(code, old_index_copy(Path(scratch) / "index"), args.rounds)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(code)], check=False)


def _compare(code: Path, old_index: Path, rounds: int) -> int:
    """Start one worker per code base and runtime, print every configuration's quality, then time them in rounds."""
    workers = {  # process name: (code, index, backend, rankings)
        "filed": (str(code), str(old_index), None, ["own"]),
        "today": (str(ROOT), str(BENCH_INDEX), None, ["DEFAULT_RANKING", "PREVIOUS_RANKING"]),
        "today-torch": (str(ROOT), str(BENCH_INDEX), "torch", ["DEFAULT_RANKING"]),
    }
    configurations = {  # row: (process, ranking)
        f"filed-against code ({FILED_AGAINST}), torch questions": ("filed", "own"),
        "today, as shipped (ONNX fp32 questions), default ranking": ("today", "DEFAULT_RANKING"),
        "today, torch questions, default ranking": ("today-torch", "DEFAULT_RANKING"),
        "today, as shipped, the ranking the issue was filed against": ("today", "PREVIOUS_RANKING"),
    }
    spawn = multiprocessing.get_context("spawn")
    pipes, processes = {}, []
    for name, (root, index_dir, backend, rankings) in workers.items():
        ours, theirs = spawn.Pipe()
        process = spawn.Process(target=_serve, args=(root, index_dir, backend, rankings, theirs), daemon=True)
        process.start()
        pipes[name] = ours
        processes.append(process)
    try:
        for pipe in pipes.values():
            if pipe.recv() != "ready":
                raise RuntimeError("a worker did not start")
        # Today's code is imported here, after the workers started, never at the top: a spawned worker runs this
        # module's top level again, and today's `index` imported there would shadow the filed-against code.
        from bench_index import in_rounds

        from index.answering.evaluate import load_questions

        questions = load_questions(BENCH / "questions.jsonl")
        print("| configuration | first highlight | highlight@3 | Hits@1 | Hits@5 | Hits@10 | MRR@10 | abstained |")
        print("|---|---|---|---|---|---|---|---|")
        for row, (process, ranking) in configurations.items():
            pipes[process].send(("quality", ranking))
            d = _scored(row, questions, pipes[process].recv()).as_dict()
            numbers = " | ".join(f"{d[key]:.3f}" for key in QUALITY_COLUMNS)
            print(f"| {row} | {numbers} | {d['abstained']}/{d['questions']} |", flush=True)
        def timed_pass(process: str, ranking: str):
            def one_pass() -> list[float]:
                pipes[process].send(("time", ranking))
                return pipes[process].recv()

            return one_pass

        passes = in_rounds({row: timed_pass(*where) for row, where in configurations.items()}, rounds)
    finally:
        for pipe in pipes.values():
            try:
                pipe.send(None)
            except OSError:  # that worker has already gone
                pass
        for process in processes:
            process.join(timeout=30)
    print(f"\nLatency, k=10 ({rounds} rounds of 449 questions, pooled):\n")
    print("| configuration | query p50 ms | query p95 ms |\n|---|---|---|")
    for row, rounds_taken in passes.items():
        taken = [ms for found in rounds_taken for ms in found]
        print(f"| {row} | {np.percentile(taken, 50):.1f} | {np.percentile(taken, 95):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
