"""``dataconv build RECIPE.yaml``: several sources, each in its own format with its own
options, into one dataset, with the accounting kept per source.

The recipe is YAML checked against ``schemas/recipe.schema.json`` (errors name the
recipe and the path in it: ``recipe.yaml: sources[1].cap: 0 is less than the minimum
of 1``); option values are checked as the switches declare them. Every source's samples
get its name in front of their id and source (``tiw/00012``, ``tiw:…``), so ids never
collide across sources and every reject is attributed. ``ratio`` keeps a deterministic
fraction of a source (by the hash of the id and the seed), ``cap`` at most that many of
what is left, in input order; the others are ``sampled_out`` rejects, so
``input == written + rejected`` holds per source as for the whole run.

``per_source_folders`` writes each source under its own folder in every split
(``train/tiw/shard-00000``), which is how clovaai's ``--select_data``/``--batch_ratio``,
PaddleOCR's ``ratio_list`` and MMOCR's concatenated datasets mix sources by ratio; the
settings for each trainer are in the manifest's ``mixing`` and printed after the run.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator

from dataconv.build.splits import parse_ratios, unit_hash
from dataconv.converters.base import Converter, FormatInfo, load
from dataconv.errors import DataconvError
from dataconv.io.remote import is_url
from dataconv.io.schema import did_you_mean, load_yaml, validate
from dataconv.optionspec import Path, from_values, switches
from dataconv.outputs.atomic import option_inputs
from dataconv.sample import Parsed, Reject, Sample
from dataconv.validators.base import CheckOptions, option_classes

SOURCE_KEY = "recipe_source"  # Sample.meta key naming the sample's source


@dataclass(frozen=True)
class Source:
    name: str
    info: FormatInfo
    input: str
    options: Any
    ratio: float = 1.0
    cap: int | None = None
    weight: float | None = None


@dataclass(frozen=True)
class Recipe:
    path: str
    out: str
    sources: tuple[Source, ...]
    checks: CheckOptions
    overwrite: bool = False
    split: str = "0.9,0.05,0.05"
    seed: int = 0
    layout: str = "standard"
    per_source_folders: bool = False
    dedupe: bool = False
    inputs: tuple[tuple[str, str], ...] = ()  # (where, path): every path the run reads


def load_recipe(path: str) -> Recipe:
    """The recipe at ``path``, checked; a one-line DataconvError naming what is wrong."""
    name = os.path.basename(path)
    document = load_yaml(path)
    validate(document, "recipe", name)
    parse_ratios(document.get("split", "0.9,0.05,0.05"), f"{name}: split:")
    base = os.path.dirname(os.path.abspath(path))
    sources = tuple(_source(entry, k, base, name) for k, entry in enumerate(document["sources"]))
    given_weights = sum(s.weight or 0 for s in sources)
    if given_weights > 1 + 1e-9:
        raise DataconvError(f"{name}: sources: the weights add up to {given_weights:g}; a weight is a "
                            "share of each batch, so together they are at most 1")
    names = [s.name for s in sources]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataconvError(f"{name}: sources: the name {repeated[0]!r} is used twice")
    shared = by_field(option_classes(), document.get("options") or {})
    _refuse_unknown(shared, [s.name for cls in option_classes() for s in switches(cls)], f"{name}: options")
    checks = CheckOptions(tuple(_options(cls, relative_to(base, cls, shared), f"{name}: options")
                                for cls in option_classes()))
    return Recipe(path=path, out=_at(base, document["output"]), sources=sources, checks=checks,
                  inputs=recipe_inputs(path, sources, checks),
                  overwrite=document.get("overwrite", False), split=document.get("split", "0.9,0.05,0.05"),
                  seed=document.get("seed", 0), layout=document.get("layout", "standard"),
                  per_source_folders=document.get("per_source_folders", False),
                  dedupe=document.get("dedupe", False))


def recipe_inputs(path: str, sources: tuple[Source, ...], checks: CheckOptions) -> tuple[tuple[str, str], ...]:
    """Every path a recipe's run reads, as the command line would count them: the recipe
    itself, each source's input and the files its options name (``gt``, ``labels``, ...),
    and the files of the shared options (label rules, a charset file). ``check_target``
    keeps OUT clear of all of them, so ``overwrite: true`` never removes one."""
    name = os.path.basename(path)
    found = [(name, path)]
    for k, source in enumerate(sources):
        found.append((f"{name}: sources[{k}].input", source.input))
        found += option_inputs(source.options, f"{name}: sources[{k}].options.")
    for obj in checks.given:
        found += option_inputs(obj, f"{name}: options.")
    return tuple(found)


def _source(entry: dict[str, Any], k: int, base: str, name: str) -> Source:
    where = f"{name}: sources[{k}]"
    info = load(entry["format"])
    if info is None:
        raise DataconvError(f"{where}.format: no format {entry['format']!r} (dataconv formats lists them)")
    given = by_field([info.cls.Options], entry.get("options") or {})
    _refuse_unknown(given, [s.name for s in switches(info.cls.Options)], f"{where}.options")
    given = relative_to(base, info.cls.Options, given)
    source_input = _at(base, entry["input"])
    if not is_url(source_input) and not os.path.exists(source_input):
        raise DataconvError(f"{where}.input: {source_input}: no such file or folder")
    return Source(name=entry["name"], info=info, input=source_input,
                  options=_options(info.cls.Options, given, f"{where}.options"),
                  ratio=entry.get("ratio", 1.0), cap=entry.get("cap"), weight=entry.get("weight"))


def by_field(classes: list[type], given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with each switch's name as on the command line (``kind`` for ``--kind``,
    ``charset`` for ``--charset``, dashes as underscores) turned into its field name
    (``kinds``, ``charset_file``); other keys kept."""
    alias = {}
    for switch in (s for cls in classes for s in switches(cls)):
        for flag in switch.spec.flags or ():
            if flag.startswith("--"):
                alias[flag[2:].replace("-", "_")] = switch.name
    return {alias.get(key, key): value for key, value in given.items()}


