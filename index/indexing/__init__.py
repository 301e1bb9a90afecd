"""Bringing the index up to date: an incremental, atomic update (`indexer`), where a passage is cut (`passages`),
and where the articles read wait for the commit (`spool`)."""
