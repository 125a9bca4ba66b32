"""The converter protocol and registry.

A source format is a schema in ``schemas/`` plus one module here that subclasses
``Converter`` and decorates it with ``@register``. The CLI subcommand, ``dataconv
formats``, the fixtures and the tests find it by name; nothing else changes.
"""
from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from dataconv.errors import UsageError
from dataconv.io.remote import is_url
from dataconv.io.safeopen import InputFile
from dataconv.io.source import Root, SourceRoot
from dataconv.io.textfile import LineSpan, line_spans
from dataconv.optionspec import Choice, option
from dataconv.page import TextPage, crops
from dataconv.sample import LayoutPage, Parsed, Reject


@dataclass(frozen=True)
class NoOptions:
    """The options of a format that has no switches of its own."""


class Converter:
    """Parses one source into a stream of Sample or Reject. Never writes, never exits.

    ``src`` is the ``-i`` path, held as a ``SourceRoot``: a folder or an archive read in
    place (``dataconv.io.source``). Go through it, never around it: ``self.inside(rel)``,
    ``imagefind.walk_files``/``ImageIndex``, ``FileImage``/``image_ref`` with ``self.src``,
    ``self.src.is_dir()``/``self.src.exists(rel)`` (not ``os.path.isdir``/``lexists``), and
    every format reads archives too. ``options`` is an instance of the format's
    ``Options``, a frozen dataclass declaring its switches (``dataconv.optionspec``).
    Raise DataconvError for a whole-input fault (unreadable annotation file, schema
    violation); yield Reject for a fault of one sample. Files found inside ``src`` are
    opened through ``self.inside(rel)`` (confined: ``dataconv.io.safeopen``).
    """

    name: str = ""
    help: str = ""
    example: str = ""
    Options: type = NoOptions  # this format's options class
    schema: str | None = None  # schemas/<schema>.schema.json, if the format has one
    output: str = "lmdb"  # the output it feeds (dataconv.build.pipeline.OUTPUTS): "lmdb" takes
    # samples(), "coco" takes layout_pages()
    none_found: str = "no samples found"  # the error when the source yields nothing

    def __init__(self, src: Root, options: Any, follow_symlinks: bool = False,
                 name_encoding: str | None = None, more: tuple[str, ...] = ()) -> None:
        self.src = SourceRoot.of(src, name_encoding, more)
        self.options = options
        self.follow_symlinks = follow_symlinks

    def inside(self, rel: str) -> InputFile:
        """The annotation file ``rel`` under ``src``: opened without leaving it (unless
        ``--follow-symlinks``), never a FIFO or device."""
        return InputFile.inside(self.src, rel, self.follow_symlinks)

    def named_file(self, path: str, name: str) -> InputFile:
        """The file an option names (``--labels FILE``): the path on disk as given; when
        there is none and ``-i`` is an archive, its member of that name (a label file packed
        with its images). A usage error when it is neither."""
        if is_url(path):  # an object: read from its prefix, as a file found there
            prefix, name = path.rstrip("/").rsplit("/", 1)
            return InputFile.inside(SourceRoot.of(prefix), name)
        if os.path.lexists(path):
            return InputFile.user(path)
        if not self.src.is_folder and self.src.exists(path):
            return self.inside(path)
        where = f" (on disk or in {self.src})" if not self.src.is_folder else ""
        raise UsageError(f"option {name}: {path}: no such file or folder{where}")  # as optionspec.Path says

    def samples(self) -> Iterator[Parsed]:
        raise NotImplementedError

    def parts(self, part_bytes: int) -> list[Callable[[], Iterator[Parsed]]] | None:
        """The source cut into parts of about ``part_bytes`` that workers can parse apart:
        picklable calls whose items, part after part, are the items of ``samples()``. None
        (the default) where the source is parsed as one whole."""
        return None

    def layout_pages(self) -> Iterator[LayoutPage]:
        """For ``output = "coco"``: the images and their boxes."""
        raise NotImplementedError

    def tasks(self) -> tuple[str, ...]:
        """What this run derives from the source: ``rec`` (word crops), ``det`` (page labels)."""
        return ("rec",)

    def output_options(self) -> dict[str, Any]:
        """Keyword arguments for the output's writer (e.g. the COCO class mapping)."""
        return {}

    def close(self) -> None:
        """Release what parsing kept open for the image reads; runs when the run ends."""

    def accounting(self, rejects: list[Any], shards: list[dict[str, Any]]) -> dict[str, Any]:
        """Manifest fields this converter adds once the run's rejects and shards (the
        manifest's entries) are known (a recipe's per-source counts and mixing); none by
        default."""
        return {}


