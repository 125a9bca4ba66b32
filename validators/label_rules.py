"""``--label-rules FILE``: declarative label rules, applied once to every label while the
run collects the samples (before any check), and counted.

The file (YAML or JSON, ``schemas/label-rules.schema.json``) says, in the order applied:

- ``fullwidth_ascii: true``: full-width ASCII (U+FF01-FF5E, ``Ｆ１！``) to ASCII; nothing
  else moves (NFKC would also fold CJK compatibility characters and jamo);
- ``replace: {from: to}``: literal replacements: scanning from the left, the longest
  ``from`` that starts at each place is replaced, and the scan goes on after it (one
  Aho-Corasick automaton, ``pyahocorasick``, built once for the run);
- ``whitespace: strip | collapse``: trim the ends; ``collapse`` also turns every run of
  whitespace into one space;
- ``case: lower | upper | casefold``;
- ``drop: [{pattern, name}]``: a label a regular expression matches (``search``, RE2: ``dataconv.io.userregex``) is
  rejected as ``label_rule`` with the rule's name (default: the pattern).

Counts go to the manifest (``label_rules``: labels changed per rule, labels dropped per
rule). They are applied where the samples are numbered, in the running process, so the
counts are exact whatever executor checks the images.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from dataconv.errors import DataconvError
from dataconv.io.userregex import compile_user
from dataconv.optionspec import Path, option
from dataconv.sample import Reject, Sample
from dataconv.validators.base import CheckOptions, check

FULLWIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}
WHITESPACE = re.compile(r"\s+")
CASES = {"lower": str.lower, "upper": str.upper, "casefold": str.casefold}


@dataclass(frozen=True)
class LabelRulesOptions:
    label_rules: str | None = option(None, "Apply the label rules of this YAML/JSON file (full-width "
                                           "ASCII, replacements, whitespace, case, drops) before the "
                                           "checks; counted in manifest.json.",
                                     type=Path(exists=True, dir_okay=False))


class Replacements:
    """Literal replacements held as one automaton: at each place, from the left, the
    longest key that starts there is replaced, and the scan goes on after it (what a
    regex alternation of the keys, longest first, does), in time linear in the label
    plus the matches."""

    def __init__(self, pairs: dict[str, str]) -> None:
        import ahocorasick

        self.automaton = ahocorasick.Automaton()
        for key, value in pairs.items():
            self.automaton.add_word(key, (len(key), value))
        self.automaton.make_automaton()

    def apply(self, label: str) -> str:
        longest: dict[int, tuple[int, str]] = {}  # start -> the longest key found there
        for end, (length, value) in self.automaton.iter(label):
            start = end - length + 1
            if length > longest.get(start, (0, ""))[0]:
                longest[start] = (length, value)
        out, done = [], 0
        for start in sorted(longest):
            if start >= done:
                length, value = longest[start]
                out += [label[done:start], value]
                done = start + length
        return "".join(out) + label[done:]


@dataclass
class LabelRules:
    """The rules of one file, and what they did in this run."""

    fullwidth_ascii: bool = False
    replace: Replacements | None = None
    whitespace: str = "keep"
    case: str = "keep"
    drop: list[tuple[str, Any]] = field(default_factory=list)  # (name, a linear-time pattern)
    changed: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def rewrite(self, label: str) -> str:
        """``label`` after every rewriting rule, counting each rule that changed it."""
        steps = [("fullwidth_ascii", self._fullwidth), ("replace", self._replace),
                 ("whitespace", self._whitespace), ("case", self._case)]
        for name, step in steps:
            new = step(label)
            if new != label:
                self.changed[name] += 1
                label = new
        return label

    def apply(self, sample: Sample) -> Reject | None:
        """Rewrite ``sample.label``; the reject when a drop rule matches it."""
        sample.label = self.rewrite(sample.label)
        for name, pattern in self.drop:
            if pattern.search(sample.label):
                self.dropped[name] += 1
                return Reject(sample.source, "label_rule", f"{name}: {sample.label[:80]!r}", sample.id)
        return None

    def counts(self) -> dict[str, Any]:
        return {"changed": dict(sorted(self.changed.items())), "dropped": dict(sorted(self.dropped.items()))}

    def _fullwidth(self, label: str) -> str:
        return label.translate(FULLWIDTH) if self.fullwidth_ascii else label

    def _replace(self, label: str) -> str:
        return self.replace.apply(label) if self.replace is not None else label

    def _whitespace(self, label: str) -> str:
        if self.whitespace == "collapse":
            return WHITESPACE.sub(" ", label).strip()
        return label.strip() if self.whitespace == "strip" else label

    def _case(self, label: str) -> str:
        return CASES[self.case](label) if self.case in CASES else label


def load_rules(path: str) -> LabelRules:
    """The rules of ``path``; a one-line error naming the file and the place when wrong."""
    from dataconv.io.schema import load_yaml, validate

    document = load_yaml(path, "YAML or JSON")
    validate(document, "label-rules", path)
    drops = []
    for k, rule in enumerate(document.get("drop", [])):
        drops.append((rule.get("name", rule["pattern"]), compile_user(rule["pattern"], f"{path}: drop[{k}].pattern")))
    if "" in document.get("replace", {}):
        raise DataconvError(f"{path}: replace: an empty text cannot be replaced")
    pairs = document.get("replace")
    return LabelRules(fullwidth_ascii=document.get("fullwidth_ascii", False),
                      replace=Replacements(pairs) if pairs else None,
                      whitespace=document.get("whitespace", "keep"), case=document.get("case", "keep"),
                      drop=drops)


def rules_of(checks: CheckOptions) -> LabelRules | None:
    """The run's label rules, loaded, or None without ``--label-rules``."""
    path = checks.of(LabelRulesOptions).label_rules
    return load_rules(path) if path else None


@check("label_rules", order=24, options=LabelRulesOptions)
def build_label_rules(checks: CheckOptions) -> None:
    """No per-image check: the rules run where the samples are collected (``rules_of``)."""
    return None
