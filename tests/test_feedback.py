"""Pseudo-relevance feedback: what the best passages share moves the question's vector; real model, real FAISS,
real SQLite and a real PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import NATO_QUESTION, make_index

from index import DEFAULT_RANKING
from index.answering.candidates import FEEDBACK_POOL, feedback_cosines, gather
from index.text.keywords import query_terms, stem


def order(found) -> list[int]:
    """Passage ids best fused score first."""
    return [c.pid for c in sorted(found, key=lambda c: -c.score)]


def test_feedback_moves_the_fused_cosines_and_keeps_the_questions_own(tmp_path, embedder, engine_settings):
    """Fusion reads each candidate's cosine to the question moved toward the best candidates' mean vector;
    `Candidate.dense` (what abstention weighs) stays the question's own; too few candidates: no feedback."""
    index = make_index(tmp_path, embedder, **engine_settings)
    index.update(progress=False)
    query = embedder.encode_query(NATO_QUESTION)
    stems = [stem(t) for t in query_terms(NATO_QUESTION)]
    dense_only = replace(DEFAULT_RANKING, dense=1.0, keyword=0.0, feedback=1)
    with index._searcher.reader.snapshot() as files:
        assert files.vectors.ntotal >= FEEDBACK_POOL * dense_only.feedback
        candidates = gather(files, stems, query, dense_only)
        vectors = files.vectors.reconstruct_batch(np.asarray([c.pid for c in candidates], dtype=np.int64))
        plain = gather(files, stems, query, replace(dense_only, feedback=0))
        starved = gather(files, stems, query, replace(dense_only, feedback=len(candidates)))
        own = files.vectors.reconstruct_batch(np.asarray([c.pid for c in plain], dtype=np.int64))
        again = feedback_cosines(own, plain, query, dense_only)
    assert [c.dense for c in candidates] == pytest.approx((vectors @ query).tolist(), abs=1e-5)
    best = max(plain, key=lambda c: c.score)  # feedback=1: the best fused candidate alone
    at = [c.pid for c in candidates].index(best.pid)
    moved = query + dense_only.feedback_weight * vectors[at]
    moved /= np.linalg.norm(moved)
    assert again == pytest.approx((vectors @ moved).tolist(), abs=1e-5)
    # Dense weight alone: the fused order is the moved cosines' order, which differs from the question's own.
    assert order(candidates) == [candidates[i].pid for i in np.argsort(-(vectors @ moved), kind="stable")]
    assert order(candidates) != order(plain)
    assert [c.score for c in starved] == [c.score for c in plain]
