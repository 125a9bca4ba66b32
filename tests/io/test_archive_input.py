"""Archives as -i, in place (issue 17 item 1): every format reads a .zip/.tar/.tar.gz of its
source as it reads the folder. Real fixtures are packed with Python's zipfile/tarfile,
converted both ways, and the outputs compared: shard digests, labels, rejects, options."""
from __future__ import annotations

import json
import os
import shutil
import tarfile
import unicodedata
import zipfile

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers import load_json, rejects_of, run_cli
from hostile_util import assert_one_line_error, png, write_files


def pack(folder: str, path: str) -> str:
    """``folder``'s files (and its folders) packed at ``path``: .zip, .tar or .tar.gz/.tgz."""
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            entries.append((full, os.path.relpath(full, folder).replace(os.sep, "/")))
    if path.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for full, rel in entries:
                z.write(full, rel)
    else:
        with tarfile.open(path, "w:gz" if path.endswith(("gz", "tgz")) else "w") as t:
            for full, rel in entries:
                t.add(full, rel, recursive=False)
    return path


def outcome(out: str) -> dict:
    """What a conversion produced, without what names the input."""
    card = load_json(os.path.join(out, "manifest.json"))
    table = pd.read_parquet(os.path.join(out, "samples.parquet"))
    rejects = sorted((r["source"], r["reason"], r["id"] or "") for r in rejects_of(out))
    return {"shards": card["shards"], "counts": card["counts"], "options": card["options"],
            "charset": card["charset"], "rows": sorted(map(tuple, table.astype(str).values.tolist())),
            "rejects": rejects}


def convert(fmt: str, src: str, out: str, *args: str, workers: str = "1") -> dict:
    run_cli(fmt, "-i", src, "-o", out, "-q", "--workers", workers, *args)
    return outcome(out)


FORMATS = [  # (format, fixture, extra arguments; {src} is the folder's path)
    ("gt-txt", "hostile-images", ()),
    ("paddle-rec", "paddle-rec", ("--labels", "{src}/rec_gt_train.txt")),
    ("aihub", "aihub-htr", ("--type", "htr")),
    ("icdar2015", "icdar2015", ()),
    ("mjsynth", "mjsynth", ()),
]


@pytest.mark.parametrize("fmt,fixture,args", FORMATS, ids=[f[0] for f in FORMATS])
def test_archive_converts_as_the_folder(tmp_path, fmt, fixture, args):
    src = str(tmp_path / "src")
    run_cli("fixture", fixture, "-o", src, "-n", "12")
    extra = [a.format(src=src) for a in args]
    folder = convert(fmt, src, str(tmp_path / "from_folder"), *extra)
    assert folder["counts"]["written"] > 0
    for name in ("src.zip", "src.tar.gz"):
        packed = convert(fmt, pack(src, str(tmp_path / name)), str(tmp_path / f"from_{name}"), *extra)
        assert packed == folder, name


OTHER_FORMATS = [  # every other format: the zip, read by two workers, gives the folder's output
    ("coco-text", ()), ("icdar2015-rec", ()), ("minhon", ()), ("paddle-det", ("--labels", "{src}/label.txt")),
    ("textocr", ()), ("aihub-tiw", ()), ("aihub-outdoor", ()), ("aihub-forms", ()), ("aihub-admin", ()),
    ("aihub-nia", ()), ("labelme", ()), ("label-studio", ("--export", "{src}/export.json")),
]


@pytest.mark.parametrize("fmt,args", OTHER_FORMATS, ids=[f[0] for f in OTHER_FORMATS])
def test_every_other_format_reads_a_zip(tmp_path, fmt, args):
    src = str(tmp_path / "src")
    run_cli("fixture", fmt, "-o", src, "-n", "8")
    extra = [a.format(src=src) for a in args]
    folder = convert(fmt, src, str(tmp_path / "from_folder"), *extra)
    packed = convert(fmt, pack(src, str(tmp_path / "src.zip")), str(tmp_path / "from_zip"), *extra, workers="2")
    assert packed == folder and folder["counts"]["written"] > 0


def test_workers_read_the_archive_themselves(tmp_path):
    src = str(tmp_path / "src")
    run_cli("fixture", "icdar2015", "-o", src, "-n", "12")
    one = convert("icdar2015", pack(src, str(tmp_path / "a.tar")), str(tmp_path / "w1"))
    two = convert("icdar2015", str(tmp_path / "a.tar"), str(tmp_path / "w2"), workers="2")
    assert one == two and one["counts"]["written"] > 0


def raw_zip(path: str, members: list[tuple[bytes, bytes, int]]) -> str:
    """A zip whose member names are stored as these bytes with these flag bits (Windows
    tools write CP949 names without the UTF-8 flag; zipfile would re-encode them)."""

    class RawName(zipfile.ZipInfo):
        raw, raw_flags = b"", 0  # zipfile clears flag_bits when it writes: added back here

        def _encodeFilenameFlags(self) -> tuple[bytes, int]:
            return self.raw, self.flag_bits | self.raw_flags

    with zipfile.ZipFile(path, "w") as z:
        for name, data, flags in members:
            info = RawName(name.decode("cp437"))
            info.raw, info.raw_flags = name, flags
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)
    return path


