"""MMOCR 1.0.1's own data code from the installed ``mmocr`` wheel, without mmdet.

``mmocr/__init__.py`` imports mmdet and asserts version ranges, and the package ``__init__``
files of ``mmocr.datasets`` and ``mmocr.utils`` import every transform and model (mmdet,
imgaug, scikit-image). None of that is wanted: the modules a test needs are loaded by file
path under empty package modules, the way ``ppocr_util`` loads PaddleOCR. Nothing is
stubbed: ``mmocr.utils.list_from_file`` (the one name the Dictionary takes from
``mmocr.utils``) is the real function of ``mmocr/utils/fileio.py``. What they import from
``mmengine`` (BaseDataset, fileio, registries) and ``mmcv`` (imfrombytes, the loading
transforms) is the real, installed package (``make setup-all``).

The mmocr names leave ``sys.modules`` afterwards. mmocr's registries join mmengine's parents
once per process (a second load would be refused by mmengine), so the load is cached.

    from mmocr_util import load_mmocr
    mm = load_mmocr()
    mm.OCRDataset(ann_file="textdet_train.json", data_root=DIR, pipeline=[])  # textdet / textrecog JSON
    mm.RecogLMDBDataset(ann_file=LMDB_FOLDER, pipeline=[])                     # one LMDB folder
    mm.Dictionary(dict_file="dict.txt", with_unknown=False)                     # a dict file
    mm.LoadImageFromFile(ignore_empty=True, min_size=2)                        # the rec config's loader
"""
from __future__ import annotations

import functools
import importlib.util
import sys
import types
from pathlib import Path

from ppocr_util import load_file

MMOCR_SPEC = importlib.util.find_spec("mmocr")
INSTALLED = all(importlib.util.find_spec(name) is not None for name in ("mmocr", "mmengine", "mmcv"))
MISSING = "mmocr==1.0.1, mmengine==0.10.7, mmcv-lite==2.1.0 (--no-deps) not installed (make setup-all)"
PACKAGES = ("mmocr", "mmocr.utils", "mmocr.datasets", "mmocr.datasets.transforms", "mmocr.models",
            "mmocr.models.common", "mmocr.models.textrecog", "mmocr.models.textrecog.module_losses")
FILES = {  # module name -> file under mmocr/, in import order (a package: its real __init__)
    "mmocr.registry": "registry.py",
    "mmocr.datasets.ocr_dataset": "datasets/ocr_dataset.py",
    "mmocr.datasets.recog_lmdb_dataset": "datasets/recog_lmdb_dataset.py",
    "mmocr.datasets.transforms.loading": "datasets/transforms/loading.py",
    "mmocr.models.common.dictionary": "models/common/dictionary/__init__.py",
    "mmocr.structures": "structures/__init__.py",
    "mmocr.models.textrecog.module_losses.base": "models/textrecog/module_losses/base.py",
    "mmocr.models.textrecog.module_losses.ce_module_loss": "models/textrecog/module_losses/ce_module_loss.py",
    "mmocr.models.textrecog.module_losses.ctc_module_loss": "models/textrecog/module_losses/ctc_module_loss.py",
}


@functools.cache
def load_mmocr() -> types.SimpleNamespace:
    """OCRDataset, RecogLMDBDataset, Dictionary, LoadImageFromFile, LoadImageFromNDArray,
    LoadOCRAnnotations, CEModuleLoss, CTCModuleLoss, TextRecogDataSample and list_from_file,
    from the installed wheel."""
    root = Path(MMOCR_SPEC.submodule_search_locations[0])
    try:
        for package in PACKAGES:
            module = types.ModuleType(package)
            module.__path__ = [str(root.joinpath(*package.split(".")[1:]))]
            sys.modules[package] = module
        fileio = load_file("mmocr.utils.fileio", root / "utils/fileio.py")
        sys.modules["mmocr.utils"].list_from_file = fileio.list_from_file  # as its __init__ does
        modules = {name: load_file(name, root / rel) for name, rel in FILES.items()}
        loading = modules["mmocr.datasets.transforms.loading"]
        losses = "mmocr.models.textrecog.module_losses."
        return types.SimpleNamespace(
            OCRDataset=modules["mmocr.datasets.ocr_dataset"].OCRDataset,
            RecogLMDBDataset=modules["mmocr.datasets.recog_lmdb_dataset"].RecogLMDBDataset,
            Dictionary=modules["mmocr.models.common.dictionary"].Dictionary,
            LoadImageFromFile=loading.LoadImageFromFile,
            LoadImageFromNDArray=loading.LoadImageFromNDArray,
            LoadOCRAnnotations=loading.LoadOCRAnnotations,
            CEModuleLoss=modules[losses + "ce_module_loss"].CEModuleLoss,
            CTCModuleLoss=modules[losses + "ctc_module_loss"].CTCModuleLoss,
            TextRecogDataSample=modules["mmocr.structures"].TextRecogDataSample,
            list_from_file=fileio.list_from_file)
    finally:
        for name in [n for n in sys.modules if n == "mmocr" or n.startswith("mmocr.")]:
            del sys.modules[name]

