"""The wheel installs one import package, dataconv, and the CLI runs without torch."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_has_only_the_dataconv_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("dataconv-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"dataconv", next(t for t in top if t.endswith(".dist-info"))}
    for sub in ("converters", "validators", "train", "export", "fixtures", "schemas", "commands", "reporting"):
        assert f"dataconv/{sub}/__init__.py" in names
    assert "dataconv/schemas/aihub.schema.json" in names


def test_cli_imports_no_torch():
    code = ("import sys; from dataconv.cli import cli; "
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules, "
            "[m for m in ('torch', 'matplotlib') if m in sys.modules]")
    subprocess.run([sys.executable, "-c", code], check=True)
