"""Recent passages in write-once segments: each update writes only its own passages, small segments merge by size
class or into the large one, a removed passage is skipped until a merge drops it, and the folder keeps only the
segments a kept version lists. Real model, FAISS, bm25s and SQLite."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import NATO_QUESTION, SEEDS, make_index

from index.engines.folder.generations import keyword_index, merging
from index.engines.folder.store import Store

LINES = [line for seed in sorted(SEEDS.glob("*.txt")) for line in seed.read_text(encoding="utf-8").splitlines() if line.strip()]
QUESTIONS = [NATO_QUESTION, "how many members of Russia's mission did NATO expel?",
             "what did the Russian Foreign Ministry say it would do?", "when does the zebra crossing festival start?"]


@pytest.fixture
def articles(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def add(folder, n: int) -> None:
    """A new article of a few of the seeds' paragraphs (one or two passages)."""
    body = "\n".join(LINES[n % 8 :: 8][:2])
    (folder / f"again-{n}.txt").write_text(f"Again, part {n}\n\n{body} Zebra crossing festival {n} starts at noon.", encoding="utf-8")


def listed(store: Store, generation: int) -> list[str]:
    return json.loads((store.delta_path(generation) / "newsbot.json").read_text())["segments"]


def test_size_classes_and_the_newest_run_to_merge(monkeypatch):
    monkeypatch.setattr(merging, "SMALLEST", 4)
    assert [merging.size_class(n) for n in (0, 1, 3, 4, 15, 16, 63, 64)] == [0, 0, 0, 1, 1, 2, 2, 3]
    assert merging.newest_to_merge([]) == 0
    assert merging.newest_to_merge([5, 5, 5]) == 0  # three of a class: not yet
    assert merging.newest_to_merge([70, 5, 5, 5, 5]) == 4  # the fourth of class 1: the four merge
    assert merging.newest_to_merge([70, 5, 6, 9, 12]) == 4  # articles differ in size: a class, not a size
    assert merging.newest_to_merge([70, 9, 1, 3, 2]) == 0  # the smallest class merges among itself first
    assert merging.newest_to_merge([5, 5, 5, 70]) == 4  # a large newest one takes the small ones before it along
    assert merging.newest_to_merge([300, 5, 5, 70]) == 0 and merging.newest_to_merge([300, 20, 5, 5]) == 0


def test_the_segments_after_a_large_one_are_absorbed_into_it(monkeypatch):
    monkeypatch.setattr(merging, "SMALLEST", 4)
    monkeypatch.setattr(merging, "ABSORB", 100)
    assert merging.newest_to_merge([150]) == 0, "one segment: nothing to merge"
    assert merging.newest_to_merge([60, 30, 9]) == 0 and merging.newest_to_merge([60, 30, 10]) == 3  # none large yet
    assert merging.newest_to_merge([150, 60, 39]) == 0 and merging.newest_to_merge([150, 60, 40]) == 3
    assert merging.newest_to_merge([150, 60, 1, 1, 1, 1]) == 4, "below the bound, size classes as before"
    # A large segment grows by a share of itself before it is written again (1/32 of 6,400: 200).
    assert merging.newest_to_merge([6400, 150, 49]) == 0 and merging.newest_to_merge([6400, 150, 50]) == 3
    # While a fold is due and has not started: size classes only, the large segment never written again for it.
    assert merging.newest_to_merge([150, 60, 40], absorb=False) == 0
    assert merging.newest_to_merge([150, 60, 1, 1, 1, 1], absorb=False) == 4


def test_each_update_writes_only_its_own_segment_and_old_ones_are_never_rewritten(tmp_path, embedder, articles, monkeypatch):
    monkeypatch.setattr(merging, "TIER", 10**6)  # no merges: one segment an update
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    store = Store(index.directory)
    stamps: dict[str, tuple[int, int]] = {}
    for n in range(5):
        add(articles, n)
        summary = index.update(progress=False)
        names = listed(store, summary.generation)
        assert len(names) == n + 1, "one new segment an update"
        for name in names[:-1]:  # written by earlier updates: the same files, untouched
            for path in sorted((store.directory / name).iterdir()):
                assert (path.stat().st_ino, path.stat().st_mtime_ns) == stamps[f"{name}/{path.name}"], path
        for path in (store.directory / names[-1]).iterdir():
            stamps[f"{names[-1]}/{path.name}"] = (path.stat().st_ino, path.stat().st_mtime_ns)
        assert "festival" in index.search(f"when does the zebra crossing festival {n} start?").answers[0].quote
    on_disk = sorted(p.name for p in store.directory.glob("segment-*"))
    assert on_disk == sorted(names), "only the segments the kept versions list"


