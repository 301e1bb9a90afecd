"""A large delta's vectors get an HNSW graph of their own, grown by each update: it finds what the exact scan finds,
never a passage gone from the delta, and is built anew once too many are gone. Real FAISS, models and SQLite."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import NATO_QUESTION, SEEDS, make_index

from index.engines.folder.generations import delta_graph
from index.engines.folder.generations.delta import Delta
from index.engines.folder.store import Store

DIMENSION = 16


def _rows(pids, rng) -> list[tuple]:
    rows = []
    for pid in pids:
        vector = rng.normal(size=DIMENSION).astype(np.float32)
        rows.append((pid, vector / np.linalg.norm(vector), np.zeros((0, DIMENSION), np.float32), ["w"]))
    return rows


def _exact(delta: Delta, query: np.ndarray, n: int) -> list[int]:
    return delta.ids[np.argsort(-(delta.vectors @ query), kind="stable")[:n]].tolist()


def test_the_graph_is_grown_by_each_update_and_never_finds_a_gone_passage(tmp_path, monkeypatch):
    monkeypatch.setattr(delta_graph, "GRAPH_FROM", 30)
    rng = np.random.default_rng(3)
    none = np.zeros(0, np.int64)
    small = Delta.build(_rows(range(100, 120), rng), DIMENSION, none)
    assert small.graph is None, "below GRAPH_FROM the delta is scanned"
    first = small.extended(none, _rows(range(140, 160), rng), none)
    assert first.graph is not None and first.graph.index.ntotal == 40 and not len(first.graph.stale)
    gone = np.array([101, 119, 150, 155, 159])
    second = first.extended(gone, _rows(range(160, 163), rng), none)
    assert second.graph.index.ntotal == 43, "grown by the new passages, not built anew"
    assert second.graph.stale.tolist() == gone.tolist()
    assert first.graph.index.ntotal == 40, "the previous delta's graph is left as it was"
    for query in rng.normal(size=(20, DIMENSION)).astype(np.float32):
        ids, scores = second.graph.nearest(query, 10, None)
        assert not set(ids.tolist()) & set(gone.tolist())
        assert set(ids.tolist()) == set(_exact(second, query, 10))  # (a graph this small is searched exhaustively)
        assert np.allclose(scores, np.sort(second.vectors @ query)[::-1][:10], atol=2e-3)  # float16 in the graph
        allowed = set(second.ids[::3].tolist()) | {101, 150}
        ids, _ = second.graph.nearest(query, 5, allowed)
        assert len(ids) == 5 and set(ids.tolist()) <= allowed - {101, 150}
    second.save(tmp_path / "delta-00000007", 7, 1)
    loaded, base = Delta.load(tmp_path / "delta-00000007", 7)
    assert base == 1 and loaded.graph.index.ntotal == 43 and loaded.graph.stale.tolist() == gone.tolist()
    many_gone = second.ids[:6]  # 11 of 32 gone with the 5 before: past STALE_SHARE
    rebuilt = loaded.extended(many_gone, [], none)
    assert rebuilt.graph.index.ntotal == len(rebuilt) == 32 and not len(rebuilt.graph.stale)
    assert rebuilt.extended(rebuilt.ids[:5], [], none).graph is None, "back below GRAPH_FROM: scanned again"
    (tmp_path / "delta-00000007" / "ids.npy").unlink()
    np.save(tmp_path / "delta-00000007" / "ids.npy", np.append(second.ids[:-1], 999))  # a graph without passage 999
    with pytest.raises(ValueError, match="graph"):
        Delta.load(tmp_path / "delta-00000007", 7)


def test_an_index_answers_alike_with_the_delta_graph_and_with_the_scan(tmp_path, embedder, monkeypatch):
    """Through real updates: seeds built in full, then articles added and one removed as deltas; with a graph
    from the first delta passage, the delta folder holds it and every answer is the scan's."""
    answers = {}
    for graph_from in (1, 10**9):
        monkeypatch.setattr(delta_graph, "GRAPH_FROM", graph_from)
        folder = tmp_path / f"articles-{graph_from}"
        shutil.copytree(SEEDS, folder)
        index = make_index(tmp_path / str(graph_from), embedder, articles=folder)
        index.update(progress=False)
        lines = [line for seed in sorted(SEEDS.glob("*.txt")) for line in seed.read_text(encoding="utf-8").splitlines() if line.strip()]
        for n in range(8):  # eight new articles of the seeds' paragraphs, one update each: the delta holds them
            body = "\n".join(lines[n::8])
            (folder / f"again-{n}.txt").write_text(f"Again, part {n}\n\n{body}", encoding="utf-8")
            index.update(progress=False)
        (folder / "again-0.txt").unlink()  # a delta passage gone: stale in the graph
        summary = index.update(progress=False)
        store = Store(index.directory)
        delta, _ = store.read_delta(summary.generation)
        assert delta.graph is None, "the recent passages joined for their rows (a full build's) grow no graph"
        names = json.loads((store.delta_path(summary.generation) / "newsbot.json").read_text())["segments"]
        assert names and all((store.directory / name / delta_graph.GRAPH_FILE).exists() == (graph_from == 1) for name in names)
        questions = [NATO_QUESTION, "how many members of Russia's mission did NATO expel?",
                     "what did the Russian Foreign Ministry say it would do?"]
        answers[graph_from] = [[(a.article.title, a.quote) for a in index.search(q, k=5).answers] for q in questions]
    assert answers[1] == answers[10**9]
    assert all(answers[1]) and any(title.startswith("Again") for found in answers[1] for title, _ in found)
    assert not any(title == "Again, part 0" for found in answers[1] for title, _ in found), "removed: never answered"


def test_a_filter_allowing_few_delta_passages_scans_them_rather_than_searching_the_graph(monkeypatch):
    """A filtered HNSW search may miss a few allowed passages among many; a delta's allowed few are scanned exactly."""
    from index.engines.folder.generations import segments, vector_index
    from index.engines.folder.generations.segments import Parts, PassageVectors

    monkeypatch.setattr(delta_graph, "GRAPH_FROM", 30)
    monkeypatch.setattr(segments, "EXACT_SCAN", 4)  # (filters of more than 4 passages reach the graphs)
    rng = np.random.default_rng(8)
    base_rows = _rows(range(1, 50), rng)
    base = vector_index.build(DIMENSION, np.stack([r[1] for r in base_rows]), np.arange(1, 50))
    delta = Delta.build(_rows(range(100, 160), rng), DIMENSION, np.zeros(0, np.int64))
    searched, original = [], delta.graph.nearest
    monkeypatch.setattr(delta.graph, "nearest", lambda query, n, allowed: searched.append(allowed) or original(query, n, allowed))
    vectors = PassageVectors(base, Parts([delta], np.zeros(0, np.int64)))
    query = rng.normal(size=DIMENSION).astype(np.float32)
    few = set(range(1, 20)) | {101, 130, 150}  # 3 delta passages allowed: scanned
    ids, _ = vectors._recent(0, query, 10, few)
    assert sorted(ids.tolist()) == [101, 130, 150] and not searched
    many = set(range(100, 140))  # 40 allowed: the graph, filtered
    ids, _ = vectors._recent(0, query, 10, many)
    assert len(ids) == 10 and set(ids.tolist()) <= many and searched == [many]
    ids, _ = vectors._recent(0, query, 10, None)
    assert len(ids) == 10 and searched[-1] is None
    assert [pid for pid, _ in vectors.nearest(query, 5, few)] and all(
        pid in few for pid, _ in vectors.nearest(query, 5, few))
