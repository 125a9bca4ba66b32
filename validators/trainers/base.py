"""The trainer protocol and registry.

A trainer simulation is one module in this package: a ``Trainer`` subclass decorated with
``@register``, declaring its name, its switches (``Switch``: data that
``dataconv validate`` turns into command-line options), its options dataclass (the fields
those switches set), how it reads a charset file (``read_charset``) and what it does to
one stored sample (``steps``). ``trainers()`` finds every module here; adding a trainer
touches one file.

A ``Trainer`` is built from ``Settings`` and turns one stored label (and the image bytes,
decoded the way that trainer decodes them) into a ``Verdict``: dropped (with a reason),
kept as is, or kept with a silently altered label. ``Trace`` is the one mechanism every
trainer uses to record what each step did. Reasons starting ``crash:`` mean the trainer
would raise on that sample instead of skipping it.

A detector simulation (``reads = "det"``: PaddleOCR's and MMOCR's DB detectors) subclasses
``det.DetTrainer`` instead: it reads a detection dataset's label file per split and judges
every page and box (``det.PageVerdict``); ``validators/det_report.py`` sums that up.

Each trainer reads the charset FILE the way it really does (its encoding, BOM handling,
line splitting, YAML or not); the user's meaning comes from
``dataconv.charsets.load_user_charset``. Where the two differ the simulation follows the
trainer and a warning names the fix.
"""
from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from dataconv.charsets import Charset

EVAL_SPLITS = ("val", "test")


@dataclass(frozen=True)
class Switch:
    """One command-line switch of ``dataconv validate`` that sets one field of a trainer's
    options. Without ``choices`` or ``minimum`` it is a flag that sets the field to
    ``value``; otherwise the option's value goes into the field. A switch whose value
    equals ``default`` counts as not given (so it is no error for another trainer)."""

    flag: str  # the option as typed, e.g. "--sensitive"
    field: str  # the field of the trainer's options dataclass it sets
    help: str  # what it means in the trainer's own terms
    value: Any = True  # what a flag sets the field to
    choices: tuple[str, ...] = ()  # the values a choice switch takes
    minimum: int | None = None  # an integer switch: its smallest value
    default: Any = None  # the option's value when not given (False for a flag)

    @property
    def is_flag(self) -> bool:
        return not self.choices and self.minimum is None

    @property
    def param(self) -> str:
        """The Python name click gives the option."""
        return self.flag.lstrip("-").replace("-", "_")

    def unset(self) -> Any:
        return False if self.is_flag else self.default

    def setting(self, given: Any) -> Any:
        """The field's value for what was given on the command line."""
        return self.value if self.is_flag else given


@dataclass(frozen=True)
class NoOptions:
    """The options of a trainer that has no switches."""


@dataclass(frozen=True)
class Settings:
    """What the user told ``validate``: the charset, the length limit (None: the trainer's
    default) and the switched fields of the trainer's options, by field name."""

    charset: Charset | None = None
    max_length: int | None = None
    switches: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Verdict:
    label: str  # what the model is trained on
    dropped: str | None = None
    altered: list[str] = field(default_factory=list)
    uncovered: str = ""  # characters the trainer's charset lacks
    length: int | None = None  # the length the trainer's length limit measured
    needed: int | None = None  # the smallest length setting that keeps this label whole


