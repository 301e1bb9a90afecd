"""`newsbot eval`: score the index on the user's own questions."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial

from tqdm import tqdm


def cmd_eval(args: argparse.Namespace) -> int:
    """Print Hits@1/5/10 and MRR@10 of the default pipeline on a JSON Lines questions file."""
    from index import Index, QuestionsError, Settings, evaluate, format_table, load_questions

    try:
        questions = load_questions(args.questions)
    except QuestionsError as exc:
        print(f"newsbot eval: {exc}", file=sys.stderr)
        return 2
    index = Index.open(settings=Settings.from_env(), log=lambda m: print(m, file=sys.stderr))
    if not index.exists():
        print(f"newsbot eval: no index yet in {index.engine.where}; run: newsbot index", file=sys.stderr)
        return 1
    index.warm_up()
    with tqdm(total=len(questions), desc="Questions", unit="q", disable=not sys.stderr.isatty(), leave=False) as bar:
        metrics = evaluate("newsbot", questions, partial(index.search, k=10), bar.update)
    if args.json:
        print(json.dumps(metrics.as_dict()))
    else:
        print(format_table([metrics]))
    return 0
