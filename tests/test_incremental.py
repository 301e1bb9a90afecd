"""Updates that cost what changed: after a full build, an update of a few articles writes a small delta
beside the unchanged base (its files hard-linked, not rebuilt); removed base passages are skipped;
past a share of the base the next update builds in full again. Real model, FAISS, bm25s and SQLite."""

from __future__ import annotations

import json
import os
import shutil
import threading

import faiss
import numpy as np
import pytest
from conftest import NATO_QUESTION, SEEDS, make_index

import index.engines.folder.generations.building as generation_files
from index.engines.folder.store import Store
from index.errors import IndexCorrupt

ZEBRA = "Zebra festival\n\nThe town council said the zebra crossing festival will close the high street on Saturday for the parade."
ZEBRA_QUESTION = "when does the zebra crossing festival close the high street?"


@pytest.fixture
def articles(tmp_path):
    folder = tmp_path / "articles"
    shutil.copytree(SEEDS, folder)
    return folder


def files_of(index, generation: int) -> dict[str, os.stat_result]:
    store = Store(index.directory)
    return {
        "vectors": store.faiss_path(generation).stat(),
        "keywords": next(p for p in store.keywords_path(generation).iterdir() if p.suffix == ".npz" or p.name.endswith(".npy")).stat(),
    }


def as_one_folder(store: Store, generation: int):
    """Write `generation`'s recent passages again as a delta of format 3 (one folder, rewritten by each update, as
    before segments); its path."""
    delta, base = store.read_delta(generation)
    folder = store.delta_path(generation)
    shutil.rmtree(folder)
    delta.save(folder, generation, base)
    return folder


def newest_segment(store: Store, generation: int):
    """The folder of `generation`'s newest segment."""
    folder = store.delta_path(generation)
    return folder.parent / json.loads((folder / "newsbot.json").read_text())["segments"][-1]


def test_an_added_article_is_a_delta_beside_the_linked_base_and_answers(tmp_path, embedder, articles):
    index = make_index(tmp_path, embedder, articles=articles)
    first = index.update(progress=False)
    assert not Store(index.directory).delta_path(first.generation).exists(), "the first build is a full one"
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    second = index.update(progress=False)
    assert Store(index.directory).delta_path(second.generation).exists()
    before, after = files_of(index, first.generation), files_of(index, second.generation)
    assert all(before[k].st_ino == after[k].st_ino for k in before), "the base is shared, not rewritten"
    answer = index.search(ZEBRA_QUESTION).answers[0]
    assert "zebra crossing festival" in answer.quote and answer.article.title == "Zebra festival"
    assert "intelligence" in " ".join(a.quote for a in index.search(NATO_QUESTION).answers), "the base still answers"
    assert second.passages == first.passages + 1 == index.stats().passages


def passage_ids(index) -> set[int]:
    with Store(index.directory).connection() as conn:
        return {r[0] for r in conn.execute("SELECT id FROM passages")}


def test_removed_and_changed_articles_never_answer_from_stale_passages(tmp_path, embedder, articles):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    base = passage_ids(index)
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    index.update(progress=False)
    seed = sorted(articles.glob("0*.txt"))[0]
    seed.unlink()  # a base article goes: its passages are dead in the base
    (articles / "zebra.txt").write_text(ZEBRA.replace("Saturday", "Sunday"), encoding="utf-8")  # a delta article changes
    summary = index.update(progress=False)
    assert Store(index.directory).delta_path(summary.generation).exists()
    found = index.search(ZEBRA_QUESTION, k=5).answers
    assert found and all("Saturday" not in a.quote for a in found) and "Sunday" in found[0].quote
    gone = {a.article.id for a in index.search(NATO_QUESTION, k=10).answers}
    assert not any(article_id.startswith(seed.stem.replace("_", "-")) for article_id in gone)
    with Store(index.directory).connection() as conn:
        assert Store.generation(conn) == summary.generation
        alive = conn.execute("SELECT count(*) FROM passages").fetchone()[0]
    assert summary.passages == alive
    removed = set(Store(index.directory).read_delta(summary.generation)[0].removed.tolist())
    assert removed and removed == base - passage_ids(index), "the delta lists the removed seed's passages"
    (articles / "zebra-2.txt").write_text(ZEBRA.replace("zebra", "giraffe"), encoding="utf-8")
    later = index.update(progress=False)
    assert set(Store(index.directory).read_delta(later.generation)[0].removed.tolist()) == removed, "carried forward"
    assert later.passages == index.stats().passages


