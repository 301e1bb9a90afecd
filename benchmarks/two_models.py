"""Two dense models in one ranking: all-MiniLM-L6-v2 (the index's own) and bge-small-en-v1.5 (a second index of
the same corpus), on RealTimeQA 2022, both halves of the days asked, every configuration side by side.

    .venv/bin/python benchmarks/two_models.py          # needs .bench/rtqa-2022 and .bench/rtqa-2022-bge

Build the second index with
    NEWSBOT_INDEX_DIR=.bench/rtqa-2022-bge NEWSBOT_EMBEDDING_MODEL=bge-small-en-v1.5 \
        .venv/bin/newsbot index ../shared/bench/rtqa-2022/articles.jsonl.gz

An experiment, not a code path users run: the second model's passage vectors are joined to the first's by
(article, offsets), and a candidate's cosine becomes the mean of the two models' cosines (each model's vectors
concatenated, halved), so candidates found by either model are fused as one dense signal; sentences stay the first
model's. The reader's readings come from .bench/reader-cache.pkl (`bench_index.CachedReader`).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
from bench_index import BENCH, ROOT, CachedReader
from reader import SPLIT_DAY, merged, row

import index.answering.search as search_module
from index import Index, Settings
from index.answering.evaluate import evaluate, load_questions
from index.answering.ranking import DEFAULT_RANKING, UNREAD_RANKING

FIRST, SECOND = ROOT / ".bench" / "rtqa-2022", ROOT / ".bench" / "rtqa-2022-bge"


def joined_ids(first: Path, second: Path) -> np.ndarray:
    """For each passage id of the first index, the second's id of the same passage (-1: none)."""
    def spans(path: Path) -> dict[tuple, int]:
        with sqlite3.connect(path / "newsbot.sqlite") as db:
            return {(a, s, e): pid for pid, a, s, e in db.execute("SELECT id, article_id, char_start, char_end FROM passages")}
    ones, twos = spans(first), spans(second)
    out = np.full(max(ones.values()) + 1, -1, dtype=np.int64)
    for key, pid in ones.items():
        out[pid] = twos.get(key, -1)
    return out


class TwoVectors:
    """The first index's passage vectors joined with the second's: a candidate's cosine is the two models' mean."""

    def __init__(self, first, second, join: np.ndarray, back: dict[int, int], query_two: np.ndarray, extra: int) -> None:
        self.first, self.second, self.join, self.back, self.query_two, self.extra = first, second, join, back, query_two, extra
        self.ntotal = first.ntotal

    def reconstruct_batch(self, ids: np.ndarray) -> np.ndarray:
        ones = self.first.reconstruct_batch(ids)
        mapped = self.join[ids]
        twos = np.zeros_like(ones)
        ok = mapped >= 0
        if ok.any():
            twos[ok] = self.second.reconstruct_batch(mapped[ok])
        return np.hstack([ones, twos]).astype(np.float32) / np.sqrt(2)

    def nearest(self, query: np.ndarray, n: int, allowed):
        found = [pid for pid, _ in self.first.nearest(query[:384] * np.sqrt(2), n, allowed)]
        if self.extra:
            for pid, _ in self.second.nearest(self.query_two, self.extra, None):
                mine = self.back.get(pid)
                if mine is not None and (allowed is None or mine in allowed) and mine not in found:
                    found.append(mine)
        ids = np.asarray(found, dtype=np.int64)
        cosines = self.reconstruct_batch(ids) @ query
        return list(zip(found, cosines.tolist()))


class FirstSentences:
    """The first index's sentences, read with the first model's half of the joined question."""

    def __init__(self, sentences) -> None:
        self.sentences = sentences

    def __len__(self) -> int:
        return len(self.sentences)

    def best_cosines(self, pids, query):
        return self.sentences.best_cosines(pids, query[:384] * np.sqrt(2))

    def search(self, query, n):
        return self.sentences.search(query[:384] * np.sqrt(2), n)


class Joined:
    """A snapshot whose vectors are the two models' and whose sentences are the first's."""

    def __init__(self, files, vectors) -> None:
        self._files, self.vectors, self.sentences = files, vectors, FirstSentences(files.sentences)

    def __getattr__(self, name):
        return getattr(self._files, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    reader = CachedReader()
    articles = BENCH / "articles.jsonl.gz"
    first = Index.open(settings=Settings(index_dir=FIRST, articles_dir=articles), cross_encoder=reader, log=print)
    second = Index.open(settings=Settings(index_dir=SECOND, articles_dir=articles, model="bge-small-en-v1.5"),
                        cross_encoder=reader, log=print)
    join = joined_ids(FIRST, SECOND)
    back = {int(two): one for one, two in enumerate(join.tolist()) if two >= 0}
    print(f"{len(back):,} of bge-small's passages joined to MiniLM's", file=sys.stderr)
    questions = load_questions(BENCH / "questions.jsonl")
    halves = [[q for q in questions if str(q.asked) < SPLIT_DAY], [q for q in questions if str(q.asked) >= SPLIT_DAY]]
    first.warm_up()
    second.warm_up()
    original = search_module.gather
    second_reader = second.reader
    state: dict = {}

    def joined_gather(files, stems, query, ranking, allowed=None, earlier_stems=None, earlier_weight=0.0):
        if not state.get("on"):
            return original(files, stems, query, ranking, allowed, earlier_stems, earlier_weight)
        with second_reader.snapshot() as other:
            vectors = TwoVectors(files.vectors, other.vectors, join, back, state["query"], state["extra"])
            both = np.concatenate([query, state["query"]]).astype(np.float32) / np.sqrt(2)
            return original(Joined(files, vectors), stems, both, ranking, allowed, earlier_stems, earlier_weight)

    search_module.gather = joined_gather

    def ask(index: Index, extra: int | None, ranking, question: str, asked=None):
        state["on"] = extra is not None
        if extra is not None:
            state["query"], state["extra"] = second.embedder.encode_query(question), extra
        return index.search(question, k=10, ranking=ranking, asked=asked)

    configurations = [
        ("MiniLM (today's index), without the reader", first, None, UNREAD_RANKING),
        ("MiniLM (today's index), default with the reader", first, None, DEFAULT_RANKING),
        ("bge-small index, without the reader", second, None, UNREAD_RANKING),
        ("bge-small index, default with the reader", second, None, DEFAULT_RANKING),
        ("both models' mean cosine, MiniLM's candidates, without the reader", first, 0, UNREAD_RANKING),
        ("both models' mean cosine, MiniLM's candidates, with the reader", first, 0, DEFAULT_RANKING),
        ("both models' mean cosine, + bge's top 100, without the reader", first, 100, UNREAD_RANKING),
        ("both models' mean cosine, + bge's top 100, with the reader", first, 100, DEFAULT_RANKING),
        ("both, + bge's top 100, the reader reads 20", first, 100, replace(DEFAULT_RANKING, rerank=20)),
    ]
    print("| configuration | 2022: Hits@1 | Hits@5 | MRR@10 | first highlight | earlier half | later half |")
    print("|---|---|---|---|---|---|---|")
    try:
        for name, index, extra, ranking in configurations:
            parts = [evaluate(name, half, partial(ask, index, extra, ranking)) for half in halves]
            both = merged(name, parts)
            shown = " | ".join(row(name, p).replace(" | ", " / ") for p in parts)
            print(f"| {name} | {row(name, both)} | {shown} |", flush=True)
    finally:
        reader.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
