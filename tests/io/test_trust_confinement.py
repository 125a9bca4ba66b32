"""Confinement: every input dataconv opens goes through dataconv.io.safeopen.

For every registered format, the format's annotation file(s) are replaced by a symlink to
a file outside SRC holding a secret marker, and by a FIFO: the run ends with the exact
error or rejects below, never hangs, and the marker appears nowhere in OUT, stdout or
stderr. The safe-open API itself is exercised directly: a folder swapped for a symlink
between two opens is refused at the second, FIFOs/sockets/devices are never waited on.
"""
from __future__ import annotations

import glob
import os
import socket
import stat
import subprocess
import sys

import pytest

from helpers import assert_accounted, rejects_of, run_cli
from dataconv.converters.base import formats
from dataconv.errors import DataconvError, SampleRejected
from dataconv.io.paths import read_inside
from dataconv.io.safeopen import InputFile, open_inside, open_input, open_user_path, walk_files
from fmt_util import make_fixture
from hostile_util import assert_one_line_error, gt_source, png

MARKER = b"SECRET-MARKER-7f3a9c"
RUN_TIMEOUT = 120  # a FIFO waited on would hang: the subprocess is killed and the test fails


def _gt_txt(src: str) -> None:
    gt_source(src, b"a.png\talpha\nb.png\tbeta\n", {"a.png": png(1), "b.png": png(2)})


# format -> (fixture builder, annotation files (globs under SRC), extra CLI args)
SOURCES = {
    "aihub": (lambda s: make_fixture("aihub-htr", s, n=3), ["handwriting_data_info1.json"], []),
    "coco-text": (lambda s: make_fixture("coco-text", s, n=3), ["COCO_Text.json"], []),
    "gt-txt": (_gt_txt, ["gt.txt"], []),
    "icdar2015": (lambda s: make_fixture("icdar2015", s, n=3), ["annotations/gt_*.txt"], []),
    "icdar2015-rec": (lambda s: make_fixture("icdar2015-rec", s, n=3), ["gt.txt"], []),
    "lmdb": (lambda s: make_fixture("lmdb", s, n=3), ["*/data.mdb"], []),
    "minhon": (lambda s: make_fixture("minhon", s, n=3), ["lines/*.txt"], []),
    "mjsynth": (lambda s: make_fixture("mjsynth", s, n=3), ["annotation_train.txt"], []),
    "ndl-layout": (lambda s: make_fixture("ndl-layout", s, n=3), ["**/*.xml"], []),
    "paddle-det": (lambda s: make_fixture("paddle-det", s, n=3), ["label.txt"], ["--labels", "{src}/label.txt"]),
    "paddle-rec": (lambda s: make_fixture("paddle-rec", s, n=3), ["rec_gt_train.txt"],
                   ["--labels", "{src}/rec_gt_train.txt"]),
    "textocr": (lambda s: make_fixture("textocr", s, n=3), ["TextOCR_0.1_train.json"], []),
    "aihub-tiw": (lambda s: make_fixture("aihub-tiw", s, n=3), ["textinthewild_data_info.json"], []),
    "aihub-outdoor": (lambda s: make_fixture("aihub-outdoor", s, n=3), ["**/[[]라벨[]]*/**/*.json"], []),
    "aihub-forms": (lambda s: make_fixture("aihub-forms", s, n=3), ["**/[[]라벨[]]*/**/*.json"], []),
    "aihub-admin": (lambda s: make_fixture("aihub-admin", s, n=3), ["**/[[]라벨[]]*/**/*.json"], []),
    "aihub-nia": (lambda s: make_fixture("aihub-nia", s, n=3), ["**/라벨링데이터/*.json"], []),
    "labelme": (lambda s: make_fixture("labelme", s, n=3), ["labels/*.json"], []),
    "label-studio": (lambda s: make_fixture("label-studio", s, n=3), ["export.json"],
                     ["--export", "{src}/export.json"]),
}

