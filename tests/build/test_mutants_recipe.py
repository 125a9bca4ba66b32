"""``dataconv build RECIPE.yaml``: what the mutation run of ``dataconv/build/recipe.py`` found
untested. The recipe's own settings (and their defaults when it leaves them out) reach the
build and the manifest; an existing OUT is kept without ``overwrite: true``; a bad split or a
missing input is a located one-line error before any work; a symlink out of a source is not
followed; rejects.jsonl keeps each reject's id with its source's name in front."""
from __future__ import annotations

import hashlib
import re
import os

import pandas as pd

from helpers import load_json, read_lmdb, rejects_of, run_cli, write_lmdb
from hostile_util import assert_one_line_error, png, write_files

N = 20


def source(root, name: str, n: int = N, extra: str = "", seed: int = 0) -> None:
    lines = "".join(f"{name}{i}.png\t{name} {i}\n" for i in range(n)) + extra
    write_files(str(root / name), {"gt.txt": lines.encode(), **{f"{name}{i}.png": png(seed + i) for i in range(n)}})


def build(root, text: str, expect: int | None = 0):
    (root / "recipe.yaml").write_text(text, encoding="utf-8")
    return run_cli("build", str(root / "recipe.yaml"), "-q", "--workers", "1", expect=expect)


def hash_of(seed: int, key: str) -> float:
    """A sample is kept by ``ratio`` when this is below it (the spec: sha1 of seed, NUL, id)."""
    return int.from_bytes(hashlib.sha1(f"{seed}\x00{key}".encode()).digest()[:8], "big") / 2**64


def shard_folders(out) -> list[str]:
    return sorted(os.path.relpath(d, out) for d, _, files in os.walk(out) if "data.mdb" in files)


def test_a_recipe_naming_only_its_sources_gets_the_documented_defaults(tmp_path):
    source(tmp_path, "a")
    build(tmp_path, "output: out\nsources:\n  - {name: a, format: gt-txt, input: a}\n")
    card = load_json(str(tmp_path / "out" / "manifest.json"))
    assert card["format"] == "recipe"
    options = card["options"]
    assert (options["split"], options["seed"], options["layout"], options["per_source_folders"],
            options["dedupe"]) == ("0.9,0.05,0.05", 0, "standard", False, False)
    assert [(s["ratio"], s["cap"], s["weight"]) for s in options["sources"]] == [(1.0, None, None)]
    assert card["sources"]["a"]["written"] == N  # ratio 1: nothing sampled out
    # the standard layout, no per-source folder, the 0.9/0.05/0.05 split (20 ids: 18, 1, 1 here)
    folders = shard_folders(str(tmp_path / "out"))
    assert "train/shard-00000" in folders and not any("/a/" in f or f.endswith("/a") for f in folders)
    assert card["counts"]["splits"]["train"] >= 15 and set(card["counts"]["splits"]) <= {"train", "val", "test"}
    assert sum(card["counts"]["splits"].values()) == N and len(card["counts"]["splits"]) > 1


def test_the_recipes_settings_reach_the_build_and_the_manifest(tmp_path):
    """split none, seed 7 (with ratio 0.5: the ids kept are those hashed with seed 7), the
    PARSeq layout, per-source folders, dedupe (b's first image is a's first image)."""
    source(tmp_path, "a")
    source(tmp_path, "b", n=3, seed=100)
    (tmp_path / "b" / "b0.png").write_bytes(png(0))  # = a0.png's bytes
    build(tmp_path, "output: out\nsplit: none\nseed: 7\nlayout: parseq\nper_source_folders: true\ndedupe: true\n"
                    "sources:\n  - {name: a, format: gt-txt, input: a, ratio: 0.5}\n"
                    "  - {name: b, format: gt-txt, input: b}\n")
    out = str(tmp_path / "out")
    card = load_json(os.path.join(out, "manifest.json"))
    options = card["options"]
    assert (options["split"], options["seed"], options["layout"], options["per_source_folders"],
            options["dedupe"]) == ("none", 7, "parseq", True, True)
    kept = sorted(f"a/a{i}.png" for i in range(N) if hash_of(7, f"a/a{i}.png") < 0.5)
    assert kept != sorted(f"a/a{i}.png" for i in range(N) if hash_of(0, f"a/a{i}.png") < 0.5)
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    assert sorted(table.source_id[table.source_id.str.startswith("a/")]) == kept
    assert card["sources"]["a"]["rejects"] == {"sampled_out": N - len(kept)}
    b_rejects = card["sources"]["b"]["rejects"]
    assert b_rejects == ({"duplicate_image": 1} if "a/a0.png" in kept else {})
    assert shard_folders(out) == ["train/real/a/shard-00000", "train/real/b/shard-00000"]
    assert set(table.split) == {"train"}


