"""The report's plots: matplotlib figures (no pyplot, Agg/SVG only) as SVG data: URIs.

Text stays text in the SVG (``svg.fonttype: none``) so the browser draws Hangul and kanji
tick labels with the page's CJK font stack.
"""
from __future__ import annotations

import io
import warnings
from collections import Counter
from typing import Iterator

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dataconv.reporting.stats import LENGTH_LIMITS, ImgSize, split_order
from dataconv.reporting.thumbs import data_uri

matplotlib.use("Agg")

FONTS = ["Noto Sans CJK KR", "Noto Sans CJK JP", "NanumGothic", "Nanum Gothic", "DejaVu Sans"]
STYLE = {
    "svg.fonttype": "none", "svg.hashsalt": "dataconv", "font.family": "sans-serif",
    "font.sans-serif": FONTS, "font.size": 9, "axes.spines.top": False,
    "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3, "axes.titlesize": 10,
}
COLORS = {"train": "#1f77b4", "val": "#ff7f0e", "test": "#2ca02c"}


def figure_uri(fig: Figure) -> str:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing-glyph warnings: the browser draws the text
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    return data_uri(buf.getvalue(), "image/svg+xml")


def _per_split(frame: pd.DataFrame, column: str) -> Iterator[tuple[str, np.ndarray]]:
    for split in split_order(frame):
        values = frame.loc[frame["split"] == split, column].dropna().to_numpy(dtype=float)
        if len(values):
            yield split, values


def _hist(ax: Axes, frame: pd.DataFrame, column: str, bins: np.ndarray) -> None:
    """One step histogram per split, as a share of that split (splits differ in size)."""
    for split, values in _per_split(frame, column):
        weights = np.full(len(values), 100.0 / len(values))
        ax.hist(np.clip(values, bins[0], bins[-1]), bins=bins, weights=weights, histtype="step",
                linewidth=1.4, label=f"{split} ({len(values):,})", color=COLORS.get(split))
    ax.set_ylabel("% of split")
    ax.legend(frameon=True, framealpha=0.85, edgecolor="none", fontsize=8)


def _bins(values: pd.Series, integer: bool = False, count: int = 40) -> np.ndarray:
    values = values.dropna()
    top = float(values.quantile(0.995)) if len(values) else 1.0
    low = float(values.min()) if len(values) else 0.0
    if integer:
        step = max(1, int(np.ceil((top - low + 1) / count)))
        return np.arange(int(low), int(top) + step + 1, step) - 0.5
    return np.linspace(low, max(top, low + 1e-6), count + 1)


def _marker(ax: Axes, x: float, text: str) -> None:
    """A dashed vertical line, labelled above the plot area (clear of the curves)."""
    ax.axvline(x, color="#c00", linestyle="--", linewidth=0.8)
    ax.text(x, 1.01, text, color="#c00", fontsize=8, ha="center", va="bottom",
            transform=ax.get_xaxis_transform())


def length_chart(frame: pd.DataFrame) -> str:
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(7.5, 2.8))
        ax = fig.add_subplot()
        bins = _bins(frame["length"], integer=True)
        _hist(ax, frame, "length", bins)
        for limit in LENGTH_LIMITS:
            if limit <= bins[-1] + 0.5:
                _marker(ax, limit, f"> {limit}: {(frame['length'] > limit).mean() * 100:.1f}%")
        ax.set_xlabel("label length (characters; the last bin holds the top 0.5%)")
        return figure_uri(fig)


def size_chart(frame: pd.DataFrame, suggested: ImgSize | None) -> str:
    """Height, width and aspect ratio side by side."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(11, 2.8), layout="constrained")
        axes = fig.subplots(1, 3)
        for ax, column, label in zip(axes, ("height", "width", "aspect"),
                                     ("height (px)", "width (px)", "aspect ratio (width / height)")):
            _hist(ax, frame, column, _bins(frame[column], integer=column != "aspect"))
            ax.set_xlabel(label)
        if suggested is not None:
            _marker(axes[2], suggested.width / suggested.height,
                    f"img_size [{suggested.height}, {suggested.width}]")
        return figure_uri(fig)


def char_chart(counts: Counter, top: int = 50) -> str:
    """The most frequent characters (bars) and the rank-frequency curve (log-log)."""
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(11, 2.8), layout="constrained")
        bars, curve = fig.subplots(1, 2, width_ratios=[3, 1])
        common = counts.most_common(top)
        bars.bar(range(len(common)), [n for _, n in common], color=COLORS["train"])
        bars.set_xticks(range(len(common)), [_visible(c) for c, _ in common], fontsize=8)
        bars.set_xlim(-0.7, max(len(common), 1) - 0.3)
        bars.set_ylabel("occurrences")
        bars.yaxis.set_major_locator(MaxNLocator(integer=True))
        bars.set_title(f"{len(common)} most frequent characters")
        ranked = np.array(sorted(counts.values(), reverse=True) or [1])
        curve.loglog(np.arange(1, len(ranked) + 1), ranked, color=COLORS["train"])
        curve.set_xlabel("rank")
        curve.set_title(f"all {len(counts):,} characters")
        return figure_uri(fig)


def _visible(ch: str) -> str:
    return {" ": "␣", "\t": "⇥"}.get(ch, ch)
