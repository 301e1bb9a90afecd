"""How a question is read before it is searched: cleaned, its filters parsed, its thread's earlier questions and
its channel's scope applied (`context`, `filters`), its time words found (`recency`). The names below are the
entry for code outside `index` (the bot's scopes, follows and digests check what users type with them)."""

from index.questions.context import (
    MAX_EARLIER,
    MAX_QUESTION_CHARS,
    NO_CONTEXT,
    Context,
    EmptyQuestion,
    clean_question,
    read_question,
    read_scope,
)
from index.questions.filters import FilterError, Filters
from index.questions.filters import parse as parse_filters

__all__ = [
    "MAX_EARLIER", "MAX_QUESTION_CHARS", "NO_CONTEXT", "Context", "EmptyQuestion", "FilterError", "Filters", "clean_question", "parse_filters",
    "read_question", "read_scope",
]
