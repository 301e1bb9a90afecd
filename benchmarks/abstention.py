"""Calibrate abstention on labelled sets: how often each set is abstained on under candidate floors.

    .venv/bin/python benchmarks/abstention.py

Three sets, as issue 9 asks: the seed questions (tests/data/seed_questions.jsonl: answerable ones
and off-topic ones, over an index of seeds/), benchmarks/off_topic.txt and the 449 RealTimeQA 2022
questions (over the index `rtqa.py` built). Every question is searched once with the default
ranking; the evidence it saw is then judged under each candidate `Floors`, so the table compares
floors on exactly the same searches. The goals: no answerable question abstained on, (nearly)
every off-topic one abstained on. The reader (on, as by default) reads every search; its veto is one of the floors.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, CachedReader, open_bench_index  # noqa: E402

from index import Index, Settings  # noqa: E402
from index.answering.evaluate import load_questions  # noqa: E402
from index.quotes.results import DEFAULT_FLOORS, Evidence, Floors  # noqa: E402

NO_VETO = float("-inf")  # the rows before the reader
CANDIDATES: dict[str, Floors] = {
    "passage cosine or rare words (before issue 9)": Floors(sentence=2.0, known=0.0, reading=NO_VETO),
    "+ words the corpus knows (known >= 0.5)": Floors(sentence=2.0, reading=NO_VETO),
    "+ a fixed sentence floor of 0.30": Floors(sentence=0.30, sentence_per_decade=0.0, reading=NO_VETO),
    "+ a sentence floor of 0.20 rising 0.08 per tenfold sentences": Floors(sentence=0.20, reading=NO_VETO),
    "0.25 rising 0.08 per tenfold sentences (no reader's veto)": Floors(reading=NO_VETO),
    "+ a sentence floor of 0.25 rising 0.06 per tenfold sentences": Floors(sentence_per_decade=0.06, reading=NO_VETO),
    "+ the reader's veto under -3 logits": Floors(reading=-3.0),
    "default: + the reader's veto under -2 logits": DEFAULT_FLOORS,
    "+ the reader's veto under -1 logit": Floors(reading=-1.0),
}


def evidence(index: Index, questions: list[tuple[str, object]]) -> list[Evidence]:
    """The evidence each question's search saw (never None: an empty index abstains without evidence)."""
    found = []
    for question, asked in questions:
        result = index.search(question, k=3, asked=asked)
        found.append(result.evidence or Evidence(0.0, 0.0, 0.0, 0.0, 0))
    return found


def main() -> int:
    reader = CachedReader()  # readings kept between benchmarks (the same logits as the live reader)
    bench = open_bench_index(cross_encoder=reader)
    if bench is None:
        return 1
    embedder = bench.embedder
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Index.open(settings=Settings(index_dir=Path(tmp), articles_dir=ROOT / "seeds"), embedder=embedder,
                           cross_encoder=reader, log=lambda m: None)
        seeds.update(progress=False)
        labelled = load_questions(ROOT / "tests" / "data" / "seed_questions.jsonl")
        seed_answerable = evidence(seeds, [(q.question, None) for q in labelled if not q.off_topic])
        seed_off_topic = evidence(seeds, [(q.question, None) for q in labelled if q.off_topic])
    rtqa = evidence(bench, [(q.question, q.asked) for q in load_questions(BENCH / "questions.jsonl")])
    off_topic_lines = [line for line in (ROOT / "benchmarks" / "off_topic.txt").read_text().splitlines() if line.strip()]
    off_topic = evidence(bench, [(line, None) for line in off_topic_lines])
    reader.save()

    print("| floors | seed answerable abstained | seed off-topic abstained | RTQA abstained | off_topic.txt abstained |")
    print("|---|---|---|---|---|")
    for name, floors in CANDIDATES.items():
        cells = [sum(not e.answerable(floors) for e in group) for group in (seed_answerable, seed_off_topic, rtqa, off_topic)]
        sizes = [len(group) for group in (seed_answerable, seed_off_topic, rtqa, off_topic)]
        print(f"| {name} | " + " | ".join(f"{c} of {n}" for c, n in zip(cells, sizes)) + " |")
    for label, group in (("RTQA", rtqa), ("off_topic.txt", off_topic), ("seed off-topic", seed_off_topic)):
        top = sorted(group, key=lambda e: -e.sentence)[:3] if "off" in label else sorted(group, key=lambda e: e.sentence)[:3]
        print(f"\n{label}, {'highest' if 'off' in label else 'lowest'} sentence cosines: "
              + ", ".join(f"s={e.sentence:.2f} p={e.passage:.2f} l={e.lexical:.2f} k={e.known:.2f}" for e in top)
              + f" (sentence floor there {DEFAULT_FLOORS.sentence_floor(top[0].indexed_sentences):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
