"""One conversion, as ``dataconv <format>`` and ``dataconv.convert`` both run it: the run's
own options (``RunOptions``, ``DedupeOptions``: typed, declared once, so the command's
switches and the Python API's keywords share names and defaults), and ``convert``, which
checks OUT, builds the pipeline's ``Config`` and runs it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataconv.build.executors import default_workers
from dataconv.io.remote import OPTIONS_HELP
from dataconv.optionspec import Choice, Path, Range, Size, option, values

if TYPE_CHECKING:
    from dataconv.converters import base as converters
    from dataconv.validators.base import CheckOptions


def _known_codec(value: str | None) -> str | None:
    """``value`` when it is a text codec Python knows (or None: not given); else a
    one-line error."""
    from dataconv.errors import DataconvError

    if value is None:
        return None
    try:
        "\n".encode(value).decode(value)  # "hex", "rot13" are codecs but not text encodings
    except (LookupError, UnicodeError):
        raise DataconvError(f"--name-encoding {value!r}: unknown text encoding") from None
    return value


def _storage_options(value: str | None) -> str | None:
    """``--storage-options JSON``: checked and kept for this process and its workers
    (``dataconv.io.remote.set_options``); never recorded (``RUN_ONLY``)."""
    from dataconv.io.remote import set_options

    set_options(value)
    return value


@dataclass(frozen=True)
class RunOptions:
    """The switches every conversion takes, before the format's own (CONVENTIONS.md)."""

    src: str = option(help="Source file or folder, or a .zip/.tar/.tar.gz/.tgz read in place; or an "
                           "s3:// (any fsspec) URL of a prefix or an archive object.",
                      flags=("-i", "--input"), type=Path(exists=True))
    out: str = option(help="Dataset folder to create (must not exist unless --overwrite), or an s3:// "
                           "prefix (uploaded when complete, manifest.json last).",
                      flags=("-o", "--output"), type=Path())
    also_input: tuple[str, ...] = option(
        (), "Another folder or archive that, with -i, forms the source (repeatable): an AI Hub label "
            "zip's image zips. A file found in two of them is rejected as ambiguous_image.",
        multiple=True, type=Path(exists=True))
    overwrite: bool = option(False, "Replace OUT if it is a previous dataconv output.")
    split: str = option("0.9,0.05,0.05", "train,val,test ratios, or 'none' to write everything to train.",
                        show_default=True)
    seed: int = option(0, "Seed of the deterministic split.", type=int, show_default=True)
    group_by: str | None = option(
        None, "Keep each group in one split: meta:NAME (a format attribute, e.g. meta:image for "
              "detection crops), or id|source|label|group [default: the format's group, else the id].")
    group_regex: str | None = option(
        None, "Group by this regex's first group (or match) of the --group-by value, "
              r"e.g. '^(\w+)_line' for a page id in line-crop ids.")
    shard_size: int = option(50_000, "At most this many samples per LMDB shard.", type=Range(int, 1),
                             show_default=True)
    shard_bytes: int = option(2 * 1024**3, "Start a new shard when one reaches this many bytes of payload.",
                              type=Size(), show_default=True)
    layout: str = option("standard", "'parseq' puts training shards under train/real.",
                         type=Choice(("standard", "parseq")), show_default=True)
    workers: int | None = option(None, "Processes checking images while this one writes [default: every "
                                       "core]; 1 checks in this process (docs/scale.md).", type=Range(int, 1))
    dask: str | None = option(None, "Check images on a Dask cluster (tcp://host:8786, or 'local' for a "
                                    "LocalCluster of --workers processes); needs dataconv[dask].",
                              metavar="ADDRESS")
    follow_symlinks: bool = option(False, "Open images through symlinks that point outside the source folder.")
    name_encoding: str | None = option(
        None, "Encoding of archive member names not flagged UTF-8 [default: UTF-8 when valid, "
              "else cp949].", check=_known_codec)
    quiet: bool = option(False, "No progress bars.", flags=("-q", "--quiet"))
    report: bool = option(False, "Also write OUT/report.html (docs/report.md).")
    storage_options: str | None = option(None, OPTIONS_HELP, metavar="JSON", check=_storage_options)


@dataclass(frozen=True)
class DedupeOptions:
    """A decision over the whole input, taken by the pipeline before any check (listed
    after the format's own switches)."""

    dedupe: bool = option(False, "Write byte-identical images once: the first in input order wins, "
                                 "later copies are rejected as duplicate_image.")


# Options that change how the work runs, not what it produces: kept out of the manifest.
RUN_ONLY = {"src", "also_input", "out", "overwrite", "workers", "dask", "quiet", "report", "storage_options"}


def convert(info: converters.FormatInfo, run: RunOptions, fmt: Any, dedupe: DedupeOptions,
            checks: CheckOptions, inputs: list[tuple[str, str]]) -> tuple[dict[str, Any], converters.Converter]:
    """Check OUT against ``inputs`` (the paths the run reads), run the pipeline; the
    manifest and the converter (the report reads it afterwards). The pipeline is imported
    here, so that the options above cost nothing to import."""
    from dataconv.build import pipeline
    from dataconv.build import splits as splitter
    from dataconv.outputs import manifest
    from dataconv.outputs.atomic import check_target

    check_target(run.out, run.overwrite, inputs)
    recorded = {k: v for obj in (run, fmt, dedupe, *checks.given) for k, v in values(obj).items()
                if k not in RUN_ONLY}
    config = pipeline.Config(
        src=run.src, out=run.out, overwrite=run.overwrite,
        split=splitter.parse_ratios(run.split), seed=run.seed,
        group_by=run.group_by, group_regex=run.group_regex,
        shard_size=run.shard_size, shard_bytes=run.shard_bytes, layout=run.layout,
        workers=run.workers or default_workers(), dask=run.dask,
        follow_symlinks=run.follow_symlinks, dedupe=dedupe.dedupe,
        checks=checks, progress=not run.quiet,
        manifest_options=manifest.portable_options(recorded, run.src),
    )
    converter = info.cls(run.src, fmt, follow_symlinks=run.follow_symlinks, name_encoding=run.name_encoding,
                         more=run.also_input)
    return pipeline.run(converter, config), converter
