"""The numbers of the report, computed from the samples table alone (no image reads)."""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

LENGTH_LIMITS = (25, 64, 100)  # common max_label_length settings (PARSeq 25, ...)
SIZE_STEP = 16  # img_size width multiple: divisible by common patch and stride sizes


def split_order(frame: pd.DataFrame) -> list[str]:
    """Splits present, train/val/test first."""
    present = [str(s) for s in frame["split"].unique()]
    known = [s for s in ("train", "val", "test") if s in present]
    return known + sorted(s for s in present if s not in known)


def split_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per split: samples, shards, megabytes, distinct labels."""
    grouped = frame.groupby("split", observed=True)
    table = pd.DataFrame({
        "samples": grouped.size(),
        "shards": grouped["shard"].nunique(),
        "MB": (grouped["bytes"].sum() / 1e6).round(2),
        "distinct labels": _distinct(frame, "label"),
    })
    return table.reindex(split_order(frame))


def _distinct(frame: pd.DataFrame, column: str) -> pd.Series:
    """Per split: distinct values of ``column`` (hashing once, faster than groupby.nunique)."""
    return frame[["split", column]].drop_duplicates().groupby("split", observed=True).size()


def shard_table(frame: pd.DataFrame) -> pd.DataFrame:
    grouped = frame.groupby("shard", sort=True, observed=True)
    return pd.DataFrame({"split": grouped["split"].first(), "samples": grouped.size(),
                         "MB": (grouped["bytes"].sum() / 1e6).round(2)})


def share_above(values: pd.Series, limits: Iterable[int] = LENGTH_LIMITS) -> dict[int, float]:
    """Share of ``values`` strictly above each limit."""
    n = max(len(values), 1)
    return {limit: float((values > limit).sum()) / n for limit in limits}


def quantiles(values: pd.Series) -> dict[str, float]:
    values = values.dropna()
    if values.empty:
        return {}
    q = values.quantile([0.0, 0.05, 0.5, 0.95, 1.0]).tolist()
    return dict(zip(("min", "p5", "median", "p95", "max"), q)) | {"mean": float(values.mean())}


@dataclass(frozen=True)
class ImgSize:
    height: int
    width: int
    squeezed: float  # share of samples wider than width/height (they get squeezed)
    upscaled: float  # share of samples shorter than height (they get upscaled)


def suggest_img_size(frame: pd.DataFrame, coverage: float = 0.95) -> ImgSize | None:
    """``img_size`` [H, W] for a resize-to-fixed trainer: H 32 (the common default, 64 when
    most images are at least 128 px high), W = H x the ``coverage`` quantile of the aspect
    ratio, rounded up to a multiple of 16."""
    sized = frame.dropna(subset=["width", "height"])
    if sized.empty:
        return None
    height = 64 if sized["height"].median() >= 128 else 32
    aspect = float(sized["aspect"].quantile(coverage))
    width = max(height, SIZE_STEP * math.ceil(height * aspect / SIZE_STEP))
    return ImgSize(height, width, float((sized["aspect"] > width / height).mean()),
                   float((sized["height"] < height).mean()))


def suggest_max_length(lengths: pd.Series, keep: float = 0.99) -> tuple[int, str]:
    """The smallest common limit that keeps ``keep`` of the labels, else the exact quantile;
    and why."""
    for limit in LENGTH_LIMITS:
        if (lengths <= limit).mean() >= keep:
            return limit, f"the smallest of {'/'.join(map(str, LENGTH_LIMITS))} that keeps {keep:.0%} of the labels"
    return int(math.ceil(lengths.quantile(keep))), f"{keep:.0%} of the labels are this long or shorter"


def char_counts(labels: Iterable[str]) -> Counter:
    """Occurrences of every character: one pass over the UTF-32 code points in numpy."""
    points = np.frombuffer("".join(labels).encode("utf-32-le"), dtype="<u4")
    counts = np.bincount(points) if len(points) else np.zeros(0, dtype=np.int64)
    present = np.flatnonzero(counts)
    return Counter({chr(v): int(n) for v, n in zip(present.tolist(), counts[present].tolist())})


@dataclass(frozen=True)
class CharStats:
    per_split: dict[str, Counter]

    @property
    def total(self) -> Counter:
        return sum(self.per_split.values(), Counter())


def char_stats(frame: pd.DataFrame) -> CharStats:
    return CharStats({s: char_counts(frame.loc[frame["split"] == s, "label"]) for s in split_order(frame)})


def rare_chars(counts: Counter, at_most: int = 2) -> list[tuple[str, int]]:
    """Characters seen ``at_most`` times or fewer, rarest first."""
    return sorted(((c, n) for c, n in counts.items() if n <= at_most), key=lambda cn: (cn[1], cn[0]))


def unseen_in_train(chars: CharStats) -> dict[str, Counter]:
    """Per non-train split: characters of its labels that no train label contains."""
    train = chars.per_split.get("train", Counter())
    return {split: Counter({c: n for c, n in counts.items() if c not in train})
            for split, counts in chars.per_split.items() if split != "train"}


@dataclass(frozen=True)
class Coverage:
    charset_size: int
    char_share: float  # share of label character occurrences inside the charset
    sample_share: float  # share of samples whose label is entirely inside the charset
    missing: list[tuple[str, int]]  # label characters outside the charset, most frequent first
    unused: int  # charset characters no label uses


def coverage(frame: pd.DataFrame, counts: Counter, charset: str) -> Coverage:
    allowed = set(charset)
    missing = Counter({c: n for c, n in counts.items() if c not in allowed})
    total = max(sum(counts.values()), 1)
    pattern = "[" + "".join(re.escape(c) for c in missing) + "]"
    outside = frame["label"].str.contains(pattern, regex=True) if missing else pd.Series(False, index=frame.index)
    return Coverage(len(allowed), 1 - sum(missing.values()) / total,
                    1 - float(outside.mean()) if len(frame) else 1.0,
                    missing.most_common(), len(allowed - set(counts)))


def cross_split_duplicates(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose image bytes (sha1) also occur in another split, grouped by sha1."""
    pairs = frame[["sha1", "split"]].drop_duplicates()
    shared = pairs.loc[pairs["sha1"].duplicated(keep=False), "sha1"]
    return frame[frame["sha1"].isin(shared)].sort_values(["sha1", "split"])


def duplicate_pairs(dups: pd.DataFrame) -> pd.DataFrame:
    """How many distinct images each pair of splits shares."""
    per_hash = dups.groupby("sha1")["split"].apply(lambda s: sorted(set(map(str, s))))
    pairs = Counter(f"{a} & {b}" for splits in per_hash for i, a in enumerate(splits)
                    for b in splits[i + 1:])
    return pd.DataFrame({"shared images": pd.Series(pairs, dtype="int64")}).sort_index()


def within_split_duplicates(frame: pd.DataFrame) -> pd.Series:
    """Per split: samples whose image bytes repeat an earlier sample of the same split."""
    return frame.duplicated(["split", "sha1"]).groupby(frame["split"], observed=True).sum().astype(int)


def extremes(frame: pd.DataFrame, n: int) -> dict[str, pd.DataFrame]:
    """The longest and shortest labels, the widest and the tallest images."""
    sized = frame.dropna(subset=["aspect"])
    return {
        "Longest labels": frame.nlargest(n, "length"),
        "Shortest labels": frame.nsmallest(n, "length"),
        "Widest (largest width/height)": sized.nlargest(n, "aspect"),
        "Tallest (smallest width/height)": sized.nsmallest(n, "aspect"),
    }
