"""The report's statistics and the run's summary, asserted to exact values computed here
from the labels and image sizes the test chose (plain Python, no pandas): label-length
quantiles and the shares above 25/64/100, the suggested max_label_length and img_size,
the image-size table, charset coverage, the ``--max-samples`` cap, and the summary line."""
from __future__ import annotations

import html
import math
import random
import re

import pytest

from helpers import run_cli
from dataconv.fixtures.base import encode, ink_image
from dataconv.fixtures.lmdb_source import write_lmdb
from hostile_util import write_files

pytest.importorskip("matplotlib")

# label lengths: 82% at most 25, 94% at most 64, 98% at most 100 (so no common limit keeps
# 99%), some exactly at a limit (not above it)
LENGTHS = [3] * 50 + [10] * 30 + [25] * 2 + [30] * 10 + [64] * 2 + [70] * 4 + [101] + [120]
ALPHABET = "abcdefghij"


def quantile(values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's and pandas' default)."""
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])


def num(value: float) -> str:
    """How the report prints a number: an integer plainly, else two decimals."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.2f}"


def pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def rows_of(page: str) -> list[list[str]]:
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", page)]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> dict:
    """100 samples with the chosen label lengths and random sizes, converted with gt-txt
    (one split), and its report with a charset lacking 'j'."""
    root = tmp_path_factory.mktemp("report")
    rng = random.Random(11)
    files, gt, sizes, labels = {}, [], [], []
    for i, length in enumerate(LENGTHS):
        width, height = rng.randint(20, 200), rng.choice([16, 24, 40, 150])
        label = "".join(rng.choice(ALPHABET) for _ in range(length))
        files[f"i{i}.png"] = encode(ink_image(width, height, rng), "PNG")
        gt.append(f"i{i}.png\t{label}\n")
        sizes.append((width, height))
        labels.append(label)
    gt.append("gone.png\tmissing\n")
    files["gt.txt"] = "".join(gt).encode()
    src = write_files(str(root / "src"), files)
    out = str(root / "out")
    result = run_cli("gt-txt", "-i", src, "-o", out, "--workers", "1", "--split", "none")
    charset = root / "charset.txt"
    charset.write_text("\n".join("abcdefghi") + "\nZ\n", encoding="utf-8")
    run_cli("report", out, "-o", str(root / "r.html"), "--charset", str(charset), "--samples", "0")
    page = (root / "r.html").read_text(encoding="utf-8")
    return {"labels": labels, "sizes": sizes, "page": page, "stdout": result.stdout, "out": out}


def test_summary_is_exact(dataset) -> None:
    """The summary the README shows, line by line: counts, the split, the reject, charset."""
    lines = dataset["stdout"].strip().splitlines()
    assert lines[0] == "dataconv gt-txt: 101 input samples, 100 written, 1 rejected"
    assert lines[1].split() == ["train", "100", "samples", "in", "1", "shard(s)"]
    assert lines[2].strip() == "rejects:"
    assert lines[3].split() == ["missing_image", "1"]
    assert lines[-2].strip() == f"charset: {len(set(''.join(dataset['labels'])))} characters"
    assert lines[-1].startswith(f"  written to {dataset['out']} (")


def test_label_length_row_and_suggestion(dataset) -> None:
    lengths = [len(label) for label in dataset["labels"]]
    want = ["train", num(quantile(lengths, 0.5)), num(quantile(lengths, 0.95)), num(max(lengths)),
            *(pct(sum(n > limit for n in lengths) / len(lengths)) for limit in (25, 64, 100))]
    assert want == ["train", "6.50", "70", "120", "18.0%", "6.0%", "2.0%"]  # the figures themselves
    assert want in rows_of(dataset["page"])
    limit = math.ceil(quantile(lengths, 0.99))  # none of 25/64/100 keeps 99%
    assert limit == 102
    assert f"Suggested max_label_length: {limit} (99% of the labels are this long or shorter)." in \
        html.unescape(dataset["page"])


def test_image_size_table_and_suggestion(dataset) -> None:
    widths = [w for w, _ in dataset["sizes"]]
    heights = [h for _, h in dataset["sizes"]]
    aspects = [w / h for w, h in dataset["sizes"]]
    rows = rows_of(dataset["page"])
    for name, values in (("height", heights), ("width", widths), ("aspect", aspects)):
        want = ["train", name, *(num(round(quantile(values, q), 2)) for q in (0, 0.05, 0.5, 0.95, 1))]
        assert want in rows, (want, [r for r in rows if r[1:2] == [name]])
    height = 64 if quantile(heights, 0.5) >= 128 else 32
    width = max(height, 16 * math.ceil(height * quantile(aspects, 0.95) / 16))
    squeezed = sum(a > width / height for a in aspects) / len(aspects)
    upscaled = sum(h < height for h in heights) / len(heights)
    note = (f"Suggested img_size: [{height}, {width}] (height, width): 95% of the images fit without "
            f"horizontal squeezing ({pct(squeezed)} are wider); {pct(upscaled)} are lower than "
            f"{height} px and get upscaled.")
    assert note in html.unescape(dataset["page"])


def test_charset_coverage(dataset) -> None:
    """The charset lacks 'j' and holds an unused 'Z': shares computed from the labels."""
    text = "".join(dataset["labels"])
    char_share = 1 - text.count("j") / len(text)
    sample_share = sum("j" not in label for label in dataset["labels"]) / len(dataset["labels"])
    page = html.unescape(dataset["page"])
    cards = dict((k, v) for v, k in re.findall(r'<div class="card"><b>(.*?)</b><span>(.*?)</span>', page))
    assert cards["charset size"] == "10"
    assert cards["of character occurrences covered"] == pct(char_share)
    assert cards["of samples fully covered"] == pct(sample_share)
    assert cards["charset characters unused"] == "1"
    assert cards["input samples"] == "101" and cards["samples written"] == "100" and cards["rejected"] == "1"


def test_max_samples_cap_is_honoured(tmp_path) -> None:
    """A plain LMDB tree of 100 records read with --max-samples 20: exactly 20 samples
    are counted in the tables, and the note says 20 of 100."""
    rng = random.Random(2)
    image = encode(ink_image(40, 20, rng), "PNG")
    write_lmdb(str(tmp_path / "tree" / "train"), [(f"w{i}".encode(), image) for i in range(100)])
    run_cli("report", str(tmp_path / "tree"), "-o", str(tmp_path / "r.html"), "--max-samples", "20",
            "--samples", "0")
    page = html.unescape((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert "computed from 20 evenly spaced samples of 100" in page
    split_row = next(r for r in rows_of(page) if r[:1] == ["train"])
    assert split_row[1] == "20"
