"""Reading every supported format, surviving bad input, and updating incrementally."""

from __future__ import annotations

import gzip
import json
import shutil
from contextlib import closing
from pathlib import Path

from conftest import NATO_QUESTION, SEEDS, make_index

from index import Index
from index.engines.folder import embedding_cache, schema
from index.engines.folder.store import Store

SEED_TEXT = (SEEDS / "003_856c997e904d8576.txt").read_text()
PARAGRAPHS = [p for p in SEED_TEXT.splitlines() if p.strip()]


def _articles(index: Index) -> dict[str, tuple]:
    with Store(index.directory).connection() as conn:
        return {row[0]: row[1:] for row in conn.execute("SELECT id, title, url, source, published, path FROM articles")}


def test_every_format_is_read_with_its_metadata(tmp_path, embedder):
    folder = tmp_path / "articles"
    (folder / "nested" / "deeper").mkdir(parents=True)
    (folder / "plain.txt").write_text("Volcano erupts near Reykjavik\n\nLava reached the town of Grindavik on Sunday. " * 3)
    (folder / "front.md").write_text(
        "---\ntitle: Grain deal extended\nurl: https://example.com/grain\nsource: Example News\n"
        "published: 2022-11-17\n---\nThe Black Sea grain deal was extended for 120 days, officials said.\n"
    )
    (folder / "nested" / "page.html").write_text(
        "<html><head><title>Tennis final</title>"
        '<link rel="canonical" href="https://sport.example.org/final">'
        '<meta property="article:published_time" content="2022-07-10"></head>'
        "<body><nav>Home | Sport</nav><article><h1>Tennis final</h1>"
        "<p>Novak Djokovic won the Wimbledon final in four sets against Nick Kyrgios on Sunday afternoon.</p>"
        "<p>It was his seventh title at the All England Club and his twenty-first major.</p>"
        "</article><footer>Copyright</footer></body></html>"
    )
    (folder / "one.json").write_text(
        json.dumps({"id": "rec-1", "title": "Queen's funeral", "body": "The state funeral took place in London.",
                    "published_at": "2022-09-19T10:00:00Z", "source": "BBC"})
    )
    records = [
        {"id": "a1", "title": "Artemis launch", "url": "https://n.example/a1", "source": "n.example",
         "published": "2022-11-16", "text": "NASA launched the Artemis I mission to the Moon."},
        {"id": "a2", "title": "Midterms", "text": "Votes were still being counted in Nevada and Arizona."},
    ]
    (folder / "nested" / "deeper" / "corpus.jsonl.gz").write_bytes(
        gzip.compress("\n".join(json.dumps(r) for r in records).encode())
    )
    index = make_index(tmp_path, embedder, articles=folder)
    summary = index.update()
    assert (summary.added, summary.skipped) == (6, 0)
    rows = _articles(index)
    assert rows["a1"] == ("Artemis launch", "https://n.example/a1", "n.example", "2022-11-16",
                          str((folder / "nested/deeper/corpus.jsonl.gz").resolve()))
    assert rows["a2"][0] == "Midterms" and rows["a2"][1] is None
    assert rows["rec-1"][2:4] == ("BBC", "2022-09-19")
    by_title = {row[0]: (article_id, row) for article_id, row in rows.items()}
    assert by_title["Grain deal extended"][1][1:4] == ("https://example.com/grain", "Example News", "2022-11-17")
    assert by_title["Volcano erupts near Reykjavik"][0].startswith("plain-")
    html_id, html_row = by_title["Tennis final"]
    assert html_row[1:4] == ("https://sport.example.org/final", "sport.example.org", "2022-07-10")
    html_text = index.article(html_id).text
    assert "seventh title" in html_text and "Copyright" not in html_text and "Home | Sport" not in html_text
    answer = index.search("Who won Wimbledon?").answers[0]
    assert "Djokovic" in answer.quote and answer.article.id == html_id


