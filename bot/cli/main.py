"""The `newsbot` command: every subcommand, its options and the function that runs it, in one parser; errors as
one line (a full disk, a busy or corrupt index, a bad setting), never a traceback."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from bot.cli import asking
from bot.cli.common import EXIT_USAGE, err

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)  # no space, over quota, over a file size limit


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
    p.set_defaults(func=asking.cmd_index)

    p = sub.add_parser("ask", help="answer a question with quotes from the articles")
    p.add_argument("question", help='the question, or "-" to read one question per line from stdin')
    p.add_argument("--k", type=_positive, default=3, help="number of answers (default 3)")
    p.add_argument("--json", action="store_true", help="one JSON object per question")
    p.add_argument("--earlier", action="append", metavar="QUESTION",
                   help="read the question as a follow-up to this earlier one, as in a Slack thread (repeatable)")
    p.set_defaults(func=asking.cmd_ask)

    p = sub.add_parser("stats", help="what the index holds")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=asking.cmd_stats)

    p = sub.add_parser("serve", help="run the Slack bot over HTTP (events, commands, interactivity)")
    p.add_argument("--port", type=int, default=None, help="port (default: $PORT, else 3000)")
    p.set_defaults(func=_serving)

    p = sub.add_parser("socket", help="run the Slack bot in Socket Mode (needs SLACK_APP_TOKEN)")
    p.set_defaults(func=_serving)

    p = sub.add_parser("watch", help="keep the index current: watch the articles folder and poll feeds")
    p.add_argument("folder", nargs="?", type=Path, help="articles folder (default: $NEWSBOT_ARTICLES_DIR, else seeds/)")
    p.add_argument("--feed-interval", type=_positive, default=None, help="seconds between feed polls")
    p.set_defaults(func=_updating)

    p = sub.add_parser("add", help="fetch web pages, save them as articles and index them")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.set_defaults(func=_updating)

    p = sub.add_parser("feeds", help="manage RSS/Atom feeds whose new items are added")
    feeds = p.add_subparsers(dest="feeds_command", required=True, metavar="ACTION")
    for action, text in (("add", "follow a feed"), ("remove", "stop following a feed")):
        f = feeds.add_parser(action, help=text)
        f.add_argument("url", metavar="URL")
    feeds.add_parser("list", help="the feeds followed")
    feeds.add_parser("poll", help="fetch every feed now and add its new items")
    p.set_defaults(func=_updating)

    p = sub.add_parser("db", help="the shared PostgreSQL database (NEWSBOT_DATABASE_URL): upgrade or check its schema")
    db = p.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db.add_parser("upgrade", help="apply the schema migrations it lacks (safe from several processes at once)")
    db.add_parser("status", help="its schema version against this newsbot's (exit 1 unless equal)")
    p.set_defaults(func=_database)

    p = sub.add_parser("migrate", help="copy the index folder into PostgreSQL (no re-embedding)")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://user:password@host/database (empty)")
    p.set_defaults(func=_database)

    p = sub.add_parser("eval", help="score answer quality on your own questions")
    p.add_argument("questions", type=Path, help="JSON Lines file of questions (see docs/benchmarks.md)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_evaluating)
    return parser


# The commands whose modules import the Slack app, the web stack or the database driver: imported when run,
# so `newsbot ask` starts without them. Each module's `run` runs its subcommands.


def _serving(args: argparse.Namespace) -> int:
    from bot.cli import serve

    return serve.run(args)


def _updating(args: argparse.Namespace) -> int:
    from bot.cli import updating

    return updating.run(args)


def _database(args: argparse.Namespace) -> int:
    from bot.cli import database

    return database.run(args)


def _evaluating(args: argparse.Namespace) -> int:
    from bot.cli import evaluating

    return evaluating.cmd_eval(args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    load_dotenv(find_dotenv(usecwd=True))
    args = build_parser().parse_args(argv)
    from index import (
        DatabaseError,
        IndexBusy,
        IndexCorrupt,
        ModelError,
        ModelMismatch,
        Settings,
        SettingsError,
        storage_errors,
        storage_problem,
    )

    handled: tuple[type[BaseException], ...] = (
        SettingsError, ModelError, ModelMismatch, IndexBusy, IndexCorrupt, DatabaseError,
    )
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except handled as exc:
        err(f"newsbot {args.command}: {exc}")
        return EXIT_USAGE if isinstance(exc, SettingsError) else 1
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except BrokenPipeError:  # `newsbot ask ... | head`: the reader left, which is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except storage_errors() as exc:  # the engine's storage failed under the command (a full disk...)
        err(f"newsbot {args.command}: {storage_problem(exc, Settings.from_env().index_dir)}")
        return 1
    except OSError as exc:  # a full disk, an unwritable folder...
        err(f"newsbot {args.command}: {_storage_problem(exc)}")
        return 1


def _storage_problem(exc: OSError) -> str:
    """One line for a failure to read or write a file; every write of an update is atomic, so the index is as before."""
    kept = "the index is unchanged"
    name = f" {exc.filename}" if exc.filename else ""
    if exc.errno in FULL_ERRNOS:
        return f"cannot write{name}: {exc.strerror} (is the disk full?); {kept}"
    return f"cannot read or write{name}: {exc.strerror or exc}"


if __name__ == "__main__":
    sys.exit(main())
