"""A one-line error instead of an ImportError traceback when an optional extra is missing."""
from __future__ import annotations

import importlib.util

from dataconv.errors import DataconvError


def require(extra: str, *modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise DataconvError(f"{', '.join(missing)} not installed: pip install torch==2.13.0 "
                            f"'dataconv[{extra}]' (torch first, so pip picks the build you want)")
