"""What the `newsbot` commands share: one-line errors on stderr, exit codes, and opening the configured index."""

from __future__ import annotations

import sys

EXIT_USAGE = 2


def err(message: str) -> None:
    """One line on stderr, at once."""
    print(message, file=sys.stderr, flush=True)


def open_index():
    """The index the environment names (NEWSBOT_INDEX_DIR or NEWSBOT_DATABASE_URL), its log lines on stderr."""
    from index import Index, Settings

    return Index.open(settings=Settings.from_env(), log=err)
