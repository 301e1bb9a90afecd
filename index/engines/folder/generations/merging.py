"""When an update merges the newest segments of a generation's recent passages into one (see `recent`).

Each update writes its new passages as a segment of their own, never rewritten; a question then looks through every
segment, so small ones are merged as they pile up, by size class (`TIER` segments of one class make one of the next),
as log-structured stores do: a passage is written again about once per class it climbs (log base `TIER` of the
recent passages over an article's), and a generation holds at most `TIER - 1` segments a class.
"""

from __future__ import annotations

TIER = 4  # segments of one size class merged into one of the next


def size_class(passages: int) -> int:
    """0 below `TIER` passages, 1 below `TIER`², and so on."""
    level = 0
    while passages >= TIER:
        passages //= TIER
        level += 1
    return level


def newest_to_merge(sizes: list[int]) -> int:
    """How many of the newest segments (live passages of each, oldest first) to merge into one: the run of newest
    segments of the newest one's size class once it holds `TIER`, else 0."""
    if not sizes:
        return 0
    newest = size_class(sizes[-1])
    run = 0
    for size in reversed(sizes):
        if size_class(size) != newest:
            break
        run += 1
    return run if run >= TIER else 0
