"""The RealTimeQA 2022 benchmark's data and the index `rtqa.py` builds from it, shared by the scripts here."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import Embedder, Index, Settings  # noqa: E402
from index.evaluate import EvalQuestion  # noqa: E402
from index.keywords import clear_caches  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "rtqa-2022"
BENCH_INDEX = ROOT / ".bench" / "rtqa-2022"


def open_bench_index(embedder: Embedder) -> Index | None:
    """The benchmark index, or None (after saying how to build it) when `rtqa.py` has not run yet."""
    settings = Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz")
    index = Index.open(settings=settings, embedder=embedder, log=lambda m: None)
    if not index.exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return None
    return index


def timed_in_rounds(
    searches: dict[str, Callable[[str, date | None], object]], questions: Sequence[EvalQuestion], rounds: int
) -> dict[str, list[list[float]]]:
    """Milliseconds each search takes per question, a list per round: `rounds` passes in which every search
    answers all questions in turn, the first rotating, each from cold sentence caches.

    One pass per configuration, one after another, is at the mercy of a shared machine's slow spells (runs
    of the same code moved several ms apart); in rounds such a spell falls on several configurations.
    """
    timings: dict[str, list[list[float]]] = {name: [] for name in searches}
    names = list(searches)
    for round_ in range(rounds):
        turn = round_ % len(names)
        for name in names[turn:] + names[:turn]:
            clear_caches()
            found = []
            for q in questions:
                started = time.perf_counter()
                searches[name](q.question, q.asked)
                found.append((time.perf_counter() - started) * 1000)
            timings[name].append(found)
        print(f"  timed: round {round_ + 1} of {rounds}", file=sys.stderr)
    return timings
