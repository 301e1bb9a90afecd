"""The folder engine: the index in one folder, SQLite (articles, passages, FTS5, embedding cache, state) plus
each generation's files (FAISS HNSW, bm25s, sentence vectors; `generations`). One machine's processes share it."""

from __future__ import annotations

from pathlib import Path

from index.engines import Engine
from index.engines.folder.reader import SqliteReader
from index.engines.folder.state import SqliteState
from index.engines.folder.store import Store
from index.engines.folder.writer import SqliteWriter


def open_folder(directory: Path) -> Engine:
    """The engine over the index folder `directory` (nothing is created until something is written)."""
    store = Store(directory)
    return Engine(SqliteReader(store), SqliteWriter(store), SqliteState(store), f"the index folder {directory}")
