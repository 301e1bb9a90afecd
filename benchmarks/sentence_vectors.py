"""Pooled or separate sentence vectors? Quality of each for finding the answering sentence, and their cost.

    .venv/bin/python benchmarks/sentence_vectors.py [--questions 60]

Takes every 7th RealTimeQA 2022 question (60 by default) and all sentences of all their relevant
articles (one pool, ~13k sentences), and ranks the pool for each question by three kinds of
sentence vector: pooled from the passage's own forward pass (what the index stores), each sentence
embedded on its own, and on its own after the article title. A hit is a sentence from a relevant
article holding the answer. Also times both ways of computing them against embedding the passages,
and counts how many of the whole corpus's passages (title line included) exceed the model's window.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import Embedder  # noqa: E402
from index.answering.evaluate import load_questions  # noqa: E402
from index.indexing.indexer import embed_text  # noqa: E402
from index.indexing.passages import split_passages  # noqa: E402

BENCH = ROOT.parent / "shared" / "bench" / "rtqa-2022"


def has(answer: str, text: str) -> bool:
    """The benchmark's relevance rule: the answer on word boundaries, any case."""
    return re.search(r"(?<!\w)" + re.escape(answer) + r"(?!\w)", text, re.IGNORECASE) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=60)
    args = parser.parse_args()
    questions = load_questions(BENCH / "questions.jsonl")[1::7][: args.questions]
    wanted = set().union(*(q.article_ids for q in questions))
    articles = {}
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if record["id"] in wanted:
                articles[record["id"]] = record
    items, passage_texts, sentences = [], [], []  # sentences: (article id, title, text)
    for aid, record in articles.items():
        text = record["text"]
        for p in split_passages(text):
            body = text[p.start : p.end]
            items.append((embed_text(record["title"], ""), body, [(s - p.start, e - p.start) for s, e in p.sentences]))
            passage_texts.append(embed_text(record["title"], body))
            sentences += [(aid, record["title"], text[s:e]) for s, e in p.sentences]
    embedder = Embedder()
    embedder.encode(["load the model"])
    started = time.perf_counter()
    embedder.encode(passage_texts)
    passages_only = time.perf_counter() - started
    started = time.perf_counter()
    _, pooled = embedder.encode_with_sentences(items)
    pooled_time = time.perf_counter() - started
    started = time.perf_counter()
    separate = embedder.encode([s[2] for s in sentences])
    separate_time = time.perf_counter() - started
    titled = embedder.encode([embed_text(s[1], s[2]) for s in sentences])
    kinds = {"pooled from the passage (stored)": np.concatenate(pooled), "each sentence alone": separate, "each sentence after its title": titled}
    print(f"{len(questions)} questions, {len(articles)} articles, {len(items)} passages, {len(sentences)} sentences\n")
    print("| sentence vectors | answering sentence first | in top 5 | best sentence of a relevant article answers |")
    print("|---|---|---|---|")
    for name, matrix in kinds.items():
        first = top5 = within = 0
        for q in questions:
            scores = matrix @ embedder.encode_query(q.question)
            order = np.argsort(-scores)
            hits = [sentences[i][0] in q.article_ids and has(q.answer, sentences[i][2]) for i in order[:5]]
            first += hits[0]
            top5 += any(hits)
            relevant = [i for i, s in enumerate(sentences) if s[0] in q.article_ids]
            within += has(q.answer, sentences[max(relevant, key=lambda i: scores[i])][2])
        n = len(questions)
        print(f"| {name} | {first / n:.3f} | {top5 / n:.3f} | {within / n:.3f} |")
    print("\n| computing | seconds | passages/s | extra cost over passage vectors alone |\n|---|---|---|---|")
    print(f"| passage vectors alone (`encode`) | {passages_only:.1f} | {len(items) / passages_only:.1f} | — |")
    print(f"| passage + pooled sentence vectors (one pass) | {pooled_time:.1f} | {len(items) / pooled_time:.1f} "
          f"| {pooled_time / passages_only - 1:+.0%} |")
    print(f"| passage vectors, then each sentence alone | {passages_only + separate_time:.1f} "
          f"| {len(items) / (passages_only + separate_time):.1f} | {separate_time / passages_only:+.0%} |")
    window(embedder)
    return 0


def window(embedder: Embedder) -> None:
    """How many passages of the whole corpus are longer than the model's window, and by how much."""
    model = embedder.model
    lengths = []
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            texts = [embed_text(record["title"], record["text"][p.start : p.end]) for p in split_passages(record["text"])]
            if texts:
                lengths += [len(ids) for ids in model.tokenizer(texts)["input_ids"]]
    lengths = np.asarray(lengths)
    over = lengths > model.max_seq_length
    print(f"\n{len(lengths)} passages; tokens per passage: median {np.median(lengths):.0f}, "
          f"p95 {np.percentile(lengths, 95):.0f}, max {lengths.max()}; over the {model.max_seq_length}-token window: "
          f"{over.sum()} ({over.mean():.1%}), their sentences past it pooled from a second pass")


if __name__ == "__main__":
    sys.exit(main())
