"""The digest a model file carries of what its predictions depend on.

A checkpoint (``dataconv train``) and an ONNX file (``dataconv export``) are written with a
sha256 of their tensors (the weights; in a checkpoint also the optimizer's state) and of
the settings that decode them (charset and preprocessing); every reader recomputes it
before using the file. A file damaged on disk or in a copy (a run of flipped bytes inside
a tensor loads without any error otherwise) is then refused in one line instead of giving
wrong predictions. It guards against damage, not against someone who rewrites the digest.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterable

from dataconv.errors import DataconvError

KEY = "dataconv_sha256"  # the checkpoint key and the ONNX metadata_props key


def sha256(settings: Any, tensors: Iterable[tuple[str, str, tuple[int, ...], bytes]]) -> str:
    """sha256 over the settings (as sorted JSON) and every ``(name, dtype, shape, raw
    bytes)`` tensor, each part length-prefixed so that no two contents hash alike."""
    h = hashlib.sha256()

    def part(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    part(json.dumps(settings, sort_keys=True, ensure_ascii=False, default=repr).encode("utf-8"))
    for name, dtype, shape, raw in tensors:
        part(name.encode("utf-8", "surrogatepass"))
        part(dtype.encode("ascii", "replace"))
        part(json.dumps(list(shape)).encode("ascii"))
        part(raw)
    return h.hexdigest()


def check(path: str, recorded: Any, actual: str) -> None:
    """One line when the digest written at save time is missing or differs."""
    if not isinstance(recorded, str) or not recorded:
        raise DataconvError(f"{path}: no {KEY} digest of its weights (dataconv writes one into every "
                            "checkpoint and ONNX file it saves; train or export it again with this version)")
    if recorded != actual:
        raise DataconvError(f"{path}: its weights do not match the digest written when it was saved "
                            f"({actual[:12]}... instead of {recorded[:12]}...): the file is damaged or was altered")
