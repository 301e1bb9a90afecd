"""The RealTimeQA 2022 benchmark's data and the index `rtqa.py` builds from it, shared by the scripts here."""

from __future__ import annotations

import os
import pickle
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from index import CrossEncoder, Embedder, Index, Settings  # noqa: E402
from index.answering.evaluate import EvalQuestion  # noqa: E402
from index.text.keywords import clear_caches  # noqa: E402

T = TypeVar("T")
BENCH = ROOT.parent / "shared" / "bench" / "rtqa-2022"
BENCH_INDEX = ROOT / ".bench" / "rtqa-2022"
BENCH_SETTINGS = Settings(index_dir=BENCH_INDEX, articles_dir=BENCH / "articles.jsonl.gz")


def bench_embedder() -> Embedder:
    """The embedding model the benchmark index was built with (what its questions must be embedded with)."""
    return Index.open(settings=BENCH_SETTINGS, log=lambda m: None).embedder


def open_bench_index(embedder: Embedder | None = None, cross_encoder: CrossEncoder | None = None) -> Index | None:
    """The benchmark index, or None (after saying how to build it) when `rtqa.py` has not run yet.

    Without an `embedder`, the index's own choice (a new index: int8 ONNX, as a user's new index).
    """
    index = Index.open(settings=BENCH_SETTINGS, embedder=embedder, cross_encoder=cross_encoder, log=lambda m: None)
    if not index.exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return None
    return index


def in_rounds(passes: dict[str, Callable[[], T]], rounds: int) -> dict[str, list[T]]:
    """What each pass returns, a list per round: `rounds` rounds in which every pass runs once, in turn, the
    first rotating.

    One pass per configuration, one after another, is at the mercy of a shared machine's slow spells (runs
    of the same code moved several ms apart); in rounds such a spell falls on several configurations.
    """
    results: dict[str, list[T]] = {name: [] for name in passes}
    names = list(passes)
    for round_ in range(rounds):
        turn = round_ % len(names)
        for name in names[turn:] + names[:turn]:
            results[name].append(passes[name]())
        print(f"  timed: round {round_ + 1} of {rounds}", file=sys.stderr)
    return results


def timed_pass(search: Callable[[str, date | None], object], questions: Sequence[EvalQuestion]) -> list[float]:
    """Milliseconds `search(question, day asked)` takes for each question, one after another, from cold sentence
    caches."""
    clear_caches()
    found = []
    for q in questions:
        started = time.perf_counter()
        search(q.question, q.asked)
        found.append((time.perf_counter() - started) * 1000)
    return found


def timed_in_rounds(
    searches: dict[str, Callable[[str, date | None], object]], questions: Sequence[EvalQuestion], rounds: int
) -> dict[str, list[list[float]]]:
    """Milliseconds each search takes per question, a list per round (`in_rounds`), each pass from cold
    sentence caches (`timed_pass`)."""
    return in_rounds({name: (lambda search=search: timed_pass(search, questions)) for name, search in searches.items()}, rounds)


class CachedReader(CrossEncoder):
    """The reader with its readings kept on disk between runs (`path`, a pickle keyed by question, text and token
    budget), so comparing reranking settings reads each pair once. Only benchmarks use it."""

    def __init__(self, path: Path = ROOT / ".bench" / "reader-cache.pkl") -> None:
        super().__init__()
        self.path = path
        self.cache: dict[tuple[str, str, int], float] = pickle.loads(path.read_bytes()) if path.exists() else {}
        self.added = 0

    def score(self, question: str, texts, max_tokens: int = 512) -> np.ndarray:
        keys = [(question, text, max_tokens) for text in texts]
        missing = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if missing:
            found = super().score(question, [k[1] for k in missing], max_tokens)
            self.cache.update(zip(missing, found.tolist()))
            self.added += len(missing)
        return np.asarray([self.cache[k] for k in keys], dtype=np.float32)

    def save(self) -> None:
        """Write the readings added since loading (atomically: a killed run keeps the previous file)."""
        if self.added:
            if self.path.exists():  # another benchmark may have saved readings since: keep theirs too
                self.cache = {**pickle.loads(self.path.read_bytes()), **self.cache}
            tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(self.cache))
            tmp.replace(self.path)
            self.added = 0