class Dropped(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CharsetUnreadable(Exception):
    """The trainer itself fails reading the charset file (before any sample)."""


class Trace:
    """The label as it moves through a trainer's steps, and what happened to it."""

    def __init__(self, label: str, split: str = "train") -> None:
        self.verdict = Verdict(label)
        self.split = split

    @property
    def label(self) -> str:
        return self.verdict.label

    def apply(self, new: str, why: str) -> None:
        if new != self.verdict.label:
            self.verdict.altered.append(why)
            self.verdict.label = new

    def limit(self, limit: int, reason: str = "too_long") -> None:
        self.measure(len(self.label))
        if len(self.label) > limit:
            raise Dropped(reason)

    def measure(self, length: int, needed: int | None = None) -> None:
        """Record the length a limit saw and the setting that would keep the label."""
        self.verdict.length = max(self.verdict.length or 0, length)
        self.verdict.needed = max(self.verdict.needed or 0, length if needed is None else needed)

    def uncovered(self, allowed: Callable[[str], bool]) -> str:
        missing = "".join(ch for ch in self.label if not allowed(ch))
        self.verdict.uncovered += missing
        return missing


ImageFn = Callable[[], "bytes | None"]


class Trainer:
    name: ClassVar[str] = ""
    # what it is run on: "lmdb" (the samples of an LMDB tree, through ``simulate``) or
    # "det" (the pages of a detection dataset: ``trainers.det.DetTrainer``)
    reads: ClassVar[str] = "lmdb"
    Options: ClassVar[type] = NoOptions  # a frozen dataclass: the fields its switches set
    switches: ClassVar[tuple[Switch, ...]] = ()
    default_max_length: ClassVar[int] = 25
    length_key: ClassVar[str] = "max length"  # the trainer's own name for the length limit
    charset_hint: ClassVar[str] = ""  # how to write a charset file this trainer reads as meant
    all_dropped: ClassVar[str | None] = None  # what happens when a split keeps nothing

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.o = self.Options(**settings.switches)
        self.max_length = settings.max_length or self.default_max_length
        self.charset_error: str | None = None
        self.entries: tuple[str, ...] | None = None  # the charset as this trainer reads it
        cs = settings.charset
        if cs is not None:
            try:
                self.entries = cs.entries if cs.raw is None else self.read_charset(cs.raw, cs)
            except CharsetUnreadable as e:
                self.charset_error, self.entries = str(e), ()

    def read_charset(self, raw: bytes, cs: Charset) -> tuple[str, ...]:
        """The entries this trainer gets from the file's bytes (``cs`` says how it was handed over)."""
        raise NotImplementedError

    def fatal(self) -> str | None:
        """Why the trainer would fail before reading any sample, if it would."""
        return self.charset_error

    def warnings(self) -> list[str]:
        return self.charset_warnings()

    def charset_warnings(self) -> list[str]:
        """Where the trainer's reading of the file differs from what the user meant."""
        cs = self.s.charset
        if cs is None or self.entries is None or self.charset_error:
            return []
        out = []
        multi = cs.multi_char() if cs.form == "lines" else []
        if multi:
            out.append(f"{len(multi)} line(s) of {cs.source} hold several characters (e.g. {multi[0]!r}):"
                       " a charset file has one character per line (is this a label file?)")
        if cs.raw is None:
            return out
        got = {e for e in self.entries if len(e) == 1}
        lost = [c for c in cs.chars if c not in got]
        odd = [e for e in dict.fromkeys(self.entries) if len(e) > 1]
        extra = [c for c in dict.fromkeys(e for e in self.entries if len(e) == 1) if c not in cs.chars]
        if lost or odd or extra:
            parts = []
            if lost:
                parts.append(f"{len(lost)} of its {len(cs.chars)} characters never match "
                             f"(e.g. {''.join(lost[:8])!r})")
            if odd:
                parts.append(f"{len(odd)} entries are not single characters (e.g. {odd[0][:20]!r})")
            if extra:
                parts.append(f"it gains {''.join(extra[:8])!r}")
            out.append(f"{self.name} reads {cs.source} differently from what it holds: "
                       f"{'; '.join(parts)}; fix: {self.charset_hint}")
        return out

    def steps(self, t: Trace, image: ImageFn) -> None:
        raise NotImplementedError

    def simulate(self, label: str, image: ImageFn, split: str = "train") -> Verdict:
        t = Trace(label, split)
        try:
            self.steps(t, image)
        except Dropped as e:
            t.verdict.dropped = e.reason
        return t.verdict

    def covered_chars(self) -> str:
        raise NotImplementedError

    def meant_chars(self, default: str) -> str:
        """The characters the user meant, for fix lines."""
        return self.s.charset.chars if self.s.charset is not None else default

    def fixes(self, needed: int, missing: str, alterations: set[str]) -> list[str]:
        raise NotImplementedError

    def finish(self, split_effects: dict[str, set[str]]) -> list[str]:
        """Extra fix lines once every sample was seen (effects per split)."""
        return []

    def describe(self) -> str:
        """The length limit and the choices that shape what the report says."""
        return f"length limit {self.max_length}"


_REGISTRY: dict[str, type[Trainer]] = {}


def register(cls: type[Trainer]) -> type[Trainer]:
    """Class decorator: make a Trainer available as ``dataconv validate --for <name>``.
    Its switches must name fields of its options, so that a typo fails at import."""
    if not cls.name:
        raise RuntimeError(f"{cls.__qualname__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise RuntimeError(f"trainer {cls.name!r} registered twice")
    fields = {f.name for f in dataclasses.fields(cls.Options)}
    unknown = [s.field for s in cls.switches if s.field not in fields]
    if unknown:
        raise RuntimeError(f"trainer {cls.name!r}: switches set unknown fields {unknown}")
    _REGISTRY[cls.name] = cls
    return cls


def trainers() -> dict[str, type[Trainer]]:
    """Every registered trainer by name, importing each module of this package once."""
    import dataconv.validators.trainers as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{mod.name}")
    return dict(sorted(_REGISTRY.items()))
