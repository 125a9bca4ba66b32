"""Images in a bucket are read ahead, several GETs at once per worker: the output is the
same as reading them one by one, and the same as the local folder's, over more samples
than the read-ahead window, missing and corrupt images included. A real S3-compatible
server (moto's, its own process)."""
from __future__ import annotations

import os

import pytest

from helpers import clovaai_tree, memory_root, rejects_of, run_cli
from hostile_util import assert_one_line_error, gt_source, png

pytest.importorskip("s3fs")
from s3_util import S3Server, upload_folder  # noqa: E402

from dataconv.build.fetch_ahead import FETCH_AHEAD  # noqa: E402

BUCKET = "ahead"
N = 3 * FETCH_AHEAD + 5


@pytest.fixture(scope="module")
def source(tmp_path_factory, server: S3Server) -> str:
    """N samples whose images are, every seventh, missing, and every eleventh, corrupt."""
    root = str(tmp_path_factory.mktemp("ahead") / "src")
    images = {f"img/{i}.png": (b"\x89PNG not really" if i % 11 == 5 else png(i))
              for i in range(N) if i % 7 != 3}
    gt_source(root, "".join(f"img/{i}.png\tword{i}\n" for i in range(N)).encode(), images)
    upload_folder(server.client(), BUCKET, "src", root)
    return root


def outcome(out: str) -> tuple:
    return (sorted(clovaai_tree(out).items()), [(r["source"], r["reason"]) for r in rejects_of(out)],
            open(os.path.join(out, "samples.parquet"), "rb").read())


@pytest.mark.parametrize("workers", ["1", "2"])
def test_read_ahead_gives_the_local_output(server, source, tmp_path, monkeypatch, workers) -> None:
    local = str(tmp_path / "local")
    run_cli("gt-txt", "-i", source, "-o", local, "-q", "--workers", workers)
    outs = {}
    for ahead in ("1", ""):  # one GET at a time, then the default window
        monkeypatch.setenv("DATACONV_FETCH_AHEAD", ahead)
        outs[ahead] = str(tmp_path / f"s3-{ahead or 'default'}")
        run_cli("gt-txt", "-i", f"s3://{BUCKET}/src", "-o", outs[ahead], "-q", "--workers", workers,
                "--storage-options", server.options())
    expected = outcome(local)
    assert {r for _, r in expected[1]} == {"missing_image", "undecodable_image"}
    assert outcome(outs["1"]) == expected and outcome(outs[""]) == expected


def test_a_bad_window_is_one_line(server, source, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATACONV_FETCH_AHEAD", "many")
    result = run_cli("gt-txt", "-i", f"s3://{BUCKET}/src", "-o", str(tmp_path / "o"), "-q", "--workers", "1",
                     "--storage-options", server.options(), expect=None)
    assert_one_line_error(result, "DATACONV_FETCH_AHEAD='many'")
    assert not os.path.exists(tmp_path / "o")


def test_only_images_under_a_url_prefix_are_read_ahead(tmp_path) -> None:
    """A one-sample segment of a prefix is read ahead; a folder and an archive (one file
    handle, not safe across threads) are handed on as they are, read by the checks."""
    import shutil

    from dataconv.build.fetch_ahead import FetchedImage, fetched_ahead
    from dataconv.io.source import SourceRoot
    from dataconv.sample import FileImage, ReadContext, Sample

    url = memory_root({"a.png": png(1)})
    ctx = ReadContext()
    one = [(0, Sample("a", "a", FileImage(SourceRoot.of(url), "a.png"), "gt.txt:1"))]
    (got,) = list(fetched_ahead(one, ctx))
    assert got[0] == 0 and isinstance(got[1].image, FetchedImage) and got[1].image.read(ctx) == png(1)
    folder = gt_source(str(tmp_path / "f"), b"a.png\ta\n", {"a.png": png(1)})
    archive = shutil.make_archive(str(tmp_path / "z"), "zip", folder)
    for root in (folder, SourceRoot.of(folder), SourceRoot.of(archive)):
        local = [(i, Sample(str(i), "a", FileImage(root, "a.png"), f"gt.txt:{i}")) for i in range(3)]
        assert fetched_ahead(local, ctx) is local
