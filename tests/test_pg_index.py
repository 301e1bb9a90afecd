"""The index on PostgreSQL (NEWSBOT_DATABASE_URL, issue 14): a real server, the real model, the same
answers as the SQLite folder, updates and removals, one updater at a time, readers on one version,
`kill -9` mid-update, and `newsbot migrate` copying a folder without re-embedding."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from datetime import date
from pathlib import Path

import psycopg
import pytest
from botkit import NEWSBOT, clean_env
from conftest import NATO_QUESTION, SEEDS, SOURCED_ARTICLES, ZEBRA_TEXT, make_index, write_sourced_corpus

from index import Index, IndexBusy, Settings
from index.engines.postgres import schema
from index.engines.postgres.schema import upgrade
from index.engines.postgres.writer import PgWriter
from index.errors import DatabaseError
from index.text.sentence_words import FORMAT

QUESTIONS = [
    NATO_QUESTION,
    "Who died after contact with the nerve agent?",
    "What happened at the ammunition depot in the Czech Republic?",
    'which outlets reported the "zebra crossing festival"?',
    "source:reuters why were the diplomats expelled?",
    "during:2024-12 what closes the high street?",
    'what was said "to the" alliance?',  # a phrase of stop words only: matched as written
]


def _pg_index(tmp: Path, embedder, url: str, articles: Path) -> Index:
    config = Settings(index_dir=tmp / "unused-folder", articles_dir=articles, database_url=url)
    return Index.open(settings=config, embedder=embedder, log=lambda message: None)


def _shown(index: Index, question: str) -> list[tuple]:
    result = index.search(question, k=3)
    return [(a.article.id, a.start, a.end, a.highlight, round(a.score, 4)) for a in result.answers] or [result.reading]


def _alike(server: Index, folder: Index, question: str) -> None:
    """The same answers, highlights and order on both engines; scores within 0.001 (the folder keeps sentence
    vectors as 8-bit codes, PostgreSQL as halfvec)."""
    on_server, in_folder = _shown(server, question), _shown(folder, question)
    assert [row[:4] for row in on_server] == [row[:4] for row in in_folder], question
    for a, b in zip(on_server, in_folder):
        assert len(a) == 1 or abs(a[4] - b[4]) <= 1e-3, (question, a[4], b[4])


def _stem_counts_agree(url: str) -> None:
    """The writer's stem counts are what counting the postings gives (the IDF a question reads)."""
    with psycopg.connect(url) as conn:
        kept = dict(conn.execute("SELECT stem, passages FROM stem_counts").fetchall())
        counted = dict(conn.execute("SELECT stem, count(*) FROM postings GROUP BY stem").fetchall())
    assert kept == counted and counted


def _same_lift_for_time_words(folder: Index, server: Index) -> None:
    """Time words lift the articles published in the week before the day asked (ap.md: 2025-02-03), alike on both."""
    dated = {}
    for asked in (date(2025, 2, 5), date(2026, 1, 1)):
        for index in (folder, server):
            found = index.search("why were the diplomats expelled this week?", k=3, asked=asked).answers
            dated.setdefault(asked, []).append([(a.article.id, a.score) for a in found])
    for in_folder, on_server in dated.values():  # the same articles, scores within 0.001 (see `_alike`)
        assert [aid for aid, _ in in_folder] == [aid for aid, _ in on_server], dated
        assert all(abs(a - b) <= 1e-3 for (_, a), (_, b) in zip(in_folder, on_server)), dated
    lifted, unlifted = dated[date(2025, 2, 5)][0], dated[date(2026, 1, 1)][0]
    assert any(abs(a - b) > 0.01 for (_, a), (_, b) in zip(lifted, unlifted)), "the lift changes the scores"


