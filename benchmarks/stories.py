"""When are two articles one story? Lead-passage cosines on RealTimeQA 2022 (the index `rtqa.py` built):
pairs of articles one question lists as relevant versus random pairs, at several thresholds (`SAME_STORY`).

    .venv/bin/python benchmarks/stories.py
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, BENCH_INDEX  # noqa: E402

from index.answering.evaluate import load_questions  # noqa: E402
from index.engines.folder.store import Store  # noqa: E402

THRESHOLDS = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85)


def main() -> int:
    store = Store(BENCH_INDEX)
    if not store.exists():
        print("no benchmark index yet: run benchmarks/rtqa.py first", file=sys.stderr)
        return 1
    with store.connection() as conn:
        vectors = store.read_vectors(Store.generation(conn))
        lead = dict(conn.execute("SELECT article_id, id FROM passages WHERE ord = 0"))
    same = []
    for question in load_questions(BENCH / "questions.jsonl"):
        found = [vectors.reconstruct(lead[a]) for a in sorted(question.article_ids) if a in lead]
        same += [float(found[i] @ found[j]) for i in range(len(found)) for j in range(i + 1, len(found))]
    rng, ids = random.Random(1), sorted(lead)
    other = [float(vectors.reconstruct(lead[a]) @ vectors.reconstruct(lead[b])) for a, b in (rng.sample(ids, 2) for _ in range(5000))]
    same_array, other_array = np.array(same), np.array(other)
    print(f"{len(same)} pairs of one question's relevant articles, {len(other)} random pairs\n")
    print("| threshold | relevant pairs grouped | random pairs grouped |\n|---|---|---|")
    for threshold in THRESHOLDS:
        print(f"| {threshold:.2f} | {(same_array >= threshold).mean():.3f} | {(other_array >= threshold).mean():.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
