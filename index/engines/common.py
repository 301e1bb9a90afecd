"""What both engines share: the retrievers' settings, the passage row rescoring reads, the exact scan.

The folder engine (`engines.folder`) and PostgreSQL (`engines.postgres`) import this module, never each other,
so the two rank alike: the same BM25 constants, HNSW settings and rows.
"""

from __future__ import annotations

import json
import time

import numpy as np

from index.quotes.results import ArticleInfo
from index.text.sentence_words import decode

K1 = 1.2  # the usual BM25 constants, as FTS5's bm25()
B = 0.75
HNSW_NEIGHBORS = 32  # links per vector: more is slower to build, finds more of the true top k
EF_CONSTRUCTION = 80
EF_SEARCH = 256  # breadth of the search; must exceed the 100 candidates taken per question
EXACT_SCAN = 5000  # allowed passages up to which the dense side scans them all instead of the graph
SENTENCE_DTYPE = np.float16  # sentence vectors in half the space; cosine differences stay below 1e-3


def now_iso() -> str:
    """The current UTC time, to the second, in ISO 8601."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def passage_row(pid_row: tuple) -> dict:
    """One passage as rescoring reads it, from (id, start, end, sentences JSON, quote, article id, title, source, url,
    published, path, ord, stored sentence words)."""
    _, start, end, sentences, quote, aid, title, source, url, published, path, ord_, words = pid_row
    spans = json.loads(sentences) if isinstance(sentences, str) else sentences
    texts = [quote[s - start : e - start] for s, e in spans]
    return {
        "start": start,
        "end": end,
        "quote": quote,
        "sentence_texts": texts,
        "sentence_spans": [(s, e) for s, e in spans],
        "sentence_words": decode(words, texts),
        "article": ArticleInfo(aid, title, source, url, published, path),
        "opens_article": ord_ == 0,
    }


def cached_blobs(vector: np.ndarray, sentences: np.ndarray) -> tuple[bytes, bytes]:
    """A passage's vector (float32) and its sentence vectors (`SENTENCE_DTYPE`) as the embedding cache stores them."""
    return np.asarray(vector, dtype=np.float32).tobytes(), np.asarray(sentences, dtype=SENTENCE_DTYPE).tobytes()


def from_cached_blobs(blob: bytes, sentence_blob: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The vectors `cached_blobs` stored: the passage's, and its sentences' as rows of the same width."""
    vector = np.frombuffer(blob, dtype=np.float32)
    return vector, np.frombuffer(sentence_blob, dtype=SENTENCE_DTYPE).reshape(-1, len(vector))


def scan(vectors, query: np.ndarray, n: int, allowed: set[int]) -> list[tuple[int, float]]:
    """The `n` of `allowed` closest to `query`, every one compared (`vectors` has `reconstruct_batch`)."""
    ids = np.fromiter(sorted(allowed), dtype=np.int64, count=len(allowed))
    if not len(ids):
        return []
    scores = vectors.reconstruct_batch(ids) @ query
    top = np.argsort(-scores, kind="stable")[:n]  # ties (copies of one story) by id, as PostgreSQL's scan orders them
    return list(zip(ids[top].tolist(), scores[top].tolist()))