def test_postgresql_gives_the_answers_the_folder_gives(tmp_path, embedder, database_url):
    articles = write_sourced_corpus(tmp_path / "articles")
    folder = make_index(tmp_path / "sqlite", embedder, articles)
    server = _pg_index(tmp_path, embedder, database_url, articles)
    assert not server.exists()
    for index in (folder, server):
        assert index.update(progress=False).added == 3
    assert server.exists() and server.generation() == 1
    for question in QUESTIONS:
        _alike(server, folder, question)
    _same_lift_for_time_words(folder, server)
    stats = server.stats()
    assert (stats.articles, stats.passages, stats.sources) == (3, folder.stats().passages, 3)
    ids = [server.find_article([url])[0] for _, url, _, _ in SOURCED_ARTICLES.values()]
    assert ids == [folder.find_article([url])[0] for _, url, _, _ in SOURCED_ARTICLES.values()]
    assert ZEBRA_TEXT in server.article(ids[2]).text and server.article(ids[2]).passages == folder.article(ids[2]).passages
    assert [(s.sentence, len(s.articles)) for s in server.stories(ids)] == [(s.sentence, len(s.articles)) for s in folder.stories(ids)]


def test_the_sentence_retriever_finds_on_the_server_the_sentences_the_folder_finds(tmp_path, embedder, database_url):
    """The nearest sentences by the server's graph over their signs, scored again on their rows: on the seeds, the
    folder's exact nearest (the same passages and sentences, cosines within 0.002: halfvec rows against 8-bit codes)."""
    folder, server = make_index(tmp_path / "sqlite", embedder, SEEDS), _pg_index(tmp_path, embedder, database_url, SEEDS)
    for index in (folder, server):
        index.update(progress=False)
    with psycopg.connect(database_url) as conn:
        graph = conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'sentences_hnsw'").fetchone()[0]
    assert "binary_quantize" in graph and "bit_hamming_ops" in graph, graph
    for question in QUESTIONS[:3]:
        query = embedder.encode_query(question)
        with folder.reader.snapshot() as files, server.reader.snapshot() as rows:
            in_folder, on_server = files.sentences.search(query, 20), rows.sentences.search(query, 20)
        assert len(on_server) == 20 and on_server == sorted(on_server, key=lambda hit: -hit[2]), on_server
        assert {hit[:2] for hit in on_server[:10]} == {hit[:2] for hit in in_folder[:10]}, question
        near = dict(((pid, k), score) for pid, k, score in in_folder)
        assert all(abs(score - near[(pid, k)]) <= 2e-3 for pid, k, score in on_server[:10] if (pid, k) in near)


def test_filtered_questions_are_planned_for_their_own_passages_however_often_they_are_asked(tmp_path, embedder, database_url):
    """A statement filtered by the allowed passages is never prepared: PostgreSQL's generic plan for a prepared one
    compares each posting with every allowed id (1.2 s a question for a month's filter at 65k passages, against 31 ms;
    `benchmarks/postgres_filters.py`). Asked often, the answers stay those of the first time."""
    server = _pg_index(tmp_path, embedder, database_url, write_sourced_corpus(tmp_path / "articles"))
    server.update(progress=False)
    question = "source:reuters why were the diplomats expelled?"
    first = _shown(server, question)
    assert first and first[0][0], first
    assert [_shown(server, question) for _ in range(12)] == [first] * 12
    with server.reader.snapshot() as snapshot:  # this thread's connection: the one that asked
        prepared = [row[0] for row in snapshot.conn.execute("SELECT statement FROM pg_prepared_statements")]
    assert any("FROM postings" in s for s in prepared), "the unfiltered statements are prepared"
    filtered = [s for s in prepared if "q.passage_id = ANY(" in s or "ORDER BY score" in s or ("WHERE id = ANY(" in s and "<#>" in s)]
    assert not filtered, filtered


def test_a_schema_6_database_finds_sentences_by_their_signs_after_the_upgrade(tmp_path, embedder, database_url):
    server = _pg_index(tmp_path, embedder, database_url, SEEDS)
    server.update(progress=False)
    before = [_shown(server, question) for question in QUESTIONS]
    with psycopg.connect(database_url) as conn:
        _as_schema_6(conn)
    with pytest.raises(DatabaseError, match="newsbot db upgrade"):
        _shown(_pg_index(tmp_path, embedder, database_url, SEEDS), QUESTIONS[0])
    applied = upgrade(database_url)
    assert [(part, step.version) for part, step in applied] == [("index", 7)]
    with psycopg.connect(database_url) as conn:
        assert "bit_hamming_ops" in conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'sentences_hnsw'").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM pg_constraint WHERE conname = 'postings_pkey'").fetchone()[0] == 0
    assert [_shown(_pg_index(tmp_path, embedder, database_url, SEEDS), question) for question in QUESTIONS] == before