def test_cp949_names_without_the_utf8_flag_convert(tmp_path):
    gt = "이미지/가나.png\t가나\n이미지/다.png\t다\n".encode()
    path = raw_zip(str(tmp_path / "ko.zip"), [
        (b"gt.txt", gt, 0), ("이미지/가나.png".encode("cp949"), png(1), 0),
        ("이미지/다.png".encode("cp949"), png(2), 0)])
    card = convert("gt-txt", path, str(tmp_path / "out"), "--split", "none")
    assert card["counts"]["written"] == 2 and card["options"]["name_encoding"] is None
    # told another encoding, the names no longer match the label file
    run_cli("gt-txt", "-i", path, "-o", str(tmp_path / "latin"), "-q", "--workers", "1",
            "--name-encoding", "latin-1", expect=1)
    assert_one_line_error(run_cli("gt-txt", "-i", path, "-o", str(tmp_path / "x"), "--name-encoding",
                                  "hex", expect=1), "--name-encoding 'hex': unknown text encoding")


def test_hostile_members_are_rejected_as_in_a_folder(tmp_path):
    """``../``, absolute, a symlink out, a directory: the folder's reasons."""
    gt = b"../up.png\tup\n/etc/abs.png\tabs\nout.png\tout\nsub\tdir\nok.png\tok\nnone.png\tnone\n"
    folder = write_files(str(tmp_path / "src"), {"gt.txt": gt, "ok.png": png(1), "sub/x.png": png(2)})
    os.symlink("/etc/hostname", os.path.join(folder, "out.png"))
    archive = pack(folder, str(tmp_path / "src.tar"))  # tarfile keeps the symlink as a member
    with tarfile.open(archive) as t:
        assert t.getmember("out.png").issym()
    expected = {"up": "path_outside_source", "abs": "path_outside_source",
                "out": "path_outside_source", "dir": "not_a_file", "none": "missing_image"}
    for src in (folder, archive):
        out = str(tmp_path / f"out_{os.path.basename(src)}")
        card = convert("gt-txt", src, out, "--split", "none")
        labels = {r["source"]: r["reason"] for r in rejects_of(out)}
        assert sorted(labels.values()) == sorted(expected.values()), src
        assert card["counts"]["written"] == 1


def test_symlink_member_inside_is_not_followed(tmp_path):
    folder = write_files(str(tmp_path / "src"), {"gt.txt": b"link.png\tx\na.png\ta\n", "a.png": png(1)})
    os.symlink("a.png", os.path.join(folder, "link.png"))
    out = str(tmp_path / "out")
    convert("gt-txt", pack(folder, str(tmp_path / "s.tgz")), out, "--split", "none")
    [row] = rejects_of(out)
    assert row["reason"] == "not_a_file" and "symlink member" in row["detail"]


def test_label_file_missing_in_the_archive_is_one_line(tmp_path):
    path = raw_zip(str(tmp_path / "nogt.zip"), [(b"a.png", png(1), 0)])
    assert_one_line_error(run_cli("gt-txt", "-i", path, "-o", str(tmp_path / "o"), expect=None), "gt.txt")
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not a zip")
    assert_one_line_error(run_cli("gt-txt", "-i", str(junk), "-o", str(tmp_path / "p"), expect=None),
                          "junk.zip: not a readable archive")


def test_manifest_names_the_archive_only_in_its_input(tmp_path):
    src = write_files(str(tmp_path / "src"), {"gt.txt": b"a.png\ta\n", "a.png": png(1)})
    convert("gt-txt", src, str(tmp_path / "o1"))
    convert("gt-txt", pack(src, str(tmp_path / "s.zip")), str(tmp_path / "o2"))
    a, b = (json.load(open(tmp_path / o / "manifest.json")) for o in ("o1", "o2"))
    differing = {k for k in a if a[k] != b[k]}
    assert differing <= {"created", "elapsed", "input", "source"}, differing


def test_coco_link_needs_a_folder(tmp_path):
    src = str(tmp_path / "src")
    run_cli("fixture", "ndl-layout", "-o", src, "-n", "3")
    archive = pack(src, str(tmp_path / "pages.zip"))
    assert_one_line_error(run_cli("ndl-layout", "-i", archive, "-o", str(tmp_path / "o"), "-q", "--link",
                                  expect=None), "--link needs a folder")
    run_cli("ndl-layout", "-i", archive, "-o", str(tmp_path / "copied"), "-q", "--workers", "1")
    assert os.listdir(tmp_path / "copied" / "images")


