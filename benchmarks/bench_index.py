"""The RealTimeQA 2022 benchmark's data and the index `rtqa.py` builds from it, shared by the scripts here."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from index import Embedder, Index, Settings  # noqa: E402

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