def test_a_running_process_keeps_answering_while_another_upgrades_to_schema_7(tmp_path, embedder, database_url, monkeypatch):
    """Schema 7's graph is built while questions read on: the locks that stop them are taken just before the commit."""
    serving = _pg_index(tmp_path, embedder, database_url, SEEDS)
    serving.update(progress=False)
    before = _shown(serving, NATO_QUESTION)  # this process checked the schema: it serves on through the upgrade
    with psycopg.connect(database_url) as conn:
        _as_schema_6(conn)
    built, go = threading.Event(), threading.Event()
    real = schema.make_sentence_graph

    def paused(conn, dimension, name="sentences_hnsw"):
        real(conn, dimension, name)
        built.set()
        assert go.wait(60), "the test never let the upgrade go on"

    monkeypatch.setattr(schema, "make_sentence_graph", paused)
    applied: list = []
    upgrading = threading.Thread(target=lambda: applied.extend(upgrade(database_url)))
    upgrading.start()
    try:
        assert built.wait(60), "the upgrade never built the new graph"
        answered: list = []
        asking = threading.Thread(target=lambda: answered.append(_shown(serving, NATO_QUESTION)), daemon=True)
        asking.start()
        asking.join(15)
        in_time = not asking.is_alive()
    finally:
        go.set()
        upgrading.join(60)
    asking.join(60)
    assert in_time, "a question waited for the upgrade's commit"
    assert answered == [before] and [(part, step.version) for part, step in applied] == [("index", 7)]
    assert _shown(_pg_index(tmp_path, embedder, database_url, SEEDS), NATO_QUESTION) == before


def _as_schema_6(conn) -> None:
    """The index's tables as schema 6 left them: the sentences' graph over their halfvec rows, the postings' key."""
    dimension = conn.execute("SELECT value FROM index_meta WHERE key = 'hnsw_dimension'").fetchone()[0]
    conn.execute("DROP INDEX sentences_hnsw")
    conn.execute(f"CREATE INDEX sentences_hnsw ON sentences USING hnsw ((embedding::halfvec({dimension})) halfvec_ip_ops)")
    conn.execute("ALTER TABLE postings ADD PRIMARY KEY (stem, passage_id)")
    conn.execute("UPDATE newsbot_schema SET version = 6 WHERE part = 'index'")


def test_a_database_with_float32_passage_vectors_is_migrated_to_half_precision_and_answers_the_same(tmp_path, embedder, database_url):
    articles = write_sourced_corpus(tmp_path / "articles")
    server = _pg_index(tmp_path, embedder, database_url, articles)
    server.update(progress=False)
    before = [_shown(server, question) for question in QUESTIONS]
    with psycopg.connect(database_url) as conn:  # as schema 4 left it: float32 vectors and their graph
        dimension = conn.execute("SELECT value FROM index_meta WHERE key = 'hnsw_dimension'").fetchone()[0]
        conn.execute("DROP INDEX passages_hnsw")
        conn.execute("ALTER TABLE passages ALTER COLUMN embedding TYPE vector USING embedding::vector")
        conn.execute(f"CREATE INDEX passages_hnsw ON passages USING hnsw ((embedding::vector({dimension})) vector_ip_ops)")
        conn.execute("DROP TABLE stem_counts")  # (schema 6's, counted from the postings when it upgrades)
        conn.execute("UPDATE newsbot_schema SET version = 4 WHERE part = 'index'")
    upgrade(database_url)
    _stem_counts_agree(database_url)
    with psycopg.connect(database_url) as conn:
        column = "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'passages'::regclass AND attname = 'embedding'"
        assert conn.execute(column).fetchone()[0] == "halfvec"
        assert "halfvec_ip_ops" in conn.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'passages_hnsw'").fetchone()[0]
    assert [_shown(_pg_index(tmp_path, embedder, database_url, articles), question) for question in QUESTIONS] == before