def test_bad_input_is_skipped_with_a_reason_and_the_rest_indexed(tmp_path, embedder):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "good.txt").write_text(SEED_TEXT)
    (folder / "empty.txt").write_text("   \n")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (folder / "huge.txt").write_text("Big news. " * 1000)
    (folder / "notes.docx").write_bytes(b"PK\x03\x04")
    (folder / "legacy.txt").write_bytes("Café owners in Zürich protest – prices “soar” by 20%.".encode("cp1252"))
    (folder / "mixed.jsonl").write_text(
        json.dumps({"id": "ok-1", "title": "Fine", "text": "A record that parses fine, about elections."}) + "\n"
        "{not json at all\n"
        + json.dumps({"id": "no-text", "title": "Missing"}) + "\n"
        + json.dumps(["not", "an", "object"]) + "\n"
    )
    messages: list[str] = []
    index = make_index(tmp_path, embedder, articles=folder, max_article_bytes=5000)
    index.log = messages.append
    summary = index.update()
    assert summary.added == 3  # good.txt, legacy.txt, ok-1
    assert summary.skipped == 7  # 4 files + 3 bad records
    reasons = {Path(s.path.split(":")[0]).name: s.reason for s in summary.skips}
    assert "empty" in reasons["empty.txt"]
    assert "binary" in reasons["image.txt"]
    assert "limit" in reasons["huge.txt"]
    assert "unsupported" in reasons["notes.docx"]
    jsonl = [s for s in summary.skips if "mixed.jsonl" in s.path]
    assert len(jsonl) == 3 and any("not valid JSON" in s.reason and s.path.endswith(":2") for s in jsonl)
    assert any("legacy.txt" in m and "cp1252" in m for m in messages), messages
    legacy = next(a for a, row in _articles(index).items() if row[0].startswith("Café"))
    assert "“soar”" in index.article(legacy).text
    assert all(m.startswith(("skipped:", "note:")) and "\n" not in m for m in messages)


def test_unchanged_corpus_embeds_nothing_and_never_loads_the_model(seed_copy, tmp_path, embedder):
    make_index(tmp_path, embedder, articles=seed_copy).update()
    fresh = Index.open(settings=make_index(tmp_path, embedder, articles=seed_copy).settings, log=lambda m: None)
    summary = fresh.update()
    assert (summary.unchanged, summary.embedded, summary.added, summary.updated) == (2, 0, 0, 0)
    assert not fresh.embedder.loaded
    (seed_copy / "003_856c997e904d8576.txt").touch()  # new mtime, same content
    summary = fresh.update()
    assert (summary.unchanged, summary.embedded) == (2, 0) and not fresh.embedder.loaded


def test_a_changed_file_re_embeds_only_its_changed_passages(seed_copy, tmp_path, embedder):
    index = make_index(tmp_path, embedder, articles=seed_copy)
    first = index.update()
    article = seed_copy / "000_1c6ccadab8500b43.txt"
    text = article.read_text()
    passages_before = len(index.article(next(iter(_by_path(index, article)))).passages)
    assert passages_before >= 3
    edited = text.replace("Kremlin spokesman Dmitry Peskov", "Kremlin spokesman Dmitry S. Peskov")
    assert edited != text
    article.write_text(edited)
    summary = index.update()
    assert (summary.updated, summary.unchanged, summary.added) == (1, 1, 0)
    assert 1 <= summary.embedded < passages_before
    assert summary.passages == first.passages
    result = index.search("What did Dmitry S. Peskov say?")
    assert any("Dmitry S. Peskov" in a.quote for a in result.answers)
    # Each vector is kept once, in the index's files: the committed update left nothing in the cache.
    with closing(embedding_cache.open_cache(index.directory)) as cache:
        assert cache.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def _by_path(index: Index, path: Path) -> list[str]:
    return [a for a, row in _articles(index).items() if row[4] == str(path.resolve())]


def test_rebuild_starts_over_and_keeps_answers(seed_copy, tmp_path, embedder):
    index = make_index(tmp_path, embedder, articles=seed_copy)
    index.update()
    summary = index.update(rebuild=True)
    assert summary.unchanged == 2 and summary.embedded == 0  # vectors come from the index's own files
    assert summary.generation == 2
    assert any("intelligence officers" in a.quote for a in index.search(NATO_QUESTION).answers)


def test_record_removed_from_a_jsonl_file_disappears(tmp_path, embedder):
    folder = tmp_path / "articles"
    folder.mkdir()
    corpus = folder / "feed.jsonl"
    records = [{"id": f"r{i}", "title": t, "text": p} for i, (t, p) in enumerate(
        [("Stoltenberg", PARAGRAPHS[0]), ("Skripal", PARAGRAPHS[-2]), ("Council", PARAGRAPHS[7])])]
    corpus.write_text("\n".join(json.dumps(r) for r in records))
    index = make_index(tmp_path, embedder, articles=folder)
    assert index.update().added == 3
    corpus.write_text("\n".join(json.dumps(r) for r in records[:2]))
    summary = index.update()
    assert (summary.removed, summary.unchanged) == (1, 2)
    assert set(_articles(index)) == {"r0", "r1"}


