"""When an update merges the newest segments of a generation's recent passages into one (see `recent`).

Each update writes its new passages as a segment of their own, never rewritten; a question then looks through every
segment, so small ones are merged as they pile up, by size class (`TIER` segments of one class make one of the next),
as log-structured stores do: a passage is written again about once per class it climbs (log base `TIER` of the
recent passages over `SMALLEST`, plus a few times while its segment is of the first class), and a generation holds
about `TIER - 1` segments a class.
"""

from __future__ import annotations

TIER = 4  # segments of one size class merged into one of the next
SMALLEST = 256  # passages below which a segment is of the first class: a few articles, cheap to write again


def size_class(passages: int) -> int:
    """0 below `SMALLEST` passages, 1 below `SMALLEST` * `TIER`, 2 below `SMALLEST` * `TIER`², and so on."""
    level, bound = 0, SMALLEST
    while passages >= bound:
        level += 1
        bound *= TIER
    return level


def newest_to_merge(sizes: list[int]) -> int:
    """How many of the newest segments (live passages of each, oldest first) to merge into one: the run of newest
    segments of the newest one's size class or smaller, once it holds `TIER`; else 0. (Articles differ in size: a run
    of one class exactly would be broken by every larger article, and small segments would pile up.)"""
    if not sizes:
        return 0
    newest = size_class(sizes[-1])
    run = 0
    for size in reversed(sizes):
        if size_class(size) > newest:
            break
        run += 1
    return run if run >= TIER else 0
