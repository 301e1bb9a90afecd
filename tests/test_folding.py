"""Folding the recent passages into a new base while updates go on: the fold holds the update lock only to start and
finish, updates commit (and merge their own segments) while it builds, and the folded version keeps what they did.
Real model, FAISS, bm25s and SQLite; a second `Index` on the same folder stands for another process."""

from __future__ import annotations

import json
import shutil

import filelock
import pytest
from conftest import SEEDS, make_index

import index.engines.folder.generations.building as generation_files
from index.engines.folder import folding
from index.engines.folder.store import Store

LIMIT = 5  # recent passages past which a fold is due (seeds: 8 passages in two articles of 4)


@pytest.fixture
def articles(tmp_path, monkeypatch):
    monkeypatch.setattr(generation_files, "MIN_SIZE", LIMIT)
    monkeypatch.setattr(generation_files, "MAX_SHARE", 0.0)
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def zebra(folder, n: int) -> None:
    """A one-passage article of its own."""
    (folder / f"zebra-{n}.txt").write_text(
        f"Zebra festival {n}\n\nThe town council said zebra crossing festival number {n} will close the high street "
        "on Saturday for the parade.", encoding="utf-8")


def okapi(folder, n: int) -> None:
    (folder / f"okapi-{n}.txt").write_text(
        f"Okapi sanctuary {n}\n\nThe okapi sanctuary in district {n} opened a feeding station for its forest animals "
        "on Monday, its keepers said.", encoding="utf-8")


def quoted(index, question: str) -> str:
    return " ".join(answer.quote for answer in index.search(question, k=10).answers)


def test_updates_commit_and_merge_while_a_fold_builds_and_the_fold_keeps_them(tmp_path, embedder, articles, monkeypatch):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    for n in range(1, LIMIT + 1):
        zebra(articles, n)
        assert index.update(progress=False).generation  # at most LIMIT recent passages: no fold
    store = Store(index.directory)
    other = make_index(tmp_path, embedder, articles=articles)  # another process's updates, never waiting (wait=0)
    during = {}
    build = generation_files.GenerationFiles.fold

    def updates_during_the_build(self, conn, generation, recent):
        during["folded"] = generation
        during["taken"] = folding.taken_segments(store.directory)
        for n in range(1, 5):
            okapi(articles, n)
            during.setdefault("generations", []).append(other.update(progress=False).generation)
        (articles / "zebra-1.txt").unlink()  # a passage of a segment the fold takes
        (articles / "003_856c997e904d8576.txt").unlink()  # four of the base's
        during["generations"].append(other.update(progress=False).generation)
        during["okapi"] = quoted(other, "what did the okapi sanctuary in district 3 open?")
        return build(self, conn, generation, recent)

    monkeypatch.setattr(generation_files.GenerationFiles, "fold", updates_during_the_build)
    zebra(articles, LIMIT + 1)
    folded = index.update(progress=False)  # LIMIT + 1 recent passages: the fold is due after the update's session

    assert during["taken"], "the marker named the folded segments while the fold held its lock"
    assert during["generations"] == sorted(during["generations"]) and during["generations"][0] > during["folded"]
    assert "district 3" in during["okapi"], "an update during the fold was answerable at once"
    assert folded.generation > during["generations"][-1], "the fold committed after the updates, as a version of its own"
    recent = store.read_recent(folded.generation)
    assert recent.base == folded.generation, "a new base"
    assert len(recent.segments) == 1, "the four okapi segments were merged while the fold held the older ones"
    assert len(recent.ids) == 4 and len(recent.removed) == 5, "the okapis; zebra 1 and the base's four removed since"
    assert folding.taken_segments(store.directory) == () and not list(store.directory.glob("fold-*"))
    with store.connection() as conn:
        assert conn.execute("SELECT count(*) FROM passages").fetchone()[0] == 4 + 4 + LIMIT  # 000's four, okapis, zebras
    for reader in (index, make_index(tmp_path, embedder, articles=articles)):  # this process, and a new one
        assert "district 3" in quoted(reader, "what did the okapi sanctuary in district 3 open?")
        assert "number 6" in quoted(reader, "when will zebra crossing festival number 6 close the high street?")
        assert "number 1 " not in quoted(reader, "when will zebra crossing festival number 1 close the high street?")
        removed = (SEEDS / "003_856c997e904d8576.txt").read_text(encoding="utf-8")
        assert not [a for a in reader.search("NATO Russia mission diplomats", k=10).answers if a.quote in removed]
    okapi(articles, 5)
    after = index.update(progress=False)  # a segment on the folded base
    assert store.read_recent(after.generation).base == folded.generation
    assert "district 5" in quoted(make_index(tmp_path, embedder, articles=articles), "what did the okapi sanctuary in district 5 open?")


