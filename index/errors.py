"""The errors the index raises, whichever engine stores it: callers catch these, never an engine's own."""

from __future__ import annotations


class IndexBusy(RuntimeError):
    """Another process is updating this index."""


class IndexCorrupt(RuntimeError):
    """The index cannot be read as stored (files disagree, or a newer version replaced them meanwhile);
    `newsbot index --rebuild` repairs a broken one."""


class ModelMismatch(RuntimeError):
    """The index was embedded with another model than the one configured now."""


class DatabaseError(RuntimeError):
    """The database cannot be reached or is not one this newsbot can use; the message says why, without the password."""


def check_model_key(recorded: str | None, model: str) -> None:
    """Raise `ModelMismatch` when an index records another model key than `model` (None: nothing recorded yet)."""
    if recorded and recorded != model:
        raise ModelMismatch(
            f"the index was built with the embedding model {recorded!r} but this newsbot uses {model!r} "
            "(NEWSBOT_EMBEDDING_MODEL, and @backend from NEWSBOT_EMBEDDING_BACKEND); run `newsbot index` "
            "to re-embed it (or set the variables back)"
        )
