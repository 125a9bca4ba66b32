"""Object storage on the command line: URLs where paths are taken, and the two switches
every command has for it (``--storage-options JSON``, ``--cache DIR``).

``UrlPath`` is click's Path that lets a URL (``s3://bucket/prefix``) through unchecked:
the run opens it (``dataconv.io.remote``). ``DatasetPath`` is a dataset argument (``ls``,
``validate``, ``report``, ``dump``, ``eval``, ``train``): a URL becomes the verified local
copy of that dataset (``dataconv.io.remote_dataset``) before the command sees it, so every
command reads it through its local path.
"""
from __future__ import annotations

from typing import Any

import click

from dataconv.io.remote import OPTIONS_HELP, is_url, set_options


class UrlPath(click.Path):
    """A local path checked as click checks it, or a URL passed through."""

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if is_url(value):
            return value
        return super().convert(value, param, ctx)


class DatasetPath(UrlPath):
    """A dataset folder, or the URL of one in object storage (fetched, verified, cached)."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**{"exists": True, "file_okay": False, **kw})

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if is_url(value):
            from dataconv.io.remote_dataset import local_folder

            return local_folder(value)
        return super().convert(value, param, ctx)


def _set_cache(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    from dataconv.io.remote_dataset import set_cache

    set_cache(value)


def storage_params() -> list[click.Option]:
    """``--storage-options`` and ``--cache``, taken before every other parameter (eager),
    so a URL argument is opened with them."""
    return [
        click.Option(["--storage-options"], metavar="JSON", expose_value=False, is_eager=True,
                     callback=lambda ctx, param, value: set_options(value), help=OPTIONS_HELP),
        click.Option(["--cache"], metavar="DIR", expose_value=False, is_eager=True, callback=_set_cache,
                     help="Where datasets read from object storage are fetched and verified "
                          "[default: ~/.cache/dataconv/datasets]."),
    ]
