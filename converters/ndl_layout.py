"""NDL-DocL layout data (Pascal VOC XML per page) to COCO detection JSON for MMDetection.

Each ``x.xml`` (``<object><name>3_typography</name><bndbox>xmin ymin xmax ymax``) names
its page image by stem; the image is found anywhere under ``-i`` (the kotenseki/kindai
samples keep it beside the XML, the tugidigi set in a sibling ``image/`` folder, and its
``<filename>`` is stale). The output is COCO (``dataconv.outputs.coco``) instead of LMDB
shards: ``OUT/annotations/{train,val,test}.json`` and ``OUT/images/``, with the usual
manifest.json and rejects.jsonl; one input = one box.

Pages, not boxes, are split (the same hash of the page path as every other split).
Boxes are clamped to the decoded image. ``--classes`` maps NDL class names to
categories; a box whose class is not mapped is rejected as ``unmapped_class``.
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.converters.base import Converter, register
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.imagefind import ImageIndex, walk_files
from dataconv.numbers import parse_float
from dataconv.io.safeopen import DEFAULT_LIMITS, InputFile, open_input
from dataconv.optionspec import option
from dataconv.sample import Box, LayoutPage

TEXT_CLASSES = ("2_handwritten", "3_typography", "6_headline", "7_caption", "8_textline")
PRESETS: dict[str, dict[str, str] | None] = {"text": {c: "text" for c in TEXT_CLASSES}, "all": None}


def parse_voc(source: InputFile, rel: str) -> list[tuple[str, Box]]:
    """(class name, box) of every ``<object>``; a malformed file stops the run."""
    try:
        with open_input(source, DEFAULT_LIMITS.whole_bytes) as f:
            root = ET.parse(f).getroot()
        return [(o.findtext("name", "").strip(), _bndbox(o)) for o in root.iter("object")]
    except (ET.ParseError, ValueError, TypeError) as e:
        raise DataconvError(f"{rel}: not a Pascal VOC annotation ({e})") from None
    except LookupError as e:  # <?xml encoding="..."?> naming a codec Python lacks
        raise DataconvError(f"{rel}: the XML declaration names an unknown encoding ({e})") from None


def _bndbox(obj: ET.Element) -> Box:
    box = obj.find("bndbox")
    if box is None:
        raise ValueError("an <object> has no <bndbox>")
    x0, y0, x1, y1 = (parse_float((box.findtext(k) or "").strip()) for k in ("xmin", "ymin", "xmax", "ymax"))
    return x0, y0, x1, y1


def parse_classes(spec: str) -> dict[str, str] | None:
    """A preset name or ``SRC=DST,SRC=DST``; None maps every class to itself."""
    if spec in PRESETS:
        return PRESETS[spec]
    pairs = [p.split("=", 1) for p in spec.split(",") if p.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs):
        raise DataconvError(f"--classes {spec!r}: expected text, all, or SRC=DST,SRC=DST")
    return {s.strip(): d.strip() for s, d in pairs}


@dataclass(frozen=True)
class NdlLayoutOptions:
    classes: str = option("text", "text: the five text-line classes -> one category 'text'; all: every "
                                  "class as its own category; or SRC=DST,SRC=DST.", show_default=True)
    link: bool = option(False, "Symlink the page images instead of copying them.")


@register("ndl-layout", help="NDL-DocL layout (Pascal VOC XML pages) to COCO detection JSON, split by page",
          example="dataconv ndl-layout -i dataset_kotenseki -o layout_coco --link")
class NdlLayout(Converter):
    schema = "coco"
    output = "coco"
    none_found = "no Pascal VOC .xml files found"
    Options = NdlLayoutOptions

    def layout_pages(self) -> Iterator[LayoutPage]:
        index = ImageIndex(self.src)
        for rel in (r for r in walk_files(self.src) if r.lower().endswith(".xml")):
            stem = os.path.splitext(os.path.basename(rel))[0]
            try:
                image: str | SampleRejected = index.find_stem(stem, near=os.path.dirname(rel))
            except SampleRejected as e:
                image = e
            yield LayoutPage(os.path.splitext(rel)[0], rel, image, parse_voc(self.inside(rel), rel))

    def output_options(self) -> dict[str, Any]:
        if self.options.link and not self.src.is_folder:
            raise DataconvError(f"{self.src}: --link needs a folder: archive members cannot be linked to")
        return {"mapping": parse_classes(self.options.classes), "link": self.options.link}
