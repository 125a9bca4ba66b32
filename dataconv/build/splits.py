"""Deterministic train/val/test assignment.

A sample's split depends only on the seed and its group key (its id unless grouped),
through a stable hash: adding samples later never moves existing ones, and every
sample of a group lands in the same split. Groups come from ``--group-by`` (a meta
attribute or field) and ``--group-regex`` (a page or book id out of the value); groups
that share a byte-identical image are merged so that no image straddles two splits.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dataconv.errors import DataconvError, SampleRejected, UsageError
from dataconv.io.userregex import compile_user
from dataconv.io.dataset_reader import SPLITS  # noqa: F401  (the one split table, re-exported)
from dataconv.numbers import parse_float
from dataconv.build.sample_index import SampleIndex
from dataconv.sample import ImageRef, ReadContext, Reject, Sample


def parse_ratios(text: str, where: str = "--split") -> tuple[float, float, float] | None:
    """``"0.9,0.05,0.05"`` to a triple; ``"none"`` to None (everything in train). Each
    ratio is a plain finite number (``nan`` would pass every range test)."""
    if text.strip().lower() == "none":
        return None
    try:
        parts = [parse_float(p.strip()) for p in text.split(",")]
    except ValueError:
        raise DataconvError(f"{where} {text!r}: expected three numbers like 0.9,0.05,0.05 or 'none'") from None
    if len(parts) != 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1.0) > 1e-6:
        raise DataconvError(f"{where} {text!r}: expected three non-negative ratios summing to 1")
    return parts[0], parts[1], parts[2]


def unit_hash(seed: int, key: str) -> float:
    """A stable number in [0, 1) for a key (independent of Python's hash seed)."""
    return int.from_bytes(unit_bytes(seed, key), "big") / 2**64


def unit_bytes(seed: int, key: str) -> bytes:
    """The 8 bytes ``unit_hash`` reads as a big-endian fraction of 2**64."""
    return hashlib.sha1(f"{seed}\x00{key}".encode("utf-8", "surrogatepass")).digest()[:8]


def assign(key: str, ratios: tuple[float, float, float] | None, seed: int) -> str:
    if ratios is None:
        return "train"
    u = unit_hash(seed, key)
    if u < ratios[0]:
        return "train"
    if u < ratios[0] + ratios[1]:
        return "val"
    return "test"


# --- groups that never straddle splits -------------------------------------------------

SAMPLE_FIELDS = ("id", "source", "label", "group")


def group_value(sample: Sample, group_by: str | None) -> str:
    """The raw grouping value: ``meta:NAME`` (or a bare NAME not a Sample field) from
    ``sample.meta``, a Sample field, or by default ``sample.group`` else ``sample.id``."""
    default = sample.group if sample.group is not None else sample.id
    if not group_by:
        return default
    name = meta_name(group_by)
    value = getattr(sample, group_by) if name is None else sample.meta.get(name)
    return default if value is None or value == "" else str(value)


def compile_group_regex(text: str | None) -> Any:
    """``--group-regex`` compiled for linear-time matching (``dataconv.io.userregex``)."""
    return compile_user(text, "--group-regex") if text else None


def meta_name(group_by: str | None) -> str | None:
    """The meta attribute ``--group-by`` names (``meta:NAME``, or a bare NAME that is not a
    Sample field); None when it names a Sample field or nothing."""
    if not group_by or group_by in SAMPLE_FIELDS:
        return None
    return group_by[5:] if group_by.startswith("meta:") else group_by


def check_grouping(samples: Sequence[tuple[int, Sample]], group_by: str | None,
                   pattern: Any) -> None:
    """Group options that select nothing are usage errors (exit 2), never a silent split
    by id: that would put lines of one page or book in train and test alike. The message
    names what is there instead (the meta keys seen, a few values)."""
    if not samples:
        return
    name = meta_name(group_by)
    if name is not None and not any(s.meta.get(name) not in (None, "") for _, s in samples):
        seen = sorted({k for _, s in samples for k in s.meta})
        raise UsageError(f"--group-by {group_by}: no sample has a {name!r} attribute; "
                               f"meta keys seen: {', '.join(seen[:20]) or 'none'}")
    if group_by == "group" and all(s.group in (None, "") for _, s in samples):
        raise UsageError("--group-by group: this format gives its samples no group; "
                               "try --group-by id|source|label|meta:NAME with --group-regex")
    if pattern is not None and not any(pattern.search(group_value(s, group_by)) for _, s in samples):
        examples = ", ".join(repr(group_value(s, group_by)) for _, s in samples[:3])
        raise UsageError(f"--group-regex {pattern.pattern!r} matches no "
                               f"{group_by or 'id'}; for example {examples}")


def group_key(sample: Sample, group_by: str | None, pattern: Any) -> str:
    """The group a sample belongs to; ``pattern`` keeps its first group (or whole match)
    of the value, e.g. a page or book id out of a line-crop file name."""
    value = group_value(sample, group_by)
    if pattern is not None:
        m = pattern.search(value)
        if m:
            value = m.group(1) if m.groups() else m.group(0)
    return value


def image_digest(image: ImageRef, ctx: ReadContext) -> str | None:
    """sha1 of an image's bytes, or None when they cannot be read."""
    try:
        return hashlib.sha1(image.read(ctx)).hexdigest()
    except (SampleRejected, OSError):
        return None


def drop_duplicates(samples: Sequence[tuple[int, Sample]], digests: dict[int, str]
                    ) -> tuple[list[int], list[tuple[int, Reject]]]:
    """Keep the first sample (in input order) of every image digest, reject the others:
    the positions in ``samples`` kept, and the rejects."""
    first: dict[str, str] = {}  # digest -> the source of its first sample
    kept, rejects = [], []
    for at, (seq, sample) in enumerate(samples):
        digest = digests.get(seq)
        if digest is not None and digest in first:
            rejects.append((seq, Reject(sample.source, "duplicate_image",
                                        f"same bytes as {first[digest]}", sample.id)))
            continue
        if digest is not None:
            first[digest] = sample.source
        kept.append(at)
    return kept, rejects


def assign_splits(samples: Sequence[tuple[int, Sample]], ratios: tuple[float, float, float] | None,
                  seed: int, group_by: str | None = None, group_regex: str | None = None,
                  digests: dict[int, str] | None = None) -> dict[int, str]:
    """seq -> split. Samples of one group, and samples with byte-identical images, share a
    split: groups linked by an image are merged and hashed by their smallest key."""
    pattern = compile_group_regex(group_regex)
    check_grouping(samples, group_by, pattern)
    keys = {seq: group_key(sample, group_by, pattern) for seq, sample in samples}
    root = merged(keys, digests or {})
    return {seq: assign(root(key), ratios, seed) for seq, key in keys.items()}


def merged(keys: dict[int, str], digests: dict[int, str]) -> Callable[[str], str]:
    """The root of each group key once the groups that share an image digest are merged:
    the smallest key of its merged groups (whatever the order the links come in)."""
    parent: dict[str, str] = {}

    def root(k: str) -> str:
        while parent.get(k, k) != k:
            parent[k] = parent.get(parent[k], parent[k])
            k = parent[k]
        return k

    by_digest: dict[str, str] = {}
    for seq, digest in digests.items():
        if seq in keys:
            other = by_digest.setdefault(digest, keys[seq])
            a, b = root(other), root(keys[seq])
            if a != b:
                parent[max(a, b)] = min(a, b)
    return root


# --- the same split from the group hashes the workers computed -------------------------

@dataclass(frozen=True)
class Grouping:
    """What a sample's split depends on, besides the images it shares: the seed and the
    group options. ``hashes`` is computed where the sample is checked (the checked pass's
    workers), so the driver need not build every sample again to split them."""

    seed: int
    group_by: str | None = None
    group_regex: str | None = None

    def hashes(self, sample: Sample) -> bytes:
        """GROUP_HASH bytes: KEY_ID bytes naming the sample's group key, then the 8 bytes
        of its ``unit_hash``."""
        key = group_key(sample, self.group_by, _compiled(self.group_regex))
        return key_id(key) + unit_bytes(self.seed, key)


KEY_ID = 16  # bytes of a group key's BLAKE2b: no two keys of a run share one
GROUP_HASH = KEY_ID + 8


def key_id(key: str) -> bytes:
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=KEY_ID).digest()


