"""The end-of-run summary printed on stdout."""
from __future__ import annotations

from typing import Any

from dataconv.outputs.hints import summary_hint


def format_summary(card: dict[str, Any], out: str) -> str:
    counts = card["counts"]
    unit = "pages" if card.get("task") == "det" else "samples"
    lines = [f"dataconv {card['format']}: {counts['input']} input {unit}, "
             f"{counts['written']} written, {counts['rejected']} rejected"]
    for split, n in counts["splits"].items():
        shards = [s for s in card["shards"] if s["split"] == split]
        where = f" in {len(shards)} shard(s)" if card["shards"] else ""
        lines.append(f"  {split:<6} {n:>9} {unit}{where}")
    boxes = card.get("boxes") or (card.get("det") or {}).get("boxes")
    if boxes:
        where = " in det/" if card.get("det") else ""
        lines.append(f"  detection{where}: {boxes['written']} boxes ({boxes['ignore']} don't-care), "
                     f"{boxes['removed']} removed for their geometry")
    fixes = card.get("corrections")
    if fixes:
        lines.append("  corrections: " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in fixes.items()))
    if card["rejects"]:
        lines.append("  rejects:")
        for reason, n in sorted(card["rejects"].items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {reason:<24} {n:>9}")
        hint = summary_hint(card)
        if hint:
            lines.append(f"  hint: {hint}")
    if card["charset"]:
        lines.append(f"  charset: {len(card['charset'])} characters")
    files = card.get("files") or ["manifest.json", "rejects.jsonl", "samples.parquet", "charset.txt"]
    lines.append(f"  written to {out} ({', '.join(files)})")
    return "\n".join(lines)
