"""The BM25 keyword index built from stem numbers scores every passage as bm25s's own build from stem strings."""

from __future__ import annotations

import bm25s
import numpy as np
from conftest import SEEDS

from index.engines.common import K1, B
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.indexing.passages import split_passages
from index.text.keywords import document_tokens, tokens


def _rows() -> list[tuple[int, str, str]]:
    texts = []
    for seed in sorted(SEEDS.glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        texts += [(seed.stem, text[p.start : p.end]) for p in split_passages(text)]
    return [(pid, title, body) for pid, (title, body) in enumerate(texts, start=1)]


def test_scores_equal_those_of_bm25s_built_from_the_stems_themselves(tmp_path):
    rows = _rows()
    assert len(rows) >= 8
    built = KeywordIndex.build(rows)
    built.save(tmp_path / "keywords-00000003", 3)
    loaded = KeywordIndex.load(tmp_path / "keywords-00000003", 3)
    reference = bm25s.BM25(k1=K1, b=B, method="lucene")
    reference.index([document_tokens(title, body) for _, title, body in rows], show_progress=False)
    for question in ("why did NATO expel the diplomats?", "intelligence officers Russian mission", "zebra"):
        stems = [s for s in dict.fromkeys(tokens(question)) if s in reference.vocab_dict]
        expected = reference.get_scores(stems) if stems else np.zeros(len(rows), dtype=np.float32)
        assert np.allclose(loaded.scores(tokens(question)), expected, atol=1e-6), question
        assert np.allclose(built.scores(tokens(question)), expected, atol=1e-6), question
    assert loaded.frequency(tokens("NATO")[0]) == sum("nato" in document_tokens(t, b) for _, t, b in rows)