def test_passages_from_before_the_sentence_words_answer_the_same_and_are_filled(tmp_path, embedder, database_url):
    server = _pg_index(tmp_path, embedder, database_url, SEEDS)
    server.update(progress=False)
    before = {q: _shown(server, q) for q in QUESTIONS[:3]}
    with psycopg.connect(database_url) as conn:  # what migration 6 leaves: the column added, every row NULL
        conn.execute("UPDATE passages SET words = NULL")
        conn.execute("DELETE FROM index_meta WHERE key = 'words'")
    assert {q: _shown(server, q) for q in before} == before, "read from the sentence texts"
    assert server.update(progress=False).changed is False  # the writer's session fills them
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM passages WHERE words IS NULL OR words NOT LIKE 'words/1%'").fetchone()[0] == 0
        assert conn.execute("SELECT value FROM index_meta WHERE key = 'words'").fetchone()[0] == FORMAT
    assert {q: _shown(server, q) for q in before} == before


def test_updates_edits_and_removals_cost_what_changed(tmp_path, embedder, database_url, seed_copy):
    articles = seed_copy
    index = _pg_index(tmp_path, embedder, database_url, articles)
    first = index.update(progress=False)
    assert first.added == 2 and index.last_arrival() == 2
    _stem_counts_agree(database_url)
    (articles / "zebra.md").write_text(f"---\ntitle: Town news\n---\n{ZEBRA_TEXT}", encoding="utf-8")
    added = index.update(progress=False)
    assert (added.added, added.embedded) == (1, 1), added.line()  # only the new article is embedded
    _stem_counts_agree(database_url)
    zebra = index.search("when will the zebra crossing festival close the high street?").answers[0].article.id
    assert zebra.startswith("zebra")
    assert [aid for _, aid in index.arrivals(after=2)] == [zebra]
    (articles / "zebra.md").write_text("---\ntitle: Town news\n---\nThe zebra parade is cancelled because of rain.", encoding="utf-8")
    edited = index.update(progress=False)
    assert edited.updated == 1 and "cancelled" in index.search("what happened to the zebra parade?").answers[0].highlight
    _stem_counts_agree(database_url)
    (articles / "zebra.md").unlink()
    removed = index.update(progress=False)
    assert removed.removed == 1 and index.article(zebra) is None
    _stem_counts_agree(database_url)
    assert all(a.article.id != zebra for a in index.search("zebra parade rain", k=5).answers)
    with psycopg.connect(database_url) as conn:  # nothing of the removed article is left behind
        assert conn.execute("SELECT count(*) FROM postings p LEFT JOIN passages q ON q.id = p.passage_id WHERE q.id IS NULL").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM passages WHERE article_id = %s", (zebra,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0  # each vector kept once, in its row
    assert index.update(progress=False).changed is False
    before = _shown(index, NATO_QUESTION)
    rebuilt = index.update(rebuild=True, progress=False)
    assert rebuilt.embedded == 0 and rebuilt.passages == first.passages, rebuilt.line()  # read back from the rows
    _stem_counts_agree(database_url)
    assert _shown(index, NATO_QUESTION) == before


def test_stem_counts_shared_by_a_versions_questions_are_counted_anew_for_the_next(tmp_path, embedder, database_url, seed_copy):
    index = _pg_index(tmp_path, embedder, database_url, seed_copy)
    index.update(progress=False)
    with index.reader.snapshot() as snapshot:
        assert snapshot.keywords.frequencies(["zebra", "nato"])["zebra"] == 0
    with index.reader.snapshot() as snapshot:  # the next question on this version: counted once, kept
        assert snapshot.keywords._frequencies.get("zebra") == 0
    (seed_copy / "zebra.md").write_text(f"---\ntitle: Town news\n---\n{ZEBRA_TEXT}", encoding="utf-8")
    index.update(progress=False)
    with index.reader.snapshot() as snapshot:
        assert snapshot.keywords.frequencies(["zebra"])["zebra"] == 1
    assert index.search("zebra crossing festival high street").answers[0].article.id.startswith("zebra")
    reader, newest = index.reader, index.generation()
    assert reader._counted_stems(newest) is reader._counted_stems(newest) and "zebra" in reader._counted_stems(newest)
    older = reader._counted_stems(newest - 1)  # a question whose transaction began before the last commit
    assert older == {} and older is not reader._counted_stems(newest), "an older version never shares the newer's counts"


