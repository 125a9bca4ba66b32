"""Hostile paths inside annotations: climbing out, absolute, symlinks out of the source,
NFD file names from macOS zips, spaces, loops. Nothing outside SRC is read."""
from __future__ import annotations

import os
import unicodedata

import pytest

from helpers import clovaai_tree
from dataconv.errors import SampleRejected
from dataconv.io.paths import read_inside
from hostile_util import (accounted, aihub_document, aihub_source, assert_one_line_error, convert,
                          gt_source, png, reasons, write_files, written_labels)

NFC = unicodedata.normalize("NFC", "한글 이름.png")
NFD = unicodedata.normalize("NFD", NFC)


def test_escaping_paths_are_rejected_without_reading(tmp_path):
    secret = write_files(str(tmp_path / "outside"), {"secret.png": png(9)})
    lines = ["../outside/secret.png", f"{secret}/secret.png", "sub/../../outside/secret.png",
             "C:\\secret.png", "\\\\server\\share\\x.png", "ok.png"]
    gt = "".join(f"{p}\t{i}\n" for i, p in enumerate(lines)).encode()
    src = gt_source(str(tmp_path / "src"), gt, {"ok.png": png()})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    accounted(out)
    assert set(reasons(out).values()) == {"path_outside_source"}
    assert written_labels(out) == ["5"]


@pytest.fixture
def linked_source(tmp_path):
    outside = write_files(str(tmp_path / "outside"), {"secret.png": png(9)})
    src = gt_source(str(tmp_path / "src"), b"out.png\tout\nin.png\tin\nloop.png\tloop\n"
                                           b"dangling.png\tdangling\n", {"real.png": png()})
    os.symlink(os.path.join(outside, "secret.png"), os.path.join(src, "out.png"))
    os.symlink("real.png", os.path.join(src, "in.png"))
    os.symlink("loop.png", os.path.join(src, "loop.png"))
    os.symlink("nowhere.png", os.path.join(src, "dangling.png"))
    return src


def test_symlinks_out_of_the_source_are_refused(linked_source, tmp_path):
    out = str(tmp_path / "out")
    convert("gt-txt", linked_source, out)
    accounted(out)
    assert reasons(out) == {"out.png": "path_outside_source", "loop.png": "unreadable_image",
                            "dangling.png": "missing_image"}
    assert written_labels(out) == ["in"]


def test_follow_symlinks_opens_them(linked_source, tmp_path):
    out = str(tmp_path / "out")
    convert("gt-txt", linked_source, out, "--follow-symlinks")
    accounted(out)
    assert sorted(written_labels(out)) == ["in", "out"]


def test_folders_and_fifos_under_image_names_are_not_files(tmp_path):
    """A FIFO would block a plain open() forever; a folder cannot be read."""
    src = gt_source(str(tmp_path / "src"), b"dir.png\tdir\npipe.png\tpipe\nok.png\tok\n",
                    {"ok.png": png(), "dir.png/inner.png": png(1)})
    os.mkfifo(os.path.join(src, "pipe.png"))
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    accounted(out)
    assert reasons(out) == {"dir.png": "not_a_file", "pipe.png": "not_a_file"}
    assert written_labels(out) == ["ok"]


def test_symlinked_folder_out_of_the_source_is_refused(tmp_path):
    outside = write_files(str(tmp_path / "outside"), {"secret.png": png(9)})
    src = gt_source(str(tmp_path / "src"), b"sub/secret.png\tsecret\nok.png\tok\n",
                    {"ok.png": png()})
    os.symlink(outside, os.path.join(src, "sub"))
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    assert reasons(out) == {"sub/secret.png": "path_outside_source"}
    assert written_labels(out) == ["ok"]


@pytest.mark.parametrize("on_disk,written", [(NFD, NFC), (NFC, NFD)])
def test_other_normal_form_is_found_gt_txt(tmp_path, on_disk, written):
    data = png(3)
    src = gt_source(str(tmp_path / "src"), f"{written}\t이름\nsub/{written}\t폴더\n".encode(),
                    {on_disk: data, f"sub/{on_disk}": data})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    assert accounted(out)["counts"]["written"] == 2
    assert {d for shard in clovaai_tree(out).values() for _, d in shard} == {data}


def test_other_normal_form_is_found_aihub(tmp_path):
    document = aihub_document([("1", "1", "이름")], files={"1": NFC})
    src = aihub_source(str(tmp_path / "src"), document, {f"images/{NFD}": png(4)})
    out = str(tmp_path / "out")
    convert("aihub", src, out)
    assert accounted(out)["counts"]["written"] == 1


def test_exact_name_wins_over_the_other_form(tmp_path):
    root = write_files(str(tmp_path / "src"), {NFC: b"composed", NFD: b"decomposed"})
    if len(os.listdir(root)) < 2:
        pytest.skip("this file system folds normal forms")
    assert read_inside(root, NFD) == b"decomposed"
    assert read_inside(root, NFC) == b"composed"


def test_spaces_in_names(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"my file.png\tspaced name\n a.png\tleading space\n",
                    {"my file.png": png(), " a.png": png(1)})
    out = str(tmp_path / "out")
    convert("gt-txt", src, out)
    assert sorted(written_labels(out)) == ["leading space", "spaced name"]
    out2 = str(tmp_path / "out2")
    result = convert("gt-txt", src, out2, "--sep", "space", expect=1)  # a space cannot carry them
    assert_one_line_error(result, "0 of 2 samples written; missing_image (2 of 2",
                          os.path.join(src, "my") + " not found")


@pytest.mark.parametrize("rel,reason", [("", "missing_image"), ("a\x00.png", "bad_path"),
                                        ("\ud800.png", "bad_path"), ("/abs.png", "path_outside_source")])
def test_unusable_path_text(tmp_path, rel, reason):
    with pytest.raises(SampleRejected) as e:
        read_inside(str(tmp_path), rel)
    assert e.value.reason == reason


def test_undecodable_file_names_on_disk_do_not_break_the_index(tmp_path):
    document = aihub_document([("1", "1", "하나")])
    src = aihub_source(str(tmp_path / "src"), document, {"1.png": png()})
    with open(os.path.join(src.encode(), b"\xb0\xa1.png"), "wb") as f:  # cp949 "가.png"
        f.write(png(1))
    out = str(tmp_path / "out")
    convert("aihub", src, out)
    assert written_labels(out) == ["하나"]


def test_image_index_finds_the_other_normal_form(tmp_path):
    """Index-based formats (icdar2015, ...) follow the same NFC/NFD policy."""
    from dataconv.io.imagefind import ImageIndex

    root = write_files(str(tmp_path / "src"), {f"imgs/{NFD}": png()})
    index = ImageIndex(root)
    assert index.find_name(f"anywhere/{NFC}") == f"imgs/{NFD}"
    assert index.find_stem(NFC[:-4]) == f"imgs/{NFD}"