def test_a_delta_written_before_it_listed_removals_is_read_and_rewritten_with_them(tmp_path, embedder, articles):
    """A format-1 delta (no removed.npy) learns the base's removed passages from SQLite, as before."""
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    seed = sorted(articles.glob("0*.txt"))[0]
    seed.unlink()
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    summary = index.update(progress=False)
    store = Store(index.directory)
    expected = set(store.read_delta(summary.generation)[0].removed.tolist())
    folder = as_one_folder(store, summary.generation)
    (folder / "removed.npy").unlink()
    meta = json.loads((folder / "newsbot.json").read_text())
    (folder / "newsbot.json").write_text(json.dumps({**meta, "format": 1}))
    assert store.read_delta(summary.generation)[0].removed is None
    reopened = make_index(tmp_path, embedder, articles=articles)
    found = {a.article.id for a in reopened.search(NATO_QUESTION, k=10).answers}
    assert found and not any(article_id.startswith(seed.stem.replace("_", "-")) for article_id in found)
    (articles / "zebra-2.txt").write_text(ZEBRA.replace("zebra", "giraffe"), encoding="utf-8")
    later = reopened.update(progress=False)
    assert set(store.read_delta(later.generation)[0].removed.tolist()) == expected
    assert later.passages == reopened.stats().passages


def test_a_delta_stores_what_a_full_build_would_and_a_delta_from_before_still_reads(tmp_path, embedder, articles):
    """Sentence rows as 8-bit codes on the base's steps and passage vectors in float16 (format 3); a format-2 delta
    (float16 rows, float32 vectors) is read as it is, and its rows coded on the base's steps when it is extended."""
    index = make_index(tmp_path, embedder, articles=articles)
    first = index.update(progress=False)
    store = Store(index.directory)
    steps = store.sentence_steps(first.generation)
    assert steps is not None, "the base's sentence rows are 8-bit codes"
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    second = index.update(progress=False)
    delta, _ = store.read_delta(second.generation)
    assert np.load(newest_segment(store, second.generation) / "vectors.npy").dtype == np.float16
    folder = as_one_folder(store, second.generation)
    assert delta.sentences.vectors.dtype == np.int8 and np.array_equal(delta.sentences.scales, steps)
    assert np.load(folder / "vectors.npy").dtype == np.float16
    assert delta.vectors.dtype == np.float32 and np.array_equal(delta.vectors, delta.vectors.astype(np.float16).astype(np.float32))
    assert "zebra crossing festival" in index.search(ZEBRA_QUESTION).answers[0].quote
    # The same delta as format 2 wrote it: float16 sentence rows without steps, float32 vectors.
    np.save(folder / "sentence_vectors.npy", np.concatenate([delta.sentences.of(p) for p in delta.ids.tolist()]).astype(np.float16))
    (folder / "sentence_steps.npy").unlink()
    np.save(folder / "vectors.npy", delta.vectors)
    (folder / "newsbot.json").write_text(json.dumps({**json.loads((folder / "newsbot.json").read_text()), "format": 2}))
    old, _ = store.read_delta(second.generation)
    pid = int(delta.ids[0])
    assert old.sentences.scales is None and old.sentences.vectors.dtype == np.float16
    reopened = make_index(tmp_path, embedder, articles=articles)
    assert "zebra crossing festival" in reopened.search(ZEBRA_QUESTION).answers[0].quote
    (articles / "zebra-2.txt").write_text(ZEBRA.replace("zebra", "giraffe"), encoding="utf-8")
    third = reopened.update(progress=False)
    extended, _ = store.read_delta(third.generation)
    assert extended.sentences.vectors.dtype == np.int8 and len(extended) == 2, "its float16 rows coded when written again"
    assert all(np.load(newest_segment(store, third.generation).parent / name / "sentence_vectors.npy").dtype == np.int8
               for name in json.loads((store.delta_path(third.generation) / "newsbot.json").read_text())["segments"])
    assert np.array_equal(extended.sentences.scales, steps)
    assert np.array_equal(extended.sentences.of(pid), delta.sentences.of(pid)), "coded again as the delta first held them"
    assert "giraffe" in reopened.search("when does the giraffe crossing festival close the high street?").answers[0].quote
    later = newest_segment(store, third.generation)
    rows = np.load(later / "sentence_vectors.npy")
    np.save(later / "sentence_vectors.npy", rows.astype(np.float16))  # codes lost
    with pytest.raises(IndexCorrupt, match="do not match"):
        Store(index.directory).read_delta(third.generation)  # (a process that has not read it yet)