def relative_to(base: str, cls: type, given: dict[str, Any]) -> dict[str, Any]:
    """``given`` with the values of ``cls``'s path switches taken relative to ``base``."""
    kinds = {s.name: s.spec.type for s in switches(cls) if isinstance(s.spec.type, Path)}
    return {k: _at(base, v, kinds[k]) if k in kinds and isinstance(v, str) else v for k, v in given.items()}


def _at(base: str, path: str, kind: Path = Path()) -> str:
    """A path the recipe names, relative to its folder; a URL (``s3://...``) as it is; for a
    switch that also takes text as itself (``charset_file``), the text when no such path is
    there."""
    if is_url(path):
        return path
    joined = os.path.join(base, path)
    return path if kind.text_ok and not os.path.lexists(joined) else joined


def _refuse_unknown(given: dict[str, Any], known: list[str], where: str) -> None:
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise DataconvError(f"{where}.{unknown[0]}: no such option{did_you_mean(unknown[0], sorted(known))}")


def _options(cls: type, given: dict[str, Any], where: str) -> Any:
    """``cls`` from recipe values, YAML lists as the tuples of repeatable switches."""
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
    try:
        return from_values(cls, values)
    except DataconvError as e:
        raise DataconvError(f"{where}: {e}") from None


class RecipeSources(Converter):
    """Every source's samples in recipe order, named by source and sampled; counts what
    each source gave, for ``accounting``."""

    name = "recipe"
    none_found = "no samples found in any source of the recipe"

    def __init__(self, recipe: Recipe, follow_symlinks: bool = False) -> None:
        super().__init__(os.path.dirname(os.path.abspath(recipe.path)), None, follow_symlinks)
        self.recipe = recipe
        self.inputs: Counter[str] = Counter()
        self.converters: list[Converter] = []

    def samples(self) -> Iterator[Parsed]:
        for source in self.recipe.sources:
            converter = source.info.cls(source.input, source.options, self.follow_symlinks)
            self.converters.append(converter)
            kept = 0
            for item in converter.samples():
                self.inputs[source.name] += 1
                item = tagged(source.name, item)
                if isinstance(item, Sample):
                    if source.ratio < 1 and unit_hash(self.recipe.seed, item.id) >= source.ratio:
                        item = Reject(item.source, "sampled_out", f"ratio {source.ratio:g}", item.id)
                    elif source.cap is not None and kept >= source.cap:
                        item = Reject(item.source, "sampled_out", f"cap {source.cap}", item.id)
                    else:
                        kept += 1
                yield item

    def close(self) -> None:
        for converter in self.converters:
            converter.close()

    def accounting(self, rejects: list[Any], shards: list[dict[str, Any]]) -> dict[str, Any]:
        """``sources``: input, written, rejected and rejects per reason of each source;
        ``mixing``: each trainer's settings for the sources' weights."""
        by_source: dict[str, Counter[str]] = {s.name: Counter() for s in self.recipe.sources}
        for reject in rejects:
            by_source[reject.source.split(":", 1)[0]][reject.reason] += 1
        sources = {}
        for s in self.recipe.sources:
            rejected = sum(by_source[s.name].values())
            sources[s.name] = {"format": s.info.name, "input": self.inputs[s.name],
                               "written": self.inputs[s.name] - rejected, "rejected": rejected,
                               "rejects": dict(sorted(by_source[s.name].items()))}
        return {"sources": sources, "mixing": mixing(self.recipe, sources, [e["path"] for e in shards])}


