"""Which whole partitions retention drops: the pure decision, apart from the doing."""

from __future__ import annotations


def partitions_to_drop(
    sizes: dict[int, int],
    ends: dict[int, int],
    watermark: int,
    max_age: int | None,
    max_bytes: int | None,
) -> list[int]:
    """Starts of the partitions to drop, oldest first.

    ``sizes`` maps partition start -> bytes (files and memory), ``ends`` start -> end (epoch
    us).  By age: every partition that ended at least ``max_age`` before the watermark (the
    newest event time seen).  By size: then the oldest ones, until the rest fit in
    ``max_bytes``; the newest partition, where appends land, is never dropped for size.

    Examples:
        >>> partitions_to_drop({0: 5, 10: 5, 20: 5}, {0: 10, 10: 20, 20: 30}, 25, None, 10)
        [0]
        >>> partitions_to_drop({0: 5, 10: 5, 20: 5}, {0: 10, 10: 20, 20: 30}, 25, 10, None)
        [0]
    """
    starts = sorted(sizes)
    drop = []
    if max_age is not None:
        drop = [s for s in starts if ends[s] <= watermark - max_age]
    if max_bytes is not None:
        kept = [s for s in starts if s not in drop]
        total = sum(sizes[s] for s in kept)
        for start in kept[:-1]:
            if total <= max_bytes:
                break
            drop.append(start)
            total -= sizes[start]
    return drop
