"""Sentence vectors per generation: rows by passage, exact and IVF search, best cosine per passage, save/load."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from index.engines.folder.generations import sentence_index
from index.engines.folder.generations.sentence_index import SentenceIndex
from index.engines.folder.generations.sentence_writer import RowFile, write_sentences


def _rows(count: int, dimension: int = 16, seed: int = 0) -> list[tuple[int, np.ndarray]]:
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(10, 10 + count):
        matrix = rng.normal(size=(int(rng.integers(0, 6)), dimension)).astype(np.float32)
        rows.append((pid, matrix / np.linalg.norm(matrix, axis=1, keepdims=True)))
    return rows


@pytest.mark.parametrize("codes", [True, False])  # 8-bit rows, float16 rows (as indexes before them, and deltas)
@pytest.mark.parametrize("exact_limit", [10_000, 100])  # a flat scan, then an IVF-PQ index rescored on the rows
def test_a_stored_sentence_is_found_and_maps_back_to_its_passage(tmp_path, monkeypatch, exact_limit, codes):
    monkeypatch.setattr(sentence_index, "EXACT_LIMIT", exact_limit)
    monkeypatch.setattr(sentence_index, "SCALE_SAMPLE", 300)  # steps set before the last rows come
    rows = _rows(600)
    built = SentenceIndex.build(rows, 16, codes=codes)
    assert (built.ann is None) == (exact_limit > len(built))
    assert built.vectors.dtype == (np.int8 if codes else np.float16)
    built.save(tmp_path / "sentences-00000007", 7)
    assert not (tmp_path / "sentences-00000007" / "ann.faiss").exists()  # built by a process that searches
    loaded = SentenceIndex.load(tmp_path / "sentences-00000007", 7)
    error = float(built.scales.max()) * 0.5 + 1e-6 if codes else 2e-3  # half a step, or float16's
    for pid, matrix in rows[::37]:
        assert np.allclose(loaded.of(pid), matrix, atol=error)
        for ordinal, vector in enumerate(matrix):
            found_pid, found_ordinal, score = loaded.search(vector, 5)[0]
            assert (found_pid, found_ordinal) == (pid, ordinal) and score > 0.95
    assert loaded.of(9999).shape == (0, 16)


@pytest.mark.parametrize("exact_limit", [10_000, 100])
def test_rows_streamed_to_disk_are_the_folder_an_in_memory_build_saves(tmp_path, monkeypatch, exact_limit):
    monkeypatch.setattr(sentence_index, "EXACT_LIMIT", exact_limit)
    monkeypatch.setattr(sentence_index, "SCALE_SAMPLE", 300)
    rows = _rows(600, seed=4)
    written = write_sentences(tmp_path / "sentences-00000003", 3, iter(rows), 16, progress=False)
    streamed = SentenceIndex.load(tmp_path / "sentences-00000003", 3)
    built = SentenceIndex.build(rows, 16)
    assert written == len(built) == len(streamed)
    assert np.array_equal(np.asarray(streamed.vectors), built.vectors)
    assert np.array_equal(streamed.offsets, built.offsets) and np.array_equal(streamed.passage_ids, built.passage_ids)
    assert np.array_equal(streamed.scales, built.scales)
    assert (streamed.ann is None) == (built.ann is None)
    for pid, matrix in rows[::41]:
        for ordinal, vector in enumerate(matrix):
            assert streamed.search(vector, 3)[:1] == built.search(vector, 3)[:1]
            assert streamed.search(vector, 1)[0][:2] == (pid, ordinal)
    # rows out of order are refused, and no folder is left behind
    with pytest.raises(ValueError):
        write_sentences(tmp_path / "sentences-00000004", 4, iter(rows[::-1]), 16)
    assert not (tmp_path / "sentences-00000004").exists() and len(list(tmp_path.iterdir())) == 1


def test_a_row_file_reads_slices_as_the_array_saved(tmp_path):
    matrix = np.arange(70 * 6, dtype=np.int8).reshape(70, 6)
    np.save(tmp_path / "rows.npy", matrix)
    rows = RowFile(tmp_path / "rows.npy", np.int8, 6)
    assert rows.shape == (70, 6) and len(rows) == 70
    assert np.array_equal(rows[5:17], matrix[5:17]) and np.array_equal(rows[65:99], matrix[65:])
    with pytest.raises(ValueError):
        RowFile(tmp_path / "rows.npy", np.int8, 7)


def test_rows_built_in_memory_are_the_rows_given():
    rows = _rows(50, seed=5)
    built = SentenceIndex.build(rows, 16, codes=False)
    assert len(built) == sum(len(matrix) for _, matrix in rows)
    for pid, matrix in rows:
        assert np.allclose(built.of(pid), matrix, atol=2e-3)
    coded = SentenceIndex.build(iter(rows), 16)
    assert np.array_equal(coded.vectors, SentenceIndex.build(rows, 16).vectors)


def test_rows_read_back_and_coded_on_the_same_steps_keep_their_codes():
    rows = _rows(80, seed=9)
    first = SentenceIndex.build(rows, 16)
    again = SentenceIndex.build([(pid, first.of(pid)) for pid, _ in rows], 16, scales=first.scales)
    assert np.array_equal(again.vectors, first.vectors)  # a full build after deltas does not round them anew


def test_a_value_past_the_sampled_steps_is_clipped_not_wrapped(monkeypatch):
    monkeypatch.setattr(sentence_index, "SCALE_SAMPLE", 1)
    small = np.full((1, 16), 0.01, dtype=np.float32)
    built = SentenceIndex.build([(1, small), (2, -small * 50)], 16)
    assert np.all(built.vectors[1] == -127)


@pytest.mark.parametrize("codes", [True, False])
def test_best_cosines_match_a_row_by_row_computation(codes):
    rows = _rows(50, seed=3)
    built = SentenceIndex.build(rows, 16, codes=codes)
    query = rows[7][1][0] if len(rows[7][1]) else np.ones(16, dtype=np.float32) / 4
    pids = [pid for pid, _ in rows][::-1] + [5, 10_000]
    expected = [float((built.of(p) @ query).max()) if len(built.of(p)) else np.nan for p in pids]
    assert np.allclose(built.best_cosines(pids, query), expected, equal_nan=True, atol=1e-5)


def test_a_nearest_sentence_index_written_before_is_read_and_none_is_written_now(tmp_path, monkeypatch):
    """Full builds wrote `ann.faiss` until the sentence retriever's index was built on a process's first search: a
    folder written then is searched through its file; one written now holds none, and builds it once when searched."""
    monkeypatch.setattr(sentence_index, "EXACT_LIMIT", 100)
    rows = _rows(600, seed=5)
    write_sentences(tmp_path / "sentences-00000002", 2, iter(rows), 16)
    now = SentenceIndex.load(tmp_path / "sentences-00000002", 2)
    assert not (tmp_path / "sentences-00000002" / "ann.faiss").exists()
    first = now.ann
    assert first is not None and first.ntotal == len(now) and now.ann is first  # built once, then kept
    faiss.write_index(first, str(tmp_path / "sentences-00000002" / "ann.faiss"))  # as a full build wrote it before
    before = SentenceIndex.load(tmp_path / "sentences-00000002", 2)
    monkeypatch.setattr(sentence_index, "build_ann", lambda *a, **k: pytest.fail("the file is read, not built again"))
    assert before.ann.ntotal == len(now)
    pid, matrix = next((pid, m) for pid, m in rows if len(m))
    assert before.search(matrix[0], 1)[0][:2] == now.search(matrix[0], 1)[0][:2] == (pid, 0)


def test_another_generations_folder_or_a_missing_one_is_refused(tmp_path):
    SentenceIndex.build(_rows(5), 16).save(tmp_path / "s", 3)
    with pytest.raises(ValueError):
        SentenceIndex.load(tmp_path / "s", 4)
    with pytest.raises(ValueError):
        SentenceIndex.load(tmp_path / "missing", 3)
    with pytest.raises(ValueError):
        SentenceIndex.build([(5, np.zeros((1, 16))), (4, np.zeros((1, 16)))], 16)  # ids must ascend


def test_sentences_past_the_models_window_get_vectors_from_a_second_pass(embedder):
    sentences = [f"Sentence number {i} says the harbour {'ferry' if i % 2 else 'bridge'} reopened on day {i}." for i in range(60)]
    body = " ".join(sentences)
    spans, at = [], 0
    for sentence in sentences:
        spans.append((at, at + len(sentence)))
        at += len(sentence) + 1
    assert len(embedder.model.tokenizer(body)["input_ids"]) > 2 * embedder.model.max_seq_length
    passages, pooled = embedder.encode_with_sentences([("Harbour news\n", body, spans)])
    vectors = pooled[0]
    assert vectors.shape == (60, passages.shape[1])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)  # every sentence pooled, the last ones too
    alone = embedder.encode([sentences[-1]])[0]
    assert float(vectors[-1] @ alone) > 0.5  # the tail pass pools the right sentence
    assert float(vectors[-1] @ alone) > float(vectors[0] @ alone)
