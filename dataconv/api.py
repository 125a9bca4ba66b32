"""dataconv from Python: what the commands do, for notebooks and pipelines.

``dataconv.convert(format, src, out, **options)`` runs a conversion with the options of
``dataconv <format>`` (same names, same defaults: both are built from the typed options
classes) and returns the manifest; ``dataconv.open(path)`` reads any LMDB tree back;
``dataconv.validate(path, trainer, **options)`` returns what ``validate --json`` prints;
``dataconv.report(path, out)`` writes the HTML report. Bad input raises
``dataconv.errors.DataconvError`` (a bad option: ``dataconv.errors.UsageError``), the same
one line the command prints. An argument of the wrong type raises ``TypeError`` naming it
(``_check``: a bool is not an int), a position past the end ``IndexError``.

Everything heavy is imported inside the functions, so ``import dataconv`` stays cheap.
"""
from __future__ import annotations

import operator
import os
from dataclasses import dataclass, field
from typing import Any, Iterator

from dataconv.errors import DataconvError, UsageError
from dataconv.io import dataset_reader, lmdb_keys, lmdb_tree
from dataconv.io.remote import is_url

PATH = (str, os.PathLike)
KEYS = "an int position (negative from the end), 'SHARD:INDEX' or a sample id or source (str)"


def _check(function: str, name: str, value: Any, kinds: tuple[type, ...], what: str) -> None:
    """TypeError naming the argument unless ``value`` is one of ``kinds`` (a bool is an int
    to Python, never to dataconv)."""
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise TypeError(f"dataconv.{function}(): {name} must be {what}, not {type(value).__name__} {value!r:.40}")


@dataclass(frozen=True)
class DatasetRecord:
    """One stored sample: ``key`` is ``SHARD:INDEX`` (the shard folder relative to the tree
    and the 1-based ``image-%09d`` number, as ``dataconv show`` and ``eval`` name it);
    ``label`` is None when the LMDB has no ``label-`` key, ``image`` None without an
    ``image-`` key; ``metadata`` holds ``source_id``/``source``/``group`` from
    samples.parquet (empty for a tree dataconv did not write)."""

    key: str
    split: str | None
    shard: str
    index: int
    label: str | None
    image: bytes | None
    metadata: dict[str, str | None] = field(default_factory=dict)
    label_bytes: bytes | None = None  # the label exactly as stored


