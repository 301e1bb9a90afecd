"""Bringing the index up to date: an incremental, atomic update (`indexer`) and where a passage is cut (`passages`)."""
