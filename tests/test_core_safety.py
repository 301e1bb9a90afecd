"""Crash safety and concurrency of `newsbot index`, with real processes killed with SIGKILL."""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import faiss
from conftest import NATO_QUESTION, ROOT, SEEDS, cli_env, make_index

from index.engines.folder.store import Store

SENTENCES = [
    line.strip()
    for seed in sorted(SEEDS.iterdir())
    for line in seed.read_text().replace(". ", ".\n").splitlines()
    if len(line.split()) > 6
]


def _synthetic_corpus(folder: Path, count: int = 36) -> None:
    """Distinct articles built from seed sentences, so each needs fresh embeddings."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    for i in range(count):
        paragraphs = [" ".join(rng.sample(SENTENCES, 3)) for _ in range(8)]
        (folder / f"report-{i:03d}.txt").write_text(f"Report {i} on NATO and Russia\n\n" + "\n\n".join(paragraphs))


def assert_consistent(index_dir: Path) -> int:
    """SQLite passages, the FTS table and the committed files hold the same ids: the base's (FAISS and BM25
    agreeing), less those removed since it was built, plus the delta's."""
    store = Store(index_dir)
    with store.connection() as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        generation = Store.generation(conn)
        passages = {row[0] for row in conn.execute("SELECT id FROM passages")}
        fts = {row[0] for row in conn.execute("SELECT rowid FROM passages_fts")}
        conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('integrity-check')")  # raises when damaged
        orphans = conn.execute("SELECT count(*) FROM passages WHERE article_id NOT IN (SELECT id FROM articles)")
        assert orphans.fetchone()[0] == 0
    vectors = store.read_vectors(generation)
    keywords = store.read_keywords(generation)
    base = set(faiss.vector_to_array(vectors.id_map).tolist())
    assert base == set(keywords.ids.tolist())
    found = store.read_delta(generation)
    recent = set(found[0].ids.tolist()) if found else set()
    assert not base & recent and recent <= passages
    if found:  # the delta lists the base passages removed since the base was built, and no others
        assert set(found[0].removed.tolist()) == base - passages
    assert (base & passages) | recent == passages == fts
    return generation


def _start_indexer(folder: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "index", str(folder)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _kill_when(process: subprocess.Popen, marker: str, timeout: float = 120) -> str:
    """Read the indexer's stderr until `marker` appears, then SIGKILL it; return what was read."""
    seen = ""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        assert time.monotonic() < deadline, f"never saw {marker!r}: {seen[-500:]}"
        chunk = process.stderr.read(1)
        if not chunk:
            break
        seen += chunk
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return seen


def test_killed_indexer_leaves_the_previous_index_usable(tmp_path, embedder):
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    index = make_index(tmp_path, embedder, articles=folder)
    index.update()
    first = assert_consistent(tmp_path / "index")
    _synthetic_corpus(folder / "more")
    env = cli_env(tmp_path)

    # Killed while embedding: the old version answers, and the first committed chunk is kept.
    seen = _kill_when(_start_indexer(folder, env), "128/")
    assert "Embedding" in seen
    assert assert_consistent(tmp_path / "index") == first
    result = make_index(tmp_path, embedder, articles=folder).search(NATO_QUESTION)
    assert any("intelligence officers" in a.quote for a in result.answers)

    # Killed as embedding finishes, i.e. while caching, writing FAISS or committing: old or new, never half.
    _kill_when(_start_indexer(folder, env), "100%")
    assert assert_consistent(tmp_path / "index") in (first, first + 1)

    resumed = make_index(tmp_path, embedder, articles=folder).update()
    assert resumed.indexed == 38
    assert resumed.passages > 150
    assert resumed.embedded <= 64, "work finished before the kills was embedded again"
    assert assert_consistent(tmp_path / "index") == first + 1
    assert not list((tmp_path / "index").glob(".vectors-*.tmp"))
    assert not list((tmp_path / "index").glob(".keywords-*.tmp"))
    answers = make_index(tmp_path, embedder, articles=folder).search("Report 17 on NATO and Russia", k=5).answers
    assert any(a.article.title == "Report 17 on NATO and Russia" for a in answers)


def test_two_indexers_at_once_one_waits_its_turn_with_a_clear_message(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    _synthetic_corpus(folder / "more", count=24)
    env = cli_env(tmp_path)
    first, second = _start_indexer(folder, env), _start_indexer(folder, env)
    outcomes = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in (first, second)]
    codes = sorted(code for code, _, _ in outcomes)
    assert codes == [0, 1], outcomes
    loser = next(o for o in outcomes if o[0] == 1)
    assert "another newsbot process is updating the index" in loser[2]
    assert len([line for line in loser[2].splitlines() if line.strip()]) == 1
    winner = next(o for o in outcomes if o[0] == 0)
    assert "26 added" in winner[1]
    assert assert_consistent(tmp_path / "index") == 1


def test_index_files_from_older_versions_and_crashed_updates_are_repaired(seed_copy, tmp_path, embedder):
    index_dir = tmp_path / "index"
    index = make_index(tmp_path, embedder, articles=seed_copy)
    index.update()
    store = Store(index_dir)
    generation = assert_consistent(index_dir)

    # An index from before keyword files, holding a flat FAISS index: still answers, and the next
    # `newsbot index` writes the missing keyword file without a new generation.
    old = store.read_vectors(generation)
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(old.d))
    flat.add_with_ids(old.index.reconstruct_n(0, old.ntotal), faiss.vector_to_array(old.id_map))
    store.write_vectors(flat, generation)
    shutil.rmtree(store.keywords_path(generation))
    answers = make_index(tmp_path, embedder, articles=seed_copy).search(NATO_QUESTION).answers
    assert any("intelligence officers" in a.quote for a in answers)
    assert make_index(tmp_path, embedder, articles=seed_copy).update().generation == generation
    assert assert_consistent(index_dir) == generation

    # A keyword folder left for the next generation by an update that crashed before its commit
    # (here: a copy of the current one) is replaced; the flat vectors stay the base of a delta
    # generation, and become an HNSW graph at the next full build.
    shutil.copytree(store.keywords_path(generation), store.keywords_path(generation + 1))
    (seed_copy / "000_1c6ccadab8500b43.txt").unlink()
    summary = make_index(tmp_path, embedder, articles=seed_copy).update()
    assert summary.removed == 1 and summary.generation == generation + 1
    assert assert_consistent(index_dir) == generation + 1 and store.delta_path(generation + 1).exists()
    rebuilt = make_index(tmp_path, embedder, articles=seed_copy).update(rebuild=True)
    assert assert_consistent(index_dir) == rebuilt.generation
    assert isinstance(faiss.downcast_index(store.read_vectors(rebuilt.generation).index), faiss.IndexHNSW)  # the graph, as vector_index.STORAGE stores it
    answers = make_index(tmp_path, embedder, articles=seed_copy).search(NATO_QUESTION, k=5).answers
    assert answers and all("000_1c6ccadab8500b43" not in a.article.path for a in answers)