def test_an_existing_output_is_kept_unless_the_recipe_says_overwrite(tmp_path):
    source(tmp_path, "a", n=3)
    text = "output: out\nsplit: none\nsources:\n  - {name: a, format: gt-txt, input: a}\n"
    build(tmp_path, text)
    before = (tmp_path / "out" / "manifest.json").read_bytes()
    source(tmp_path, "a", n=4)
    refused = build(tmp_path, text, expect=None)
    assert refused.exit_code == 2 and "out already exists" in refused.output and "overwrite: true" in refused.output
    assert (tmp_path / "out" / "manifest.json").read_bytes() == before
    build(tmp_path, text.replace("split: none", "split: none\noverwrite: true"))
    assert load_json(str(tmp_path / "out" / "manifest.json"))["counts"]["written"] == 4


def test_a_bad_split_or_a_missing_input_is_a_located_line_before_any_work(tmp_path):
    source(tmp_path, "a", n=2)
    for text, fragments in [
        ("output: out\nsplit: '0.5,0.6,0.1'\nsources:\n  - {name: a, format: gt-txt, input: a}\n",
         ("recipe.yaml: split:",)),
        ("output: out\nsources:\n  - {name: a, format: gt-txt, input: a}\n  - {name: b, format: gt-txt, input: nothere}\n",
         ("recipe.yaml: sources[1].input:", "nothere", "no such file or folder")),
    ]:
        assert_one_line_error(build(tmp_path, text, expect=None), *fragments)
        assert not (tmp_path / "out").exists()


def test_a_symlink_out_of_a_source_is_not_followed(tmp_path):
    """An image or the annotation file itself: the recipe's sources follow no symlink out of
    them (the build has no --follow-symlinks)."""
    (tmp_path / "elsewhere.txt").write_text("a0.png\tsecret\n", encoding="utf-8")
    source(tmp_path, "b", n=1)
    os.remove(str(tmp_path / "b" / "gt.txt"))
    os.symlink(str(tmp_path / "elsewhere.txt"), str(tmp_path / "b" / "gt.txt"))
    refused = build(tmp_path, "output: out\nsplit: none\nsources:\n  - {name: b, format: gt-txt, input: b}\n",
                    expect=None)
    assert_one_line_error(refused, "gt.txt", "path_outside_source")
    assert not (tmp_path / "out").exists()
    secret = png(99)
    (tmp_path / "secret.png").write_bytes(secret)
    source(tmp_path, "a", n=2, extra="link.png\tlink\n")
    os.symlink(str(tmp_path / "secret.png"), str(tmp_path / "a" / "link.png"))
    build(tmp_path, "output: out\nsplit: none\nsources:\n  - {name: a, format: gt-txt, input: a}\n")
    out = str(tmp_path / "out")
    [row] = rejects_of(out)
    assert (row["reason"], row["id"]) == ("path_outside_source", "a/link.png")
    images = [image for folder in shard_folders(out) for _, image in read_lmdb(os.path.join(out, folder))]
    assert len(images) == 2 and secret not in images


