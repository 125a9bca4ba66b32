"""dataconv: OCR annotation datasets to validated, split, sharded LMDB datasets.

The repository keeps the top-level folders converters/, schemas/, validators/, train/,
export/ and fixtures/; setup.py maps each of them under the one import package
``dataconv`` so that nothing but ``dataconv`` lands in site-packages.
"""
from setuptools import find_packages, setup

SUBPACKAGES = ["converters", "validators", "train", "export", "fixtures", "schemas"]

setup(
    name="dataconv",
    version="0.1.0",
    description="Turn OCR annotation datasets into validated, split, sharded LMDB datasets",
    python_requires=">=3.10",
    packages=find_packages(include=["dataconv", "dataconv.*"]) + [
        f"dataconv.{p}{'.' + sub if sub else ''}" for p in SUBPACKAGES for sub in ["", *find_packages(p)]],
    package_dir={"dataconv": "dataconv", **{f"dataconv.{p}": p for p in SUBPACKAGES}},
    package_data={"dataconv.schemas": ["*.json"], "dataconv.reporting": ["review_static/*"]},
    install_requires=[
        "click>=8.1",
        "lmdb>=1.4",
        "pillow>=10.1",
        "opencv-python-headless>=4.8",
        "numpy>=1.24",
        "pandas>=2.0",
        "pyarrow>=14",
        "jsonschema>=4.18",
        "ijson>=3.2",  # streaming big JSON label files (dataconv/io/jsonstream.py)
        "deflate>=0.7",  # libdeflate: the PNG check's inflate (validators/_fastdecode.py; zlib without it)
        "tqdm>=4.60",
        "pyyaml>=6",
        "shapely>=2.0",  # detection boxes: polygon validity and area (dataconv/io/polygons.py)
        "pyclipper>=1.3",  # validate --for paddleocr-det|mmocr-det: the trainers' own polygon offsets
        "google-re2>=1.1",  # every user-written regex in linear time (dataconv/io/userregex.py)
        "pyahocorasick>=2.0",  # label-rules replacements: one automaton (validators/label_rules.py)
        "rapidfuzz>=3.0",  # edit distances of eval and training metrics in linear memory (train/text.py)
    ],
    extras_require={
        # torch is deliberately unpinned here: install `torch==2.13.0` first (see README)
        # so that pip never resolves a CUDA build on a CPU machine.
        "train": ["torch>=2.1", "lightning>=2.1"],
        "export": ["torch>=2.1", "onnx>=1.15", "onnxruntime>=1.17", "onnxscript"],
        "dask": ["dask[distributed]>=2024.1"],
        "report": ["matplotlib>=3.7"],
        # s3:// (and other fsspec) sources and outputs: imported only when a URL is given
        "s3": ["fsspec>=2023.1", "s3fs>=2023.1"],
        "mutate": ["mutmut<3"],  # make mutate MODULE=... (not in CI; docs/DEVELOPING.md)
        # addict, yapf, termcolor, rich: what mmengine/mmcv-lite import (they and mmocr are
        # installed --no-deps by the Makefile: their own requirements pull opencv-python and mmdet)
        "test": ["pytest>=7", "pytest-xdist>=3", "hypothesis>=6", "pycocotools>=2.0", "datasets>=3.0",
                 "addict>=2.4", "yapf>=0.40", "termcolor>=2.0", "rich>=13",
                 "selenium>=4.10",  # dataconv review's page in Debian's chromium + chromium-driver (.ci/run)
                 "moto[server]>=5.0"],  # tests/s3_util.py: a real S3-compatible server on 127.0.0.1
    },
    entry_points={"console_scripts": ["dataconv=dataconv.cli.launch:main"]},
)
