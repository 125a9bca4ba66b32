"""How big an LMDB map is, and how it grows.

A fixed huge map (clovaai's 1 TiB) fails on Windows and small disks, so shards start
small and double whenever a write transaction does not fit.
"""
from __future__ import annotations

INITIAL_MAP_SIZE = 64 * 1024 * 1024
# Per-record overhead LMDB needs beyond the payload (page headers, keys, B-tree).
RECORD_OVERHEAD = 512


def grown(current: int, pending_bytes: int) -> int:
    """The next map size: at least double, and room for the pending batch twice over."""
    return max(current * 2, current + 2 * (pending_bytes + RECORD_OVERHEAD * 1024))
