"""The wheel installs one import package, dataconv, and the CLI runs without torch."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from helpers import REPO

ROOT = Path(REPO)


def test_wheel_has_only_the_dataconv_package(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("dataconv-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert top == {"dataconv", next(t for t in top if t.endswith(".dist-info"))}
    for sub in ("converters", "validators", "train", "export", "fixtures", "schemas", "reporting", "io", "build", "build/executors", "outputs", "cli", "cli/commands", "validators/trainers"):
        assert f"dataconv/{sub}/__init__.py" in names
    assert "dataconv/schemas/aihub.schema.json" in names


def test_cli_imports_no_torch():
    code = ("import sys; from dataconv.cli.main import cli; "
            "assert 'torch' not in sys.modules and 'matplotlib' not in sys.modules, "
            "[m for m in ('torch', 'matplotlib') if m in sys.modules]")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_conversion_imports_neither_torch_nor_pandas(tmp_path):
    """pandas costs a third of a second and 60 MB at start-up; pyarrow alone writes
    samples.parquet (samples_table.arrow_array), which pandas still reads."""
    src, out = tmp_path / "src", tmp_path / "out"
    code = ("import sys; from dataconv.fixtures.aihub import make_aihub; from dataconv.cli.main import cli\n"
            f"make_aihub({str(src)!r}, n=30)\n"
            f"try: cli.main(['aihub', '-i', {str(src)!r}, '-o', {str(out)!r}, '-q'])\n"
            "except SystemExit as e: assert not e.code, e.code\n"
            "heavy = [m for m in ('torch', 'pandas', 'matplotlib') if m in sys.modules]\n"
            "assert not heavy, heavy")
    subprocess.run([sys.executable, "-c", code], check=True)
    import json

    import pandas as pd

    frame = pd.read_parquet(out / "samples.parquet")
    written = json.loads((out / "manifest.json").read_text())["counts"]["written"]
    assert len(frame) == written > 0 and str(frame["width"].dtype) == "Int64"
