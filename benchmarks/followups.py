"""Follow-up questions in a thread: top-3 accuracy of the follow-up alone and read with the earlier
question, at several context weights, then with the reader reading a follow-up in several ways, on the seed
articles and on RealTimeQA 2022 (`followup_pairs.jsonl`); last, the reader's veto on follow-ups and on off-topic
questions asked in a thread.

A pair is answered when one of the top 3 quotes holds its answer phrase (case-insensitive, on word
boundaries) and, on RealTimeQA, comes from one of the question's relevant articles (an article folded
into "also reported by" counts): the benchmark's own rule, `EvalQuestion.is_hit`.

    .venv/bin/python benchmarks/followups.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, open_bench_index  # noqa: E402

from index import Context, Index, Ranking, Settings  # noqa: E402
from index.answering.evaluate import EvalQuestion, load_questions  # noqa: E402
from index.answering.ranking import DEFAULT_RANKING, UNREAD_RANKING  # noqa: E402
from index.questions.context import CONTEXT_WEIGHT  # noqa: E402
from index.quotes.results import DEFAULT_FLOORS  # noqa: E402

PAIRS = Path(__file__).with_name("followup_pairs.jsonl")
WEIGHTS = (0.25, 0.35, 0.5, 0.75, 1.0)  # of the earlier question, relative to the follow-up


READER_ROWS = {"the reader (default)": DEFAULT_RANKING, "without the reader": UNREAD_RANKING}


def answered(index: Index, pair: dict, context: Context | None, asked, ranking: Ranking = DEFAULT_RANKING) -> bool:
    """Whether one of the top 3 quotes is a hit by the benchmark's rule (`EvalQuestion.is_hit`)."""
    result = index.search(pair["followup"], k=3, asked=asked, context=context or Context(), ranking=ranking)
    wanted = EvalQuestion(pair["followup"], pair["answer"], frozenset(pair.get("relevant_article_ids") or ()))
    return any(wanted.is_hit(answer) for answer in result.answers)


def main() -> int:
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines() if line.strip()]
    bench = open_bench_index()
    if bench is None:
        return 1
    embedder = bench.embedder
    asked_on = {q.id: q.asked for q in load_questions(BENCH / "questions.jsonl")}
    with tempfile.TemporaryDirectory() as folder:
        seeds = Index.open(settings=Settings(index_dir=Path(folder), articles_dir=ROOT / "seeds"), embedder=embedder,
                           log=lambda m: None)
        seeds.update(progress=False)
        corpora = {"seeds": seeds, "rtqa-2022": bench}
        rows = [("follow-up alone", None)] + [
            (f"with the earlier question, weight {w}" + (" (default)" if w == CONTEXT_WEIGHT else ""), w) for w in WEIGHTS
        ]
        print("| reading | seeds (12) | RealTimeQA 2022 (12) | all (24) |\n|---|---|---|---|")
        for label, weight in rows:
            hits = {"seeds": 0, "rtqa-2022": 0}
            for pair in pairs:
                context = None if weight is None else Context(earlier=(pair["earlier"],), weight=weight)
                asked = asked_on.get(pair.get("question_id"))
                hits[pair["corpus"]] += answered(corpora[pair["corpus"]], pair, context, asked)
            counts = {c: sum(p["corpus"] == c for p in pairs) for c in hits}
            total = sum(hits.values())
            print(f"| {label} | {hits['seeds'] / counts['seeds']:.2f} | {hits['rtqa-2022'] / counts['rtqa-2022']:.2f} "
                  f"| {total / len(pairs):.2f} |")
        print(f"\n| the reader on a follow-up (context weight {CONTEXT_WEIGHT}) | seeds (12) | RealTimeQA 2022 (12) | all (24) |")
        print("|---|---|---|---|")
        for label, ranking in READER_ROWS.items():
            hits = {"seeds": 0, "rtqa-2022": 0}
            for pair in pairs:
                context = Context(earlier=(pair["earlier"],))
                hits[pair["corpus"]] += answered(corpora[pair["corpus"]], pair, context, asked_on.get(pair.get("question_id")), ranking)
            print(f"| {label} | {hits['seeds'] / counts['seeds']:.2f} | {hits['rtqa-2022'] / counts['rtqa-2022']:.2f} "
                  f"| {sum(hits.values()) / len(pairs):.2f} |")
        refusals(pairs, corpora)
    return 0


def refusals(pairs: list[dict], corpora: dict[str, Index]) -> None:
    """The reader's veto on questions asked in a thread: the 24 follow-ups must be answered, off-topic questions
    asked after an earlier one (the seeds' 15 after a seed pair's earlier question, off_topic.txt's after a
    RealTimeQA pair's) refused. Each is searched once; its evidence is judged under each follow-up floor."""
    follow_ups = [corpora[p["corpus"]].search(p["followup"], k=3, context=Context(earlier=(p["earlier"],))) for p in pairs]
    seed_earlier = next(p["earlier"] for p in pairs if p["corpus"] == "seeds")
    news_earlier = [p["earlier"] for p in pairs if p["corpus"] == "rtqa-2022"]
    seed_off = [q.question for q in load_questions(ROOT / "tests" / "data" / "seed_questions.jsonl") if q.off_topic]
    news_off = [line for line in (ROOT / "benchmarks" / "off_topic.txt").read_text().splitlines() if line.strip()]
    off_topic = [corpora["seeds"].search(q, k=3, context=Context(earlier=(seed_earlier,))) for q in seed_off] + [
        corpora["rtqa-2022"].search(q, k=3, context=Context(earlier=(news_earlier[i % len(news_earlier)],)))
        for i, q in enumerate(news_off)
    ]
    print(f"\n| the reader's veto on a follow-up | follow-ups answered ({len(follow_ups)}) "
          f"| off-topic in a thread refused ({len(off_topic)}) |\n|---|---|---|")
    for label, floor in (("no veto", float("-inf")), ("-2, as a question that stands alone", -2.0),
                         (f"{DEFAULT_FLOORS.follow_up_reading:g} (default)", DEFAULT_FLOORS.follow_up_reading)):
        floors = replace(DEFAULT_FLOORS, follow_up_reading=floor)
        answered_ = sum(r.evidence is not None and r.evidence.answerable(floors) for r in follow_ups)
        refused = sum(r.evidence is None or not r.evidence.answerable(floors) for r in off_topic)
        print(f"| {label} | {answered_} | {refused} |")


if __name__ == "__main__":
    sys.exit(main())
