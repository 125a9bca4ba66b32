"""Issue 26, mutation run of dataconv/build/shards.py: the survivors that meant a wrong
answer (docs/DEVELOPING.md). Real gt-txt sources converted through the CLI on the checked
pass (a split, --dedupe), the outputs read back: images in exactly two copies, unreadable
images (a real symlink loop, read-stage ``unreadable_image``) between them, an image whose
sha1 ends in a zero byte, samples.parquet's rows against the LMDB records they name, and
--task det's hashing of page images (``hash_samples``): identical pages share a split."""
from __future__ import annotations

import hashlib
import os

import pandas as pd
import pytest

from helpers import assert_accounted, read_lmdb, rejects_of, run_cli
from hostile_util import png, write_files
from dataconv.build import splits as splitter

RATIOS = (0.34, 0.33, 0.33)
SPLIT = ("--split", ",".join(map(str, RATIOS)))


def pairs_source(root: str, n: int = 24, loops: int = 2) -> str:
    """``n`` distinct images in exactly two copies each (the copy three lines later), and
    ``loops`` symlink loops among them."""
    files = {f"i{k:02d}.png": png(k) for k in range(n)}
    lines = []
    for k in range(n):
        lines.append(f"i{k:02d}.png\tw{k}")
        if k >= 3:
            lines.append(f"copy{k - 3:02d}.png\tc{k - 3}")
        if k % 8 == 4 and k // 8 < loops:
            lines.append(f"loop{k // 8}\tL")
    lines += [f"copy{k:02d}.png\tc{k}" for k in range(n - 3, n)]
    files.update({f"copy{k:02d}.png": files[f"i{k:02d}.png"] for k in range(n)})
    write_files(root, {**files, "gt.txt": ("\n".join(lines) + "\n").encode()})
    for k in range(loops):
        os.symlink(f"loop{k}", os.path.join(root, f"loop{k}"))
    return root


@pytest.mark.parametrize("workers", ["1", "3"])
def test_two_copies_of_an_image_share_a_split_and_dedupe_keeps_the_first(tmp_path, workers):
    src = pairs_source(str(tmp_path / "src"))
    out = str(tmp_path / "split")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", workers, *SPLIT)
    card = assert_accounted(out)
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    assert len(table) == 48 and table.groupby("sha1").split.nunique().max() == 1
    assert table.split.nunique() == 3
    assert card["rejects"] == {"unreadable_image": 2}
    out = str(tmp_path / "dedupe")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", workers, "--dedupe", *SPLIT)
    assert_accounted(out)
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    assert sorted(table.source_id) == [f"i{k:02d}.png" for k in range(24)]
    reasons = {r["id"]: (r["reason"], r["detail"]) for r in rejects_of(out)}
    assert {i: r for i, (r, _) in reasons.items()} == {
        **{f"copy{k:02d}.png": "duplicate_image" for k in range(24)}, "loop0": "unreadable_image",
        "loop1": "unreadable_image"}  # two unreadable images are not copies of each other
    assert reasons["copy05.png"][1].startswith("same bytes as gt.txt:")


def zero_ended(count: int) -> list[bytes]:
    """Byte strings (not images) whose sha1 ends in a zero byte."""
    found, i = [], 0
    while len(found) < count:
        data = b"not an image %d" % i
        if hashlib.sha1(data).digest()[-1] == 0:
            found.append(data)
        i += 1
    return found


def test_copies_of_an_image_whose_sha1_ends_in_a_zero_byte(tmp_path):
    """numpy drops an S20 digest's trailing zero bytes: the digests that samples share are
    padded back before they reach the split and --dedupe."""
    [data] = zero_ended(1)
    files = {"a.png": png(1), "z1.png": data, "b.png": png(2), "z2.png": data}
    src = write_files(str(tmp_path / "src"), {**files, "gt.txt": b"a.png\tA\nz1.png\tZ\nb.png\tB\nz2.png\tZ\n"})
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", "1", "--dedupe", *SPLIT)
    assert_accounted(out)
    assert [(r["id"], r["reason"]) for r in rejects_of(out)] == [("z1.png", "undecodable_image"),
                                                                 ("z2.png", "duplicate_image")]


@pytest.mark.parametrize("options", [("--split", "none"), SPLIT])
def test_each_samples_row_names_its_record_and_describes_its_image(tmp_path, options):
    """Whole tasks (no split) and the checked pass (a split): every row of samples.parquet
    points at the LMDB record holding its label and image, with that image's size, byte
    count and sha1, its id and source line."""
    from PIL import Image
    import io

    sizes = [(20 + k, 10 + 2 * k) for k in range(9)]
    files = {f"{k}.png": png(k, width=w, height=h) for k, (w, h) in enumerate(sizes)}
    gt = "".join(f"{k}.png\tlabel {k}\n" for k in range(9)).encode()
    src = write_files(str(tmp_path / "src"), {**files, "gt.txt": gt})
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--workers", "1", "--shard-size", "4", *options)
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    assert sorted(table.source_id) == sorted(files)
    for row in table.itertuples():
        label, data = read_lmdb(os.path.join(out, row.shard))[row.index - 1]
        k = int(row.source_id.split(".")[0])
        assert (label, data) == (f"label {k}", files[row.source_id])
        assert row.source == f"gt.txt:{k + 1}" and row.shard.startswith(row.split + "/")
        assert (row.width, row.height) == sizes[k] == Image.open(io.BytesIO(data)).size
        assert row.bytes == len(data) and row.sha1 == hashlib.sha1(data).hexdigest()


