"""Every reject reason, with what it means and where in the flow it arises.

A reject reason is a public word: it is the ``reason`` of a rejects.jsonl row, a key of
manifest.json's ``rejects`` and a line of the summary, and scripts filter on it. So the
set is closed: ``SampleRejected`` and ``Reject`` refuse a reason that is not listed here
(a typo is a bug that the tests catch, not a new word in a user's output), and
docs/guarantees.md's "Reject reasons" table lists exactly these rows
(tests/core/test_reasons.py). Adding a reason means adding one entry below and one row there.
"""
from __future__ import annotations

from dataclasses import dataclass

# The stages of a conversion, in flow order (docs/ARCHITECTURE.md, "Words").
STAGES = {
    "parse": "the converter, while it reads the annotations",
    "collect": "the pipeline, while it numbers the parsed samples",
    "plan": "the pipeline, while it hashes images and assigns splits",
    "read": "the image reference, while a worker reads or crops the image bytes",
    "check": "a validator, on the read image and its label",
    "place": "the detection output, while it reads a page and checks its boxes (`--task det`)",
    "dump": "`dataconv dump`, while it writes a style's label file (what the style's readers cannot "
            "hold exactly is left out)",
}
EVERY_FORMAT = "every format"


@dataclass(frozen=True)
class Reason:
    """One reject reason: its word, its one-line meaning, the stages that give it (names
    of ``STAGES``) and the formats that can give it."""

    name: str
    meaning: str
    stages: tuple[str, ...]
    formats: str = EVERY_FORMAT