@functools.cache
def _compiled(group_regex: str | None) -> Any:
    """``compile_group_regex``, once a process (each worker hashes many samples)."""
    return compile_group_regex(group_regex)


def assign_hashed(samples: SampleIndex, ratios: tuple[float, float, float] | None, grouping: Grouping,
                  digests: dict[int, str], hashes: np.ndarray) -> np.ndarray:
    """The split of each of ``samples`` (its number in SPLITS, by position), as
    ``assign_splits`` gives it, from each sample's ``Grouping.hashes`` (``hashes``: one
    row of GROUP_HASH bytes a sample, in order): only the samples whose image another
    sample shares are built again, to merge their groups."""
    pattern = compile_group_regex(grouping.group_regex)
    check_grouping(samples, grouping.group_by, pattern)
    if ratios is None:
        return np.zeros(len(samples), np.int8)
    units = np.ascontiguousarray(hashes[:, KEY_ID:]).view(">u8").reshape(-1).astype(np.float64) / 2**64
    linked = np.flatnonzero(np.isin(np.frombuffer(samples.seqs, np.int64), list(digests)))
    keys = {seq: group_key(sample, grouping.group_by, pattern) for seq, sample in samples.take(linked)}
    root = merged(keys, digests)
    moved = {key: root(key) for key in set(keys.values()) if root(key) != key}
    if moved:
        ids = np.array([key_id(key) for key in moved], "S16")
        order = np.argsort(ids)
        new_units = np.array([unit_hash(grouping.seed, r) for r in moved.values()])[order]
        sample_ids = np.ascontiguousarray(hashes[:, :KEY_ID]).view("S16").reshape(-1)
        at = np.minimum(np.searchsorted(ids[order], sample_ids), len(ids) - 1)
        hit = ids[order][at] == sample_ids
        units[hit] = new_units[at[hit]]
    return np.where(units < ratios[0], 0, np.where(units < ratios[0] + ratios[1], 1, 2)).astype(np.int8)
