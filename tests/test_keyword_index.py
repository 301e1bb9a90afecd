"""The BM25 keyword index built from stem numbers scores every passage as bm25s's own build from stem strings."""

from __future__ import annotations

import bm25s
import numpy as np
import pytest
from conftest import SEEDS

from index.engines.common import K1, B
from index.engines.folder.generations import keyword_writer
from index.engines.folder.generations.delta import Delta
from index.engines.folder.generations.keyword_index import KeywordIndex
from index.engines.folder.generations.segments import Keywords, Parts
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


@pytest.mark.parametrize("at_once", [10**9, 97])  # one range of stems; many (the scratch file split and re-sorted)
def test_an_index_written_a_passage_at_a_time_holds_the_very_numbers_of_bm25s_build(tmp_path, monkeypatch, at_once):
    monkeypatch.setattr(keyword_writer, "POSTINGS_AT_ONCE", at_once)
    monkeypatch.setattr(keyword_writer, "FLUSH", 13)  # postings reach the scratch file in many small writes
    rows = _rows()
    KeywordIndex.build(rows).save(tmp_path / "keywords-00000002", 2)
    keyword_writer.write_keywords(tmp_path / "keywords-00000003", 3, iter(rows))
    built, written = KeywordIndex.load(tmp_path / "keywords-00000002", 2), KeywordIndex.load(tmp_path / "keywords-00000003", 3)
    for name in ("data", "indices", "indptr"):
        expected, got = np.asarray(built.retriever.scores[name]), np.asarray(written.retriever.scores[name])
        assert expected.dtype == got.dtype and np.array_equal(expected, got), name
    assert built.retriever.vocab_dict == written.retriever.vocab_dict
    assert built.average_length == written.average_length and np.array_equal(built.ids, written.ids)
    assert sorted(p.name for p in (tmp_path / "keywords-00000003").iterdir()) == sorted(
        p.name for p in (tmp_path / "keywords-00000002").iterdir()
    )  # no scratch file left
    with pytest.raises(ValueError):
        keyword_writer.write_keywords(tmp_path / "keywords-00000004", 4, iter(rows[::-1]))
    assert not (tmp_path / "keywords-00000004").exists()


def test_the_best_passages_are_those_of_every_score_whatever_the_ties():
    """`Keywords.best` partitions only the passages scoring at least a floor read from the rarest stems' passages:
    on a corpus of 12 copies of each passage (every score tied 12 times) it finds what sorting every score finds,
    the very passages (the first of those tied at the n-th score), whatever floor the rarest stems gave."""
    rows = _rows()
    copies = [(pid + k * 1000, title, body) for k in range(12) for pid, title, body in rows]
    keywords = Keywords(KeywordIndex.build(sorted(copies)), Parts([Delta.empty(4)], np.zeros(0, dtype=np.int64)))
    for question in ("why did NATO expel the diplomats?", "Russian mission intelligence officers", "the said of"):
        stems = tokens(question)
        every = keywords.scores(stems)
        for n in (1, 7, 12, 30, 100):
            top, scores = keywords.best(stems, n)
            expected = np.sort(every[every > 0])[::-1][:n]
            assert [scores[pid] for pid in top] == pytest.approx(expected.tolist(), abs=0), (question, n)
            for a, b in zip(top, top[1:]):
                assert scores[a] > scores[b] or a < b, "ties come in passage order"
            ranked = np.argsort(-every, kind="stable")  # ties in passage order, the n-th place's too
            assert top == keywords.ids[ranked[every[ranked] > 0][:n]].tolist(), (question, n)


def test_compiled_sums_are_bm25s_scores_bit_for_bit_and_join_a_delta_without_a_copy(tmp_path):
    """Large indexes sum a question's postings compiled (numba) into one row shared with the delta: every score is
    bm25s's own, the delta's are those of the uncompiled path, and dead base passages score 0."""
    rows = _rows()
    KeywordIndex.build(rows).save(tmp_path / "keywords-00000003", 3)
    plain = KeywordIndex.load(tmp_path / "keywords-00000003", 3)
    compiled = KeywordIndex.load(tmp_path / "keywords-00000003", 3)
    compiled = KeywordIndex(compiled.retriever, compiled.ids, compiled.average_length, compiled_from=0)
    assert compiled.compiled and not plain.compiled  # the seeds are far below COMPILED_FROM
    recent = [(1000 + n, np.zeros(4, np.float32), np.zeros((0, 4), np.float32), document_tokens(title, body))
              for n, (_, title, body) in enumerate(rows[:5])]
    delta, dead = Delta.build(recent, 4, np.array([2])), np.array([2], dtype=np.int64)
    for question in ("why did NATO expel the diplomats?", "Russian mission intelligence officers", "zebra", "the said of"):
        stems = tokens(question)
        expected = plain.retriever.get_scores([s for s in stems if s in plain.retriever.vocab_dict]) if any(
            s in plain.retriever.vocab_dict for s in stems) else np.zeros(len(rows), np.float32)
        assert np.array_equal(compiled.scores(stems), expected), question
        with_delta = Keywords(compiled, Parts([delta], dead)).scores(stems)
        reference = Keywords(plain, Parts([delta], dead)).scores(stems)
        assert np.array_equal(with_delta, reference), question
        expected = expected.copy()
        expected[plain.positions([2])[0]] = 0.0
        assert np.array_equal(with_delta[: len(rows)], expected), question
    assert Keywords(compiled, Parts([delta], dead)).scores(tokens("NATO expel"))[len(rows):].max() > 0  # the delta scores too


def test_segment_passages_score_the_bm25_of_their_counts_whichever_segment_holds_them():
    """A segment passage's score is Lucene's BM25 of its own stem counts, with the document frequencies of base and
    segments together; split over two segments or held in one, the very same numbers."""
    import math

    rows = _rows()
    base = KeywordIndex.build(rows)
    none = np.zeros(0, dtype=np.int64)
    recent = [(1000 + n, np.zeros(4, np.float32), np.zeros((0, 4), np.float32), document_tokens(title, body))
              for n, (_, title, body) in enumerate(rows[:7])]
    one = Keywords(base, Parts([Delta.build(recent, 4, none)], none))
    two = Keywords(base, Parts([Delta.build(recent[:3], 4, none), Delta.build(recent[3:], 4, none)], none))
    documents = len(rows) + len(recent)
    for question in ("why did NATO expel the diplomats?", "Russian mission intelligence officers", "the said of"):
        stems = tokens(question)
        scores = one.scores(stems)
        assert np.array_equal(scores, two.scores(stems)), question
        for n, (_, _, _, held) in enumerate(recent):
            expected = 0.0
            for stem in dict.fromkeys(stems):
                if count := held.count(stem):
                    frequency = one.frequency(stem)
                    idf = math.log(1 + (documents - frequency + 0.5) / (frequency + 0.5))
                    expected += idf * count / (count + K1 * ((1 - B) + B * len(held) / base.average_length))
            assert scores[len(rows) + n] == pytest.approx(expected, rel=1e-6), (question, n)
        assert scores[len(rows):].max() > 0, question