def test_a_fold_that_fails_or_was_killed_leaves_the_updates_and_the_next_fold_starts_over(tmp_path, embedder, articles, monkeypatch):
    messages = []
    index = make_index(tmp_path, embedder, articles=articles)
    index.log = messages.append
    index.update(progress=False)
    for n in range(1, LIMIT + 1):
        zebra(articles, n)
        index.update(progress=False)
    store = Store(index.directory)
    build = generation_files.GenerationFiles.fold

    def full_disk(self, conn, generation, recent):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(generation_files.GenerationFiles, "fold", full_disk)
    zebra(articles, LIMIT + 1)
    failed = index.update(progress=False)
    assert [m for m in messages if "folding the index failed" in m and "No space left" in m]
    assert store.read_recent(failed.generation).base < failed.generation, "not folded: the update's version stands"
    assert "number 6" in quoted(index, "when will zebra crossing festival number 6 close the high street?")
    assert not (store.directory / folding.MARKER).exists() and not list(store.directory.glob("fold-*"))

    # A process killed while folding: its marker and folder stay, nobody holds the fold lock.
    names = json.loads((store.delta_path(failed.generation) / "newsbot.json").read_text())["segments"]
    (store.directory / folding.MARKER).write_text(json.dumps({"generation": failed.generation, "segments": names}))
    (store.directory / f"{folding.FOLD_FOLDER}{failed.generation:08d}").mkdir()
    assert folding.taken_segments(store.directory) == (), "a marker nobody holds the lock for is no fold in progress"
    monkeypatch.setattr(generation_files.GenerationFiles, "fold", build)
    zebra(articles, LIMIT + 2)
    folded = index.update(progress=False)
    assert store.read_recent(folded.generation) is None, "folded in full, nothing removed or added since"
    assert not (store.directory / folding.MARKER).exists() and not list(store.directory.glob("fold-*"))
    assert "number 7" in quoted(make_index(tmp_path, embedder, articles=articles),
                                "when will zebra crossing festival number 7 close the high street?")


def test_a_fold_out_of_date_after_a_rebuild_gives_up(tmp_path, embedder, articles, monkeypatch):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    for n in range(1, LIMIT + 1):
        zebra(articles, n)
        index.update(progress=False)
    build = generation_files.GenerationFiles.fold
    other = make_index(tmp_path, embedder, articles=articles)

    def rebuilt_during_the_build(self, conn, generation, recent):
        other.update(rebuild=True, progress=False)
        return build(self, conn, generation, recent)

    monkeypatch.setattr(generation_files.GenerationFiles, "fold", rebuilt_during_the_build)
    zebra(articles, LIMIT + 1)
    summary = index.update(progress=False)
    store = Store(index.directory)
    with store.connection() as conn:
        current = Store.generation(conn)
    assert current == summary.generation + 1, "the rebuild's version, and no fold after it"
    assert store.read_recent(current) is None
    assert not (store.directory / folding.MARKER).exists() and not list(store.directory.glob("fold-*"))
    assert "number 3" in quoted(index, "when will zebra crossing festival number 3 close the high street?")


def test_a_serving_process_folds_in_a_process_of_its_own_while_its_next_update_goes_on(tmp_path, embedder, articles,
                                                                                      monkeypatch):
    index = make_index(tmp_path, embedder, articles=articles)
    messages, started = [], []
    index.log = messages.append
    spawn = folding.fold_in_process
    monkeypatch.setattr(folding, "fold_in_process", lambda directory: started.append(directory) or spawn(directory))
    index.update(progress=False)
    index.warm_up()  # serving: folds in the background
    for n in range(1, LIMIT + 1):
        zebra(articles, n)
        index.update(progress=False)
        index.wait_for_fold()
    assert not started, "no process started while no fold was due (one takes a second or two)"

    def not_here(self, conn, generation, recent):
        raise AssertionError("folded inside the serving process")

    monkeypatch.setattr(generation_files.GenerationFiles, "fold", not_here)
    zebra(articles, LIMIT + 1)
    first = index.update(progress=False)  # the fold due: begun in a process of its own, waited for by a thread
    assert index._folding is not None and index._folding.is_alive()
    okapi(articles, 1)
    second = index.update(progress=False, wait=30)  # the watcher's next update, as it waits for the lock
    assert second.generation > first.generation
    assert "district 1" in quoted(index, "what did the okapi sanctuary in district 1 open?")
    index.wait_for_fold(300)
    assert not messages, messages
    assert len(started) == 1
    store = Store(index.directory)
    with store.connection() as conn:
        folded = Store.generation(conn)
    recent = store.read_recent(folded)
    assert folded > second.generation and (recent is None or recent.base == folded), "folded, in a version of its own"
    assert index.generation() == folded, "the folded version was read ahead of questions"
    assert "number 6" in quoted(index, "when will zebra crossing festival number 6 close the high street?")
    assert "district 1" in quoted(index, "what did the okapi sanctuary in district 1 open?")


def test_while_a_due_fold_cannot_start_updates_merge_by_size_class_only(tmp_path, embedder, articles, monkeypatch):
    from index.engines.folder.generations import merging

    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    store = Store(index.directory)
    for n in range(1, LIMIT + 1):
        zebra(articles, n)
        index.update(progress=False)
    rule, asked = merging.newest_to_merge, []

    def noted(sizes, absorb=True):
        asked.append(absorb)
        return rule(sizes, absorb)

    monkeypatch.setattr(merging, "newest_to_merge", noted)
    busy = filelock.FileLock(str(store.directory / folding.FOLD_LOCK))  # another process folding (its marker not
    busy.acquire()  # written yet): this one's folds leave it alone
    try:
        segments = []
        for n in range(LIMIT + 1, LIMIT + 13):
            zebra(articles, n)
            summary = index.update(progress=False)
            segments.append(len(listed_names(store, summary.generation)))
    finally:
        busy.release()
    assert asked and not any(asked), "no absorbing: the large segment is not written again for passages a fold takes"
    assert max(segments) <= merging.TIER, f"the small ones merged by size class meanwhile: {segments}"
    assert "number 17" in quoted(index, "when will zebra crossing festival number 17 close the high street?")
    zebra(articles, LIMIT + 13)
    folded = index.update(progress=False)  # the lock free again: folded
    assert store.read_recent(folded.generation) is None


def listed_names(store: Store, generation: int) -> list[str]:
    return json.loads((store.delta_path(generation) / "newsbot.json").read_text())["segments"]
