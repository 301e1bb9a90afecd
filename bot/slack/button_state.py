"""Read back the state a clicked button carries (its `value`), accepting only what `blocks.button_value` writes.

Slack hands the value back verbatim, so a forged or outdated click can carry anything: the click handlers
get a `ButtonState` or None, never a half-parsed value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.slack.blocks import BUTTON_VALUE_LIMIT
from index.questions import MAX_EARLIER

MAX_OFFSET = 1000  # results a "More results" click may skip (the offset counts results, not pages); bounds the search


@dataclass(frozen=True)
class ButtonState:
    """The question an answer was for, the offset of its first result, and the passages it showed (id, start, end)."""

    question: str
    offset: int = 0
    passages: tuple[tuple[str, int, int], ...] = ()
    earlier: tuple[str, ...] = ()  # the thread's earlier questions the answer was read with

    def __post_init__(self) -> None:
        """Store the passages as tuples, so a frozen state is immutable all the way down (JSON gives lists)."""
        object.__setattr__(self, "passages", tuple(tuple(item) for item in self.passages))
        object.__setattr__(self, "earlier", tuple(self.earlier))


def _is_int(value: object) -> bool:
    """A JSON integer (not a bool, which Python counts as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _is_passage(item: object) -> bool:
    """One `[article id, start, end]` triple."""
    return (
        isinstance(item, list)
        and len(item) == 3
        and isinstance(item[0], str)
        and _is_int(item[1])
        and _is_int(item[2])
    )


def read_button(value: object) -> ButtonState | None:
    """The state in a button's value, or None when it is not a JSON object the bot could have written."""
    if not isinstance(value, str) or len(value) > BUTTON_VALUE_LIMIT:
        return None
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    question, offset, passages, earlier = data.get("q"), data.get("o", 0), data.get("p", []), data.get("e", [])
    if not isinstance(question, str) or not question.strip():
        return None
    if not _is_int(offset) or not 0 <= offset <= MAX_OFFSET:
        return None
    if not isinstance(passages, list) or not all(_is_passage(item) for item in passages):
        return None
    if not isinstance(earlier, list) or len(earlier) > MAX_EARLIER or not all(isinstance(q, str) for q in earlier):
        return None
    return ButtonState(question, offset, passages, earlier)
