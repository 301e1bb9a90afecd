"""Score several `Ranking` settings side by side on RealTimeQA 2022, over the index `rtqa.py` built.

    .venv/bin/python benchmarks/grid.py '{"bm25": BM25_ONLY, "w.4+s.3": Ranking(dense=0.4, keyword=0.6, sentence=0.3)}'

The argument is a Python dict literal of name -> Ranking (names in scope: Ranking, BM25_ONLY,
DENSE_ONLY, DEFAULT_RANKING, PREVIOUS_RANKING). One table row is printed per setting as soon as it is scored.
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, open_bench_index  # noqa: E402

from index import Ranking  # noqa: E402
from index.answering.evaluate import evaluate, format_table, load_questions  # noqa: E402
from index.answering.ranking import BM25_ONLY, DEFAULT_RANKING, DENSE_ONLY, PREVIOUS_RANKING  # noqa: E402


def main() -> int:
    names = {
        "Ranking": Ranking,
        "BM25_ONLY": BM25_ONLY,
        "DENSE_ONLY": DENSE_ONLY,
        "DEFAULT_RANKING": DEFAULT_RANKING,
        "PREVIOUS_RANKING": PREVIOUS_RANKING,
    }
    grid = eval(sys.argv[1], {"__builtins__": {}}, names) if len(sys.argv) > 1 else {"default": DEFAULT_RANKING}
    questions = load_questions(BENCH / "questions.jsonl")
    index = open_bench_index()
    if index is None:
        return 1
    index.warm_up()
    print("\n".join(format_table([]).splitlines()[:2]))
    for name, ranking in grid.items():
        metrics = evaluate(name, questions, partial(index.search, k=10, ranking=ranking))
        print(format_table([metrics]).splitlines()[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
