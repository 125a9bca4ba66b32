"""``replace:`` of a label-rules file: one automaton with the semantics of a regex alternation of
the keys, longest first (checked against that regex over generated tables and labels), and a
rules file is bounded (``dataconv/io/schema.py``: 4 MiB, 400,000 keys and values): at the
bound a conversion peaks under 400 MB, past it the file is refused at once (fresh processes)."""
from __future__ import annotations

import itertools
import re
import string
import subprocess
import sys

from hypothesis import given, settings, strategies as st

from dataconv.io.schema import USER_YAML_BYTES, USER_YAML_NODES
from dataconv.validators.label_rules import Replacements
from hostile_util import gt_source, png


def by_regex(pairs: dict[str, str], label: str) -> str:
    """The reference: an alternation of the keys, longest first, applied left to right."""
    keys = sorted(pairs, key=len, reverse=True)
    return re.sub("|".join(map(re.escape, keys)), lambda m: pairs[m.group()], label)


ALPHABET = "ab가각\u3000."


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.text(ALPHABET, min_size=1, max_size=4), st.text("XY가", max_size=3), min_size=1,
                       max_size=8),
       st.text(ALPHABET + "c", max_size=16))
def test_replacements_match_the_longest_first_alternation(pairs, label):
    assert Replacements(pairs).apply(label) == by_regex(pairs, label)


def peak_of_run(tmp_path, rules: str) -> tuple[int, str, int]:
    """Exit code, stderr and peak RSS (kB, this process image) of a gt-txt conversion with
    ``--label-rules rules`` in a fresh interpreter."""
    images = {f"{i}.png": png(i) for i in range(3)}
    src = gt_source(str(tmp_path / "src"), "".join(f"{k}\tabcd{k[0]}\n" for k in images).encode(), images)
    code = ("import sys\nfrom dataconv.cli.main import cli\n"
            f"try: cli.main({['gt-txt', '-i', src, '-o', str(tmp_path / 'out'), '--label-rules', rules, '-q', '--workers', '1', '--split', 'none']!r})\n"
            "except SystemExit as e: status = e.code\n"
            "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:')).split()[1]\n"
            "print(status, peak)")  # VmHWM: this process image (ru_maxrss would keep pytest's)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    status, peak = done.stdout.split()[-2:]
    return int(status), done.stderr, int(peak)


def short_keys() -> "itertools.product":
    return ("".join(p) for p in itertools.product(string.ascii_letters, repeat=4))


def test_a_rules_file_at_the_bounds_converts_in_bounded_memory(tmp_path):
    """The most pairs a file may hold, with the shortest keys (most pairs per byte)."""
    pairs = USER_YAML_NODES // 2 - 2  # the replace mapping and the top mapping are nodes too
    rules = tmp_path / "rules.yaml"
    rules.write_text("replace:\n" + "".join(f" {k}: x\n" for _, k in zip(range(pairs), short_keys())))
    assert rules.stat().st_size < USER_YAML_BYTES
    status, err, peak_kb = peak_of_run(tmp_path, str(rules))
    assert status == 0, err
    assert peak_kb < 400 * 1024, peak_kb


def test_the_24_mb_rules_file_and_one_node_too_many_are_refused_at_once(tmp_path):
    big = tmp_path / "big.yaml"  # the file: 1.1 million replace pairs
    big.write_text("replace:\n" + "".join(f" {k}: {k}-{k}-{k}\n" for _, k in zip(range(1_100_000), short_keys())))
    assert big.stat().st_size > 23 * 1024**2
    many = tmp_path / "many.yaml"  # small in bytes, one node past the bound
    many.write_text("{replace: {" + ", ".join(f"{k}: x" for _, k in zip(range(USER_YAML_NODES // 2), short_keys()))
                    + "}}")
    assert many.stat().st_size < USER_YAML_BYTES
    for rules, fragment in ((big, "bytes, over the 4 MiB limit of a recipe or label-rules file"),
                            (many, "more than 400,000 keys and values in one YAML file")):
        status, err, peak_kb = peak_of_run(tmp_path, str(rules))
        assert status == 1 and fragment in err and err.count("\n") == 1, err
        assert peak_kb < 200 * 1024, peak_kb