def test_merged_or_not_the_segments_answer_alike(tmp_path, embedder, monkeypatch):
    from index.engines.folder.generations import delta_graph

    answers = {}
    for tier, absorb in ((2, 10**9), (10**6, 10**9), (10**6, 3)):  # by size class, never, absorbed into one
        monkeypatch.setattr(merging, "TIER", tier)
        monkeypatch.setattr(merging, "ABSORB", absorb)
        monkeypatch.setattr(delta_graph, "GRAPH_FROM", 4 if absorb == 3 else 10**9)  # the large segment's graph grown
        folder = tmp_path / f"articles-{tier}-{absorb}"
        shutil.copytree(SEEDS, folder)
        index = make_index(tmp_path / f"{tier}-{absorb}", embedder, articles=folder)
        index.update(progress=False)
        for n in range(9):
            add(folder, n)
            summary = index.update(progress=False)
        names = listed(Store(index.directory), summary.generation)
        if absorb == 3:
            assert len(names) <= 3 and (Store(index.directory).directory / names[0] / "graph.faiss").exists(), names
        else:
            assert (len(names) < 5) if tier == 2 else (len(names) == 9), names
        answers[tier, absorb] = [[(a.article.title, a.quote) for a in index.search(q, k=5).answers] for q in QUESTIONS]
    assert answers[2, 10**9] == answers[10**6, 10**9] == answers[10**6, 3]
    assert any(title.startswith("Again") for found in answers[2, 10**9] for title, _ in found)


def test_a_removed_segment_passage_is_never_answered_and_a_merge_drops_it(tmp_path, embedder, articles, monkeypatch):
    monkeypatch.setattr(merging, "TIER", 3)
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    store = Store(index.directory)
    add(articles, 0)
    first = index.update(progress=False)
    (gone,) = listed(store, first.generation)
    gone_ids = np.load(store.directory / gone / "ids.npy")
    (articles / "again-0.txt").unlink()
    removed = index.update(progress=False)
    assert set(gone_ids.tolist()) <= set(np.load(store.delta_path(removed.generation) / "removed.npy").tolist())
    assert listed(store, removed.generation) == [gone], "skipped, not rewritten"
    assert not any(a.article.title == "Again, part 0" for a in index.search("when does the zebra crossing festival 0 start?", k=10).answers)
    for n in (1, 2):  # two more of the smallest class: the three merge, and the removed passages go with the merge
        add(articles, n)
        summary = index.update(progress=False)
    names = listed(store, summary.generation)
    assert gone not in names and len(names) == 1
    held = np.load(store.directory / names[0] / "ids.npy")
    assert not set(gone_ids.tolist()) & set(held.tolist())
    assert not set(gone_ids.tolist()) & set(np.load(store.delta_path(summary.generation) / "removed.npy").tolist())
    assert summary.passages == index.stats().passages
    assert "festival 2" in index.search("when does the zebra crossing festival 2 start?").answers[0].quote


def test_a_serving_index_loads_only_the_new_segment(tmp_path, embedder, articles, monkeypatch):
    monkeypatch.setattr(merging, "TIER", 10**6)
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    index.warm_up()
    add(articles, 0)
    index.update(progress=False)
    loaded = index.reader.generations
    (before,) = loaded._loaded[max(loaded._loaded)].vectors.parts.segments
    add(articles, 1)
    index.update(progress=False)
    after = loaded._loaded[max(loaded._loaded)].vectors.parts.segments
    assert len(after) == 2 and after[0] is before, "kept, not read again"


def test_a_process_reads_from_disk_only_segments_it_has_not_read_or_written(tmp_path, embedder, articles, monkeypatch):
    from index.engines.folder.generations.delta import Delta

    monkeypatch.setattr(merging, "TIER", 10**6)
    reads: list[str] = []
    load = Delta.load_segment.__func__
    monkeypatch.setattr(Delta, "load_segment", classmethod(lambda cls, directory: reads.append(directory.name) or load(cls, directory)))
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    index.warm_up()
    for n in range(3):  # each update reads the previous version's segments, and the serving index the new version's
        add(articles, n)
        index.update(progress=False)
        assert f"festival {n}" in index.search(f"when does the zebra crossing festival {n} start?").answers[0].quote
    assert reads == [], "every segment came from what this process wrote"
    other = make_index(tmp_path, embedder, articles=articles)  # another process: reads each once
    assert "festival 2" in other.search("when does the zebra crossing festival 2 start?").answers[0].quote
    other.search(NATO_QUESTION)
    assert sorted(reads) == sorted(listed(Store(index.directory), other.generation()))


def one_segment(tmp_path, embedder, articles):
    """The seeds built in full, then one article added: (the index, its store, the update's summary)."""
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    add(articles, 0)
    return index, Store(index.directory), index.update(progress=False)


