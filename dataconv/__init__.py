"""dataconv: OCR annotation datasets to validated, split, sharded LMDB datasets."""

import os as _os

__version__ = "0.1.0"

# In a source checkout the subpackages live beside this folder (converters/, validators/,
# train/, ...) and setup.py maps them under ``dataconv``. When this folder is imported
# straight from the checkout (``python -m pytest`` or ``python -c`` run in the repository
# root puts it first on sys.path), let the same names resolve there too.
_ROOT = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_ROOT, "setup.py")) and _os.path.isdir(_os.path.join(_ROOT, "converters")):
    __path__.append(_ROOT)  # type: ignore[name-defined]  # noqa: F821

# The Python API (dataconv/api.py), loaded on first use so that ``import dataconv`` and
# ``dataconv --version`` stay cheap: ``dataconv.convert``, ``open``, ``validate``, ``report``.
_API = {"convert": "convert", "open": "open_dataset", "validate": "validate", "report": "report",
        "Dataset": "Dataset", "DatasetRecord": "DatasetRecord",
        "DataconvError": "DataconvError", "UsageError": "UsageError"}


def __getattr__(name: str):  # type: ignore[no-untyped-def]
    if name in _API:
        from dataconv import api

        return getattr(api, _API[name])
    raise AttributeError(f"module 'dataconv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_API])
