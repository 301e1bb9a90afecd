"""Answer redundancy: the names and numbers the question lacks that recur across the best passages.

When several of the best passages name the same thing the question does not (the storm, the winner, the
price), that is most likely what it asks for (the redundancy of question-answering systems such as
AskMSR), so the highlight prefers a sentence naming it to one that only restates the question.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from index.text.sentence_words import SentenceWords, unasked


def recurring_names(passages: Iterable[list[SentenceWords]], asked: frozenset[str]) -> dict[str, float]:
    """Each name or number the question (words `asked`) lacks that two or more of `passages` hold, weighed by
    how many hold it: 1.0 for the most widely held."""
    held: Counter[str] = Counter()
    for sentences in passages:  # each passage counts a name once, however often it says it
        held.update(set(" ".join([words.names for words in sentences]).split()))
    shared = {name: count for name, count in held.items() if count > 1 and unasked(name, asked)}
    most = max(shared.values(), default=1)
    return {name: count / most for name, count in shared.items()}


def recurrence(words: SentenceWords, recurring: dict[str, float]) -> float:
    """The weight of the most widely held recurring name the sentence holds (0 for none)."""
    return max((recurring.get(name, 0.0) for name in words.names.split()), default=0.0)
