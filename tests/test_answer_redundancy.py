"""Answer redundancy: the names the best passages share that the question lacks pick the bold sentence; real
model, real FAISS, real SQLite."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import make_index

from index import DEFAULT_RANKING
from index.answering.recurring import recurrence, recurring_names
from index.text.keywords import question_words
from index.text.sentence_words import decode, encode

QUESTION = "Which team won the World Cup final on Sunday?"
FINAL = (
    "The Lusail Stadium in Qatar hosted the World Cup final on Sunday before a crowd of 88,000. "
    "The champions were Argentina, who beat France on penalties after a 3-3 draw in the final."
)
ELSEWHERE = {
    "fans.txt": "Fans celebrated through the night in Buenos Aires after Argentina won the World Cup.",
    "coach.txt": "The coach said Argentina deserved the World Cup after a tournament of hard matches.",
}


def passage_words(*sentences: str):
    """The stored words of a passage of these sentences, read back as rescoring reads them."""
    return decode(encode(list(sentences)), list(sentences))


def test_recurring_names_are_the_new_names_several_passages_hold():
    asked = question_words(QUESTION)
    passages = [
        passage_words("The Lusail Stadium in Qatar hosted the final.", "The champions were Argentina, who beat France."),
        passage_words("Fans in Buenos Aires cheered for Argentina.", "Argentina and Argentina again: once per passage."),
        passage_words("The coach said Argentina deserved it.", "Early on, France had led in Qatar."),
        passage_words("The World Cup final on Sunday.", "Nothing new here."),
    ]
    recurring = recurring_names(passages, asked)
    # Argentina: three passages (counted once each, however often a passage says it); France and Qatar: two.
    assert recurring == {"argentina": 1.0, "france": pytest.approx(2 / 3), "qatar": pytest.approx(2 / 3)}
    # The question's own names (World, Cup, Sunday) never count, nor a name only one passage holds.
    assert not {"world", "cup", "sunday", "lusail", "buenos"} & set(recurring)
    first = passages[0]
    assert recurrence(first[0], recurring) == pytest.approx(2 / 3)  # Qatar
    assert recurrence(first[1], recurring) == 1.0  # Argentina outweighs France
    assert recurrence(passages[3][1], recurring) == 0.0
    assert recurring_names([passages[0]], asked) == {}  # one passage: nothing recurs
    assert recurring_names([], asked) == {}


def test_the_bold_sentence_names_what_the_best_passages_share(tmp_path, embedder):
    """The sentence restating the question wins on its words and meaning; the one naming the team the other
    passages name too wins the bold once redundancy counts, and the passages' order stays the same."""
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "final.txt").write_text(FINAL)
    for name, text in ELSEWHERE.items():
        (folder / name).write_text(text)
    index = make_index(tmp_path, embedder, articles=folder)
    index.update(progress=False)

    def final_answer(ranking):
        answers = index.search(QUESTION, k=3, ranking=ranking).answers
        return [a.passage_id for a in answers], next(a for a in answers if a.article.path.endswith("final.txt"))

    plain_order, plain = final_answer(replace(DEFAULT_RANKING, redundancy=0.0))
    order, answer = final_answer(DEFAULT_RANKING)
    assert plain.highlight.startswith("The Lusail Stadium")
    assert answer.highlight.startswith("The champions were Argentina") and DEFAULT_RANKING.redundancy > 0
    assert order == plain_order and answer.score == pytest.approx(plain.score)