class LineFileConverter(Converter):
    """A format whose samples come line by line from one text file (``line_file``):
    ``lines(span)`` parses the lines of a ``textfile.LineSpan`` of it (all of them when
    None), so the file is cut into parts of whole lines (``textfile.line_spans``). Its
    ``Options`` have an ``encoding``."""

    def line_file(self) -> InputFile:
        raise NotImplementedError

    def lines(self, span: LineSpan | None) -> Iterator[Parsed]:
        raise NotImplementedError

    def samples(self) -> Iterator[Parsed]:
        return self.lines(None)

    def parts(self, part_bytes: int) -> list[Callable[[], Iterator[Parsed]]] | None:
        spans = line_spans(self.line_file(), self.options.encoding, part_bytes)
        return None if spans is None else [functools.partial(self.lines, span) for span in spans]


TASKS = ("rec", "det")
BAD_BOX = ("ignore", "drop-page")


def parse_tasks(value: str) -> str:
    """``--task``: ``rec``, ``det`` or both, comma-separated, each once."""
    names = [t.strip() for t in value.split(",")]
    if not names or any(t not in TASKS for t in names) or len(set(names)) != len(names):
        raise UsageError(f"--task {value!r}: expected rec, det or rec,det")
    return ",".join(t for t in TASKS if t in names)


@dataclass(frozen=True)
class TaskSpec:
    """The switches of every page format: which tasks the run derives from the pages."""

    task: str = option("rec", "rec: word crops in LMDB shards; det: page images with detection labels "
                              "(PaddleOCR, MMOCR textdet, COCO); rec,det: both, split by page.",
                       show_default=True, check=parse_tasks)
    on_bad_box: str = option("ignore", "det: a box whose geometry is unusable is removed from its page "
                                       "(ignore), or the whole page is rejected (drop-page).",
                             type=Choice(BAD_BOX), show_default=True)


class PageConverter(Converter):
    """A page format: ``pages()`` parses the source into pages (an image and its text
    regions, ``dataconv.page``); the word crops of ``samples()`` and the detection labels
    are both derived from them. Its ``Options`` hold ``crop: CropSpec`` and ``page: TaskSpec``."""

    def pages(self) -> Iterator[TextPage | Reject]:
        raise NotImplementedError

    def samples(self) -> Iterator[Parsed]:
        return crops(self.pages(), self.options.crop)

    def tasks(self) -> tuple[str, ...]:
        return tuple(parse_tasks(self.options.page.task).split(","))


@dataclass(frozen=True)
class FormatInfo:
    name: str
    help: str
    example: str
    cls: type[Converter]


_REGISTRY: dict[str, FormatInfo] = {}


def register(name: str, *, help: str, example: str) -> Callable[[type[Converter]], type[Converter]]:
    """Class decorator: make a Converter available as ``dataconv <name>``."""

    def wrap(cls: type[Converter]) -> type[Converter]:
        if name in _REGISTRY and _REGISTRY[name].cls is not cls:
            raise RuntimeError(f"format {name!r} registered twice")
        cls.name, cls.help, cls.example = name, help, example
        _REGISTRY[name] = FormatInfo(name, help, example, cls)
        return cls

    return wrap


def load(name: str) -> FormatInfo | None:
    """One format, importing only its module (``dataconv.converters.MODULES``); None for a
    name that is no format."""
    from dataconv.converters import MODULES

    if name not in MODULES:
        return None
    importlib.import_module(f"dataconv.converters.{MODULES[name]}")
    return _REGISTRY[name]


def formats() -> dict[str, FormatInfo]:
    """All registered formats, importing every module of this package once."""
    import dataconv.converters as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_") and mod.name != "base":
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(sorted(_REGISTRY.items()))


def get(name: str) -> FormatInfo:
    return formats()[name]


# Option fields shared by formats, so that the same switch reads the same everywhere.
def encoding_option() -> Any:
    """``--encoding``, checked by ``textfile.codec_name`` when the command line is read, so
    an unknown codec is the same one-line error for every format, before any file is read."""
    return option("utf-8", "Text encoding of the annotation file (e.g. cp949, euc-kr).",
                  show_default=True, check=_known_encoding)


def _known_encoding(value: str) -> str:
    from dataconv.io.textfile import codec_name

    codec_name(value)  # DataconvError: printed as one line, exit 1
    return value