def test_label_option_names_a_member_of_the_archive(tmp_path, monkeypatch):
    """--labels/--gt: a path on disk, else the archive's member of that name."""
    src = str(tmp_path / "src")
    run_cli("fixture", "paddle-rec", "-o", src, "-n", "12")
    folder = convert("paddle-rec", src, str(tmp_path / "f"), "--labels", f"{src}/rec_gt_train.txt")
    archive = pack(src, str(tmp_path / "s.zip"))
    monkeypatch.chdir(tmp_path)  # no rec_gt_train.txt here: the name is the member's
    member = convert("paddle-rec", archive, str(tmp_path / "m"), "--labels", "rec_gt_train.txt")
    assert member == folder
    result = run_cli("paddle-rec", "-i", archive, "-o", str(tmp_path / "x"), "--labels", "nope.txt", expect=2)
    assert "option labels: nope.txt: no such file or folder (on disk or in" in result.output + result.stderr
    result = run_cli("gt-txt", "-i", src, "-o", str(tmp_path / "y"), "--gt", "nope.txt", expect=2)
    assert "option gt: nope.txt: no such file or folder\n" in result.output + result.stderr


def test_ai_hub_label_zip_with_image_zips(tmp_path):
    """-i [라벨].zip --also-input [원천]1.zip --also-input [원천]2.zip: as the unpacked folder."""
    src = str(tmp_path / "src")
    run_cli("fixture", "aihub-htr", "-o", src, "-n", "12")
    folder = convert("aihub", src, str(tmp_path / "f"), "--type", "htr")
    labels, words, rest = (tmp_path / n for n in ("labels", "words", "rest"))
    for entry in os.listdir(src):
        target = labels if entry.endswith(".json") else words if "word" in entry else rest
        os.renames(os.path.join(src, entry), target / entry)
    parts = [pack(str(labels), str(tmp_path / "[라벨].zip")), pack(str(words), str(tmp_path / "[원천]1.zip")),
             pack(str(rest), str(tmp_path / "[원천]2.tar"))]
    split = convert("aihub", parts[0], str(tmp_path / "z"), "--type", "htr",
                    "--also-input", parts[1], "--also-input", parts[2], workers="2")
    assert split == folder and folder["counts"]["written"] > 0
    # the same image in two parts is no guess
    shutil.copytree(words, rest, dirs_exist_ok=True)
    both = convert("aihub", parts[0], str(tmp_path / "d"), "--type", "htr", "--also-input", parts[1],
                   "--also-input", pack(str(rest), str(tmp_path / "dup.zip")))
    assert {r[1] for r in both["rejects"]} >= {"ambiguous_image"}
    assert both["counts"]["written"] < folder["counts"]["written"]


NAMES = st.sampled_from(["a.png", "b.png", "d/c.png", "d/가.png", unicodedata.normalize("NFD", "d/한.png")])
WRITTEN = st.one_of(NAMES, st.sampled_from(["../a.png", "/etc/a.png", "d/../a.png", "d", "d/", "x.png",
                                             "d/한.png", "./b.png", "C:/a.png", "d//c.png"]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(files=st.sets(NAMES, min_size=1), written=st.lists(WRITTEN, min_size=1, max_size=8, unique=True),
       suffix=st.sampled_from([".zip", ".tar.gz"]))
def test_any_label_file_reads_the_archive_as_the_folder(tmp_path_factory, files, written, suffix):
    """Whatever paths the label file writes (climbing out, absolute, folders, missing, the
    other Unicode form), the archive gives the folder's samples and reject reasons."""
    base = tmp_path_factory.mktemp("prop")
    gt = "".join(f"{w}\tlabel{i}\n" for i, w in enumerate(written)).encode()
    src = write_files(str(base / "src"), {"gt.txt": gt, **{f: png(i) for i, f in enumerate(sorted(files))}})
    archive = pack(src, str(base / f"src{suffix}"))
    outcomes = []
    for name, path in (("folder", src), ("archive", archive)):
        result = run_cli("gt-txt", "-i", path, "-o", str(base / name), "-q", "--workers", "1",
                         "--split", "none", expect=None)
        outcomes.append((result.exit_code, outcome(str(base / name)) if result.exit_code == 0
                         else result.stderr.replace(path, "SRC")))
    assert outcomes[0] == outcomes[1]


def test_several_parts_reject_as_one_folder(tmp_path):
    gt = b"../up.png\tup\n/abs.png\tabs\n\tempty\nimgs/a.png\ta\nimgs/b.png\tb\nnone.png\tnone\n"
    one = write_files(str(tmp_path / "one"), {"gt.txt": gt, "imgs/a.png": png(1), "imgs/b.png": png(2)})
    labels = write_files(str(tmp_path / "labels"), {"gt.txt": gt})
    first = pack(write_files(str(tmp_path / "p1"), {"imgs/a.png": png(1)}), str(tmp_path / "p1.zip"))
    second = pack(write_files(str(tmp_path / "p2"), {"imgs/b.png": png(2)}), str(tmp_path / "p2.tgz"))
    folder = convert("gt-txt", one, str(tmp_path / "o1"), "--split", "none")
    parts = convert("gt-txt", labels, str(tmp_path / "o2"), "--split", "none",
                    "--also-input", first, "--also-input", second)
    assert parts == folder and folder["counts"]["written"] == 2