def test_rejects_keep_their_id_with_the_source_name_in_front(tmp_path):
    """A reject the format makes with an id (an LMDB label that is not UTF-8), one it makes
    without (a gt.txt line without a tab) and one made later (a missing image)."""
    source(tmp_path, "a", n=2, extra="gone.png\tgone\nno tab here\n")
    os.makedirs(str(tmp_path / "l"))
    write_lmdb(str(tmp_path / "l"), [("ok", png(50)), (b"\xff\xfe", png(51))])
    build(tmp_path, "output: out\nsplit: none\nsources:\n  - {name: a, format: gt-txt, input: a}\n"
                    "  - {name: lm, format: lmdb, input: l}\n")
    rows = {row["reason"]: row for row in rejects_of(str(tmp_path / "out"))}
    assert (rows["undecodable_label"]["id"], rows["undecodable_label"]["source"]) == ("lm/l#000000002", "lm:l#000000002")
    assert rows["missing_image"]["id"] == "a/gone.png"
    assert rows["missing_image"]["source"].startswith("a:")
    assert rows["no_separator"].get("id") is None and rows["no_separator"]["source"] == "a:gt.txt:4"


def test_weights_adding_up_to_less_than_one_are_rescaled_and_a_source_without_share_is_not_mixed(tmp_path):
    """Only weighted sources, 0.3 and 0.2: shares 0.6 and 0.4 (each sample of a, 20 of them,
    needed 0.03, of b, 5: 0.08, so ratio_list 0.375, 1 and MMOCR times 1, round(2.667) = 3).
    Weights 0.5 and 0.5 beside an unweighted source: it gets no share and is in no MMOCR mix."""
    source(tmp_path, "a")
    source(tmp_path, "b", n=5, seed=100)
    source(tmp_path, "c", n=2, seed=200)
    head = "output: out\nsplit: none\nper_source_folders: true\noverwrite: true\nsources:\n"
    result = build(tmp_path, head + "  - {name: a, format: gt-txt, input: a, weight: 0.3}\n"
                                    "  - {name: b, format: gt-txt, input: b, weight: 0.2}\n")
    mixing = load_json(str(tmp_path / "out" / "manifest.json"))["mixing"]
    assert mixing["share"] == {"a": 0.6, "b": 0.4}
    assert mixing["clovaai"].endswith("--select_data a-b --batch_ratio 0.6-0.4")
    assert mixing["paddleocr"]["ratio_list"] == [0.375, 1.0]
    assert re.findall(r"times=(\d+)", mixing["mmocr"]) == ["1", "3"]
    mmocr = ("train_dataset = dict(type='ConcatDataset', datasets=["
             "dict(type='RepeatDataset', times=1, dataset=dict(type='ConcatDataset', datasets=["
             "dict(type='RecogLMDBDataset', ann_file='OUT/train/a/shard-00000')])), "
             "dict(type='RepeatDataset', times=3, dataset=dict(type='ConcatDataset', datasets=["
             "dict(type='RecogLMDBDataset', ann_file='OUT/train/b/shard-00000')]))])")
    assert mixing["mmocr"] == mmocr
    config: dict = {}
    exec(mixing["mmocr"], config)  # the line is pasted into an MMOCR config as it is
    assert [(d["times"], d["dataset"]["datasets"]) for d in config["train_dataset"]["datasets"]] == [
        (1, [{"type": "RecogLMDBDataset", "ann_file": "OUT/train/a/shard-00000"}]),
        (3, [{"type": "RecogLMDBDataset", "ann_file": "OUT/train/b/shard-00000"}])]
    assert result.output.splitlines()[-4:] == [
        "  mixing (share of each batch): a 0.6, b 0.4",
        "    clovaai:   --train_data OUT/train --select_data a-b --batch_ratio 0.6-0.4",
        "    paddleocr: data_dir: ['OUT/train/a', 'OUT/train/b']  ratio_list: [0.375, 1.0]",
        f"    mmocr:     {mmocr}"]
    build(tmp_path, head + "  - {name: a, format: gt-txt, input: a, weight: 0.5}\n"
                           "  - {name: b, format: gt-txt, input: b, weight: 0.5}\n"
                           "  - {name: c, format: gt-txt, input: c}\n")
    mixing = load_json(str(tmp_path / "out" / "manifest.json"))["mixing"]
    assert mixing["share"] == {"a": 0.5, "b": 0.5, "c": 0.0}
    assert re.findall(r"times=(\d+), dataset=dict\(type='ConcatDataset', datasets=\[dict\(type='RecogLMDBDataset', "
                      r"ann_file='OUT/train/(\w)/shard-00000'\)\]\)\)", mixing["mmocr"]) == [("1", "a"), ("4", "b")]
    assert "train/c" not in mixing["mmocr"]