def test_a_delta_whose_removals_disagree_with_sqlite_is_refused(tmp_path, embedder, articles):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    sorted(articles.glob("0*.txt"))[0].unlink()
    summary = index.update(progress=False)
    folder = Store(index.directory).delta_path(summary.generation)
    removed = np.load(folder / "removed.npy")
    np.save(folder / "removed.npy", removed[1:])  # one removed passage forgotten: the files would answer from it
    with pytest.raises(IndexCorrupt, match="do not match"):
        make_index(tmp_path, embedder, articles=articles).search(NATO_QUESTION)


def test_past_its_share_the_delta_is_folded_into_a_full_build(tmp_path, embedder, articles, monkeypatch):
    monkeypatch.setattr(generation_files, "MIN_SIZE", 1)
    monkeypatch.setattr(generation_files, "MAX_SHARE", 0.0)
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    summary = index.update(progress=False)  # one new passage: the delta would hold 1, the limit is 1
    assert Store(index.directory).delta_path(summary.generation).exists()
    (articles / "zebra-2.txt").write_text(ZEBRA.replace("zebra", "giraffe"), encoding="utf-8")
    summary = index.update(progress=False)  # two: a segment committed, then folded into a full build, no delta
    assert not Store(index.directory).delta_path(summary.generation).exists()
    assert Store(index.directory).delta_path(summary.generation - 1).exists(), "the update's own version came first"
    assert "giraffe" in index.search("when does the giraffe crossing festival close the high street?").answers[0].quote


def test_a_reader_swaps_to_a_delta_generation_without_reloading_the_base(tmp_path, embedder, articles):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    index.search(NATO_QUESTION)  # load generation 1
    loaded = index.reader.generations
    base_vectors = next(iter(loaded._loaded.values())).vectors.base
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    index.update(progress=False)
    assert "zebra" in index.search(ZEBRA_QUESTION).answers[0].quote
    newest = loaded._loaded[max(loaded._loaded)]
    assert newest.vectors.base is base_vectors, "the base was kept in memory, only the delta was read"


def test_a_serving_index_reads_each_new_version_as_it_commits_and_a_command_does_not(tmp_path, embedder, articles):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    index.warm_up()  # what the server does once
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    second = index.update(progress=False)
    loaded = index.reader.generations._loaded
    assert second.generation in loaded, "the new version's files were read by the update, not the next question"
    assert index._searcher._days._kept[0] == second.generation, "and its publication days"
    assert "zebra" in index.search(ZEBRA_QUESTION).answers[0].quote
    command = make_index(tmp_path, embedder, articles=articles)  # a `newsbot index` run: never warmed
    (articles / "zebra.txt").unlink()
    assert command.update(progress=False).removed == 1
    assert not command.reader.generations._loaded, "a command that only updates reads nothing back"


def test_reading_ahead_leaves_the_updater_thread_free_to_build_in_parallel(tmp_path, embedder, articles):
    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    warming = threading.Thread(target=index.warm_up)  # as the server warms up: in a thread of its own
    warming.start()
    warming.join()
    assert index._searcher.warmed
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    seen = {}

    def watcher() -> None:  # the thread that updates again and again
        seen["before"] = faiss.omp_get_max_threads()
        seen["generation"] = index.update(progress=False).generation  # reads the new version ahead of questions
        seen["after"] = faiss.omp_get_max_threads()

    updating = threading.Thread(target=watcher)
    updating.start()
    updating.join()
    assert seen["generation"] in index.reader.generations._loaded
    assert seen["after"] == seen["before"], "the reader's one-thread limit stayed in its own thread"


