"""Each sentence's stems and names, stored with its passage at index time (`index.text.sentence_words`): what
is stored is what the text gives, an index an older newsbot wrote answers the same and is filled by the
next update, and a stored value that is stale or malformed is read from the text instead."""

from __future__ import annotations

import json

from conftest import NATO_QUESTION, make_index

from index.engines.folder.store import Store
from index.text.sentence_words import FORMAT, QuestionTerms, decode, encode, fits, new_names, passage_stems

SENTENCES = [
    "NATO expelled eight members of Russia’s mission, saying they were undeclared intelligence officers.",
    "The speaker’s gavel was handed to Nancy Pelosi in 2007, the first woman in the U.S. to hold it.",
    "Café owners in Zürich said prices rose 4.5% in a year.",
    "—",  # no word at all
    "s",  # one word whose stem is empty
]
QUESTIONS = [
    NATO_QUESTION,
    "Who died after contact with the nerve agent?",
    "What happened at the ammunition depot in the Czech Republic?",
    "How many Russian diplomats did NATO expel?",
]


def test_stored_words_are_what_the_text_gives():
    stored = encode(SENTENCES)
    assert stored.split("\n")[0] == FORMAT
    from_store, from_text = decode(stored, SENTENCES), decode(None, SENTENCES)
    assert from_store == from_text and len(from_store) == len(SENTENCES)
    assert " nato " in from_store[0].stems and " offic " in from_store[0].stems
    assert from_store[3].stems.split() == [] and passage_stems(from_store[3:4]) == []
    assert passage_stems(from_store[4:]) == [""], "an empty stem stays one word in the duplicate check"
    terms = QuestionTerms({"nato": 2.0, "expel": 1.0, "zebra": 1.0})
    assert terms.share(from_store[0]) == 0.75
    assert terms.share(from_store[2]) == 0.0
    assert QuestionTerms({"": 1.0}).share(from_store[3]) == 0.0  # "no words" is not "an empty stem"
    assert QuestionTerms({"": 1.0}).share(from_store[4]) == 1.0
    # Names and numbers the question lacks: the answer "Pelosi, 2007" is new; a restating sentence brings none.
    assert new_names(from_store[1], frozenset("who was handed the gavel".split())) == 1.0
    assert new_names(from_store[1], frozenset("nancy pelosi 2007 u s".split())) == 0.0
    assert from_store[2].names.split() == ["zurich", "4+5"]  # folded; the first word is not a name; 4.5 is one


def test_stale_or_malformed_stored_words_are_read_from_the_text():
    good = decode(None, SENTENCES)
    for stored in (
        "words/0\n" + encode(SENTENCES).split("\n", 1)[1],  # another format
        encode(SENTENCES[:2]),  # fewer lines than sentences
        FORMAT + "garbage",  # the format's name run into other text
        "\n".join([FORMAT, " a \t\t", " b ", " c \t", " d \t", " e \t"]),  # five tabs, but one line has two
        "",
    ):
        assert decode(stored, SENTENCES) == good, stored[:20]


def _shown(index, question: str) -> list[tuple]:
    result = index.search(question, k=5)
    return [(a.article.id, a.start, a.end, a.highlight, round(a.score, 6), [o.id for o in a.also_in]) for a in result.answers]


def test_an_index_an_older_newsbot_wrote_answers_the_same_and_the_next_update_fills_it(seed_copy, tmp_path, embedder):
    index = make_index(tmp_path, embedder, articles=seed_copy)
    index.update()
    before = {q: _shown(index, q) for q in QUESTIONS}
    assert all(before.values())
    with Store(index.directory).connection() as conn:
        assert conn.execute("SELECT count(*) FROM passages WHERE words IS NULL").fetchone()[0] == 0
        conn.executescript(  # what a newsbot before stored words wrote: schema 3, no column, no meta
            """BEGIN;
            DROP INDEX passages_unworded;
            ALTER TABLE passages DROP COLUMN words;
            ALTER TABLE passages RENAME COLUMN char_start TO start;
            ALTER TABLE passages RENAME COLUMN char_end TO end;
            DELETE FROM meta WHERE key = 'words';
            UPDATE meta SET value = '3' WHERE key = 'schema';
            COMMIT;"""
        )
    reader = make_index(tmp_path, embedder, articles=seed_copy)
    assert {q: _shown(reader, q) for q in QUESTIONS} == before, "read from the sentence texts"
    assert reader.update().embedded == 0  # the writer's session fills the words; nothing is re-embedded
    with Store(index.directory).connection() as conn:
        assert conn.execute("SELECT count(*) FROM passages WHERE words IS NULL").fetchone()[0] == 0
        assert Store.meta(conn)["words"] == FORMAT
        # A row an older newsbot adds later (NULL), one in another format and one that does not fit its sentences.
        conn.execute("UPDATE passages SET words = NULL WHERE id = (SELECT min(id) FROM passages)")
        conn.execute("UPDATE passages SET words = 'words/0' || substr(words, 8) WHERE id = (SELECT max(id) FROM passages)")
        conn.execute(
            "UPDATE passages SET words = ? WHERE id = (SELECT min(id) + 1 FROM passages)", (FORMAT + "\n nato ",)
        )
        third, stored = conn.execute("SELECT id, words FROM passages ORDER BY id LIMIT 1 OFFSET 2").fetchone()
        header, first, second, *rest = stored.split("\n")  # one tab moved from the second line to the first
        moved = "\n".join([header, first + "\t", second.replace("\t", " "), *rest])
        assert fits(moved, len(rest) + 2)
        conn.execute("UPDATE passages SET words = ? WHERE id = ?", (moved, third))
    assert {q: _shown(make_index(tmp_path, embedder, articles=seed_copy), q) for q in QUESTIONS} == before
    with Store(index.directory).connection() as conn:
        assert Store.fill_words(conn) == 1, "the NULL row, found by its index; a format's rows wait for a new format"
        conn.execute("UPDATE meta SET value = 'words/0' WHERE key = 'words'")
        assert Store.fill_words(conn) == 3, "a new format: every stale row"
        stored = conn.execute("SELECT p.words, p.sentences, a.text FROM passages p JOIN articles a ON a.id = p.article_id")
        for words, spans, text in stored:
            texts = [text[s:e] for s, e in json.loads(spans)]
            assert words == encode(texts)
    assert {q: _shown(make_index(tmp_path, embedder, articles=seed_copy), q) for q in QUESTIONS} == before
