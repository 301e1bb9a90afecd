"""Follows on RealTimeQA 2022 (the index `rtqa.py` built): what matching costs, and how precise the posts are.

1. Cost: 100 follows (benchmark questions) matched against 1,000 newly arrived articles, the way the
   bot's follow loop does it (`find_stories`): milliseconds per follow per update, and the total.
2. Precision: questions as follows, the 4,884 articles arriving week by week in publication order;
   of the articles a follow would post, the share relevant to its question (one of its
   `relevant_article_ids`), and of the relevant articles, the share posted. Relevance here is the
   benchmark's: the few articles a web search returned for the quiz question, so other articles on
   the same story count as misses and precision is a lower bound; the share of posts holding the
   quiz answer is reported beside it.

    .venv/bin/python benchmarks/follows.py [--questions 120] [--skip 80]
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_index import BENCH, CachedReader, open_bench_index  # noqa: E402

from bot.follows.store import Follow  # noqa: E402
from bot.follows.worker import FOLLOW_READING, find_stories  # noqa: E402
from index import Index  # noqa: E402
from index.answering.evaluate import load_questions  # noqa: E402
from index.engines.folder.store import Store  # noqa: E402

READING_FLOORS = (-2.0, 0.0, 2.0, 4.0)  # the reader's logit a post must reach, compared


def weeks(index, first_year: int = 2022) -> list[frozenset[str]]:
    """The indexed articles grouped by ISO week of publication, oldest first: articles from before
    `first_year` arrive together as the first batch (the archive), undated ones last."""
    groups: dict[tuple, set[str]] = defaultdict(set)
    with Store(index.directory).connection() as conn:
        for article_id, published in conn.execute("SELECT id, published FROM articles"):
            try:
                key = tuple(date.fromisoformat((published or "")[:10]).isocalendar()[:2])
            except ValueError:
                key = (9999, 0)
            groups[(first_year, 0) if key[0] < first_year else key].add(article_id)
    return [frozenset(groups[k]) for k in sorted(groups)]


def precision(
    index, chosen, batches, floors: tuple[float, ...], save=lambda: None
) -> dict[float, tuple[int, float, float, float]]:
    """For each reading floor: posts, their precision and share holding the quiz answer, and recall, of `chosen`
    questions as follows. Each (follow, week) is searched once and every floor applied to that one search."""
    counts = {floor: [0, 0, 0, 0] for floor in floors}  # posted, relevant posted, holding the answer, relevant reached
    relevant_total = 0
    for number, q in enumerate(chosen):
        follow = Follow(number, "C", q.question, "U", "", 0)
        relevant = set(q.article_ids)
        relevant_total += len(relevant)
        pattern = re.compile(rf"(?<!\w){re.escape(q.answer)}(?!\w)", re.IGNORECASE) if q.answer else None
        reached: dict[float, set[str]] = {floor: set() for floor in floors}
        for batch in batches:
            searched: dict = {}
            for floor in floors:
                for story in find_stories(index, follow, batch, reading_floor=floor, searched=searched):
                    ids = {story.article_id, *story.also_in}
                    tally = counts[floor]
                    tally[0] += 1
                    tally[1] += bool(ids & relevant)
                    reached[floor] |= ids & relevant
                    tally[2] += bool(pattern and pattern.search(story.message["text"] + str(story.message["blocks"])))
        for floor in floors:
            counts[floor][3] += len(reached[floor])
        if number % 10 == 9:
            save()  # a long run keeps what the reader has read
    return {
        floor: (posted, relevant_posted / (posted or 1), holding / (posted or 1), covered / max(relevant_total, 1))
        for floor, (posted, relevant_posted, holding, covered) in counts.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--questions", type=int, default=120, help="questions used as follows for precision")
    parser.add_argument("--skip", type=int, default=80, help="leave out the first questions (the rule was tuned on 80)")
    args = parser.parse_args()
    reader = CachedReader()
    index = open_bench_index(cross_encoder=reader)
    if index is None:
        return 1
    index.warm_up()
    questions = load_questions(BENCH / "questions.jsonl")

    newest = frozenset(article for _, article in index.arrivals(after=0, limit=10**6)[-1000:])
    if len(newest) < 1000:  # an index built before arrivals were recorded: any 1,000 articles
        with Store(index.directory).connection() as conn:
            newest = frozenset(row[0] for row in conn.execute("SELECT id FROM articles ORDER BY id LIMIT 1000"))
    follows = [Follow(i, "C", q.question, "U", "", 0) for i, q in enumerate(questions[:100])]
    live = Index.open(settings=index.settings, embedder=index.embedder, log=lambda m: None)  # the reader's real cost
    live.warm_up()
    times, posted = [], 0
    for follow in follows:
        started = time.perf_counter()
        posted += len(find_stories(live, follow, newest))
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100, method="inclusive")
    print(f"cost: 100 follows x {len(newest)} new articles: {sum(times) / 1000:.1f} s in all; per follow "
          f"p50 {cuts[49]:.1f} ms, p95 {cuts[94]:.1f} ms; {posted} stories\n")

    batches = weeks(index)
    chosen = questions[args.skip : args.skip + args.questions]
    unread = Index.open(settings=replace(index.settings, reader=False), embedder=index.embedder, log=lambda m: None)
    print(f"precision: {len(chosen)} questions as follows, {len(batches)} weekly updates")
    print("| reader | posts | relevant (precision) | holding the quiz answer | relevant articles posted (recall) |")
    print("|---|---|---|---|---|")
    rows = [("off (before issue 25)", precision(unread, chosen, batches, (FOLLOW_READING,))[FOLLOW_READING])]
    read = precision(index, chosen, batches, READING_FLOORS, reader.save)
    rows += [(f"{'on, default: ' if floor == FOLLOW_READING else 'on, '}reads the answer at {floor:+g} or more", read[floor])
             for floor in READING_FLOORS]
    for name, (posts, relevant, holding, recall) in rows:
        print(f"| {name} | {posts} ({posts / len(chosen):.1f} per follow) | {relevant:.3f} | {holding:.3f} | {recall:.3f} |",
              flush=True)
    reader.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
