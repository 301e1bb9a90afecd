"""What rescoring reads of each sentence, worked out once when its passage is indexed: the stems of its
words (its share of the question's rare words, and the duplicate check) and its names and numbers (what
it brings that the question lacks).

Stored with the passage as text, one line per sentence, so a question reads them instead of tokenizing
the sentences of 30 passages in Python. A row without them, or in another format (written by another
newsbot), is read from the sentence texts instead, with the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tqdm import tqdm

from index.text.keywords import sentence_names, sentence_stems

FORMAT = "words/1"  # the stored form's first line; bump it when tokenizing, stemming or names change
EMPTY = "-"  # stands for an empty stem (Porter stems "s", as in "speaker’s", to ""); never a stem itself


@dataclass(frozen=True, slots=True)
class SentenceWords:
    """One sentence's stems and names, as stored."""

    stems: str  # " stem stem … ": every stem (`EMPTY` for "") with a space either side: `f" {stem} " in stems` tests it
    names: str  # names and numbers, space-separated; the folded words of one name joined by "+"


def _worked_out(text: str, stems=sentence_stems, names=sentence_names) -> SentenceWords:
    words = " ".join([stem or EMPTY for stem in stems(text)])
    return SentenceWords(f" {words} ", " ".join("+".join(parts) for parts in names(text)))


def encode(sentences: list[str]) -> str:
    """The stored form of a passage's sentences (worked out without filling the question-time caches)."""
    lines = (_worked_out(text, sentence_stems.__wrapped__, sentence_names.__wrapped__) for text in sentences)
    return "\n".join([FORMAT, *(f"{w.stems}\t{w.names}" for w in lines)])


def for_passage(text: str, spans) -> str:
    """The stored form for the sentences at `spans` (offsets in the article `text`)."""
    return encode([text[s:e] for s, e in spans])


def refreshed(rows) -> list[tuple[str, int]]:
    """`(stored form, passage id)` for each `(passage id, sentence spans, stored form, article text)` row whose
    stored form is missing, stale or does not fit its sentences (what a fill writes)."""
    return [(for_passage(text, spans), pid) for pid, spans, stored, text in rows if not _sound(stored, len(spans))]


def fill(fetch: Callable[[int], list[tuple]], write: Callable[[list[tuple[str, int]]], None], total: int) -> int:
    """Refresh stored words page by page: `fetch(after)` gives the next rows after passage id `after` (see
    `refreshed`, in id order), `write` stores a page's in one transaction; a progress bar past 5,000 rows.
    How many passages were written."""
    filled, after = 0, -1
    with tqdm(total=total, desc="sentence words", unit="passage", disable=None if total > 5000 else True) as bar:
        while rows := fetch(after):
            after = rows[-1][0]
            stale = refreshed(rows)
            write(stale)
            filled += len(stale)
            bar.update(len(rows))
    return filled


def fits(stored: str | None, sentences: int) -> bool:
    """Whether `stored` is in this newsbot's format and has a line for each of the passage's `sentences`."""
    if stored is None or not (stored == FORMAT or stored.startswith(FORMAT + "\n")):
        return False
    return stored.count("\n") == sentences and stored.count("\t") == sentences


def _sound(stored: str | None, sentences: int) -> bool:
    """`fits`, and every line has its one tab (checked when filling, not on every question)."""
    return fits(stored, sentences) and all(line.count("\t") == 1 for line in stored.split("\n")[1:])


def decode(stored: str | None, sentences: list[str]) -> list[SentenceWords]:
    """The words of each sentence: from `stored` when it is current and fits, else worked out from the texts."""
    if fits(stored, len(sentences)):
        try:
            return [SentenceWords(*line.split("\t")) for line in stored.split("\n")[1:]]
        except TypeError:  # a line without its tab, another with two: not what a newsbot wrote
            pass
    return [_worked_out(text) for text in sentences]


class QuestionTerms:
    """The question's stems with their weights (IDF, less for a thread's earlier questions), for scoring sentences."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.terms = [(f" {stem or EMPTY} ", weight) for stem, weight in weights.items()]
        self.total = sum(weights.values())

    def share(self, words: SentenceWords) -> float:
        """Share of the question's weight whose stems the sentence holds (0..1); summed in the question's order."""
        if not self.total:
            return 0.0
        stems = words.stems
        return sum([weight for stem, weight in self.terms if stem in stems]) / self.total


def new_names(words: SentenceWords, asked: frozenset[str], cap: int = 2) -> float:
    """How much a sentence brings that the question does not name: names and numbers absent from it, 0..1.

    A quiz-style question ("Which country…?") is answered by a sentence holding a name or number the
    question lacks; a sentence that only restates the question holds none. Capitalised words after the
    first and tokens with digits count, up to `cap`.
    """
    found = 0
    for name in words.names.split():
        if unasked(name, asked):
            found += 1
            if found >= cap:
                break
    return found / cap


def unasked(name: str, asked: frozenset[str]) -> bool:
    """Whether the question's words `asked` lack some word of this stored name."""
    if "+" not in name:  # one word, as most names are: no splitting
        return name not in asked
    return not all(part in asked for part in name.split("+"))


def passage_stems(words: list[SentenceWords]) -> list[str]:
    """The stems of a passage's words in order, from its sentences'."""
    return [stem if stem != EMPTY else "" for w in words for stem in w.stems.split()]
