"""The end-of-run summary printed on stdout."""
from __future__ import annotations

from typing import Any

from dataconv.outputs.hints import summary_hint


def format_summary(card: dict[str, Any], out: str) -> str:
    counts = card["counts"]
    lines = [f"dataconv {card['format']}: {counts['input']} input samples, "
             f"{counts['written']} written, {counts['rejected']} rejected"]
    for split, n in counts["splits"].items():
        shards = [s for s in card["shards"] if s["split"] == split]
        where = f" in {len(shards)} shard(s)" if card["shards"] else ""
        lines.append(f"  {split:<6} {n:>9} samples{where}")
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
