"""Score answer quality on questions with known answers: Hits@1/5/10, MRR@10 and what users see.

A returned passage is a hit when it comes from one of the question's relevant articles (if given)
and contains the answer phrase (if given) on word boundaries, case-insensitively — the rule of the
RealTimeQA benchmark in shared/bench. An article folded into an answer's "also reported by" counts.
Users read the bold sentence first, so the highlight is scored too: first-highlight accuracy (the top
answer's highlighted sentence holds the answer) and highlight@3 (one of the top three does).
Questions marked `"off_topic": true` must be abstained on; they are counted apart.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from index.questions.recency import parse_day
from index.quotes.results import Answer, SearchResult

CUTOFFS = (1, 5, 10)
HIGHLIGHT_DEPTH = 3  # answers a Slack reply shows


class QuestionsError(ValueError):
    """The questions file is missing or malformed; the message names the line."""


@dataclass(frozen=True)
class EvalQuestion:
    """A question and what a good answer must contain or come from."""

    question: str
    answer: str | None = None
    article_ids: frozenset[str] = frozenset()
    id: str = ""
    asked: date | None = None  # when it was asked: what "this week" in it means
    off_topic: bool = False  # nothing indexed answers it: the right reply is an abstention

    def is_hit(self, answer: Answer, text: str | None = None) -> bool:
        """True when the passage comes from a relevant article and contains the answer phrase.

        `text` checks another part of the answer (its highlight) instead of the whole quote.
        """
        if self.off_topic:
            return False
        if self.article_ids:
            sources = {answer.article.id} | {a.id for a in answer.also_in}
            if not sources & self.article_ids:
                return False
        if self.answer is not None:
            pattern = r"(?<!\w)" + re.escape(self.answer) + r"(?!\w)"
            return re.search(pattern, answer.quote if text is None else text, re.IGNORECASE) is not None
        return True

    def is_highlight_hit(self, answer: Answer) -> bool:
        """True when the answer is a hit and its highlighted sentence itself holds the answer phrase."""
        return self.is_hit(answer, answer.highlight)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a JSON Lines file of `{"question", "answer"?, "article_ids"?, "date"?}` (or `relevant_article_ids`)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QuestionsError(f"cannot read {path}: {exc.strerror or exc}") from None
    questions = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuestionsError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
        if not isinstance(record, dict) or not str(record.get("question", "")).strip():
            raise QuestionsError(f"{path}:{number}: expected an object with a non-empty \"question\"")
        ids = record.get("article_ids", record.get("relevant_article_ids")) or []
        answer = record.get("answer")
        off_topic = record.get("off_topic") is True
        if answer is None and not ids and not off_topic:
            raise QuestionsError(
                f"{path}:{number}: give an \"answer\" phrase, \"article_ids\", or both (or \"off_topic\": true)"
            )
        asked = parse_day(str(record["date"])) if record.get("date") else None
        if record.get("date") and asked is None:
            raise QuestionsError(f"{path}:{number}: \"date\" must be a day like 2022-06-17, not {record['date']!r}")
        questions.append(
            EvalQuestion(
                question=str(record["question"]),
                answer=str(answer) if answer is not None else None,
                article_ids=frozenset(str(i) for i in ids),
                id=str(record.get("id", number)),
                asked=asked,
                off_topic=off_topic,
            )
        )
    if not questions:
        raise QuestionsError(f"{path}: no questions")
    return questions


@dataclass
class Metrics:
    """Quality and latency of one configuration over a question set."""

    name: str
    questions: int = 0
    hits: dict[int, int] = field(default_factory=lambda: {k: 0 for k in CUTOFFS})
    reciprocal_ranks: float = 0.0
    abstained: int = 0
    first_highlight: int = 0  # top answer's highlighted sentence holds the answer
    highlight_top: int = 0  # one of the top HIGHLIGHT_DEPTH highlights does
    off_topic: int = 0  # questions nothing indexed answers (not counted in `questions`)
    off_topic_abstained: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def share(self, count: int) -> float:
        """`count` as a share of the answerable questions."""
        return count / self.questions if self.questions else 0.0

    def hits_at(self, k: int) -> float:
        """Share of questions with a hit in the top k."""
        return self.hits[k] / self.questions if self.questions else 0.0

    @property
    def mrr(self) -> float:
        """Mean reciprocal rank of the first hit within the top 10."""
        return self.reciprocal_ranks / self.questions if self.questions else 0.0

    def latency(self, quantile: float) -> float:
        """Latency quantile in milliseconds (e.g. 0.5, 0.95)."""
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else 0.0
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[round(quantile * 100) - 1]

    def as_dict(self) -> dict:
        """Rounded numbers for JSON output and tables."""
        return {
            "name": self.name,
            "questions": self.questions,
            **{f"hits@{k}": round(self.hits_at(k), 3) for k in CUTOFFS},
            "mrr@10": round(self.mrr, 3),
            "first_highlight": round(self.share(self.first_highlight), 3),
            f"highlight@{HIGHLIGHT_DEPTH}": round(self.share(self.highlight_top), 3),
            "abstained": self.abstained,
            "off_topic": self.off_topic,
            "off_topic_abstained": self.off_topic_abstained,
            "p50_ms": round(self.latency(0.5), 1),
            "p95_ms": round(self.latency(0.95), 1),
        }


def evaluate(
    name: str,
    questions: Iterable[EvalQuestion],
    search: Callable[..., SearchResult],
    on_question: Callable[[], None] | None = None,
) -> Metrics:
    """Run every question through `search(question, asked=day)` (at least 10 answers) and score the ranking."""
    metrics = Metrics(name)
    for item in questions:
        started = time.perf_counter()
        result = search(item.question, asked=item.asked)
        metrics.latencies_ms.append((time.perf_counter() - started) * 1000)
        if item.off_topic:
            metrics.off_topic += 1
            metrics.off_topic_abstained += result.abstained
            continue
        metrics.questions += 1
        metrics.abstained += result.abstained
        rank = next((i for i, a in enumerate(result.answers[: max(CUTOFFS)], 1) if item.is_hit(a)), None)
        if rank is not None:
            metrics.reciprocal_ranks += 1 / rank
            for k in CUTOFFS:
                metrics.hits[k] += rank <= k
        highlights = [item.is_highlight_hit(a) for a in result.answers[:HIGHLIGHT_DEPTH]]
        metrics.first_highlight += bool(highlights and highlights[0])
        metrics.highlight_top += any(highlights)
        if on_question:
            on_question()
    return metrics


def format_table(rows: list[Metrics]) -> str:
    """A Markdown table of metrics, one configuration per row."""
    off_topic = any(m.off_topic for m in rows)
    head = (
        f"| configuration | first highlight | highlight@{HIGHLIGHT_DEPTH} | Hits@1 | Hits@5 | Hits@10 | MRR@10 "
        f"| abstained |{' off-topic abstained |' if off_topic else ''} p50 ms | p95 ms |"
    )
    lines = [head, "|---" * (head.count("|") - 1) + "|"]
    for m in rows:
        d = m.as_dict()
        lines.append(
            f"| {m.name} | {d['first_highlight']:.3f} | {d[f'highlight@{HIGHLIGHT_DEPTH}']:.3f} | {d['hits@1']:.3f} "
            f"| {d['hits@5']:.3f} | {d['hits@10']:.3f} | {d['mrr@10']:.3f} | {m.abstained}/{m.questions} "
            f"|{f' {m.off_topic_abstained}/{m.off_topic} |' if off_topic else ''} {d['p50_ms']:.1f} | {d['p95_ms']:.1f} |"
        )
    return "\n".join(lines)
