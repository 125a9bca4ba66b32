"""The report of a detection dataset (``--task det``): pages and boxes per split, page
rejects and removed boxes by reason, boxes per page, box and page sizes, and a grid of
pages with their boxes drawn. Same page shell, styles and tables as the recognition
report (``html``, ``charts``); the figures come from ``det_dataset``."""
from __future__ import annotations

import os
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

from dataconv.outputs.atomic import write_text
from dataconv.reporting import charts, det_pages, stats
from dataconv.reporting import html as h
from dataconv.reporting.dataset import RejectSummary
from dataconv.reporting.det_dataset import DetDataset, load
from dataconv.reporting.reject_images import max_pixels_of
from dataconv.reporting.sections import Section, _card_note

MAX_LISTED = 20  # pages with removed boxes listed


def build_report(root: str, out: str, *, per_split: int = 24, seed: int = 0) -> dict[str, Any]:
    """Write the HTML report of the detection dataset at ``root`` to ``out``; a few figures."""
    data = load(root, per_split, seed)
    rejected = sum(data.page_rejects.counts.values())
    pages, boxes = int(data.pages["label_boxes"].notna().sum()), len(data.boxes)
    title = f"dataconv report: {os.path.basename(os.path.abspath(root))}"
    subtitle = (f"detection · {pages:,} pages · {boxes:,} boxes · {rejected:,} pages rejected · "
                f"{sum(data.box_rejects.counts.values()):,} boxes removed")
    text = h.page(title, subtitle, [overview(data), rejects(data), distributions(data), page_grid(data)])
    write_text(out, text)
    return {"samples": pages, "pages": pages, "boxes": boxes, "rejected": rejected, "bytes": len(text.encode())}


def overview(data: DetDataset) -> Section:
    pages, counts = data.pages, data.card.get("counts", {})
    items = [("input pages", counts.get("input")), ("pages written", int(pages["label_boxes"].notna().sum())),
             ("pages rejected", sum(data.page_rejects.counts.values())), ("boxes", len(data.boxes)),
             ("don't-care boxes", int(data.boxes["ignore"].sum())),
             ("boxes removed", sum(data.box_rejects.counts.values())),
             ("MB of images", round(float(pages["bytes"].sum()) / 1e6, 1))]
    body = h.cards((k, v) for k, v in items if v is not None)
    body += "<h3>Per split</h3>" + h.frame_table(split_table(pages), "split")
    if data.disagree:
        body += h.note(f"{data.disagree:,} pages differ between det_gt.txt and samples.parquet (a page in "
                       "one only, or other box counts): was the dataset edited? The figures here count "
                       "the label files.", warn=True)
    files = ", ".join(str(f) for f in data.card.get("label_files", []))
    return "overview", "Overview", body + h.note(f"label files: {files}") + _card_note(data.card)


def split_table(pages: pd.DataFrame) -> pd.DataFrame:
    """Per split: pages and boxes as det_gt.txt holds them, boxes removed, megabytes."""
    labelled = pages[pages["label_boxes"].notna()]
    grouped = labelled.groupby("split")
    table = pd.DataFrame({"pages": grouped.size(), "boxes": grouped["label_boxes"].sum().astype(int),
                          "don't-care boxes": grouped["label_ignore"].sum().astype(int),
                          "boxes removed": grouped["removed"].sum().astype(int),
                          "MB": (grouped["bytes"].sum() / 1e6).round(2)})
    return table.reindex(stats.split_order(labelled))


def rejects(data: DetDataset) -> Section:
    body = "<h3>Page rejects</h3>" + _reasons(data.page_rejects, "pages")
    body += "<h3>Boxes removed from written pages</h3>" + h.note(
        "A box whose text is unusable stays in the labels as a don't-care region; only a box whose "
        "geometry is unusable is removed, and its page keeps the count.") + _reasons(data.box_rejects, "boxes")
    removed = data.pages[data.pages["removed"].fillna(0) > 0]
    if not removed.empty:
        rows = [[r.split, r.source_id, r.source, h.Raw(f'<span class="cap">{h.esc(r.path)}</span>'), int(r.removed)]
                for r in removed.head(MAX_LISTED).itertuples()]
        body += "<h3>Pages with removed boxes</h3>" + h.table(rows, ["split", "page", "source", "path", "removed"])
        if len(removed) > MAX_LISTED:
            body += h.note(f"first {MAX_LISTED} of {len(removed):,} pages")
    total = sum(data.page_rejects.counts.values()) + sum(data.box_rejects.counts.values())
    return "rejects", f"Rejects ({total:,})", body


