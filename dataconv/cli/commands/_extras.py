"""A one-line install hint instead of an ImportError traceback when an optional extra is
missing. Commands call ``require`` first, before reading or writing anything, so a missing
extra never costs a conversion or leaves half an output."""
from __future__ import annotations

import importlib

from dataconv.errors import DataconvError

# Extras that pull in torch: install it first, pinned, or pip may pick a multi-GB CUDA build.
TORCH_EXTRAS = ("train", "export")


def require(extra: str, *modules: str) -> None:
    """Import ``modules`` (the caller needs them next anyway) or raise a DataconvError
    naming the extra to install. An import that fails for another reason than absence (a
    broken or mismatched install) is named with its own first line."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise DataconvError(_hint(extra, module, e)) from None


def _hint(extra: str, module: str, error: ImportError) -> str:
    install = f"pip install 'dataconv[{extra}]'"
    if extra in TORCH_EXTRAS:
        install = f"pip install torch==2.13.0 'dataconv[{extra}]' (torch first, so pip picks the build you want)"
    if error.name == module:
        return f"{module} is not installed, needed here: {install}"
    return f"{module} cannot be imported ({str(error).splitlines()[0]}): {install}"
