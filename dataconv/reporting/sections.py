"""One function per report section: (anchor, title, HTML body) from the loaded dataset."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from dataconv.reporting import charts, stats
from dataconv.reporting import html as h
from dataconv.reporting.dataset import Dataset
from dataconv.reporting.thumbs import thumbnail, thumbnails

Section = tuple[str, str, str]
MAX_SHARD_ROWS = 200


@dataclass
class Inputs:
    data: Dataset
    charset: str | None = None
    reject_images: dict[str, bytes | None] = field(default_factory=dict)
    reject_note: str = ""
    per_split: int = 24
    extremes: int = 6
    seed: int = 0


def overview(inp: Inputs) -> Section:
    data, frame = inp.data, inp.data.frame
    counts = (data.card or {}).get("counts", {})
    items = [("samples written", data.total), ("rejected", sum(data.rejects.counts.values()))]
    if "input" in counts:
        items.insert(0, ("input samples", counts["input"]))
    items += [("splits", frame["split"].nunique()), ("shards", frame["shard"].nunique()),
              ("MB of images", round(float(frame["bytes"].sum()) / 1e6, 1))]
    body = h.cards(items) + "<h3>Per split</h3>" + h.frame_table(stats.split_table(frame), "split")
    shards = stats.shard_table(frame)
    body += "<h3>Per shard</h3>" + h.frame_table(shards.head(MAX_SHARD_ROWS), "shard")
    if len(shards) > MAX_SHARD_ROWS:
        body += h.note(f"first {MAX_SHARD_ROWS} of {len(shards):,} shards")
    if data.sampled:
        body += h.note(f"No samples.parquet: figures below are computed from {len(frame):,} evenly "
                       f"spaced samples of {data.total:,} (raise --max-samples for more).", warn=True)
    return "overview", "Overview", body + _card_note(data.card)


def _card_note(card: dict[str, Any] | None) -> str:
    if not card:
        return h.note("No manifest.json: a plain LMDB tree.")
    opts = ", ".join(f"{k}={v}" for k, v in sorted(card.get("options", {}).items()))
    return h.note(f"format {card.get('format')} · dataconv {card.get('dataconv_version')} · {opts}")


def rejects(inp: Inputs) -> Section:
    summary = inp.data.rejects
    total = sum(summary.counts.values())
    if not total:
        return "rejects", "Rejects", h.note("No rejected samples.")
    rows = [(reason, n, h.pct(n / total)) for reason, n in summary.counts.most_common()]
    body = h.table(rows, ["reason", "rejected", "share"])
    examples = [row for reason, _ in summary.counts.most_common() for row in summary.examples.get(reason, [])]
    body += "<h3>Examples per reason</h3>"
    body += h.note(inp.reject_note) + h.table(
        [_reject_row(row, inp.reject_images) for row in examples],
        ["reason", "image", "detail", "source", "id"])
    return "rejects", f"Rejects ({total:,})", body


def _reject_row(row: dict[str, Any], images: dict[str, bytes | None]) -> list[Any]:
    data = images.get(str(row.get("source")))
    uri = thumbnail(data) if data else None
    missing = "undecodable" if data else "no image"
    return [row.get("reason"), h.image(uri, missing), row.get("detail", ""), row.get("source"), row.get("id")]


def distributions(inp: Inputs) -> Section:
    frame = inp.data.frame
    suggested = stats.suggest_img_size(frame)
    body = "<h3>Label length</h3>" + h.chart(charts.length_chart(frame), "label length histogram")
    body += _length_table(frame)
    limit, why = stats.suggest_max_length(frame["length"])
    body += h.note(f"Suggested max_label_length: {limit} ({why}).")
    body += "<h3>Image size</h3>" + h.chart(charts.size_chart(frame, suggested), "image size histograms")
    body += _size_table(frame) + _img_size_note(suggested)
    return "distributions", "Label and image distributions", body


def _length_table(frame: pd.DataFrame) -> str:
    rows = []
    for split in stats.split_order(frame):
        lengths = frame.loc[frame["split"] == split, "length"]
        q = stats.quantiles(lengths)
        above = stats.share_above(lengths)
        rows.append([split, q["median"], q["p95"], q["max"], *(h.pct(above[k]) for k in stats.LENGTH_LIMITS)])
    return h.table(rows, ["split", "median", "p95", "max", *(f"> {k}" for k in stats.LENGTH_LIMITS)])


def _size_table(frame: pd.DataFrame) -> str:
    rows = []
    for split in stats.split_order(frame):
        part = frame[frame["split"] == split]
        for column in ("height", "width", "aspect"):
            q = stats.quantiles(part[column])
            if q:
                rows.append([split, column, *(round(q[k], 2) for k in ("min", "p5", "median", "p95", "max"))])
    return h.table(rows, ["split", "", "min", "p5", "median", "p95", "max"])


def _img_size_note(size: stats.ImgSize | None) -> str:
    if size is None:
        return h.note("No image sizes recorded.")
    return h.note(f"Suggested img_size: [{size.height}, {size.width}] (height, width): 95% of the "
                  f"images fit without horizontal squeezing ({h.pct(size.squeezed)} are wider); "
                  f"{h.pct(size.upscaled)} are lower than {size.height} px and get upscaled.")


def characters(inp: Inputs) -> Section:
    frame = inp.data.frame
    chars = stats.char_stats(frame)
    counts = chars.total
    rare = stats.rare_chars(counts)
    body = h.cards([("distinct characters", len(counts)), ("occurrences", sum(counts.values())),
                    ("seen at most twice", len(rare))])
    body += h.chart(charts.char_chart(counts), "character frequency") if counts else ""
    body += "<h3>Most frequent</h3>" + h.chars(counts.most_common(100))
    body += "<h3>Rare characters (seen at most twice)</h3>" + h.chars(rare)
    for split, missing in stats.unseen_in_train(chars).items():
        body += f"<h3>In {h.esc(split)} but never in train ({len(missing):,})</h3>"
        body += h.chars(missing.most_common())
    body += _coverage(frame, counts, inp.charset)
    return "characters", "Characters", body


def _coverage(frame: pd.DataFrame, counts: Any, charset: str | None) -> str:
    if charset is None:
        return h.note("Pass --charset FILE to check coverage against a model's character set.")
    cov = stats.coverage(frame, counts, charset)
    body = "<h3>Coverage of the given charset</h3>" + h.cards([
        ("charset size", cov.charset_size), ("of character occurrences covered", h.pct(cov.char_share)),
        ("of samples fully covered", h.pct(cov.sample_share)), ("charset characters unused", cov.unused)])
    return body + f"<h3>Missing from the charset ({len(cov.missing):,})</h3>" + h.chars(cov.missing)


def samples(inp: Inputs) -> Section:
    frame, body = inp.data.frame, ""
    for split in stats.split_order(frame):
        part = frame[frame["split"] == split]
        picked = part.sample(min(inp.per_split, len(part)), random_state=inp.seed)
        body += f"<h3>{h.esc(split)}: {len(picked)} random of {len(part):,}</h3>" + _grid(inp, picked)
    for title, picked in stats.extremes(frame, inp.extremes).items():
        body += f"<h3>{h.esc(title)}</h3>" + _grid(inp, picked)
    return "samples", "Samples", body


def _grid(inp: Inputs, rows: pd.DataFrame) -> str:
    uris = thumbnails(inp.data.root, rows)
    return h.grid(h.tile(uri, row.label, _caption(row)) for uri, row in zip(uris, rows.itertuples()))


def _caption(row: Any) -> str:
    size = "" if pd.isna(row.width) else f" · {int(row.width)}×{int(row.height)}"
    return f"{row.shard}#{row.index}{size} · {row.length} chars"


def duplicates(inp: Inputs) -> Section:
    frame = inp.data.frame
    dups = stats.cross_split_duplicates(frame)
    within = stats.within_split_duplicates(frame)
    body = h.table([[s, int(within.get(s, 0))] for s in stats.split_order(frame)],
                   ["split", "repeated images within the split"])
    if dups.empty:
        return "duplicates", "Duplicate images", body + h.note("No image occurs in more than one split.")
    body += h.frame_table(stats.duplicate_pairs(dups), "splits")
    body += h.note("Identical image bytes (sha1) in more than one split leak test data into training.",
                   warn=True)
    shown = dups[dups["sha1"].isin(dups["sha1"].drop_duplicates().head(8))]
    return "duplicates", f"Duplicate images ({dups['sha1'].nunique():,} across splits)", body + _grid(inp, shown)


SECTIONS = [overview, rejects, distributions, characters, samples, duplicates]


def render_all(inp: Inputs) -> list[Section]:
    return [make(inp) for make in SECTIONS]