_ALL = (
    Reason("missing_image", "the named image file does not exist (or the path is empty); an LMDB record "
           "without its `image-` key", ("parse", "read", "dump")),
    Reason("not_a_file", "the image (or minhon label) path is a folder, a FIFO, a socket or a "
           "device (never opened, never waited on)", ("parse", "read")),
    Reason("unreadable_image", "the OS refused to read it (permissions, symlink loop, name too long)",
           ("read",)),
    Reason("path_outside_source", "absolute path, `..` out of SRC, or a symlink out of SRC without "
           "`--follow-symlinks`", ("parse", "read")),
    Reason("bad_path", "NUL byte or invalid Unicode in the image path", ("read",)),
    Reason("undecodable_image", "empty, truncated or corrupt image, or not an image", ("read", "check")),
    Reason("too_many_pixels", "width × height over `--max-pixels` (decompression bomb), refused from "
           "the header; for a crop, its page or the padded crop", ("parse", "read", "check")),
    Reason("high_bit_depth", "16-bit or float image (`--keep-unsafe-images` keeps it)", ("check",)),
    Reason("transparent_image", "alpha channel with transparent pixels (`--keep-unsafe-images` "
           "keeps it)", ("check",)),
    Reason("exif_rotated", "EXIF orientation other than 1, with `--exif-rotated reject`", ("check",)),
    Reason("empty_label", "the label is empty or whitespace after normalisation", ("check",)),
    Reason("broken_label", "a label that cannot be what the image shows: one holding Hangul "
           "compatibility jamo (`국ㅇㄴ`, a half-typed syllable; `--jamo-labels keep` keeps it), or "
           "a character box labelled with several characters (aihub-tiw)", ("parse", "check")),
    Reason("nul_byte", "a label-file line, or any label, holding a NUL byte", ("parse", "check")),
    Reason("invalid_unicode", "a lone surrogate in a label, id, source or group", ("check",)),
    Reason("too_small", "smaller than `--min-height` / `--min-width`", ("check",)),
    Reason("aspect_ratio", "width / height over `--max-aspect`", ("check",)),
    Reason("label_too_long", "more characters than `--max-label-length`", ("check",)),
    Reason("out_of_charset", "characters outside `--charset` (with `--charset-policy reject`)", ("check",)),
    Reason("duplicate_image", "the same image bytes as an earlier sample, with `--dedupe` (the first "
           "is kept)", ("plan",)),
    Reason("duplicate_id", "the same sample id again (the first is kept)", ("collect",)),
    Reason("label_rule", "a label a `drop` rule of `--label-rules` matches (the detail names the rule)",
           ("collect",)),
    Reason("correction_drop", "a sample a `drop` line of `--corrections` names (the detail is the file "
           "and line)", ("collect",)),
    Reason("sampled_out", "left out by its recipe source's `ratio` or `cap`", ("parse",), "build (recipes)"),
    Reason("no_separator", "a label-file line without the separator", ("parse",),
           "gt-txt, paddle-rec, icdar2015-rec, paddle-det"),
    Reason("malformed_line", "a box line that does not parse as `x1,y1,...,x4,y4,text`", ("parse",),
           "icdar2015"),
    Reason("unknown_image_id", "an annotation's image id has no image entry (near misses named)",
           ("parse",), "aihub, aihub-tiw, coco-text, textocr"),
    Reason("duplicate_file_name", "an `images[]` entry naming a file an earlier entry already names "
           "(the first is kept)", ("parse",), "aihub-tiw"),
    Reason("ambiguous_image_id", "an `image_id` named by several `images[]` entries", ("parse",), "aihub"),
    Reason("ambiguous_image", "a file name found at several places under SRC, or several images "
           "sharing one minhon label", ("parse",), "aihub and its family, minhon, coco-text, textocr, "
           "ndl-layout, labelme"),
    Reason("unannotated_image", "an `images[]` entry no annotation refers to; a Label Studio task "
           "with no annotation left to use", ("parse",), "aihub, aihub-tiw, label-studio"),
    Reason("excluded_kind", "`attributes.type` (`attributes.class` in aihub-tiw) not selected by "
           "`--kind`", ("parse",), "aihub, aihub-tiw"),
    Reason("excluded_set", "an entry of another `--set`", ("parse",), "coco-text"),
    Reason("dont_care", "a `###` region, an `ignored` box or a region whose text is null",
           ("parse",), "icdar2015, paddle-det, aihub family, labelme, label-studio"),
    Reason("illegible", "an illegible word (`xxx` in AI Hub sets)", ("parse",),
           "coco-text, textocr, aihub-outdoor, aihub-nia"),
    Reason("degenerate_box", "a crop that cannot be made: a coordinate that is not a finite number, "
           "zero area, self-intersecting; a box with the wrong count of numbers or a zero or negative size "
           "(never made positive)", ("parse", "read"), "crop formats, ndl-layout"),
    Reason("box_outside_image", "a corner beyond the page by more than 10% of its side",
           ("parse", "read"), "crop formats, ndl-layout"),
    Reason("unencodable_crop", "the crop cannot be encoded in the page's image format", ("read",),
           "crop formats"),
    Reason("unmapped_class", "a box whose class `--classes` does not map", ("parse",), "ndl-layout"),
    Reason("missing_label", "no label for the image: no `.txt`, `.gt.txt` or `.json` beside a line "
           "image; no `label-` key for an LMDB record; a Label Studio region without a transcription",
           ("parse", "dump"), "minhon, lmdb, label-studio, dump"),
    Reason("unsupported_shape", "a labelme shape that is no text box (circle, line, point, mask)",
           ("parse",), "labelme"),
    Reason("rotated_in_tool", "a Label Studio region drawn on an image the annotator rotated in the "
           "UI (`image_rotation` not 0)", ("parse",), "label-studio"),
    Reason("ambiguous_label", "several label files beside one line image", ("parse",), "minhon"),
    Reason("unreadable_label", "a label file the OS refused to read, or not text in `--encoding`",
           ("parse",), "minhon"),
    Reason("multiline_label", "a line label file holding more than one line; a label holding a line "
           "break its `dump` style's readers split at (CR or LF: clovaai, paddle, easyocr)", ("parse", "dump"),
           "minhon, dump"),
    Reason("not_textline", "a page JSON line with `isTextline` false", ("parse",), "minhon"),
    Reason("not_a_page", "`--task det`: a line image with its text, not a page with boxes",
           ("parse",), "minhon"),
    Reason("bad_box_page", "`--task det --on-bad-box drop-page`: a page with a box whose geometry is "
           "unusable (the box's own reason is in the detail)", ("place",), "page formats"),
    Reason("label_too_big", "a per-image label file over 1 MiB (not read whole)", ("parse",), "minhon"),
    Reason("no_label_in_name", "a file name without the `_word_` label", ("parse",), "mjsynth"),
    Reason("known_corrupt", "a file on the known-corrupt list", ("parse",), "mjsynth"),
    Reason("undecodable_label", "an LMDB label that is not UTF-8 (`dump` leaves it out rather than "
           "write U+FFFD)", ("parse", "dump"), "lmdb, dump"),
    Reason("separator_in_label", "a label holding the TAB its `dump` style's readers split a line at "
           "(clovaai, paddle)", ("dump",), "dump"),
    Reason("stripped_label", "a label ending in whitespace its `dump` style's reader strips (easyocr: "
           "each line's end)", ("dump",), "dump"),
    Reason("numeric_labels", "a split whose every label its `dump` style's reader types as a number, or "
           "every one as True/False (easyocr's pandas): it holds none of them as text", ("dump",), "dump"),
    Reason("filtered_label", "an LMDB label that does not match `--label-regex`", ("parse",), "lmdb"),
)

REASONS: dict[str, Reason] = {r.name: r for r in _ALL}


def known(reason: str) -> str:
    """``reason`` itself when it is registered; a ValueError otherwise. An unregistered
    reason is a bug in dataconv, never bad input, so it surfaces as a traceback in tests."""
    if reason not in REASONS:
        raise ValueError(f"unregistered reject reason {reason!r}: add it to dataconv/reasons.py")
    return reason