class Dataset:
    """An LMDB tree opened for reading (``dataconv.open``): a dataconv output, PARSeq's
    ``train/real`` layout or any folder of LMDBs. ``len()`` counts the samples; iterating
    yields ``DatasetRecord`` shard by shard, one image in memory at a time;
    ``split("val")`` or ``splits()`` restrict it; ``dataset[0]`` (a position in that
    order, ``-1`` the last), ``dataset["test/shard-00000:3"]`` or a sample id from
    samples.parquet reads one sample."""

    def __init__(self, root: str, shards: list[dataset_reader.Shard] | None = None) -> None:
        self.root = root
        self.shards = shards if shards is not None else dataset_reader.open_dataset(root).shards
        self._metadata: dict[str, dict[str, str | None]] | None = None

    def __repr__(self) -> str:
        return f"<dataconv.Dataset {self.root!r}: {len(self.shards)} shard(s)>"

    def close(self) -> None:
        """Close this process's LMDB handles (``dataset_reader.close_handles``): LMDB refuses
        a second open of the same file in one process, so close before another program
        part (or lmdb.open) opens these shards."""
        dataset_reader.close_handles()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __len__(self) -> int:
        return sum(shard.count() for shard in self.shards)

    def __iter__(self) -> Iterator[DatasetRecord]:
        for shard in self.shards:
            for index in range(1, shard.count() + 1):
                yield self._record(shard, index)

    def split(self, name: str) -> Dataset:
        """The shards of one split (``train``, ``val``, ``test``; ``valid``/``validation``
        folders count as ``val``); DataconvError when the tree has none."""
        _check("Dataset.split", "name", name, (str,), "a split name (str)")
        chosen = [s for s in self.shards if s.split == name]
        if not chosen:
            raise DataconvError(f"{self.root}: no {name} split (found: {', '.join(self.split_names()) or 'none'})")
        view = Dataset(self.root, chosen)
        view._metadata = self._metadata
        return view

    def split_names(self) -> list[str]:
        """The splits present, in output order, then ``none`` for shards under no split folder."""
        names = [s for s in dataset_reader.SPLITS if any(sh.split == s for sh in self.shards)]
        return names + (["none"] if any(sh.split is None for sh in self.shards) else [])

    def splits(self) -> dict[str, Dataset]:
        return {name: self.split(name) for name in self.split_names() if name != "none"}

    def __getitem__(self, key: str | int) -> DatasetRecord:
        if isinstance(key, str):
            shard_rel, index = self.resolve(key)
            return self._record(next(s for s in self.shards if s.rel == shard_rel), index)
        try:
            position = operator.index(key) if not isinstance(key, bool) else None
        except TypeError:
            position = None
        if position is None:
            raise TypeError(f"dataconv.Dataset[key]: key must be {KEYS}, not {type(key).__name__} {key!r:.40}")
        return self._record(*self._at(position))

    def _at(self, position: int) -> tuple[dataset_reader.Shard, int]:
        """The shard and 1-based index of the sample at ``position`` in iteration order."""
        counts = [shard.count() for shard in self.shards]
        if not -sum(counts) <= position < sum(counts):
            raise IndexError(f"dataconv.Dataset[{position}]: out of range, {self.root} holds {sum(counts)} samples")
        position %= sum(counts)
        for shard, count in zip(self.shards, counts):
            if position < count:
                return shard, position + 1
            position -= count
        raise AssertionError("unreachable: the position is within the counts")

    def resolve(self, key: str) -> tuple[str, int]:
        """(shard, index) of ``SHARD:INDEX`` or of a sample id / source of samples.parquet;
        DataconvError naming the key when it names no sample (or several)."""
        _check("Dataset.resolve", "key", key, (str,), "'SHARD:INDEX' or a sample id or source (str)")
        shard_rel, sep, number = key.rpartition(":")
        shard = next((s for s in self.shards if sep and s.rel == shard_rel), None)
        if shard is not None:
            index = _index(number)
            if index is not None and 1 <= index <= shard.count():
                return shard.rel, index
            raise DataconvError(f"{key}: {shard.rel} holds samples 1..{shard.count()}")
        found = [k for k, meta in self.metadata().items()
                 if key in (meta.get("source_id"), meta.get("source"))]
        if len(found) > 1:
            raise DataconvError(f"{key}: names {len(found)} samples ({', '.join(sorted(found)[:3])}, ...); use SHARD:INDEX")
        if not found:
            shards = ", ".join(s.rel for s in self.shards[:3]) + (", ..." if len(self.shards) > 3 else "")
            raise DataconvError(f"{key}: no such sample (keys are SHARD:INDEX with SHARD one of {shards}, "
                                "or a sample id or source from samples.parquet)")
        shard_rel, _, number = found[0].rpartition(":")
        return shard_rel, int(number)

    def metadata(self) -> dict[str, dict[str, str | None]]:
        """SHARD:INDEX -> source_id, source, group from samples.parquet (read once)."""
        if self._metadata is None:
            from dataconv.outputs import samples_table  # the table's reader

            self._metadata = samples_table.sample_metadata(self.root)
        return self._metadata

    def labels(self) -> Iterator[str | None]:
        """Every label, without reading the images."""
        for shard in self.shards:
            total = shard.count()
            with lmdb_tree.read_errors(shard.path), dataset_reader.handle(shard.path).begin() as txn:
                for index in range(1, total + 1):
                    raw = txn.get(lmdb_keys.label_key(index))
                    yield None if raw is None else raw.decode("utf-8", errors="replace")

    def summary(self) -> dict[str, Any]:
        """What ``dataconv ls`` shows: per split (``none``: LMDBs under no split folder) its
        shards and counts, the total, and the number of distinct label characters (from
        manifest.json's charset when dataconv wrote the tree, else read from the labels)."""
        splits: dict[str, Any] = {}
        for name in self.split_names():
            shards = [s for s in self.shards if (s.split or "none") == name]
            rows = [{"path": s.rel, "count": s.count()} for s in shards]
            splits[name] = {"count": sum(r["count"] for r in rows), "shards": rows}
        recorded = _manifest_charset(self.root)
        charset = recorded if recorded is not None else {ch for label in self.labels() if label for ch in label}
        return {"root": self.root, "dataconv_output": recorded is not None,
                "count": sum(s["count"] for s in splits.values()), "splits": splits,
                "charset_size": len(charset)}

    def _record(self, shard: dataset_reader.Shard, index: int) -> DatasetRecord:
        image, raw = dataset_reader.read_sample(shard.path, index)
        key = f"{shard.rel}:{index}"
        label = None if raw is None else raw.decode("utf-8", errors="replace")
        return DatasetRecord(key, shard.split, shard.rel, index, label, image, self.metadata().get(key, {}), raw)


