"""Options every conversion command takes (CONVENTIONS.md: command line)."""
from __future__ import annotations

import re
from typing import Any, Callable

import click

from dataconv.build.executors import default_workers
from dataconv.numbers import parse_float, parse_int

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "kib": 1024, "m": 1024**2, "mb": 1024**2,
          "mib": 1024**2, "g": 1024**3, "gb": 1024**3, "gib": 1024**3, "t": 1024**4, "tb": 1024**4}


def parse_size(ctx: Any, param: Any, value: str | int) -> int:
    """``2GB``, ``512MiB``, ``1000000`` to bytes (binary units)."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS:
        raise click.BadParameter(f"{value!r} is not a size like 2GB or 512MB")
    size = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if size <= 0:
        raise click.BadParameter("must be positive")
    return size


COMMON_OPTIONS: list[Callable] = [
    click.option("-i", "--input", "src", required=True, type=click.Path(exists=True),
                 help="Source file or folder."),
    click.option("-o", "--output", "out", required=True, type=click.Path(),
                 help="Dataset folder to create (must not exist unless --overwrite)."),
    click.option("--overwrite", is_flag=True, help="Replace OUT if it is a previous dataconv output."),
    click.option("--split", "split", default="0.9,0.05,0.05", show_default=True,
                 help="train,val,test ratios, or 'none' to write everything to train."),
    click.option("--seed", type=int, default=0, show_default=True,
                 help="Seed of the deterministic split."),
    click.option("--group-by", default=None,
                 help="Keep each group in one split: meta:NAME (a format attribute, e.g. "
                      "meta:image for detection crops), or id|source|label|group [default: "
                      "the format's group, else the id]."),
    click.option("--group-regex", default=None,
                 help="Group by this regex's first group (or match) of the --group-by value, "
                      r"e.g. '^(\w+)_line' for a page id in line-crop ids."),
    click.option("--shard-size", type=click.IntRange(min=1), default=50_000, show_default=True,
                 help="At most this many samples per LMDB shard."),
    click.option("--shard-bytes", default="2GB", show_default=True, callback=parse_size,
                 help="Start a new shard when one reaches this many bytes of payload."),
    click.option("--layout", type=click.Choice(["standard", "parseq"]), default="standard",
                 show_default=True, help="'parseq' puts training shards under train/real."),
    click.option("--workers", type=click.IntRange(min=1), default=None,
                 help="Processes checking images while this one writes [default: every "
                      "core]; 1 checks in this process (docs/scale.md)."),
    click.option("--dask", "dask", default=None, metavar="ADDRESS",
                 help="Check images on a Dask cluster (tcp://host:8786, or 'local' for a "
                      "LocalCluster of --workers processes); needs dataconv[dask]."),
    click.option("--follow-symlinks", is_flag=True,
                 help="Open images through symlinks that point outside the source folder."),
    click.option("-q", "--quiet", is_flag=True, help="No progress bars."),
    click.option("--report", is_flag=True, help="Also write OUT/report.html (docs/report.md)."),
]

# Options that change how the work runs, not what it produces: kept out of the manifest.
RUN_ONLY = {"src", "out", "overwrite", "workers", "dask", "quiet", "report"}


def apply(options: list[Callable], fn: Callable) -> Callable:
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def param_names(options: list[Callable]) -> list[str]:
    """The Python names click gives the parameters that ``options`` declare."""
    probe = apply(options, lambda **kw: None)
    return [p.name for p in getattr(probe, "__click_params__", [])]


def resolve_workers(value: int | None) -> int:
    return value if value else default_workers()


class Number(click.ParamType):
    """A number option parsed strictly (``dataconv.numbers``) within ``[low, high]``: click's
    own INT and FLOAT take ``1_0`` as 10 and FLOAT takes ``nan``, which passes every range
    test. A bad value is a usage error (exit 2)."""

    def __init__(self, kind: type = float, low: float | None = None, high: float | None = None) -> None:
        self.kind, self.low, self.high = kind, low, high
        self.name = kind.__name__

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = value
        else:
            try:
                number = (parse_int if self.kind is int else parse_float)(str(value))
            except ValueError as e:
                self.fail(str(e), param, ctx)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            self.fail(f"{value} is not in the range {self.low}..{self.high}", param, ctx)
        return self.kind(number)