def _reasons(summary: RejectSummary, noun: str) -> str:
    """Count and share per reason, then the first rows of each reason with their source."""
    total = sum(summary.counts.values())
    if not total:
        return h.note(f"No {noun}.")
    reasons = summary.counts.most_common()
    body = h.table([(reason, n, h.pct(n / total)) for reason, n in reasons], ["reason", noun, "share"])
    examples = [[row.get("reason"), row.get("detail", ""), row.get("source"), row.get("id")]
                for reason, _ in reasons for row in summary.examples.get(reason, [])]
    return body + h.table(examples, ["reason", "detail", "source", "id"])


def distributions(data: DetDataset) -> Section:
    pages = data.pages[data.pages["label_boxes"].notna()]
    text = data.boxes[~data.boxes["ignore"]]
    body = "<h3>Boxes per page and box size</h3>" + h.chart(_hist_row([
        (pages, "label_boxes", "boxes per page", True),
        (text, "short", "short side of a text box (px; don't-care excluded)", True)]), "box histograms")
    body += h.note("The short side is that of the box's axis-aligned rectangle on the page, as PaddleOCR's "
                   "MakeShrinkMap measures it against min_text_size; it applies at the training scale: "
                   "dataconv validate OUT --for paddleocr-det (or mmocr-det) says which boxes a trainer ignores.")
    sized = data.pages[data.pages["width"].notna()]
    body += "<h3>Page size</h3>" + h.chart(_hist_row([(sized, "width", "page width (px)", True),
                                                      (sized, "height", "page height (px)", True)]),
                                           "page size histograms")
    body += h.table(_quantile_rows([(pages, "label_boxes", "boxes per page"), (text, "short", "text box short side"),
                                    (sized, "width", "page width"), (sized, "height", "page height")]),
                    ["split", "", "min", "p5", "median", "p95", "max"])
    return "distributions", "Box and page distributions", body


def _hist_row(panels: list[tuple[pd.DataFrame, str, str, bool]]) -> str:
    """Histograms side by side, one step curve per split: (frame, column, x label, integer bins)."""
    with matplotlib.rc_context(charts.STYLE):
        fig = Figure(figsize=(11, 2.8), layout="constrained")
        for ax, (frame, column, label, integer) in zip(fig.subplots(1, len(panels)), panels):
            if frame.empty:
                ax.text(0.5, 0.5, "none", ha="center", transform=ax.transAxes)
            else:
                charts._hist(ax, frame, column, charts._bins(frame[column], integer=integer))
            ax.set_xlabel(label)
            ax.ticklabel_format(axis="x", useOffset=False)  # 1280 as 1280, not 0 + 1.28e3
        return charts.figure_uri(fig)


def _quantile_rows(measures: list[tuple[pd.DataFrame, str, str]]) -> list[list[Any]]:
    rows = []
    for frame, column, name in measures:
        for split in stats.split_order(frame):
            q = stats.quantiles(frame.loc[frame["split"] == split, column].astype(float))
            if q:
                rows.append([split, name, *(round(q[k], 2) for k in ("min", "p5", "median", "p95", "max"))])
    return rows


def page_grid(data: DetDataset) -> Section:
    max_pixels = max_pixels_of(data.card.get("options", {}))
    body = det_pages.LEGEND
    for split in stats.split_order(data.picked):
        shown = data.picked[data.picked["split"] == split]
        total = int((data.pages["split"] == split).sum())
        tiles = (det_pages.page_tile(det_pages.page_uri(data.root, split, row.path, max_pixels), row,
                                     data.shown.get((split, row.path), []))
                 for row in shown.itertuples())
        body += f"<h3>{h.esc(split)}: {len(shown)} random of {total:,} pages</h3>" + h.grid(tiles)
    return "pages", "Pages", body