def _index(text: str) -> int | None:
    from dataconv.numbers import parse_int

    try:
        return parse_int(text)
    except ValueError:
        return None


def _manifest_charset(root: str) -> set[str] | None:
    """The characters manifest.json records, when ``root`` is a dataconv output."""
    from dataconv.outputs import atomic, manifest  # the manifest's reader only

    if not atomic.is_dataconv_output(root):
        return None
    charset = manifest.read(root).get("charset")
    return set(charset) if isinstance(charset, str) else None


def open_dataset(path: str, cache: str | None = None) -> Dataset:
    """``dataconv.open``: any LMDB tree at ``path``, for reading (DataconvError when it
    holds no LMDB). A URL (``s3://bucket/out``) is a dataconv output in object storage,
    read from its verified local copy under ``cache`` (``io.remote_dataset``)."""
    _check("open", "path", path, PATH, "a path (str or os.PathLike)")
    path = os.fspath(path)
    if is_url(path):
        from dataconv.io.remote_dataset import local_folder

        path = local_folder(path, cache)
    if not os.path.isdir(path):
        raise DataconvError(f"{path}: not a folder (dataconv.open reads an LMDB tree)")
    return Dataset(path)


def _plain(value: Any) -> Any:
    """A path object as the text the CLI would receive; lists of them likewise."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, list):
        return tuple(_plain(v) for v in value)
    return value


def _check_option(switch: Any, value: Any, one: bool = False) -> None:
    """TypeError naming the option unless ``value`` is of the type its switch takes (a path
    as text or os.PathLike, already made text by ``_plain``); its range and choices are
    checked as the command line checks them (UsageError)."""
    from dataconv.optionspec import Range, Size

    if value is None and switch.default is None:
        return
    if switch.spec.multiple and not one:  # ``one``: an item of a repeatable option's list
        _check("convert", switch.name, value, (list, tuple), "a list")
        for item in value:
            _check_option(switch, item, one=True)
        return
    kind = switch.spec.type
    number = kind.kind if isinstance(kind, Range) else kind if kind in (int, float) else None
    if switch.is_flag:
        _check("convert", switch.name, value, (bool,), "True or False")
    elif number is not None:
        _check("convert", switch.name, value, (int,) if number is int else (int, float), f"a number ({number.__name__})")
    else:
        kinds, what = ((int, str), "a byte count (int, or str like '2GB')") if isinstance(kind, Size) else ((str,), "text")
        _check("convert", switch.name, value, kinds, what)


def convert(format: str, src: str | os.PathLike, out: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """``dataconv <format> -i SRC -o OUT [options]`` from Python; the manifest as a dict.

    ``options`` are the command's switches by their Python names (``--shard-size`` is
    ``shard_size``, ``--gt`` is ``gt``), with the command's defaults; ``workers=1`` checks
    in this process. Bad input raises DataconvError; an option of the wrong type
    TypeError, an unknown option or a value the command line refuses UsageError."""
    from dataconv.build import conversion
    from dataconv.converters import MODULES, base as converters
    from dataconv.optionspec import from_values, switches
    from dataconv.outputs.atomic import option_inputs
    from dataconv.validators.base import CheckOptions, option_classes

    _check("convert", "format", format, (str,), "a format name (str)")
    _check("convert", "src", src, PATH, "a path (str or os.PathLike)")
    _check("convert", "out", out, PATH, "a path (str or os.PathLike)")
    if format not in MODULES:
        raise UsageError(f"unknown format {format!r}; one of {', '.join(sorted(MODULES))}")
    info = converters.load(format)
    assert info is not None
    checks = option_classes()
    given = {name: _plain(v) for name, v in {**options, "src": src, "out": out}.items()}
    classes = [conversion.RunOptions, info.cls.Options, conversion.DedupeOptions, *checks]
    known = {s.name: s for cls in classes for s in switches(cls)}
    unknown = set(given) - set(known)
    if unknown:
        raise UsageError(f"dataconv {format} has no option {', '.join(sorted(unknown))}")
    for name, value in given.items():
        _check_option(known[name], value)
    try:
        run, fmt, dedupe, *check_objects = (from_values(cls, given) for cls in classes)
    except DataconvError as e:  # a value the command line would refuse: a usage error there too
        raise UsageError(str(e)) from None
    inputs = [pair for obj in (run, fmt, dedupe, *check_objects) for pair in option_inputs(obj, "option ")]
    card, _ = conversion.convert(info, run, fmt, dedupe, CheckOptions(tuple(check_objects)), inputs)
    return card


def validate(path: str | os.PathLike, trainer: str, *, charset: str | None = None, charset_encoding: str = "utf-8",
             max_label_length: int | None = None, quiet: bool = True, **switches: Any) -> dict[str, Any]:
    """``dataconv validate PATH --for TRAINER --json`` from Python: the same dict. The
    trainer's switches go by their Python names (``--sensitive`` is ``sensitive=True``)."""
    from dataconv import charsets
    from dataconv.validators.trainer_report import validate as simulate
    from dataconv.validators.trainers import Settings, trainers

    _check("validate", "path", path, PATH, "a path (str or os.PathLike)")
    _check("validate", "trainer", trainer, (str,), "a trainer name (str)")
    _check("validate", "charset", charset, (str, type(None)), "a charset file or its characters (str), or None")
    _check("validate", "charset_encoding", charset_encoding, (str,), "an encoding name (str)")
    _check("validate", "max_label_length", max_label_length, (int, type(None)), "an int or None")
    _check("validate", "quiet", quiet, (bool,), "True or False")
    registry = trainers()
    if trainer not in registry:
        raise UsageError(f"unknown trainer {trainer!r}; one of {', '.join(sorted(registry))}")
    own = {s.param: s for s in registry[trainer].switches}
    unknown = set(switches) - set(own)
    if unknown:
        raise UsageError(f"validate for {trainer} has no switch {', '.join(sorted(unknown))}")
    fields = {}
    for param, value in switches.items():
        switch = own[param]
        kinds, what = ((bool,), "True or False") if switch.is_flag else ((str,), "text") if switch.choices \
            else ((int,), "an int")
        _check("validate", param, value, kinds, what)
        if switch.choices and value not in switch.choices:
            raise UsageError(f"{param}: {value!r} is not one of {', '.join(switch.choices)}")
        if switch.minimum is not None and value < switch.minimum:
            raise UsageError(f"{param}: {value!r} is not an integer >= {switch.minimum}")
        if value != switch.unset():
            fields[switch.field] = switch.setting(value)
    if max_label_length is not None and max_label_length < 1:
        raise UsageError(f"max_label_length: {max_label_length!r} is not an integer >= 1")
    cs = charsets.load_user_charset(charset, charset_encoding) if charset is not None else None
    simulation = registry[trainer](Settings(charset=cs, max_length=max_label_length, switches=fields))
    try:
        return simulate(simulation, os.fspath(path), progress=not quiet).to_json()
    finally:
        dataset_reader.close_handles()


