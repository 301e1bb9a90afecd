"""Reading article files and records into `Article`s, within limits: text, Markdown and HTML files (`files`),
JSON records (`records`), bounded reads (`bounded`), and what they share (`article`). The names below are the entry
for code outside `index` (intake writes fetched pages as article files with them)."""

from index.reading.article import Article, derive_title, normalize_date

__all__ = ["Article", "derive_title", "normalize_date"]