def test_a_full_build_codes_kept_vectors_on_the_steps_they_were_coded_on(tmp_path, embedder, articles, monkeypatch):
    from index.engines.folder.generations import vector_index

    monkeypatch.setattr(generation_files, "MIN_SIZE", 1)
    monkeypatch.setattr(generation_files, "MAX_SHARE", 0.0)
    monkeypatch.setattr(vector_index, "TRAINING", 4)
    monkeypatch.setattr(vector_index, "CODED_FROM", 4)  # the seeds' graph large enough for 8-bit codes
    index = make_index(tmp_path, embedder, articles=articles)
    first = index.update(progress=False)
    store = Store(index.directory)
    before = store.read_vectors(first.generation)
    steps = vector_index.steps_of(before)
    assert steps is not None, "stored as 8-bit codes"
    (articles / "zebra.txt").write_text(ZEBRA, encoding="utf-8")
    index.update(progress=False)  # a delta of one
    (articles / "zebra-2.txt").write_text(ZEBRA.replace("zebra", "giraffe"), encoding="utf-8")
    third = index.update(progress=False)  # a full build keeping the first graph's vectors
    assert not store.delta_path(third.generation).exists()
    after = store.read_vectors(third.generation)
    assert np.array_equal(vector_index.steps_of(after), steps)
    kept = vector_index.contents_ids(before)
    assert np.array_equal(after.reconstruct_batch(kept), before.reconstruct_batch(kept)), "not rounded again"
    assert "giraffe" in index.search("when does the giraffe crossing festival close the high street?").answers[0].quote
    assert "intelligence" in " ".join(a.quote for a in index.search(NATO_QUESTION).answers)


def test_a_delta_extended_in_arrays_equals_the_delta_built_from_its_rows():
    from index.engines.folder.generations.delta import Delta

    rng = np.random.default_rng(5)
    words = ["nato", "expel", "diplomat", "zebra", "crossing", "parade", "harbour", "crane"]

    def row(pid: int) -> tuple:
        sentences = rng.normal(size=(int(rng.integers(0, 4)), 8)).astype(np.float32)
        return pid, rng.normal(size=8).astype(np.float32), sentences, list(rng.choice(words, size=int(rng.integers(1, 9))))

    first = [row(pid) for pid in range(100, 140)]
    fresh = [row(pid) for pid in range(150, 160)]
    gone = np.array([100, 117, 118, 139, 145])  # (145: in neither)
    removed = np.array([3, 7])
    extended = Delta.build(first, 8, np.array([3])).extended(gone, fresh, removed)
    expected = Delta.build([r for r in first if r[0] not in gone] + fresh, 8, removed)
    assert np.array_equal(extended.ids, expected.ids) and np.array_equal(extended.vectors, expected.vectors)
    assert np.array_equal(extended.lengths, expected.lengths) and np.array_equal(extended.removed, expected.removed)
    assert sorted(extended.terms) == sorted(expected.terms)
    for stem in expected.terms:
        (where, counts), (got_where, got_counts) = expected.terms.get(stem), extended.terms.get(stem)
        assert np.array_equal(got_where, where) and np.array_equal(got_counts, counts), stem
    assert np.array_equal(extended.sentences.offsets, expected.sentences.offsets)
    assert np.array_equal(np.asarray(extended.sentences.vectors), np.asarray(expected.sentences.vectors))
    for pid in expected.ids.tolist():
        assert np.array_equal(extended.sentences.of(pid), expected.sentences.of(pid))
    with pytest.raises(ValueError, match="ascending"):
        expected.extended(np.zeros(0, np.int64), [row(120)], removed)
    grown = Delta.build(first, 8, removed).extended(np.zeros(0, np.int64), fresh, removed)  # nothing gone
    every = Delta.build(first + fresh, 8, removed)
    assert np.array_equal(grown.ids, every.ids) and np.array_equal(grown.vectors, every.vectors)
    assert np.array_equal(grown.sentences.offsets, every.sentences.offsets) and np.array_equal(grown.lengths, every.lengths)
    assert np.array_equal(np.asarray(grown.sentences.vectors), np.asarray(every.sentences.vectors))
    steps = np.full(8, 0.04, dtype=np.float32)  # 8-bit rows on a base's steps: extended as built, codes kept
    coded = Delta.build(first, 8, np.array([3]), steps=steps).extended(gone, fresh, removed)
    built = Delta.build([r for r in first if r[0] not in gone] + fresh, 8, removed, steps=steps)
    assert coded.sentences.vectors.dtype == np.int8 and np.array_equal(coded.sentences.scales, steps)
    assert np.array_equal(np.asarray(coded.sentences.vectors), np.asarray(built.sentences.vectors))
    everything_gone = expected.extended(expected.ids, [], removed)
    assert len(everything_gone) == 0 and not len(everything_gone.terms) and everything_gone.sentences.offsets.tolist() == [0]
    assert everything_gone.terms.get("nato") is None and expected.terms.get("nato") is not None


