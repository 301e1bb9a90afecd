"""Follow-up questions read with their thread's earlier questions, and channel scopes, on a real index
(real model, FAISS, SQLite) of three articles with sources and dates."""

from __future__ import annotations

import json

import pytest
from conftest import NATO_QUESTION, ROOT, cli_env, make_index, newsbot, write_sourced_corpus

from index import Context, EmptyQuestion, FilterError
from index.answering.evaluate import EvalQuestion
from index.questions.context import CONTEXT_WEIGHT, MAX_EARLIER, MAX_QUESTION_CHARS, read_question, read_scope

PAIRS = [json.loads(line) for line in (ROOT / "benchmarks" / "followup_pairs.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder):
    articles = write_sourced_corpus(tmp_path_factory.mktemp("followups") / "articles")
    index = make_index(tmp_path_factory.mktemp("followups-index"), embedder, articles=articles)
    index.update(progress=False)
    return index


def test_a_follow_up_keeps_its_own_words_first_and_the_earlier_ones_below():
    read = read_question("and what did Russia say?", Context(earlier=("why did NATO expel the diplomats?",)))
    assert read.text == "and what did Russia say?" and read.earlier == "why did NATO expel the diplomats?"
    assert read.weight == CONTEXT_WEIGHT < 1
    assert read.context_note() == "Read with this thread's earlier question “why did NATO expel the diplomats?”"
    many = read_question("and then?", Context(earlier=tuple(f"question {i}" for i in range(5))))
    assert len(many.earlier_shown) == MAX_EARLIER and many.earlier_shown[-1] == "question 4"


def test_an_earlier_question_is_cut_as_a_question_is():
    long = "why did NATO expel the diplomats " + "and then " * 2000
    read = read_question("and what did Russia say?", Context(earlier=(long,)))
    assert len(read.earlier) <= MAX_QUESTION_CHARS and read.earlier.startswith("why did NATO expel")


def test_an_earlier_filter_carries_over_unless_the_follow_up_has_its_own():
    earlier = ("why did NATO expel the diplomats? source:reuters",)
    carried = read_question("and what did Russia say?", Context(earlier=earlier))
    assert carried.filters.sources == ("reuters",) and carried.earlier == "why did NATO expel the diplomats?"
    own = read_question("and what did Russia say? site:apnews.com", Context(earlier=earlier))
    assert own.filters.sites == ("apnews.com",) and not own.filters.sources
    # only filters in the thread: the earlier question again, narrowed
    narrowed = read_question("source:reuters", Context(earlier=("why did NATO expel the diplomats?",)))
    assert narrowed.text == "why did NATO expel the diplomats?" and narrowed.filters.sources == ("reuters",)


def test_a_scope_holds_only_valid_filters():
    assert read_scope('source:reuters source:"AP News"').sources == ("reuters", "ap news")
    with pytest.raises(FilterError, match="only filters"):
        read_scope("source:reuters ukraine")
    with pytest.raises(FilterError, match="after:2025-13-01"):
        read_scope("after:2025-13-01")


def test_the_answer_says_which_earlier_question_it_was_read_with(index):
    alone = index.search("and what did Russia say?")
    followed = index.search("and what did Russia say?", context=Context(earlier=(NATO_QUESTION,)))
    assert not alone.reading
    assert followed.reading == f"Read with this thread's earlier question “{NATO_QUESTION}”"
    assert followed.answers and not followed.abstained
    assert followed.question == "and what did Russia say?"  # the answer shows what was asked, not a made-up question


def test_context_moves_the_ranking_toward_the_earlier_topic(index):
    # "what will close the high street?" alone is about the zebra parade; after a NATO question the
    # earlier words lift the NATO passages, yet the new question's own words still lead.
    question = "when is the parade?"
    alone = index.search(question, k=3)
    assert alone.answers[0].article.source == "Town Crier"
    followed = index.search(question, k=3, context=Context(earlier=(NATO_QUESTION,)))
    assert followed.answers[0].article.source == "Town Crier", "the new question's words come first"
    scores = {a.article.source: a.score for a in followed.answers}
    scores_alone = {a.article.source: a.score for a in alone.answers}
    nato = [s for s in ("Reuters", "AP News") if s in scores and s in scores_alone]
    assert nato and all(scores[s] - scores["Town Crier"] > scores_alone[s] - scores_alone["Town Crier"] for s in nato)


@pytest.mark.parametrize("question", ["What is the capital of Australia?", "How do I install Python on Windows?"])
def test_an_off_topic_question_in_a_thread_is_refused_as_it_would_be_alone(index, question):
    # The thread's earlier words lift its passages in the first stage; the reader, reading the new question as
    # asked, is what refuses (its follow-up floor sits between the two kinds, benchmarks/followups.py).
    assert index.search(question, k=3).abstained
    followed = index.search(question, k=3, context=Context(earlier=(NATO_QUESTION,)))
    assert followed.abstained and followed.evidence.follow_up and followed.evidence.best_reading < -7


def test_seed_follow_up_pairs_are_answered_with_context(tmp_path, embedder):
    seeds = make_index(tmp_path, embedder)
    seeds.update(progress=False)
    answered = 0
    pairs = [p for p in PAIRS if p["corpus"] == "seeds"]
    for pair in pairs:
        wanted = EvalQuestion(pair["followup"], pair["answer"])
        result = seeds.search(pair["followup"], k=3, context=Context(earlier=(pair["earlier"],)))
        answered += any(wanted.is_hit(a) for a in result.answers)
    assert answered >= 11, f"{answered} of {len(pairs)} (measured 11 of 12: benchmarks/followups.py)"


def test_a_scope_and_the_question_filters_both_apply(index):
    scoped = index.search(NATO_QUESTION, k=5, context=Context(scope="source:reuters"))
    assert scoped.answers and {a.article.source for a in scoped.answers} == {"Reuters"}
    assert scoped.reading == "Searched 1 of 3 articles, from Reuters (this channel's scope)"
    both = index.search(f"{NATO_QUESTION} source:\"AP News\"", k=5, context=Context(scope="source:reuters"))
    assert both.abstained and both.reading.lower().startswith("no articles from ap news from reuters (this channel's scope)")
    wider = index.search(NATO_QUESTION, k=5, context=Context(scope="-source:\"town crier\""))
    assert {a.article.source for a in wider.answers} == {"Reuters", "AP News"}


def test_only_filters_without_a_thread_is_still_an_empty_question(index):
    with pytest.raises(EmptyQuestion):
        index.search("source:reuters")
    assert index.search("source:reuters", context=Context(earlier=(NATO_QUESTION,))).answers


def test_newsbot_ask_reads_a_follow_up_with_earlier(tmp_path):
    done = newsbot("ask", "--json", "--earlier", NATO_QUESTION, "and what did Russia say?", env=cli_env(tmp_path))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["reading"].startswith("Read with this thread's earlier question") and result["answers"]