def test_a_second_updater_is_refused_while_one_holds_the_lock(tmp_path, embedder, database_url):
    index = _pg_index(tmp_path, embedder, database_url, SEEDS)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with PgWriter(database_url).session(wait=0):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(30)
        with pytest.raises(IndexBusy, match="another newsbot process is updating the index"):
            index.update(progress=False, wait=0.5)
    finally:
        release.set()
        holder.join()
    assert index.update(progress=False).added == 2  # the lock went with its session


def test_readers_see_one_whole_version_while_updates_commit(tmp_path, embedder, database_url, seed_copy):
    articles = seed_copy
    index = _pg_index(tmp_path, embedder, database_url, articles)
    index.update(progress=False)
    index.search(NATO_QUESTION)  # the models loaded before the race: a first search must not outlast the updates
    stop, seen, errors = threading.Event(), [], []

    def ask() -> None:
        while not stop.is_set():
            try:
                with index.reader.snapshot() as snapshot:  # counts and rows of one version agree
                    rows = snapshot.conn.execute("SELECT count(*) FROM passages").fetchone()[0]
                    seen.append((snapshot.generation, rows == len(snapshot.keywords)))
                index.search(NATO_QUESTION)
            except Exception as exc:  # noqa: BLE001 (any failure is the test's finding)
                errors.append(repr(exc))

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        for n in range(4):
            (articles / "zebra.md").write_text(f"---\ntitle: Town news {n}\n---\n{ZEBRA_TEXT} Edition {n}.", encoding="utf-8")
            index.update(progress=False)
        deadline = time.monotonic() + 30
        while len({g for g, _ in seen}) < 2 and time.monotonic() < deadline:  # the reader reads the newest too
            time.sleep(0.05)
    finally:
        stop.set()
        asker.join()
    assert not errors, errors[:3]
    assert len({g for g, _ in seen}) >= 2 and all(whole for _, whole in seen), seen[-5:]


