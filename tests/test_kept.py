"""What a full build keeps of the previous generation, read without holding it: the same vectors and sentence rows
as reading them from the loaded generation."""

from __future__ import annotations

import numpy as np

from index.engines.folder.generations import kept, sentence_index, vector_index
from index.engines.folder.generations.delta import Delta
from index.engines.folder.generations.kept import SpilledVectors, kept_sentences
from index.engines.folder.generations.sentence_index import VECTORS_FILE, SentenceIndex


def _unit(rng: np.random.Generator, count: int, dimension: int = 16) -> np.ndarray:
    matrix = rng.normal(size=(count, dimension)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def test_spilled_vectors_are_the_graphs_and_the_deltas_but_the_dead(tmp_path, monkeypatch):
    monkeypatch.setattr(vector_index, "ADD_CHUNK", 7)  # many chunks, written and read back
    rng = np.random.default_rng(1)
    base_ids = np.arange(10, 60)
    graph = vector_index.build(16, _unit(rng, len(base_ids)), base_ids)
    delta_vectors = _unit(rng, 5)
    none = np.zeros(0, np.int64)
    delta = Delta.build([(100 + i, v, np.zeros((0, 16), np.float32), ["w"]) for i, v in enumerate(delta_vectors)], 16, none)
    dead = np.array([10, 33, 59, 102])
    spilled = SpilledVectors(tmp_path, graph, delta, dead)
    expected_ids = np.array([i for i in [*base_ids, *delta.ids] if i not in dead])
    assert np.array_equal(spilled.ids, expected_ids)
    chunks = list(spilled.chunks())
    assert max(len(ids) for _, ids in chunks) == 7
    matrix, ids = np.concatenate([m for m, _ in chunks]), np.concatenate([i for _, i in chunks])
    assert np.array_equal(ids, expected_ids)
    for row, pid in enumerate(ids.tolist()):
        wanted = graph.reconstruct(pid) if pid < 100 else delta_vectors[pid - 100].astype(np.float16)  # (as stored)
        assert np.array_equal(matrix[row], np.asarray(wanted, dtype=np.float32))
    spilled.close()
    assert list(tmp_path.iterdir()) == [], "the scratch file has no name"


def test_kept_sentences_read_in_blocks_are_those_the_generation_holds(tmp_path, monkeypatch):
    monkeypatch.setattr(kept, "SENTENCE_BLOCK", 4)
    monkeypatch.setattr(sentence_index, "SCALE_SAMPLE", 10)
    rng = np.random.default_rng(2)
    rows = [(pid, _unit(rng, int(rng.integers(0, 5)))) for pid in range(1, 40)]
    previous = SentenceIndex.build(rows, 16)
    previous.save(tmp_path / "sentences-00000005", 5)
    previous = SentenceIndex.load(tmp_path / "sentences-00000005", 5)
    recent = [(50, _unit(rng, 1)[0], _unit(rng, 3), ["w"]), (51, _unit(rng, 1)[0], _unit(rng, 0), ["w"])]
    delta = Delta.build(recent, 16, np.zeros(0, np.int64))
    wanted = np.array([51, 39, 2, 3, 7, 8, 9, 10, 11, 20, 21, 38, 50, 45])  # unsorted; 45 is in neither
    rows_path = tmp_path / "sentences-00000005" / VECTORS_FILE
    got = list(kept_sentences(previous, rows_path, delta, wanted))
    assert [pid for pid, _ in got] == sorted(wanted.tolist())
    for pid, matrix in got:
        expected = delta.sentences.of(pid) if pid >= 50 else previous.of(pid)
        assert matrix.dtype == np.float32 and np.array_equal(matrix, expected), pid
    monkeypatch.setattr(kept, "SPAN_LIMIT", 3)  # blocks spread too wide: read passage by passage, alike
    assert [(pid, m.tobytes()) for pid, m in kept_sentences(previous, rows_path, delta, wanted)] == [(pid, m.tobytes()) for pid, m in got]
    coded_again = SentenceIndex.build(list(kept_sentences(previous, rows_path, None, np.arange(1, 40))), 16, scales=previous.scales)
    assert np.array_equal(coded_again.vectors, np.asarray(previous.vectors)), "codes kept as they were"


def test_a_graph_fed_in_chunks_holds_every_vector_in_order_whatever_its_storage(monkeypatch):
    monkeypatch.setattr(vector_index, "TRAINING", 50)  # int8 learns its ranges from the first chunks, then adds them
    rng = np.random.default_rng(3)
    matrix, ids = _unit(rng, 300), np.arange(1000, 1300)
    chunks = [(matrix[i : i + 23], ids[i : i + 23]) for i in range(0, 300, 23)]
    for storage in ("float16", "int8"):
        monkeypatch.setattr(vector_index, "STORAGE", storage)
        graph = vector_index.build_from(16, iter(chunks), 300)
        assert np.array_equal(vector_index.contents_ids(graph), ids), storage
        _, found = graph.search(matrix, 1)
        assert np.array_equal(found.ravel(), ids), storage


def test_an_int8_graph_keeps_its_steps_so_kept_vectors_are_coded_as_they_were(monkeypatch):
    monkeypatch.setattr(vector_index, "TRAINING", 100)
    monkeypatch.setattr(vector_index, "CODED_FROM", 200)
    rng = np.random.default_rng(4)
    small = vector_index.build(16, _unit(rng, 150), np.arange(150))
    assert vector_index.steps_of(small) is None, "below CODED_FROM: float16, whose round trip is exact"
    graph = vector_index.build(16, _unit(rng, 300), np.arange(300))
    steps = vector_index.steps_of(graph)
    assert steps is not None and len(steps) == 32, "from CODED_FROM: 8-bit codes, their steps learnt"
    stored, ids = vector_index.contents(graph)
    again = vector_index.build_from(16, vector_index.chunks_of(graph, 64), 300, steps=steps)
    assert np.array_equal(vector_index.contents(again)[0], stored), "read back and coded on the same steps: unchanged"
    assert np.array_equal(vector_index.steps_of(again), steps)
    fewer = vector_index.build_from(16, iter([(stored[:120], ids[:120])]), 120, steps=steps)
    assert np.array_equal(vector_index.steps_of(fewer), steps), "shrunk below CODED_FROM, still coded on its steps"
    assert np.array_equal(vector_index.contents(fewer)[0], stored[:120])
    relearnt = vector_index.build_from(16, vector_index.chunks_of(graph, 64), 300)
    assert not np.array_equal(vector_index.contents(relearnt)[0], stored), "steps learnt anew would round them again"
