"""Deterministic train/val/test assignment.

A sample's split depends only on the seed and its group key (its id unless grouped),
through a stable hash: adding samples later never moves existing ones, and every
sample of a group lands in the same split.
"""
from __future__ import annotations

import hashlib

from dataconv.errors import DataconvError

SPLITS = ("train", "val", "test")


def parse_ratios(text: str) -> tuple[float, float, float] | None:
    """``"0.9,0.05,0.05"`` to a triple; ``"none"`` to None (everything in train)."""
    if text.strip().lower() == "none":
        return None
    try:
        parts = [float(p) for p in text.split(",")]
    except ValueError:
        raise DataconvError(f"--split {text!r}: expected three numbers like 0.9,0.05,0.05 or 'none'") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise DataconvError(f"--split {text!r}: expected three non-negative ratios summing to 1")
    return parts[0], parts[1], parts[2]


def unit_hash(seed: int, key: str) -> float:
    """A stable number in [0, 1) for a key (independent of Python's hash seed)."""
    digest = hashlib.sha1(f"{seed}\x00{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign(key: str, ratios: tuple[float, float, float] | None, seed: int) -> str:
    if ratios is None:
        return "train"
    u = unit_hash(seed, key)
    if u < ratios[0]:
        return "train"
    if u < ratios[0] + ratios[1]:
        return "val"
    return "test"
