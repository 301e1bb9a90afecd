"""`newsbot index`, `newsbot ask` and `newsbot stats`: the index from a terminal."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import textwrap
from collections.abc import Iterable, Iterator

from bot.cli.common import EXIT_USAGE, err, open_index


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index; exit 1 only when nothing at all could be indexed."""
    index = open_index()
    summary = index.update(args.paths or None, rebuild=args.rebuild, progress=not args.quiet)
    print(summary.line())
    return 0 if summary.indexed else 1


def _ensure_index(index) -> bool:
    if index.exists():
        return True
    err(f"No index yet in {index.engine.where}: indexing {index.settings.articles_dir} first.")
    summary = index.update(None, progress=sys.stderr.isatty())
    err(summary.line())
    return summary.indexed > 0


def _excerpt(answer, bold: str, reset: str) -> str:
    """The answer's compact excerpt in quotes, its answering sentence in bold (`*…*` without colour), "…" where cut."""
    shown = answer.excerpt
    if shown is not None and shown.start <= answer.highlight_start < answer.highlight_end <= shown.end:
        before = shown.text[: answer.highlight_start - shown.start]
        after = shown.text[answer.highlight_end - shown.start :]
        cut_before, cut_after = shown.cut_before, shown.cut_after
    else:
        before, after, cut_before, cut_after = "", "", False, False
    mark_on, mark_off = (bold, reset) if bold else ("*", "*")
    text = " ".join(before.split()) + " " + mark_on + " ".join(answer.highlight.split()) + mark_off + " " + " ".join(after.split())
    return "“" + ("… " if cut_before else "") + text.strip() + (" …" if cut_after else "") + "”"


def _render(result, color: bool) -> str:
    """A search result as readable terminal text."""
    width = min(100, shutil.get_terminal_size((100, 20)).columns) - 4
    bold, dim, reset = ("\033[1m", "\033[2m", "\033[0m") if color else ("", "", "")
    lines = [f"{bold}Q: {result.question}{reset}", ""]
    if result.reading:  # how filters in the question were read
        lines[-1:] = [f"{dim}{result.reading}{reset}", ""]
    if result.abstained and result.reading.startswith("No articles"):
        lines.append(result.reading + ".")
        return "\n".join(lines)
    if result.abstained:
        lines.append(f"I couldn't find that in the {result.articles} indexed articles.")
        return "\n".join(lines)
    for number, answer in enumerate(result.answers, 1):
        lines.append(textwrap.fill(_excerpt(answer, bold, reset), width, initial_indent=f"{number}. ", subsequent_indent="   "))
        meta = " · ".join(x for x in (answer.article.title, answer.article.source, answer.article.published) if x)
        lines.append(f"   {dim}— {meta}{reset}")
        if answer.also_in:
            names = ", ".join(a.source or a.title for a in answer.also_in)
            lines.append(f"   {dim}also reported by {names}{reset}")
        lines.append(f"   {answer.link}")
        lines.append("")
    return "\n".join(lines).rstrip()


def _stdin_questions() -> Iterator[tuple[int, str | None]]:
    """Each non-blank stdin line as (line number, question), as it arrives; None for a line that is not UTF-8."""
    for number, raw in enumerate(sys.stdin.buffer, 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            yield number, None
            continue
        if line.strip():
            yield number, line.strip()


def _is_utf8(text: str) -> bool:
    """False for an argument that was not valid UTF-8 (Python keeps its bytes as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def cmd_ask(args: argparse.Namespace) -> int:
    """Answer one question, or one per stdin line with `-`; a bad line gets one error line, the rest are answered."""
    from index import Context, EmptyQuestion, FilterError

    many = args.question == "-"
    context = Context(earlier=tuple(args.earlier or ()))
    if many:  # answered as they arrive, so a pipe gets each answer without waiting for the end of input
        questions: Iterable[tuple[int, str | None]] = _stdin_questions()
    else:
        if not _is_utf8(args.question):
            err("newsbot ask: the question is not valid UTF-8")
            return EXIT_USAGE
        if not args.question.strip():
            err("newsbot ask: the question is empty; ask something like: newsbot ask \"why did NATO expel the diplomats?\"")
            return EXIT_USAGE
        questions = [(1, args.question)]
    index = open_index()
    if not _ensure_index(index):
        err("Nothing could be indexed, so there is nothing to answer from.")
        return 1
    color = sys.stdout.isatty() and not args.json
    failed = 0
    for number, question in questions:
        where = f" on line {number}" if many else ""
        if question is None:
            err(f"newsbot ask: the question{where} is not valid UTF-8, skipped")
            failed += 1
            continue
        try:
            result = index.search(question, k=args.k, context=context)
        except (EmptyQuestion, FilterError) as exc:
            reason = "is empty" if isinstance(exc, EmptyQuestion) else f"has a bad filter: {exc}"
            err(f"newsbot ask: the question{where} {reason}")
            if not many:
                return EXIT_USAGE
            failed += 1
            continue
        if args.json:
            print(json.dumps(result.to_json(), ensure_ascii=False), flush=True)
        else:
            print(_render(result, color), end="\n\n" if many else "\n", flush=True)
    return 1 if failed else 0


def cmd_stats(args: argparse.Namespace) -> int:
    """Print what the index holds."""
    index = open_index()
    if not index.exists():
        err(f"No index yet in {index.engine.where}; run: newsbot index")
        return 1
    s = index.stats()
    rows = [
        ("articles", s.articles),
        ("passages", s.passages),
        ("sources", s.sources),
        ("newest article", f"{s.newest_title} ({s.newest_published or 'undated'})" if s.newest_title else "-"),
        ("model", s.model),
        ("reader", s.reader),
        ("index size", f"{s.size_bytes / 1_000_000:.1f} MB in {index.engine.where}"),
        ("last update", s.updated_at or "-"),
    ]
    sources = [{"source": n, "articles": c, "first": a, "last": b} for n, c, a, b in s.source_list]
    if args.json:
        print(json.dumps({**{k.replace(" ", "_"): v for k, v in rows}, "source_list": sources}))
    else:
        for key, value in rows:
            print(f"{key:>15}: {value}")
        print("\nSources (filter with source:NAME, after:, before:, during:):")
        for name, count, first, last in s.source_list:
            span = f"{first} to {last}" if first else "undated"
            print(f"  {name}: {count} article{'s' if count != 1 else ''}, {span}")
    return 0