def test_an_index_from_schema_1_is_migrated_and_its_cache_moves_to_its_own_file(seed_copy, tmp_path, embedder):
    index = make_index(tmp_path, embedder, articles=seed_copy)
    first = index.update()
    with Store(index.directory).connection() as conn:  # turn it back into what the first release wrote
        generation = Store.generation(conn)
        conn.executescript(
            """BEGIN;
            DROP TABLE IF EXISTS embeddings;
            CREATE TABLE embeddings (model TEXT NOT NULL, hash BLOB NOT NULL, vector BLOB NOT NULL,
                                     PRIMARY KEY (model, hash)) WITHOUT ROWID;
            INSERT INTO embeddings SELECT meta.value, passages.embed_hash, zeroblob(1536) FROM passages, meta
                WHERE meta.key = 'model';
            DROP TABLE passages_fts;
            CREATE VIRTUAL TABLE passages_fts USING fts5(title, body, tokenize = 'porter unicode61 remove_diacritics 2');
            INSERT INTO passages_fts(rowid, title, body) SELECT p.id, a.title, substr(a.text, p.char_start + 1,
                p.char_end - p.char_start) FROM passages p JOIN articles a ON a.id = p.article_id;
            DROP INDEX passages_embed_hash;
            ALTER TABLE passages RENAME COLUMN char_start TO start;
            ALTER TABLE passages RENAME COLUMN char_end TO end;
            UPDATE meta SET value = '1' WHERE key = 'schema';
            COMMIT;"""
        )
    shutil.rmtree(Store(index.directory).sentences_path(generation))  # schema 1 had no sentence vectors
    summary = make_index(tmp_path, embedder, articles=seed_copy).update(rebuild=True)
    # Schema 1 had no sentence vectors and its cache is dropped: every passage is embedded again.
    assert summary.embedded == summary.passages == first.passages
    assert make_index(tmp_path, embedder, articles=seed_copy).update(rebuild=True).embedded == 0
    with Store(index.directory).connection() as conn:
        assert Store.meta(conn)["schema"] == str(schema.LATEST)
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'embeddings'").fetchone()[0] == 0
        fts = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'passages_fts'").fetchone()[0]
        assert "content = ''" in fts  # the full-text index keeps no copy of the text
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert any("intelligence officers" in a.quote for a in index.search(NATO_QUESTION).answers)
    assert any("intelligence officers" in a.quote for a in index.search('"intelligence officers"').answers)
    with closing(embedding_cache.open_cache(index.directory)) as cache:  # emptied by the commit
        assert cache.execute("SELECT count(*) FROM embeddings").fetchone()[0] == 0


def test_an_update_of_one_file_looks_up_only_that_files_articles(tmp_path, embedder):
    """An update reads the rows of the files it is given, not every article's (0.2 s at 73,000 articles)."""
    folder = tmp_path / "articles"
    folder.mkdir()
    feed = folder / "feed.jsonl"
    feed.write_text("\n".join(json.dumps({"id": f"old{i}", "title": f"Story {i}", "text": p})
                              for i, p in enumerate(PARAGRAPHS[:8])))
    index = make_index(tmp_path, embedder, articles=folder)
    assert index.update().added == 8
    looked_up: list[tuple] = []
    select = index.writer._select

    def recording(query: str, values: list[str]):
        rows = list(select(query, values))
        looked_up.extend(row for row in rows if query != "paths")
        return rows

    index.writer._select = recording
    new = folder / "new.jsonl"
    new.write_text(json.dumps({"id": "new", "title": "Skripal", "text": PARAGRAPHS[-2]}) + "\n"
                   + json.dumps({"id": "old3", "title": "Story 3", "text": PARAGRAPHS[3]}))  # moved here
    summary = index.update([new])
    assert (summary.added, summary.updated, summary.removed) == (1, 1, 0)  # old3 updated: its path is stored
    assert [row[0] for row in looked_up] == ["old3"]  # the one article of the file the index held; no other row
    assert set(_articles(index)) == {f"old{i}" for i in range(8)} | {"new"}
    # The whole folder: the feed changed (old5 gone; old3 read there first, so moved back), the new file unchanged.
    feed.write_text("\n".join(json.dumps({"id": f"old{i}", "title": f"Story {i}", "text": p})
                              for i, p in enumerate(PARAGRAPHS[:8]) if i != 5))
    summary = index.update()
    assert (summary.removed, summary.updated, summary.unchanged) == (1, 1, 7)
    assert "old5" not in _articles(index) and "new" in _articles(index)
