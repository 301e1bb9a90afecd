"""The `newsbot` command: index and ask from a terminal, or run the Slack bot."""

from __future__ import annotations

import argparse
import errno
import json
import os
import shutil
import sqlite3
import sys
import textwrap
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

EXIT_USAGE = 2
FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # no space, over quota, over a file size limit


def _err(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _open_index():
    from index import Index, Settings

    return Index.open(settings=Settings.from_env(), log=_err)


def cmd_index(args: argparse.Namespace) -> int:
    """Build or update the index; exit 1 only when nothing at all could be indexed."""
    index = _open_index()
    summary = index.update(args.paths or None, rebuild=args.rebuild, progress=not args.quiet)
    print(summary.line())
    return 0 if summary.indexed else 1


def _ensure_index(index) -> bool:
    if index.exists():
        return True
    _err(f"No index in {index.directory} yet: indexing {index.settings.articles_dir} first.")
    summary = index.update(None, progress=sys.stderr.isatty())
    _err(summary.line())
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
            _err("newsbot ask: the question is not valid UTF-8")
            return EXIT_USAGE
        if not args.question.strip():
            _err("newsbot ask: the question is empty; ask something like: newsbot ask \"why did NATO expel the diplomats?\"")
            return EXIT_USAGE
        questions = [(1, args.question)]
    index = _open_index()
    if not _ensure_index(index):
        _err("Nothing could be indexed, so there is nothing to answer from.")
        return 1
    color = sys.stdout.isatty() and not args.json
    failed = 0
    for number, question in questions:
        where = f" on line {number}" if many else ""
        if question is None:
            _err(f"newsbot ask: the question{where} is not valid UTF-8, skipped")
            failed += 1
            continue
        try:
            result = index.search(question, k=args.k, context=context)
        except (EmptyQuestion, FilterError) as exc:
            reason = "is empty" if isinstance(exc, EmptyQuestion) else f"has a bad filter: {exc}"
            _err(f"newsbot ask: the question{where} {reason}")
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
    index = _open_index()
    if not index.exists():
        _err(f"No index in {index.directory} yet; run: newsbot index")
        return 1
    s = index.stats()
    rows = [
        ("articles", s.articles),
        ("passages", s.passages),
        ("sources", s.sources),
        ("newest article", f"{s.newest_title} ({s.newest_published or 'undated'})" if s.newest_title else "-"),
        ("model", s.model),
        ("index size", f"{s.size_bytes / 1_000_000:.1f} MB in {index.directory}"),
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


def cmd_db(args: argparse.Namespace) -> int:
    """`newsbot db upgrade` / `status`: the shared PostgreSQL database's tables, part by part (NEWSBOT_DATABASE_URL)."""
    from bot.state.schema import BOT_SCHEMA
    from index import Settings
    from intake.feeds import FEEDS_SCHEMA

    settings = Settings.from_env()
    if not settings.database_url:
        _err("newsbot db: NEWSBOT_DATABASE_URL is not set (postgresql://user:password@host/database)")
        return EXIT_USAGE
    index = _open_index()
    parts = [FEEDS_SCHEMA, BOT_SCHEMA]
    if args.db_command == "upgrade":
        applied = index.state.upgrade(parts)
        done = ", ".join(f"{part} {m.version} ({m.name})" for part, m in applied)
        print(f"{index.engine.where}: applied {done}" if applied else f"{index.engine.where}: already up to date")
        return 0
    found = index.state.versions(parts)
    for part, current, latest in found:
        state = "up to date" if current == latest else f"run `newsbot db upgrade` (this newsbot needs {latest})"
        if current > latest:
            state = f"newer than this newsbot's {latest}: upgrade newsbot"
        print(f"{index.engine.where}: {part} tables at version {current}, {state}")
    return 0 if all(current == latest for _, current, latest in found) else 1


def cmd_migrate(args: argparse.Namespace) -> int:
    """Copy the index folder into a PostgreSQL database (vectors included), then point NEWSBOT_DATABASE_URL at it."""
    from index import Settings, check_database_url, migrate

    try:
        url = check_database_url(args.to)
    except ValueError as exc:
        _err(f"newsbot migrate: {str(exc).replace('NEWSBOT_DATABASE_URL', '--to')}")
        return EXIT_USAGE
    folder = Settings.from_env().index_dir
    print(migrate(folder, url).line())
    print("set NEWSBOT_DATABASE_URL to that URL for newsbot to use it; feeds, channel scopes, follows, digests and")
    print("feedback stay in the folder: add them again there (docs/postgresql.md)")
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    """All subcommands and their options."""
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Ask questions about your news articles; answers are verbatim, linked quotes."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index from article files and folders")
    p.add_argument("paths", nargs="*", type=Path, help="files or folders (default: $NEWSBOT_ARTICLES_DIR, else seeds/)")
    p.add_argument("--rebuild", action="store_true", help="start over instead of updating incrementally")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("ask", help="answer a question with quotes from the articles")
    p.add_argument("question", help='the question, or "-" to read one question per line from stdin')
    p.add_argument("--k", type=_positive, default=3, help="number of answers (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.add_argument("--earlier", action="append", metavar="QUESTION",
                   help="read the question as a follow-up to this earlier one, as in a Slack thread (repeatable)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("stats", help="what the index holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser("serve", help="run the Slack bot over HTTP (events, commands, interactivity)")
    p.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 3000)")
    p.set_defaults(func=_lazy("bot.cli.serve", "cmd_serve"))

    p = sub.add_parser("socket", help="run the Slack bot in Socket Mode (needs SLACK_APP_TOKEN)")
    p.set_defaults(func=_lazy("bot.cli.serve", "cmd_socket"))

    p = sub.add_parser("watch", help="keep the index current: watch the articles folder and poll feeds")
    p.add_argument("folder", nargs="?", type=Path, help="articles folder (default: $NEWSBOT_ARTICLES_DIR, else seeds/)")
    p.add_argument("--feed-interval", type=_positive, default=None, help="seconds between feed polls")
    p.set_defaults(func=_lazy("bot.cli.updating", "cmd_watch"))

    p = sub.add_parser("add", help="fetch web pages, save them as articles and index them")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.set_defaults(func=_lazy("bot.cli.updating", "cmd_add"))

    p = sub.add_parser("feeds", help="manage RSS/Atom feeds whose new items are added")
    feeds = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    for action, text in (("add", "follow a feed"), ("remove", "stop following a feed")):
        f = feeds.add_parser(action, help=text)
        f.add_argument("url", metavar="URL")
    feeds.add_parser("list", help="the feeds followed")
    feeds.add_parser("poll", help="fetch every feed now and add its new items")
    p.set_defaults(func=_lazy("bot.cli.updating", "cmd_feeds"))

    p = sub.add_parser("db", help="the shared PostgreSQL database (NEWSBOT_DATABASE_URL): upgrade or check its schema")
    db = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db.add_parser("upgrade", help="apply the schema migrations it lacks (safe from several processes at once)")
    db.add_parser("status", help="its schema version against this newsbot's (exit 1 unless equal)")
    p.set_defaults(func=cmd_db)

    p = sub.add_parser("migrate", help="copy the index folder into PostgreSQL (no re-embedding)")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host/database (empty)")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("eval", help="score answer quality on your own questions")
    p.add_argument("questions", type=Path, help="JSON Lines file of questions (see docs/benchmarks.md)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_lazy("bot.cli.evaluating", "cmd_eval"))
    return parser


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """A command implemented elsewhere, imported only when run (keeps `newsbot ask` start-up lean)."""

    def run(args: argparse.Namespace) -> int:
        import importlib

        return getattr(importlib.import_module(module), name)(args)

    return run


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    load_dotenv(find_dotenv(usecwd=True))
    args = build_parser().parse_args(argv)
    from index import DatabaseError, IndexBusy, IndexCorrupt, ModelError, ModelMismatch, SettingsError

    handled: tuple[type[BaseException], ...] = (
        SettingsError, ModelError, ModelMismatch, IndexBusy, IndexCorrupt, DatabaseError,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except handled as exc:
        _err(f"newsbot {args.command}: {exc}")
        return EXIT_USAGE if isinstance(exc, SettingsError) else 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:  # `newsbot ask ... | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except (sqlite3.OperationalError, OSError) as exc:  # a full disk, an unwritable folder...
        _err(f"newsbot {args.command}: {_storage_problem(exc)}")
        return 1


def _storage_problem(exc: sqlite3.OperationalError | OSError) -> str:
    """One line for a failure to read or write the index or a file; SQLite rolls back, so the index is as before."""
    from index import Settings

    where = Settings.from_env().index_dir
    kept = "the index is unchanged"
    if isinstance(exc, sqlite3.OperationalError):
        if "database or disk is full" in str(exc) or "disk I/O error" in str(exc):
            return f"cannot write the index in {where}: {exc} (is the disk full?); {kept}"
        return f"the index database in {where} failed: {exc}; {kept}"
    name = f" {exc.filename}" if exc.filename else ""
    if exc.errno in FULL_ERRNOS:
        return f"cannot write{name}: {exc.strerror} (is the disk full?); {kept}"
    return f"cannot read or write{name}: {exc.strerror or exc}"


if __name__ == "__main__":
    sys.exit(main())