def test_det_pages_with_identical_images_share_a_split(tmp_path):
    """--task det hashes the page images (``hash_samples``) before its split: pages whose
    images are byte-identical land in one split, the first page in input order too."""
    import io
    import json

    from PIL import Image

    src = tmp_path / "src"
    src.mkdir()
    shape = {"label": "ok", "shape_type": "rectangle", "points": [[50, 10], [90, 30]]}
    # the first pair in input order: its two ids alone would hash to different splits
    assert splitter.assign("a03a", RATIOS, 0) != splitter.assign("a03b", RATIOS, 0)
    for k, stem in enumerate(["a03", *(f"p{k:02d}" for k in range(16))]):
        buf = io.BytesIO()
        Image.new("L", (100, 50), 40 + 10 * k).save(buf, "PNG")
        for copy in "ab":
            name = f"{stem}{copy}"
            (src / f"{name}.png").write_bytes(buf.getvalue())
            (src / f"{name}.json").write_text(json.dumps({"imagePath": f"{name}.png", "shapes": [shape],
                                                          "imageHeight": 50, "imageWidth": 100}))
    out = str(tmp_path / "out")
    assert run_cli("labelme", "-i", str(src), "--task", "det", "-o", out, "-q", *SPLIT).stderr == ""  # no bar
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    assert len(table) == 34 and table.split.nunique() > 1
    pairs = table.assign(pair=table.source_id.str.slice(0, 3)).groupby("pair").split.nunique()
    assert len(pairs) == 17 and pairs.max() == 1, pairs


# --- the second part of the run: what the driver keeps, reports and schedules ------------

def test_only_digests_two_readable_samples_share_are_kept():
    """The split merges groups and --dedupe drops copies by these digests only: a table of
    every sample's digest would cost the driver memory for nothing."""
    import numpy as np

    from dataconv.build.shards import NO_DIGEST, Spools

    a, b, c = (hashlib.sha1(x).digest() for x in (b"a", b"b", b"c"))
    digests = [a, b, a, NO_DIGEST, NO_DIGEST, c]
    blob = b"".join(digests)
    spools = Spools("f", None, np.array([3, 5, 8, 9, 11, 12], np.int64), np.zeros(6, np.int32),  # type: ignore[arg-type]
                    np.arange(6, dtype=np.int64), np.frombuffer(blob, "S20"),
                    np.frombuffer(blob, np.uint8).reshape(-1, 20).any(axis=1))
    assert spools.duplicated() == {3: a.hex(), 8: a.hex()}


@pytest.mark.parametrize("options, bars", [(("--split", "none"), ["checking and writing"]),
                                           (SPLIT, ["checking", "writing"])])
def test_each_progress_bar_ends_at_every_sample(tmp_path, options, bars):
    files = {f"{k}.png": png(k) for k in range(7)}
    gt = "".join(f"{k}.png\tw{k}\n" for k in range(7)).encode()
    src = write_files(str(tmp_path / "src"), {**files, "gt.txt": gt})
    shown = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "out"), "--workers", "1", *options).stderr
    ends = {line.split(":")[0].strip(): line for line in shown.replace("\r", "\n").splitlines() if "7/7" in line}
    assert all(bar in ends for bar in bars), shown


def test_costliest_first_gives_out_the_costliest_first_and_answers_in_item_order():
    from dataconv.build.executors import open_executor
    from dataconv.build.shards import costliest_first

    called, done = [], []
    with open_executor(1, None, None) as executor:
        results = costliest_first(lambda item: called.append(item) or item * 10, [1, 5, 3, 4], [1, 5, 3, 4],
                                  executor, done.append)
    assert called == done == [5, 4, 3, 1] and results == [10, 50, 30, 40]


def test_makespan_gives_the_longest_items_out_first():
    from dataconv.build.shards import makespan

    assert makespan([5, 4, 3, 3, 3], 2) == 10  # shortest first would end at 11


def test_whole_tasks_fit_at_exactly_the_slack():
    from dataconv.build.shards import whole_tasks_fit

    assert whole_tasks_fit([23, 17], 2) is True  # 23 = 1.15 x an even share of 20
    assert whole_tasks_fit([24, 16], 2) is False