# Expected ending: (exit code, stderr fragment or None, rejects expected {reason: count} or None).
OUT_SYMLINK = {
    "aihub": (1, "path_outside_source", None),
    "coco-text": (1, "path_outside_source", None),
    "gt-txt": (1, "path_outside_source", None),
    "icdar2015": (1, "path_outside_source", None),
    "icdar2015-rec": (1, "path_outside_source", None),
    "lmdb": (1, "a symlink out of the source folder", None),
    "minhon": (0, None, {"path_outside_source": 3}),  # one per-image label file each
    "mjsynth": (1, "path_outside_source", None),
    "ndl-layout": (1, "path_outside_source", None),
    "textocr": (1, "path_outside_source", None),
    "aihub-tiw": (1, "path_outside_source", None),
    "aihub-outdoor": (1, "path_outside_source", None),
    "aihub-forms": (1, "path_outside_source", None),
    "aihub-admin": (1, "path_outside_source", None),
    "aihub-nia": (1, "path_outside_source", None),
    "labelme": (1, "path_outside_source", None),
}
# --labels FILE is a path the user named: opened as given (documented), so not listed above.
USER_NAMED = {"paddle-det", "paddle-rec", "label-studio"}

FIFO = {
    "aihub": (1, "no handwriting_data_info1.json found", None),  # a FIFO is not a file: not found
    "coco-text": (1, "is a FIFO", None),
    "gt-txt": (1, "is a FIFO", None),
    "icdar2015": (1, "no gt_*.txt files found", None),
    "icdar2015-rec": (1, "is a FIFO", None),
    "lmdb": (1, None, None),
    "minhon": (0, None, {"missing_label": 3}),
    "mjsynth": (1, "is a FIFO", None),
    "ndl-layout": (1, "no Pascal VOC .xml files found", None),
    "paddle-det": (1, "is a FIFO, not a regular file", None),
    "paddle-rec": (1, "is a FIFO, not a regular file", None),
    "textocr": (1, "is a FIFO", None),
    "aihub-tiw": (1, "no textinthewild_data_info.json found", None),
    "aihub-outdoor": (1, "no samples found", None),  # a FIFO is not listed
    "aihub-forms": (1, "no samples found", None),  # a FIFO is not listed
    "aihub-admin": (1, "no samples found", None),  # a FIFO is not listed
    "aihub-nia": (1, "no samples found", None),  # a FIFO is not listed
    "labelme": (1, "no samples found", None),  # a FIFO is not listed
    "label-studio": (1, "is a FIFO, not a regular file", None),
}


def test_every_format_is_covered():
    assert set(SOURCES) == set(formats())
    assert set(OUT_SYMLINK) | USER_NAMED == set(FIFO) == set(formats())


def _source(tmp_path, fmt: str) -> tuple[str, list[str]]:
    src = str(tmp_path / "src")
    build, patterns, _ = SOURCES[fmt]
    build(src)
    files = sorted({p for pat in patterns for p in glob.glob(os.path.join(src, pat), recursive=True)})
    assert files, (fmt, patterns)
    return src, files


def _run(fmt: str, src: str, out: str) -> subprocess.CompletedProcess:
    """The real command in its own process: a FIFO waited on shows as a timeout."""
    args = [a.format(src=src) for a in SOURCES[fmt][2]]
    code = "import sys; from dataconv.cli.main import main; sys.argv[0] = 'dataconv'; main()"
    return subprocess.run([sys.executable, "-c", code, fmt, "-i", src, "-o", out, "-q", "--workers", "1",
                           "--split", "none", *args], capture_output=True, timeout=RUN_TIMEOUT)


def _assert_ending(done: subprocess.CompletedProcess, out: str, expected: tuple) -> None:
    code, fragment, rejects = expected
    stderr = done.stderr.decode("utf-8", "replace")
    assert done.returncode == code, (done.returncode, stderr)
    assert b"Traceback" not in done.stderr
    if code == 1:
        assert stderr.startswith("error:") and stderr.count("\n") == 1, stderr
        assert not os.path.exists(out)
    if fragment is not None:
        assert fragment in stderr, stderr
    if rejects is not None:
        card = assert_accounted(out)
        assert {r: card["rejects"].get(r) for r in rejects} == rejects, card["rejects"]


def _assert_no_marker(done: subprocess.CompletedProcess, tmp_path) -> None:
    """The marker is in no byte of stdout, stderr or any file the run wrote."""
    assert MARKER not in done.stdout and MARKER not in done.stderr
    for dirpath, _, names in os.walk(tmp_path):
        if os.path.basename(dirpath) == "outside" or os.path.commonpath([dirpath, tmp_path / "src"]) == str(tmp_path / "src"):
            continue  # the secret itself, and SRC (whose symlinks point at it)
        for name in names:
            path = os.path.join(dirpath, name)
            if stat.S_ISREG(os.lstat(path).st_mode):
                with open(path, "rb") as f:
                    assert MARKER not in f.read(), path


