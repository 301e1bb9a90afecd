"""`newsbot db` and `newsbot migrate`: the shared PostgreSQL database's tables, and a folder copied into it."""

from __future__ import annotations

import argparse

from bot.cli.common import EXIT_USAGE, err, open_index


def cmd_db(args: argparse.Namespace) -> int:
    """`newsbot db upgrade` / `status`: the shared PostgreSQL database's tables, part by part (NEWSBOT_DATABASE_URL)."""
    from bot.state.schema import BOT_SCHEMA
    from index import Settings
    from intake.feeds import FEEDS_SCHEMA

    settings = Settings.from_env()
    if not settings.database_url:
        err("newsbot db: NEWSBOT_DATABASE_URL is not set (postgresql://user:password@host/database)")
        return EXIT_USAGE
    index = open_index()
    parts = [FEEDS_SCHEMA, BOT_SCHEMA]
    if args.db_command == "upgrade":
        versions = index.state.versions(parts)
        pending = [f"{part} {current} -> {latest}" for part, current, latest in versions if current < latest]
        if pending:  # said first: a step that makes an index again runs for minutes on a large database
            note = "a step that rebuilds an index may take minutes"
            print(f"{index.engine.where}: applying {', '.join(pending)} ({note})", flush=True)
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
        err(f"newsbot migrate: {str(exc).replace('NEWSBOT_DATABASE_URL', '--to')}")
        return EXIT_USAGE
    folder = Settings.from_env().index_dir
    print(migrate(folder, url).line())
    print("set NEWSBOT_DATABASE_URL to that URL for newsbot to use it; feeds, channel scopes, follows, digests and")
    print("feedback stay in the folder: add them again there (docs/postgresql.md)")
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the `newsbot` subcommand `args.command` of this module."""
    return {"db": cmd_db, "migrate": cmd_migrate}[args.command](args)