REPORT_OPTIONS: dict[str, tuple[tuple[type, ...], str]] = {
    "charset": ((str, type(None)), "a charset file or its characters (str), or None"),
    "source": ((*PATH, type(None)), "the conversion's source folder (a path), or None"),
    "max_samples": ((int,), "an int"), "per_split": ((int,), "an int"), "seed": ((int,), "an int")}


def report(path: str | os.PathLike, out: str | os.PathLike, **options: Any) -> dict[str, Any]:
    """``dataconv report PATH -o OUT`` from Python (needs dataconv[report]); a few figures
    of the page (samples, rejected, bytes). ``options``: charset, source, max_samples,
    per_split, seed, as ``build_report`` takes them."""
    _check("report", "path", path, PATH, "a path (str or os.PathLike)")
    _check("report", "out", out, PATH, "a path (str or os.PathLike)")
    unknown = set(options) - set(REPORT_OPTIONS)
    if unknown:
        raise UsageError(f"report has no option {', '.join(sorted(unknown))} (options: {', '.join(REPORT_OPTIONS)})")
    for name, value in options.items():
        _check("report", name, value, *REPORT_OPTIONS[name])
    options = {name: _plain(value) for name, value in options.items()}
    from dataconv.outputs.atomic import check_file_target
    from dataconv.reporting.report import build_report  # imports matplotlib

    path, out = os.fspath(path), os.fspath(out)
    check_file_target(out, [("PATH", path)], home=path)
    dataset_reader.close_handles()  # the report opens each LMDB itself; LMDB refuses a second open
    try:
        return build_report(path, out, **options)
    finally:
        dataset_reader.close_handles()