def test_a_segment_left_by_a_crashed_update_is_removed_and_the_version_answers(tmp_path, embedder, articles):
    index, store, summary = one_segment(tmp_path, embedder, articles)
    (name,) = listed(store, summary.generation)
    orphan = store.directory / f"segment-{summary.generation + 1:08d}-9"  # written, never listed by a commit
    shutil.copytree(store.directory / name, orphan)
    assert "festival 0" in make_index(tmp_path, embedder, articles=articles).search(
        "when does the zebra crossing festival 0 start?").answers[0].quote
    add(articles, 1)
    later = index.update(progress=False)
    assert orphan.name not in listed(store, later.generation) and not orphan.exists()
    assert (store.directory / name).exists(), "still listed by the kept versions"


def test_a_missing_segment_is_a_clear_error(tmp_path, embedder, articles):
    from index.errors import IndexCorrupt

    _, store, summary = one_segment(tmp_path, embedder, articles)
    shutil.rmtree(store.directory / listed(store, summary.generation)[0])
    with pytest.raises(IndexCorrupt, match="cannot read the delta"):
        make_index(tmp_path, embedder, articles=articles).search(NATO_QUESTION)


def test_an_update_answers_before_its_run_of_segments_is_merged_as_a_version_of_its_own(tmp_path, embedder, articles,
                                                                                        monkeypatch):
    monkeypatch.setattr(merging, "TIER", 2)
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    serving = make_index(tmp_path, embedder, articles=articles)  # a serving process's reader of the same folder
    store, before_merging = Store(index.directory), []
    compact = index.writer.compact

    def answering_first(progress: bool):
        before_merging.append(serving.search("when does the zebra crossing festival 1 start?").answers[0].quote)
        return compact(progress)

    monkeypatch.setattr(index.writer, "compact", answering_first)
    add(articles, 0)
    first = index.update(progress=False)
    add(articles, 1)
    second = index.update(progress=False)  # two segments of the first class: a run of TIER
    assert second.generation == first.generation + 2, "the update's version, then the merge's"
    assert len(listed(store, second.generation - 1)) == 2 and len(listed(store, second.generation)) == 1
    assert store.delta_path(first.generation).exists(), "the version before the update, which a reader may hold, is kept"
    assert "festival 1" in before_merging[-1], "answered from the update's own version, before the merge"
    assert "festival 1" in serving.search("when does the zebra crossing festival 1 start?").answers[0].quote


def test_the_bases_keyword_index_is_read_once_across_the_versions_that_link_it(tmp_path, embedder, articles,
                                                                              monkeypatch):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    index.search(NATO_QUESTION)
    loads = []
    load = keyword_index.bm25s.BM25.load
    monkeypatch.setattr(keyword_index.bm25s.BM25, "load", lambda *a, **k: loads.append(a) or load(*a, **k))
    for n in range(3):
        add(articles, n)
        summary = index.update(progress=False)
        assert "festival" in index.search(f"when does the zebra crossing festival {n} start?").answers[0].quote
    assert Store(index.directory).read_recent(summary.generation) is not None, "versions beside the same base"
    assert loads == [], "the base's vocabulary was read again"
    other = make_index(tmp_path, embedder, articles=articles)  # another process reads it once
    other.search(NATO_QUESTION)
    assert len(loads) == 1


def test_a_compaction_that_fails_leaves_the_update_committed_and_its_files_never_read(tmp_path, embedder, articles,
                                                                                      monkeypatch):
    monkeypatch.setattr(merging, "TIER", 2)
    index = make_index(tmp_path, embedder, articles=articles)
    messages: list[str] = []
    index.log = messages.append
    index.update(progress=False)
    add(articles, 0)
    index.update(progress=False)
    store, writer = index.writer.store, index.writer
    compact, write_recent, failing = writer.compact, store.write_recent, []

    def written_then_full(recent, generation):  # the merged version's files are on disk, its commit never comes
        write_recent(recent, generation)
        if failing:
            raise OSError(28, "No space left on device")

    def compact_failing(progress: bool):
        failing.append(True)
        try:
            return compact(progress)
        finally:
            failing.clear()

    monkeypatch.setattr(store, "write_recent", written_then_full)
    monkeypatch.setattr(writer, "compact", compact_failing)
    add(articles, 1)
    summary = index.update(progress=False)
    assert len(listed(store, summary.generation)) == 2, "committed, not merged"
    assert store.delta_path(summary.generation + 1).exists(), "the failed compaction's files are left"
    assert "festival 1" in index.search("when does the zebra crossing festival 1 start?").answers[0].quote
    assert [m for m in messages if "compacting the index failed" in m and "No space left" in m]
    monkeypatch.setattr(writer, "compact", compact)
    rebuilt = index.update(rebuild=True, progress=False)  # a full build under the failed compaction's number
    assert rebuilt.generation == summary.generation + 1 and store.read_recent(rebuilt.generation) is None
    assert "festival 1" in index.search("when does the zebra crossing festival 1 start?").answers[0].quote
    for n in (2, 3):
        add(articles, n)
        later = index.update(progress=False)
    assert later.generation == rebuilt.generation + 3 and len(listed(store, later.generation)) == 1, "merged again"
