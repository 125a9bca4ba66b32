"""Small HTML builders for the report page. Everything is escaped here; the page has no
external reference (no scripts, fonts or images from the network)."""
from __future__ import annotations

from html import escape
from typing import Any, Iterable, Sequence

import pandas as pd

CJK_FONTS = ('"Noto Sans CJK KR", "Noto Sans KR", "Noto Sans CJK JP", "Nanum Gothic", "NanumGothic", '
             '"Apple SD Gothic Neo", "Malgun Gothic", "Hiragino Sans", "Yu Gothic", sans-serif')

CSS = """
* { box-sizing: border-box; }
body { font-family: system-ui, %(fonts)s; margin: 0; color: #1d2330; background: #f4f6f9; }
header { background: #1d2b45; color: #fff; padding: 18px 32px 12px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header .sub { opacity: .8; font-size: 13px; }
nav { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 6px; }
nav a { color: #fff; background: rgba(255,255,255,.12); padding: 3px 10px; border-radius: 12px;
        font-size: 12px; text-decoration: none; }
main { padding: 8px 32px 40px; max-width: 1400px; }
section { background: #fff; border-radius: 8px; padding: 14px 20px 18px; margin: 16px 0;
          box-shadow: 0 1px 3px rgba(0,0,0,.08); }
h2 { font-size: 18px; margin: 0 0 10px; } h3 { font-size: 14px; margin: 16px 0 6px; color: #34405a; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 6px; }
.card { background: #eef2f8; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
.card b { display: block; font-size: 20px; } .card span { font-size: 12px; color: #56607a; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #e3e7ee; padding: 3px 10px; text-align: left; vertical-align: middle; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f0f3f8; font-weight: 600; }
.note { color: #56607a; font-size: 12.5px; margin: 4px 0; }
.warn { color: #a23b00; }
img.chart { max-width: 100%%; display: block; margin: 6px 0; }
.grid { display: flex; flex-wrap: wrap; gap: 8px; }
.tile { background: #fafbfc; border: 1px solid #e3e7ee; border-radius: 6px; padding: 6px;
        max-width: 340px; min-width: 90px; }
.tile img, td img { display: block; height: 40px; width: auto; max-width: 326px; margin-bottom: 4px;
                   object-fit: contain; object-position: left; background: #fff; }
.none { height: 32px; width: 90px; background: repeating-linear-gradient(45deg, #eee 0 6px, #f8f8f8 6px 12px);
              font-size: 10px; color: #888; display: flex; align-items: center; justify-content: center; }
.label { font-family: %(fonts)s; font-size: 15px; word-break: break-all; }
.cap { font-size: 11px; color: #6a7389; word-break: break-all; }
.chars { font-family: %(fonts)s; font-size: 16px; line-height: 1.8; word-break: break-all; }
.chars span { display: inline-block; min-width: 1.6em; text-align: center; background: #eef2f8;
              border-radius: 3px; margin: 1px; padding: 0 3px; }
.chars small { color: #6a7389; font-size: 10px; margin-left: 2px; }
""" % {"fonts": CJK_FONTS}


class Raw(str):
    """A table cell that is already HTML."""


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """Numbers for people: thousands separators, two decimals at most."""
    if isinstance(value, bool) or value is None:
        return esc(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return esc(value)


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, Raw):
        return f"<td>{value}</td>"
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f'<td class="num">{fmt(value)}</td>' if numeric else f"<td>{esc(value)}</td>"


def frame_table(frame: pd.DataFrame, index_name: str) -> str:
    rows = [[idx, *(v.item() if hasattr(v, "item") else v for v in row)]
            for idx, row in zip(frame.index, frame.itertuples(index=False))]
    return table(rows, [index_name, *frame.columns])


def cards(items: Iterable[tuple[str, Any]]) -> str:
    return '<div class="cards">' + "".join(
        f'<div class="card"><b>{fmt(v)}</b><span>{esc(k)}</span></div>' for k, v in items) + "</div>"


def note(text: str, warn: bool = False) -> str:
    return f'<p class="note{" warn" if warn else ""}">{esc(text)}</p>'


def chart(uri: str, alt: str) -> str:
    return f'<img class="chart" src="{uri}" alt="{esc(alt)}">'


def image(uri: str | None, missing: str = "no image") -> Raw:
    return Raw(f'<img src="{uri}" alt="">' if uri else f'<div class="none">{esc(missing)}</div>')


def tile(uri: str | None, label: str, caption: str) -> str:
    return (f'<div class="tile">{image(uri)}<div class="label">{esc(label) or "&#8709;"}</div>'
            f'<div class="cap">{esc(caption)}</div></div>')


def grid(tiles: Iterable[str]) -> str:
    return '<div class="grid">' + "".join(tiles) + "</div>"


def chars(pairs: Iterable[tuple[str, int]], limit: int = 300) -> str:
    pairs = list(pairs)
    shown = "".join(f"<span>{esc(_visible(c))}<small>{n:,}</small></span>" for c, n in pairs[:limit])
    more = f" … and {len(pairs) - limit:,} more" if len(pairs) > limit else ""
    return f'<div class="chars">{shown or "none"}{esc(more)}</div>'


def _visible(ch: str) -> str:
    return {" ": "␣", "\t": "⇥", "\n": "↵"}.get(ch, ch)


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str, str]]) -> str:
    nav = "".join(f'<a href="#{esc(a)}">{esc(t)}</a>' for a, t, _ in sections)
    body = "".join(section(a, t, b) for a, t, b in sections)
    return (f'<!DOCTYPE html><html lang="ko"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f'<header><h1>{esc(title)}</h1><div class="sub">{esc(subtitle)}</div><nav>{nav}</nav></header>'
            f"<main>{body}</main></body></html>\n")
