"""PaddleOCR's own data code from the installed ``paddleocr`` 2.10.0 wheel, without paddle.

The wheel ships ``ppocr/``, but its package ``__init__`` files import paddle (not
installed), so the modules a test needs are loaded by file path. ``label_ops`` imports
``ppocr.utils.logging`` (which imports paddle.distributed: the one name it takes,
``get_logger``, is stubbed; it only logs when character_dict_path is None) and the numpy-only
``vqa/augment.py`` (loaded for real). The ppocr names leave ``sys.modules`` afterwards.
"""
from __future__ import annotations

import importlib.util
import logging
import sys
import types
from pathlib import Path

PPOCR_SPEC = importlib.util.find_spec("paddleocr")
PACKAGES = ("ppocr", "ppocr.utils", "ppocr.data", "ppocr.data.imaug", "ppocr.data.imaug.vqa")


def load_file(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_imaug(*names: str) -> dict[str, types.ModuleType]:
    """``ppocr/data/imaug/<name>.py`` for each name (``label_ops``, ``make_shrink_map``...)."""
    root = Path(PPOCR_SPEC.submodule_search_locations[0]) / "ppocr"
    try:
        for package in PACKAGES:
            sys.modules[package] = types.ModuleType(package)
        stub = types.ModuleType("ppocr.utils.logging")
        stub.get_logger = lambda *args, **kwargs: logging.getLogger("ppocr")
        sys.modules["ppocr.utils.logging"] = stub
        load_file("ppocr.data.imaug.vqa.augment", root / "data/imaug/vqa/augment.py")
        return {name: load_file(f"ppocr.data.imaug.{name}", root / f"data/imaug/{name}.py") for name in names}
    finally:
        for name in [n for n in sys.modules if n == "ppocr" or n.startswith("ppocr.")]:
            del sys.modules[name]


def load_simple_dataset() -> type:
    """``ppocr/data/simple_dataset.py``'s ``SimpleDataSet``, the recognition label-file
    reader, loaded by file path: ``paddle.io.Dataset`` (its base class, nothing inherited is
    used) is stubbed, and so is ``ppocr.data.imaug`` with the two names the module takes,
    for an empty ``transforms`` list (what ``create_operators([])`` and ``transform(data,
    [])`` return: no operator, the data unchanged)."""
    root = Path(PPOCR_SPEC.submodule_search_locations[0]) / "ppocr"
    stubs = {"paddle": types.ModuleType("paddle"), "paddle.io": types.ModuleType("paddle.io"),
             "ppocr": types.ModuleType("ppocr"), "ppocr.data": types.ModuleType("ppocr.data"),
             "ppocr.data.imaug": types.ModuleType("ppocr.data.imaug")}
    stubs["paddle.io"].Dataset = type("Dataset", (), {})
    stubs["ppocr.data"].__path__ = [str(root / "data")]
    stubs["ppocr.data.imaug"].create_operators = lambda ops, global_config=None: []
    stubs["ppocr.data.imaug"].transform = lambda data, ops=None: data
    saved = {name: sys.modules.get(name) for name in stubs}
    try:
        sys.modules.update(stubs)
        return load_file("ppocr.data.simple_dataset", root / "data/simple_dataset.py").SimpleDataSet
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        sys.modules.pop("ppocr.data.simple_dataset", None)