def test_kill_9_mid_update_leaves_the_last_version_and_the_rerun_reuses_the_finished_vectors(tmp_path, database_url):
    articles = tmp_path / "articles"
    articles.mkdir()
    for seed in SEEDS.glob("*.txt"):  # 20 titled copies of each seed: a few seconds of embedding
        for n in range(20):
            (articles / f"{seed.stem}-{n}.md").write_text(f"---\ntitle: Copy {n}\n---\n{seed.read_text(encoding='utf-8')}", encoding="utf-8")
    env = clean_env(NEWSBOT_DATABASE_URL=database_url, NEWSBOT_ARTICLES_DIR=str(articles), NEWSBOT_INDEX_DIR=str(tmp_path / "f"))
    first = subprocess.run([*NEWSBOT, "index", "--quiet", str(SEEDS)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    run = subprocess.Popen([*NEWSBOT, "index", "--quiet"], env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    with psycopg.connect(database_url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # the run has cached its first batches of vectors (the first run's went with its commit)
        run.send_signal(signal.SIGKILL)
        run.wait()
        assert conn.execute("SELECT value FROM index_meta WHERE key = 'generation'").fetchone()[0] == "1"
        assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 2
        cached = conn.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    assert 0 < cached < 160, "killed before or after the embedding"
    ask = subprocess.run([*NEWSBOT, "ask", "--json", NATO_QUESTION], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert ask.returncode == 0 and json.loads(ask.stdout)["answers"], ask.stderr
    again = subprocess.run([*NEWSBOT, "index", "--quiet"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "40 added" in again.stdout and f"({160 - cached} embedded)" in again.stdout, again.stdout


def test_migrate_copies_a_folder_without_re_embedding(tmp_path, embedder, database_url):
    articles = write_sourced_corpus(tmp_path / "articles")
    folder = make_index(tmp_path, embedder, articles)
    folder.update(progress=False)
    env = clean_env(NEWSBOT_INDEX_DIR=str(tmp_path / "index"), NEWSBOT_ARTICLES_DIR=str(articles))
    done = subprocess.run([*NEWSBOT, "migrate", "--to", database_url], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"copied 3 articles and {folder.stats().passages} passages" in done.stdout
    server = _pg_index(tmp_path, embedder, database_url, articles)
    for question in QUESTIONS:
        _alike(server, folder, question)
    _same_lift_for_time_words(folder, server)
    assert server.update(progress=False).embedded == 0, "the copied vectors and fingerprints make the next update a no-op"
    again = subprocess.run([*NEWSBOT, "migrate", "--to", database_url], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "already holds an index" in again.stderr
    bad = subprocess.run([*NEWSBOT, "migrate", "--to", "sqlite:///x.db"], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2 and "--to must start with postgresql://" in bad.stderr


def test_an_updater_turned_away_leaves_the_running_update_alone(tmp_path, embedder, database_url):
    index = _pg_index(tmp_path, embedder, database_url, SEEDS)  # one writer, shared as in `newsbot serve`
    inside, finish, seen = threading.Event(), threading.Event(), []

    def running() -> None:
        with index.writer.session(wait=0):
            inside.set()
            finish.wait(30)
            seen.append(index.writer.state().generation)  # its session still works after the refusal

    holder = threading.Thread(target=running)
    holder.start()
    assert inside.wait(30)
    with pytest.raises(IndexBusy):
        index.update(progress=False, wait=0.2)
    finish.set()
    holder.join()
    assert seen == [0]


def test_a_large_update_vacuums_and_analyzes_the_tables_before_the_first_question(
    tmp_path, embedder, database_url, monkeypatch
):
    import index.engines.postgres.writer as pg_writer

    monkeypatch.setattr(pg_writer, "ANALYZE_FROM", 5)  # the seeds' 8 passages count as a bulk load
    index = _pg_index(tmp_path, embedder, database_url, SEEDS)
    index.update(progress=False)
    with psycopg.connect(database_url) as conn:
        # -1: never analyzed (nor vacuumed); a COPY into a table whose indexes already exist leaves it so
        estimated = dict(
            conn.execute(
                "SELECT relname, reltuples FROM pg_class WHERE relname IN ('postings', 'sentences', 'stem_counts')"
            ).fetchall()
        )
        counted = conn.execute("SELECT count(*) FROM postings").fetchone()[0]
        stems = conn.execute("SELECT count(*) FROM stem_counts").fetchone()[0]
        # 0 until vacuumed: a question's index-only scans of the postings would visit every row's page instead
        visible = dict(
            conn.execute("SELECT relname, relallvisible FROM pg_class WHERE relname IN ('postings', 'passages')").fetchall()
        )
    assert estimated["postings"] == counted and estimated["sentences"] > 0, estimated
    assert estimated["stem_counts"] == stems > 0, estimated
    assert visible["postings"] > 0 and visible["passages"] > 0, visible


def test_an_update_reads_the_vectors_it_writes_a_window_at_a_time(tmp_path, embedder, database_url, seed_copy, monkeypatch):
    """The writer's vectors come from a second connection, `WINDOW` hashes a query in the order they are written,
    never all at once: from the embedding cache for a new build, from the committed rows for a rebuild (which
    reads them after its own transaction has deleted those rows)."""
    import index.engines.postgres.vectors as pg_vectors

    monkeypatch.setattr(pg_vectors, "WINDOW", 3)
    handed, largest = [], [0]
    original_read, original_vectors = pg_vectors.WindowedVectors._read, PgWriter.cached_vectors

    def read(self, hashes, sources):
        largest[0] = max(largest[0], len(hashes))
        return original_read(self, hashes, sources)

    def cached_vectors(self, model, wanted):
        handed.append(original_vectors(self, model, wanted))
        return handed[-1]

    monkeypatch.setattr(pg_vectors.WindowedVectors, "_read", read)
    monkeypatch.setattr(PgWriter, "cached_vectors", cached_vectors)
    index = _pg_index(tmp_path, embedder, database_url, seed_copy)
    first = index.update(progress=False)
    before = _shown(index, NATO_QUESTION)
    rebuilt = index.update(rebuild=True, progress=False)
    assert rebuilt.embedded == 0 and _shown(index, NATO_QUESTION) == before
    for summary, vectors in ((first, handed[1]), (rebuilt, handed[-1])):  # (handed[0]: before embedding, all missing)
        assert len(vectors) == summary.passages >= 8
        windows = -(-summary.passages // 3)
        assert windows * 2 - 2 <= vectors.reads <= windows * 2, vectors.reads  # one pass for passages, one for sentences
        assert (vectors.sources == pg_vectors.CACHE).all() == (summary is first), "cached, then the committed rows"
    assert largest[0] == 3
