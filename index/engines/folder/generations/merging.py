"""When an update merges segments of a generation's recent passages into one (see `recent`).

Each update writes its new passages as a segment of their own, never rewritten; a question then looks through every
segment, so segments are merged as they pile up. Two rules, after each update:

- *Absorbing*: once the segments after the oldest large one (or all of them, when none is large yet) hold `ABSORB`
  live passages, every segment is merged into one, whose HNSW graph is the large one's grown by the others'
  passages (`DeltaGraph.grown`). A question then walks one graph and scans fewer than `ABSORB` passages, whatever the
  recent passages: at a million passages after 4,000 updates (53k recent passages in 11 segments: two graphs and
  17k scanned) p50 / p95 12.0 / 14.4 ms, merged into one 8.3 / 10.6 (docs/benchmarks.md). The large segment is
  written again each time (about 4.5 KB a passage): `ABSORB_SHARE` bounds how often it is once it is large (past
  131,072 passages; at a million, 10,000 updates wrote 0.4–1.6 MB each on average by block of 1,000, against
  0.4–0.7 by size classes alone).
- *Size classes* below that: `TIER` segments of one class make one of the next, as log-structured stores do, so
  the few thousand passages between two absorptions sit in a handful of segments (about `TIER - 1` a class).
"""

from __future__ import annotations

TIER = 4  # segments of one size class merged into one of the next
SMALLEST = 256  # passages below which a segment is of the first class: a few articles, cheap to write again
ABSORB = 4096  # live passages after the large segment from which all are merged into one (~0.4 ms to scan)
ABSORB_SHARE = 1 / 32  # ... or this share of the large segment, so it is rewritten after growing by a share of itself


def size_class(passages: int) -> int:
    """0 below `SMALLEST` passages, 1 below `SMALLEST` * `TIER`, 2 below `SMALLEST` * `TIER`², and so on."""
    level, bound = 0, SMALLEST
    while passages >= bound:
        level += 1
        bound *= TIER
    return level


def newest_to_merge(sizes: list[int], absorb: bool = True) -> int:
    """How many of the newest segments (live passages of each, oldest first) to merge into one: all of them when
    the ones after the oldest large segment reach the absorbing bound (unless not `absorb`: a fold will take them
    all); else the run of newest segments of the newest one's size class or smaller, once it holds `TIER`; else 0.
    (Articles differ in size: a run of one class exactly would be broken by every larger article, and small
    segments would pile up.)"""
    if not sizes:
        return 0
    large = sizes[0] >= ABSORB
    after = sizes[1:] if large else sizes
    if absorb and len(sizes) > 1 and sum(after) >= max(ABSORB, ABSORB_SHARE * sizes[0]):  # (the share: when large)
        return len(sizes)
    newest = size_class(sizes[-1])
    run = 0
    for size in reversed(sizes):
        if size_class(size) > newest:
            break
        run += 1
    return run if run >= TIER else 0