@pytest.mark.parametrize("fmt", sorted(OUT_SYMLINK))
def test_annotation_file_symlinked_out_of_src_is_not_read(tmp_path, fmt):
    src, files = _source(tmp_path, fmt)
    outside = tmp_path / "outside"
    outside.mkdir()
    for k, path in enumerate(files):
        secret = outside / f"secret{k}"
        secret.write_bytes(MARKER + b"\tlabel\n" + MARKER + b"\n")
        os.remove(path)
        os.symlink(secret, path)
    out = str(tmp_path / "out")
    done = _run(fmt, src, out)
    _assert_ending(done, out, OUT_SYMLINK[fmt])
    _assert_no_marker(done, tmp_path)


@pytest.mark.parametrize("fmt", sorted(FIFO))
def test_annotation_file_that_is_a_fifo_never_hangs(tmp_path, fmt):
    src, files = _source(tmp_path, fmt)
    for path in files:
        os.remove(path)
        os.mkfifo(path)
    out = str(tmp_path / "out")
    _assert_ending(_run(fmt, src, out), out, FIFO[fmt])


@pytest.mark.parametrize("fmt", sorted(USER_NAMED))
def test_a_label_file_the_user_names_is_opened_as_given(tmp_path, fmt):
    """``--labels`` is the user's choice: a symlink there is followed (documented)."""
    src, files = _source(tmp_path, fmt)
    real = tmp_path / "elsewhere.txt"
    real.write_bytes(open(files[0], "rb").read())
    os.remove(files[0])
    os.symlink(real, files[0])
    out = str(tmp_path / "out")
    done = _run(fmt, src, out)
    assert done.returncode == 0, done.stderr
    assert assert_accounted(out)["counts"]["written"] > 0


def test_symlinked_gt_txt_is_followed_with_follow_symlinks(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    gt_source(str(elsewhere), b"a.png\tfrom outside\n")
    src = gt_source(str(tmp_path / "src"), b"", {"a.png": png(1)})
    os.remove(os.path.join(src, "gt.txt"))
    os.symlink(elsewhere / "gt.txt", os.path.join(src, "gt.txt"))
    out = str(tmp_path / "out")
    result = run_cli("gt-txt", "-i", src, "-o", out, "-q", "--split", "none", expect=1)
    assert_one_line_error(result, "gt.txt: path_outside_source")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--split", "none", "--follow-symlinks")
    assert assert_accounted(out)["counts"]["written"] == 1


def test_symlinks_inside_src_keep_working(tmp_path):
    src = gt_source(str(tmp_path / "src"), b"", {"real/a.png": png(1), "labels/gt.txt":
                                                  b"alias/a.png\tvia folder link\nabs.png\tvia absolute link\n"})
    os.remove(os.path.join(src, "gt.txt"))
    os.symlink("labels/gt.txt", os.path.join(src, "gt.txt"))  # relative, inside
    os.symlink("real", os.path.join(src, "alias"))  # a folder symlink, inside
    os.symlink(os.path.join(src, "real", "a.png"), os.path.join(src, "abs.png"))  # absolute, inside
    out = str(tmp_path / "out")
    run_cli("gt-txt", "-i", src, "-o", out, "-q", "--split", "none", "--workers", "1")
    assert assert_accounted(out)["counts"]["written"] == 2


def test_minhon_label_over_the_cap_is_rejected_unread(tmp_path):
    src = str(tmp_path / "src")
    make_fixture("minhon", src, n=3)
    big = sorted(glob.glob(os.path.join(src, "lines", "*.txt")))[0]
    with open(big, "wb") as f:
        f.truncate(300 * 1024 * 1024)  # sparse: 300 MB that must not be read whole
    out = str(tmp_path / "out")
    run_cli("minhon", "-i", src, "-o", out, "-q", "--split", "none", "--workers", "1")
    rejects = [r for r in rejects_of(out) if r["reason"] == "label_too_big"]
    assert [r["source"] for r in rejects] == [os.path.relpath(big, src)]


# The safe-open API itself.

def _tree(tmp_path) -> tuple[str, str]:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "d").mkdir(parents=True)
    outside.mkdir()
    (root / "d" / "x.txt").write_bytes(b"inside")
    (outside / "x.txt").write_bytes(MARKER)
    return str(root), str(outside)