def tagged(name: str, item: Parsed) -> Parsed:
    """``item`` with its source's name in front of its id, source and group."""
    if isinstance(item, Reject):
        return Reject(f"{name}:{item.source}", item.reason, item.detail,
                      None if item.id is None else f"{name}/{item.id}")
    item.id, item.source = f"{name}/{item.id}", f"{name}:{item.source}"
    item.group = None if item.group is None else f"{name}/{item.group}"
    item.meta[SOURCE_KEY] = name
    return item


def subfolder(sample: Sample) -> str:
    """The folder of a sample's source under each split (``per_source_folders``)."""
    return sample.meta[SOURCE_KEY]


def shares(recipe: Recipe, written: dict[str, int]) -> dict[str, float]:
    """Each source's share of a batch: its ``weight``; the sources without one split what
    is left in proportion to their written samples (all of it when no weight is given).
    Sources that wrote nothing get none; the shares are rescaled to add up to 1."""
    fixed = {s.name: s.weight for s in recipe.sources if s.weight is not None and s.name in written}
    rest = {n: c for n, c in written.items() if n not in fixed}
    left = max(0.0, 1.0 - sum(fixed.values()))
    raw = {**fixed, **{n: left * c / sum(rest.values()) for n, c in rest.items()}}
    total = sum(raw.values()) or 1.0
    return {n: raw[n] / total for n in written}


def mixing(recipe: Recipe, sources: dict[str, dict[str, Any]], shards: list[str]) -> dict[str, Any]:
    """The share of each source in a batch (``shares``), and the same mix in clovaai's,
    PaddleOCR's and MMOCR's terms. ``shards``: the written shard folders, relative to OUT
    (MMOCR's RecogLMDBDataset opens one LMDB, not a folder of them)."""
    names = [s.name for s in recipe.sources if sources[s.name]["written"]]
    if not names:
        return {}
    written = {n: sources[n]["written"] for n in names}
    weights = shares(recipe, written)
    share = {n: round(weights[n], 4) for n in names}
    per_sample = {n: weights[n] / written[n] for n in names}  # how often each sample should be seen
    top = max(per_sample.values())
    ratio_list = [round(per_sample[n] / top, 4) for n in names]
    # a source the weights leave no share of a batch (weights adding up to 1 beside it) is
    # not repeated at all: it is left out of the MMOCR mix, and the others are scaled by the
    # least-seen source that has a share
    low = min((v for v in per_sample.values() if v > 0), default=1.0)
    root = "train/real" if recipe.layout == "parseq" else "train"
    settings: dict[str, Any] = {"share": share, "per_source_folders": recipe.per_source_folders}
    if recipe.per_source_folders:
        settings["clovaai"] = (f"--train_data OUT/{root} --select_data {'-'.join(names)} "
                               f"--batch_ratio {'-'.join(f'{share[n]:g}' for n in names)}")
        settings["paddleocr"] = {"data_dir": [f"OUT/{root}/{n}" for n in names], "ratio_list": ratio_list}
        settings["mmocr"] = ("train_dataset = dict(type='ConcatDataset', datasets=["
                             + ", ".join(_mmocr_repeat(max(1, round(per_sample[n] / low)), f"{root}/{n}", shards)
                                         for n in names if per_sample[n] > 0) + "])")
    return settings


def _mmocr_repeat(times: int, folder: str, shards: list[str]) -> str:
    """One source in MMOCR's terms: its training shards, each a RecogLMDBDataset, repeated."""
    datasets = ", ".join(f"dict(type='RecogLMDBDataset', ann_file='OUT/{path}')"
                         for path in sorted(shards) if path.startswith(f"{folder}/"))
    return f"dict(type='RepeatDataset', times={times}, dataset=dict(type='ConcatDataset', datasets=[{datasets}]))"


def render_mixing(settings: dict[str, Any]) -> list[str]:
    """The mixing settings as the lines printed after the run."""
    if not settings:
        return []
    lines = ["  mixing (share of each batch): " + ", ".join(f"{n} {v:g}" for n, v in settings["share"].items())]
    if not settings["per_source_folders"]:
        return lines + ["    (set per_source_folders: true to mix by ratio in a trainer)"]
    paddle = settings["paddleocr"]
    return lines + [f"    clovaai:   {settings['clovaai']}",
                    f"    paddleocr: data_dir: {paddle['data_dir']}  ratio_list: {paddle['ratio_list']}",
                    f"    mmocr:     {settings['mmocr']}"]
