"""The one-way flow of docs/ARCHITECTURE.md, enforced on every import statement of the
package (module level and inside functions): io <- converters, validators <- build ->
outputs; cli imports everything and nothing imports cli; reporting, train and export read
OUT through io. Current exceptions are listed, each with the reason it exists, in ``KNOWN``."""
from __future__ import annotations

import ast
import os
from typing import Iterator
from helpers import REPO

# Source folder -> its import name (setup.py maps the top-level folders under dataconv).
FOLDERS = {"dataconv": "dataconv", "converters": "dataconv.converters", "validators": "dataconv.validators",
           "train": "dataconv.train", "export": "dataconv.export", "fixtures": "dataconv.fixtures",
           "schemas": "dataconv.schemas"}
PACKAGES = ("io", "build", "outputs", "cli", "reporting", "converters", "validators", "train",
            "export", "fixtures", "schemas", "api")
# What each package may import besides itself and "core" (errors, sample, reasons, numbers,
# charsets: the vocabulary every package shares). cli may import anything.
MAY_IMPORT = {
    "core": {"io"},  # sample's image references and the charset file are read through io
    "io": set(),
    "converters": {"io"},
    "validators": {"io"},
    "build": {"io", "converters", "validators", "outputs"},
    "outputs": {"io"},
    "reporting": {"io", "outputs"},  # outputs: the manifest's file names, the atomic report file
    "train": {"io", "outputs"},
    "export": {"io", "outputs", "train"},
    "fixtures": {"io"},
    "schemas": set(),
    "api": set(PACKAGES) - {"cli", "api"},  # the Python front door, as the CLI is the command line's
    "cli": set(PACKAGES) | {"core"},
}
# Imports that break the rules today, by (importing module, imported module). Each is a
# seam still to build (issue 14); delete the line when the import goes.
KNOWN = {
    # the atomic output folder installs the signal handlers that live in build
    ("dataconv.outputs.atomic", "dataconv.build.interrupts"): "signal handling lives in build/interrupts",
    # the report rebuilds converters from the manifest (item 3)
    ("dataconv.reporting.report", "dataconv.converters.base"): "report rebuilds converters",
    ("dataconv.reporting.reject_images", "dataconv.converters.base"): "report rebuilds converters",
    # ``dataconv.convert`` etc.: the package's lazy attributes load the API on first use
    ("dataconv", "dataconv.api"): "the package's public attributes are the API's",
}


def package_of(module: str) -> str | None:
    """The package of a ``dataconv`` module: one of PACKAGES, "cli" for the ``python -m
    dataconv`` entry point, "core" for the top-level vocabulary modules; None outside."""
    parts = module.split(".")
    if parts[0] != "dataconv":
        return None
    if len(parts) == 1:
        return "core"
    if parts[1] == "__main__":
        return "cli"
    return parts[1] if parts[1] in PACKAGES else "core"


def modules() -> Iterator[tuple[str, str]]:
    """(module name, file path) of every Python file of the package."""
    for folder, name in FOLDERS.items():
        for here, _, files in os.walk(os.path.join(REPO, folder)):
            for file in sorted(files):
                if file.endswith(".py"):
                    path = os.path.join(here, file)
                    rel = os.path.relpath(path, os.path.join(REPO, folder))[:-3].replace(os.sep, ".")
                    module = name if rel == "__init__" else f"{name}.{rel.removesuffix('.__init__')}"
                    yield module, path


MODULES = {module for module, _ in modules()}


def imported(module: str, path: str) -> Iterator[tuple[str, int]]:
    """Every dataconv module ``module`` imports, anywhere in the file, with its line."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    is_package = path.endswith("__init__.py")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # ``from dataconv.build import splits`` names a module
                sub = f"{base}.{alias.name}"
                yield (sub if sub in MODULES else base), node.lineno


def violations() -> dict[tuple[str, str], str]:
    """(importer, imported) -> "file:line" for every import the rules forbid."""
    found = {}
    for module, path in modules():
        source = package_of(module)
        for target, line in imported(module, path):
            dest = package_of(target)
            if dest is None or dest in (source, "core") or dest in MAY_IMPORT[source]:
                continue
            found.setdefault((module, target), f"{os.path.relpath(path, REPO)}:{line}")
    return found


def test_every_package_imports_only_what_the_flow_allows():
    unexpected = {pair: where for pair, where in violations().items() if pair not in KNOWN}
    assert unexpected == {}, "see docs/ARCHITECTURE.md for what each package may import"


def test_every_known_exception_still_exists():
    """An exception that no longer occurs is removed from KNOWN, so the list stays the truth."""
    assert sorted(set(KNOWN) - set(violations())) == []


def test_the_scan_sees_the_package():
    found = dict(modules())
    assert {"dataconv.cli.main", "dataconv.converters.aihub", "dataconv.validators.base",
            "dataconv.build.pipeline", "dataconv.io.safeopen"} <= set(found)
    targets = {t for t, _ in imported("dataconv.build.pipeline", found["dataconv.build.pipeline"])}
    assert {"dataconv.outputs.atomic", "dataconv.build.executors"} <= targets
    assert package_of("dataconv.__main__") == "cli" and package_of("dataconv.reasons") == "core"