def test_delta_postings_joined_drop_the_gone_passages_and_stems_left_with_none():
    from index.engines.folder.generations.delta_postings import Postings

    before = Postings.of([["a", "b"], ["b", "c", "c"], ["d"], ["a", "z"]])
    fresh = Postings.of([["c", "e"], ["a"]])
    moved = Postings.joined([(before, np.array([-1, 0, 1, -1])), (fresh, np.array([2, 3]))])  # 0 and 3 gone: "z" too
    expected = Postings.of([["b", "c", "c"], ["d"], ["c", "e"], ["a"]])
    assert sorted(moved) == sorted(expected) == ["a", "b", "c", "d", "e"]
    for stem in expected:
        assert all(np.array_equal(x, y) for x, y in zip(moved.get(stem), expected.get(stem))), stem
    assert moved.get("c")[0].tolist() == [0, 2] and moved.get("c")[1].tolist() == [2.0, 1.0]
    assert [moved.frequency(s) for s in ("a", "b", "c", "z", "never")] == [1, 1, 2, 0, 0], "passages holding each"


def test_a_serving_index_grows_its_publication_days_from_the_new_passages_alone(tmp_path, embedder, articles):
    """Each newer version reads only the articles of its new passages; after adds, an edit and a removal the days
    answer as a table read whole, for every live passage."""
    from datetime import date

    from index.answering.published_days import PublishedDays

    index = make_index(tmp_path, embedder, articles=articles)
    index.update(progress=False)
    index.warm_up()
    spans_read: list[int] = []
    reader = index.reader
    real = reader.snapshot

    def counting():  # every snapshot's `passage_spans` counted as the serving index reads them
        context = real()
        snapshot = context.__enter__()

        class Counted:
            def __enter__(self):
                if snapshot is not None:
                    spans = snapshot.passage_spans
                    snapshot.passage_spans = lambda after=0: spans_read.append(len(rows := spans(after))) or rows
                return snapshot

            def __exit__(self, *exc):
                return context.__exit__(*exc)

        return Counted()

    reader.snapshot = counting
    (articles / "zebra.txt").write_text("---\npublished: 2022-06-15\n---\n" + ZEBRA, encoding="utf-8")
    index.update(progress=False)
    (articles / "zebra.txt").write_text("---\npublished: 2022-06-16\n---\n" + ZEBRA.replace("Saturday", "Sunday"), encoding="utf-8")
    index.update(progress=False)
    sorted(articles.glob("0*.txt"))[0].unlink()
    index.update(progress=False)
    assert spans_read and max(spans_read) <= 1, "only the new article's span was read, never every article's"
    reader.snapshot = real
    with reader.snapshot() as snapshot:
        whole = PublishedDays.from_spans(snapshot.passage_spans(), snapshot.passages_of)
        live = [pid for pid, in snapshot.conn.execute("SELECT id FROM passages")]
        grown = index._searcher._days.of(snapshot)
    assert grown is not whole and len(grown.pids) > len(whole.pids), "grown: the removed passages are still held"
    for day in (date(2022, 6, 16), date(2022, 6, 20), date(2026, 1, 1)):
        assert grown.fresh(live, day, 7).tolist() == whole.fresh(live, day, 7).tolist()
    assert whole.fresh(live, date(2022, 6, 17), 3).any(), "the edited article is fresh on its new day"
