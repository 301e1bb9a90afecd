"""Articles from outside into the index: guarded fetches, web pages, feeds and the watched folder."""
