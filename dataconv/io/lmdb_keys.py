"""The LMDB key scheme every trainer reads (clovaai, PARSeq, MMOCR, PaddleOCR).

Indices are 1-based with no gaps; ``num-samples`` is ASCII decimal. Keys of our own
go under the ``dataconv-`` prefix only.
"""
from __future__ import annotations

NUM_SAMPLES = b"num-samples"
OWN_PREFIX = b"dataconv-"


def image_key(index: int) -> bytes:
    return b"image-%09d" % index


def label_key(index: int) -> bytes:
    return b"label-%09d" % index


def encode_count(n: int) -> bytes:
    return str(n).encode("ascii")
