"""Answers on the seeds: the right quote, verbatim offsets, links, abstention, deduplication."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from conftest import NATO_QUESTION, OFF_TOPIC_QUESTION, make_index

from index import DEFAULT_RANKING, EmptyQuestion
from index.answering.published_days import PublishedDays
from index.engines.folder.store import Store
from index.questions.recency import current_window, fresh_window, parse_day
from index.text.keywords import quoted_phrases


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory, embedder):
    index = make_index(tmp_path_factory.mktemp("seeds"), embedder)
    summary = index.update()
    assert summary.added == 2 and summary.passages > 2
    return index


def _assert_verbatim(index, result):
    for answer in result.answers:
        text = index.article(answer.article.id).text
        assert answer.quote == text[answer.start : answer.end]
        assert answer.highlight and answer.highlight == text[answer.highlight_start : answer.highlight_end]
        assert answer.start <= answer.highlight_start < answer.highlight_end <= answer.end
        shown = answer.excerpt
        assert shown.text == text[shown.start : shown.end]
        assert answer.start <= shown.start <= answer.highlight_start < answer.highlight_end <= shown.end <= answer.end
        assert shown.cut_before == (shown.start > answer.start) and shown.cut_after == (shown.end < answer.end)
        # Compact: the highlight plus whole neighbouring sentences, about 70 words at most.
        assert len(shown.text.split()) <= max(70, len(answer.highlight.split()))


def test_nato_question_quotes_intelligence_officers(seeds_index):
    result = seeds_index.search(NATO_QUESTION, k=3)
    assert not result.abstained
    assert len(result.answers) == 3
    assert any("intelligence officers" in a.quote for a in result.answers)
    _assert_verbatim(seeds_index, result)
    scores = [a.score for a in result.answers]
    assert scores == sorted(scores, reverse=True)


def test_every_quote_is_a_slice_of_the_article(seeds_index):
    for question in ("Who is Jens Stoltenberg?", "Skripal poisoning Novichok", "How big is the Russian mission now?"):
        result = seeds_index.search(question, k=5)
        assert result.answers
        _assert_verbatim(seeds_index, result)


def test_off_topic_question_abstains(seeds_index):
    result = seeds_index.search(OFF_TOPIC_QUESTION)
    assert result.abstained
    assert result.answers == []
    assert result.articles == 2


def test_more_results_continue_the_ranking(seeds_index):
    first = seeds_index.search(NATO_QUESTION, k=2)
    more = seeds_index.search(NATO_QUESTION, k=2, offset=2)
    both = seeds_index.search(NATO_QUESTION, k=4)
    assert [a.passage_id for a in first.answers + more.answers] == [a.passage_id for a in both.answers]


def test_links_fall_back_to_file_path_then_public_url(seeds_index, tmp_path, embedder):
    answer = seeds_index.search(NATO_QUESTION).answers[0]
    assert answer.link == answer.article.path and Path(answer.link).is_file()
    public = make_index(tmp_path, embedder, public_url="https://news.example.com")
    public.update()
    answer = public.search(NATO_QUESTION).answers[0]
    assert answer.link == (
        f"https://news.example.com/articles/{answer.article.id}?p={answer.start}-{answer.end}"
        f"&h={answer.highlight_start}-{answer.highlight_end}#answer"
    )


def test_url_links_carry_a_text_fragment(tmp_path, embedder):
    folder = tmp_path / "articles"
    folder.mkdir()
    body = (Path(__file__).parent.parent / "seeds" / "003_856c997e904d8576.txt").read_text()
    (folder / "rferl.md").write_text(
        "---\ntitle: NATO Expels Eight Russian Diplomats\nurl: https://www.rferl.org/a/nato-russia/31497329.html\n"
        "source: RFE/RL\npublished: 2021-10-06\n---\n" + body
    )
    index = make_index(tmp_path, embedder, articles=folder)
    index.update()
    answer = index.search(NATO_QUESTION).answers[0]
    assert answer.article.title == "NATO Expels Eight Russian Diplomats"
    assert answer.article.source == "RFE/RL" and answer.article.published == "2021-10-06"
    assert answer.link.startswith("https://www.rferl.org/a/nato-russia/31497329.html#:~:text=")
    first_words = answer.highlight.split()[:2]  # the fragment aims at the answering sentence
    assert "%20".join(first_words).replace("'", "%27") in answer.link


ACCENTED = str.maketrans("eaoEAO", "éàôÉÀÔ")


@pytest.mark.parametrize("accents", [False, True], ids=["same text", "copy with accents"])
def test_near_identical_passages_are_one_answer_listing_every_source(tmp_path, embedder, accents):
    """Duplicates are found on folded words, as stems are: a copy that adds or drops accents is the same text."""
    folder = tmp_path / "articles"
    folder.mkdir()
    body = (Path(__file__).parent.parent / "seeds" / "003_856c997e904d8576.txt").read_text()
    for name, source, text in (("wire.md", "AP", body), ("copy.md", "Daily Paper", body.translate(ACCENTED) if accents else body)):
        (folder / name).write_text(f"---\ntitle: NATO expels Russians\nsource: {source}\n---\n{text}")
    index = make_index(tmp_path, embedder, articles=folder)
    index.update()
    result = index.search(NATO_QUESTION, k=3)
    quotes = [a.quote for a in result.answers]
    assert len(quotes) == len(set(quotes)), "the same passage was returned twice"
    top = result.answers[0]
    sources = {top.article.source} | {a.source for a in top.also_in}
    assert sources == {"AP", "Daily Paper"}


def test_empty_and_huge_questions(seeds_index):
    with pytest.raises(EmptyQuestion):
        seeds_index.search("   \n ")
    huge = ("why did NATO expel the diplomats " * 400)[:10_000]
    result = seeds_index.search(huge)
    assert result.answers and "NATO" in result.answers[0].quote


def test_stats(seeds_index):
    stats = seeds_index.stats()
    assert stats.articles == 2
    assert stats.passages == Store(seeds_index.directory).read_vectors(stats.generation).ntotal > 2
    assert stats.model == "all-MiniLM-L6-v2"
    assert stats.size_bytes > 0 and stats.updated_at


def test_deleted_article_disappears_from_answers(seed_copy, tmp_path, embedder):
    index = make_index(tmp_path, embedder, articles=seed_copy)
    index.update()
    before = index.search(NATO_QUESTION, k=5)
    assert {a.article.path for a in before.answers} == {str(p.resolve()) for p in seed_copy.iterdir()}
    gone = seed_copy / "003_856c997e904d8576.txt"
    gone.unlink()
    summary = index.update()
    assert summary.removed == 1
    after = index.search(NATO_QUESTION, k=5)
    assert after.answers and all(a.article.path != str(gone.resolve()) for a in after.answers)
    shutil.rmtree(seed_copy)
    summary = index.update()
    assert summary.removed == 1 and summary.indexed == 0
    assert index.search(NATO_QUESTION).abstained


def test_time_words_favour_articles_published_shortly_before_the_question(tmp_path, embedder):
    folder = tmp_path / "articles"
    folder.mkdir()
    seeds = Path(__file__).parent.parent / "seeds"
    for name, published in (("000_1c6ccadab8500b43.txt", "2019-03-01"), ("003_856c997e904d8576.txt", "2021-10-06")):
        body = (seeds / name).read_text()
        (folder / name.replace(".txt", ".md")).write_text(f"---\ntitle: NATO and Russia\npublished: {published}\n---\n{body}")
    index = make_index(tmp_path, embedder, articles=folder)
    index.update()

    def lead_of_fresh_article(question: str, asked: date) -> float:
        """Best score of the 2021 article minus best score of the 2019 one."""
        best: dict[str, float] = {}
        for answer in index.search(question, k=6, asked=asked).answers:
            best.setdefault(Path(answer.article.path).stem[:3], answer.score)
        return best["003"] - best["000"]

    question = "What did Leonid Slutsky say about NATO's move this week?"
    # Asked two days after the 2021 article, "this week" points at it and lifts it; asked years
    # later, neither article is from "this week".
    assert lead_of_fresh_article(question, date(2021, 10, 8)) > lead_of_fresh_article(question, date(2026, 1, 1)) + 0.1
    # Without time words a question is about now: the article of the month before it is lifted too, less.
    timeless = "What did Leonid Slutsky say about NATO's move?"
    untimed_lift = lead_of_fresh_article(timeless, date(2021, 10, 8)) - lead_of_fresh_article(timeless, date(2026, 1, 1))
    assert abs(untimed_lift - DEFAULT_RANKING.untimed_recency) < 1e-6 and DEFAULT_RANKING.untimed_recency < DEFAULT_RANKING.recency
    assert lead_of_fresh_article(timeless, date(2021, 11, 30)) == lead_of_fresh_article(timeless, date(2026, 1, 1))
    # A question that names another year than the one it is asked in is about that year, not about now.
    dated = "What did Leonid Slutsky say about NATO's move in 2019?"
    assert lead_of_fresh_article(dated, date(2021, 10, 8)) == lead_of_fresh_article(dated, date(2026, 1, 1))
    # The days are read once per index version: once the 2019 article is re-dated to the same week, both
    # are lifted alike and "this week" no longer sets them apart.
    first = folder / "000_1c6ccadab8500b43.md"
    first.write_text(first.read_text().replace("published: 2019-03-01", "published: 2021-10-05"))
    assert index.update().updated == 1
    assert abs(lead_of_fresh_article(question, date(2021, 10, 8)) - lead_of_fresh_article(question, date(2026, 1, 1))) < 1e-6


def test_time_words_and_dates_are_read_strictly():
    assert fresh_window("Who won the election this week?") == fresh_window("What did he say on Sunday?") == 9
    assert fresh_window("What happened yesterday in Kyiv?") == 3
    assert fresh_window("Why did NATO expel the diplomats?") is None
    assert fresh_window("Which weekday is best?") is None
    asked = date(2022, 6, 17)
    assert current_window("Why did NATO expel the diplomats?", asked) == current_window("Who won the 2022 Hart Trophy?", asked) == 30
    assert current_window("Who won the Hart Trophy in 2019?", asked) is None
    for number in ("It costs $2019", "2,019 were sold", "a 2020% rise", "flight AF-2019"):
        assert current_window(number, asked) == 30, number
    assert fresh_window("Who won Sunday’s MTV awards?") == 9 and fresh_window("Who recently resigned?") == 35
    for name in ("What did USA Today report?", "Black Friday sales", "Super Tuesday results", "in recent years"):
        assert fresh_window(name) is None, name
    assert parse_day("2022-06-17T09:30:00Z") == date(2022, 6, 17)
    assert parse_day("June 17") is None and parse_day("") is None and parse_day(None) is None
    published = PublishedDays([(1, "2022-06-15"), (2, "2022-06-18"), (3, "2022-06-01"), (4, None)])
    assert published.fresh([1], date(2022, 6, 17), 9)[0]
    assert published.fresh([2], date(2022, 6, 17), 9)[0]  # the next day: time zones
    assert not published.fresh([3], date(2022, 6, 17), 9)[0]
    assert not published.fresh([4], date(2022, 6, 17), 9)[0]
    # Timestamps, unreadable days, and nothing for a passage the version does not hold.
    days = PublishedDays([(3, "2022-06-15"), (1, "2022-06-18T01:00:00Z"), (2, "2022-06-01"), (5, None), (6, "June 17")])
    assert days.fresh([1, 2, 3, 4, 5, 6], date(2022, 6, 17), 9).tolist() == [True, False, True, False, False, False]
    assert days.fresh([], date(2022, 6, 17), 9).tolist() == [] and not PublishedDays([]).fresh([1], date(2022, 6, 17), 9)[0]


def test_publication_days_read_a_row_an_article_match_those_read_a_row_a_passage(seeds_index):
    with seeds_index.reader.snapshot() as snapshot:
        spans = snapshot.passage_spans()
        by_passage = PublishedDays(snapshot.conn.execute(
            "SELECT p.id, a.published FROM passages p JOIN articles a ON a.id = p.article_id"
        ).fetchall())
        by_article = PublishedDays.from_spans(spans, snapshot.passages_of)
    assert len(spans) > 1 and by_article.pids.tolist() == by_passage.pids.tolist()
    assert by_article.days.tolist() == by_passage.days.tolist()
    # An article whose passages' ids are not consecutive (never written so) has them asked for.
    asked = []
    scattered = PublishedDays.from_spans(
        [("a", "2022-06-15", 1, 2, 2), ("b", "2022-06-18", 3, 9, 2), ("c", None, 10, 10, 1)],
        lambda articles: asked.append(articles) or {3, 9},
    )
    assert asked == [{"b"}] and scattered.pids.tolist() == [1, 2, 3, 9, 10]
    assert scattered.fresh([1, 3, 9, 10, 4], date(2022, 6, 17), 9).tolist() == [True, True, True, False, False]


def test_quoted_phrases_must_appear_in_every_answer(seeds_index):
    # One seed spells him "Leon Slutsky", the other "Leonid Slutsky": quotes pick the exact phrase.
    loose = seeds_index.search("What did Slutsky say about NATO?", k=5)
    assert any("Leonid Slutsky" in a.quote for a in loose.answers)
    exact = seeds_index.search('What did "Leon Slutsky" say about NATO?', k=5)
    assert exact.answers and all("Leon Slutsky" in a.quote for a in exact.answers)
    _assert_verbatim(seeds_index, exact)
    # A phrase found nowhere does not block an answer: the question is answered as if unquoted.
    unquoted = seeds_index.search("Why did NATO expel the banana bread diplomats?", k=3)
    quoted = seeds_index.search('Why did NATO expel the "banana bread" diplomats?', k=3)
    # (The same passages; their order may differ a little, since the quote marks change the question's vector.)
    assert quoted.answers and {a.passage_id for a in quoted.answers} == {a.passage_id for a in unquoted.answers}
    assert quoted_phrases('“Jens Stoltenberg” said "a, b"') == ["Jens Stoltenberg", "a b"]
    assert quoted_phrases('a lone " quote') == quoted_phrases('empty "" quotes') == []


def test_a_question_is_embedded_exactly_as_passages_are(embedder):
    for question in (NATO_QUESTION, "Zürich café “quoted” — and why?", "NATO " * 400):
        # (the default backend asks ONNX Runtime for questions: the same vectors as torch's, to 1e-4)
        assert np.allclose(embedder.encode_query(question), embedder.encode([question])[0], atol=1e-4)
    assert embedder.encode_query(NATO_QUESTION) is embedder.encode_query(NATO_QUESTION)  # asked again: remembered


def test_an_articles_opening_passage_gains_the_lead_weight_on_both_engines(tmp_path, embedder, engine_settings):
    """News puts who, what and where first: an article's first passage scores `lead_passage` more, the rest the same."""
    index = make_index(tmp_path, embedder, **engine_settings)
    index.update(progress=False)
    plain = index.search(NATO_QUESTION, k=20, ranking=replace(DEFAULT_RANKING, lead_passage=0.0)).answers
    lifted = index.search(NATO_QUESTION, k=20).answers
    assert len(plain) == len(lifted) == index.stats().passages, "every seed passage is answered and scored"
    first = {}
    for answer in lifted:  # every passage is here, so an article's earliest one is its opening passage
        first[answer.article.id] = min(first.get(answer.article.id, answer.start), answer.start)
    before = {a.passage_id: a.score for a in plain}
    openers = 0
    for answer in lifted:
        opens = answer.start == first[answer.article.id]
        openers += opens
        assert answer.score == pytest.approx(before[answer.passage_id] + (DEFAULT_RANKING.lead_passage if opens else 0.0))
    assert openers == 2 and DEFAULT_RANKING.lead_passage > 0