def _read(root: str, rel: str, follow: bool = False) -> bytes:
    with os.fdopen(open_inside(root, rel, follow), "rb") as f:
        return f.read()


def test_a_folder_swapped_for_a_symlink_between_two_opens_is_refused(tmp_path):
    root, outside = _tree(tmp_path)
    assert _read(root, "d/x.txt") == b"inside"
    os.rename(os.path.join(root, "d"), os.path.join(root, "d.old"))
    os.symlink(outside, os.path.join(root, "d"))
    with pytest.raises(SampleRejected) as e:
        _read(root, "d/x.txt")
    assert e.value.reason == "path_outside_source"
    assert read_inside(root, "d/x.txt", follow_symlinks=True) == MARKER  # only when asked


@pytest.mark.parametrize("target", ["../../outside/x.txt", "{outside}/x.txt", "../d/../../outside/x.txt"])
def test_symlink_targets_leaving_the_root_are_refused(tmp_path, target):
    root, outside = _tree(tmp_path)
    os.symlink(target.format(outside=outside), os.path.join(root, "d", "link.txt"))
    with pytest.raises(SampleRejected) as e:
        _read(root, "d/link.txt")
    assert e.value.reason == "path_outside_source"


def test_symlink_targets_inside_the_root_are_followed(tmp_path):
    root, _ = _tree(tmp_path)
    os.symlink("../d/x.txt", os.path.join(root, "d", "rel.txt"))
    os.symlink(os.path.join(root, "d"), os.path.join(root, "absdir"))
    os.symlink(os.path.realpath(os.path.join(root, "d")), os.path.join(root, "realdir"))
    assert _read(root, "d/rel.txt") == _read(root, "absdir/x.txt") == _read(root, "realdir/rel.txt") == b"inside"


def test_symlink_loop_is_an_os_error(tmp_path):
    root, _ = _tree(tmp_path)
    os.symlink("b", os.path.join(root, "a"))
    os.symlink("a", os.path.join(root, "b"))
    with pytest.raises(SampleRejected) as e:
        read_inside(root, "a")
    assert e.value.reason == "unreadable_image"


def _special_files(root: str) -> dict[str, str]:
    """name -> kind of FIFO, socket and (where mknod is allowed) a character device."""
    made = {"fifo": "a FIFO", "sock": "a socket"}
    os.mkfifo(os.path.join(root, "fifo"))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(root, "sock"))
    sock.close()
    try:
        os.mknod(os.path.join(root, "dev"), stat.S_IFCHR | 0o600, os.makedev(1, 3))  # like /dev/null
        made["dev"] = "a device"
    except PermissionError:
        pass
    return made


def test_fifos_sockets_devices_are_not_files(tmp_path):
    root, _ = _tree(tmp_path)
    for name, kind in _special_files(root).items():
        with pytest.raises(SampleRejected) as e:
            _read(root, name)
        assert (e.value.reason, e.value.detail) == ("not_a_file", f"{name} is {kind}")
        with pytest.raises(DataconvError, match=f"is {kind}, not a regular file"):
            open_user_path(os.path.join(root, name))
        with pytest.raises(DataconvError, match="not_a_file"):
            open_input(InputFile.inside(root, name), 1 << 20)


def test_walk_lists_regular_files_only_and_never_descends_a_symlinked_folder(tmp_path):
    root, outside = _tree(tmp_path)
    _special_files(root)
    os.symlink(outside, os.path.join(root, "out_dir"))
    os.symlink("d", os.path.join(root, "in_dir"))
    os.symlink("d/x.txt", os.path.join(root, "file_link"))
    os.symlink("missing", os.path.join(root, "dangling"))
    assert list(walk_files(root)) == ["file_link", "d/x.txt"]


def test_user_paths_follow_symlinks_and_caps_apply(tmp_path):
    root, outside = _tree(tmp_path)
    link = os.path.join(root, "user_link")
    os.symlink(os.path.join(outside, "x.txt"), link)
    fd = open_user_path(link)
    assert os.read(fd, 100) == MARKER
    os.close(fd)
    with pytest.raises(DataconvError, match="over the 3-byte limit"):
        open_input(InputFile.inside(root, "d/x.txt"), 3)
