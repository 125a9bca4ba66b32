"""An object-storage output needs no shared disk: each work item writes into its own local
scratch folder and uploads what it wrote under ``OUT/.dataconv-staging``; the commit moves
the staged objects into place before the manifest. A real S3-compatible server (moto's,
its own process), real LMDBs read back."""
from __future__ import annotations

import os
from array import array

import pytest

from helpers import REALDATA, clovaai_tree, read_lmdb, run_cli
from hostile_util import png, write_files

pytest.importorskip("s3fs")
from s3_util import S3Server, keys  # noqa: E402

from dataconv.build import shards  # noqa: E402
from dataconv.outputs import samples_table, staging  # noqa: E402
from dataconv.outputs.lmdb_writer import ShardWriter  # noqa: E402
from dataconv.outputs.staging import STAGING, Stage  # noqa: E402
from dataconv.sample import FileImage, ReadContext, Sample  # noqa: E402
from dataconv.validators.base import CheckOptions  # noqa: E402

BUCKET = "stage"


def s3(server: S3Server, *args: str, expect: int | None = 0, cache: str = ""):
    extra = ["--cache", cache] if cache else []
    return run_cli(*args, "--storage-options", server.options(), *extra, expect=expect)


def download(server: S3Server, prefix: str, folder: str) -> str:
    client = server.client()
    for key in keys(client, BUCKET, prefix):
        local = os.path.join(folder, key[len(prefix):].lstrip("/"))
        os.makedirs(os.path.dirname(local), exist_ok=True)
        client.download_file(BUCKET, key, local)
    return folder


def test_work_items_never_touch_the_build_folder(server, tmp_path, monkeypatch) -> None:
    """The checked pass's segment, the join that writes from its spool and a whole task,
    run with a build folder no process could create (it lies under a regular file, as a
    folder on another machine is out of reach): each leaves its files under the staging
    prefix and removes its scratch folder."""
    monkeypatch.setenv("TMPDIR", str(tmp_path / "scratch"))
    os.makedirs(tmp_path / "scratch")
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    (tmp_path / "file").write_bytes(b"")
    root = str(tmp_path / "file" / "build")
    stage = Stage(root, f"s3://{BUCKET}/items/{STAGING}", server.options())
    src = write_files(str(tmp_path / "src"), {f"{i}.png": png(i) for i in range(5)})
    samples = [(i, Sample(f"id{i}", f"word{i}", FileImage(src, f"{i}.png"), f"gt.txt:{i + 1}")) for i in range(5)]
    checks, ctx = CheckOptions(), ReadContext()

    segment = shards.Segment(samples, checks, ctx, shards.spool_path(os.path.join(root, ".spool"), 0), stage)
    spooled = shards.spool_segment(segment)
    task = shards.ShardTask("train", 0, os.path.join(root, "train"), samples, checks, ctx, 1 << 30,
                            samples_table.part_path(root, "train", 0), stage)
    ends = array("q", spooled.ends)
    joined = shards.join_task(shards.Join(task, os.path.join(root, ".spool"), array("i", [0] * 5),
                                          array("q", [0, *ends[:-1]]), ends, ShardWriter))
    whole = shards.write_task(shards.WholeTask(shards.ShardTask(
        "val", 1, os.path.join(root, "val"), samples[:2], checks, ctx, 1 << 30,
        samples_table.part_path(root, "val", 1), stage), ShardWriter))

    assert not os.path.exists(root) and os.listdir(tmp_path / "scratch") == ["dataconv-scratch-build"]
    assert os.listdir(staging.scratch_folder(root)) == []  # each item removed its own
    staging.remove_scratch(root)  # what the driver does at the end
    assert os.listdir(tmp_path / "scratch") == []
    staged = {k.split(f"{STAGING}/", 1)[1] for k in keys(server.client(), BUCKET, "items")}
    assert {".spool/segment-00000.spool", "train/task-00000-000/data.mdb", ".parts/train-00000.pickle",
            "val/task-00001-000/data.mdb", ".parts/val-00001.pickle"} <= staged
    assert (joined.written, whole.written) == (5, 2)
    copy = download(server, f"items/{STAGING}", str(tmp_path / "copy"))
    expected = [(f"word{i}", png(i)) for i in range(5)]
    assert read_lmdb(os.path.join(copy, "train", "task-00000-000")) == expected
    assert read_lmdb(os.path.join(copy, "val", "task-00001-000")) == expected[:2]


def tree_files(folder: str) -> dict[str, bytes]:
    """Every file but the LMDB ones by its path, and each LMDB's records (clovaai's read)."""
    found = {}
    for here, _, files in os.walk(folder):
        for name in files:
            if not name.endswith(".mdb"):
                path = os.path.join(here, name)
                found[os.path.relpath(path, folder)] = open(path, "rb").read()
    found["lmdb"] = repr(sorted(clovaai_tree(folder).items())).encode()
    return found


def test_pages_and_crops_to_a_bucket_match_local(server, tmp_path) -> None:
    """A page format's --task rec,det into a bucket: the page images (staged by the workers
    under det/), label files, crops' shards and tables are those of the same run on disk."""
    root = REALDATA / "icdar2015_det_paddleocr"
    if not root.is_dir():
        pytest.skip("../shared/realdata is not beside the checkout")
    args = ["paddle-det", "-i", str(root), "--labels", str(root / "test_icdar2015_label.subset100.txt"),
            "--task", "rec,det", "-q", "--workers", "2"]
    local = str(tmp_path / "local")
    run_cli(*args, "-o", local)
    s3(server, *args, "-o", f"s3://{BUCKET}/pages")
    listed = keys(server.client(), BUCKET, "pages")
    assert not [k for k in listed if STAGING in k] and "pages/det/manifest.json" in listed
    copy = download(server, "pages", str(tmp_path / "copy"))
    got, want = tree_files(copy), tree_files(local)
    assert sorted(got) == sorted(want) and got == want
    assert any(name.startswith("det/train/images/") for name in got)


def test_staged_leftovers_are_dataconvs_and_never_join_an_output(server, tmp_path) -> None:
    """A prefix holding only what a run that could not clean up staged is refused without
    --overwrite and replaced with it; leftovers under a previous output are removed, never
    moved into the new one."""
    src = write_files(str(tmp_path / "src"), {"gt.txt": b"a.png\tone\nb.png\ttwo\n", "a.png": png(1), "b.png": png(2)})
    client = server.client()
    client.put_object(Bucket=BUCKET, Key=f"left/{STAGING}/train/task-00000-000/data.mdb", Body=b"old")
    result = s3(server, "gt-txt", "-i", src, "-o", f"s3://{BUCKET}/left", "-q", expect=2)
    assert "staged by a dataconv run that did not finish" in result.output
    s3(server, "gt-txt", "-i", src, "-o", f"s3://{BUCKET}/left", "-q", "--overwrite")
    client.put_object(Bucket=BUCKET, Key=f"left/{STAGING}/stray.txt", Body=b"stray")
    s3(server, "gt-txt", "-i", src, "-o", f"s3://{BUCKET}/left", "-q", "--overwrite", "--split", "none")
    listed = keys(client, BUCKET, "left")
    assert not [k for k in listed if STAGING in k or k.endswith("stray.txt")], listed
    copy = download(server, "left", str(tmp_path / "copy"))
    assert sorted(clovaai_tree(copy)) == ["train/shard-00000"]
    assert read_lmdb(os.path.join(copy, "train", "shard-00000")) == [("one", png(1)), ("two", png(2))]
    # a late worker's upload after the clean-up: readers never fetch it (a trainer walking
    # the cached folder would take it for a shard)
    with open(os.path.join(copy, "train", "shard-00000", "data.mdb"), "rb") as f:
        client.put_object(Bucket=BUCKET, Key=f"left/{STAGING}/train/task-00009-000/data.mdb", Body=f.read())
    from dataconv.io.remote import set_options
    from dataconv.io.remote_dataset import local_folder
    set_options(server.options())
    cached = local_folder(f"s3://{BUCKET}/left", str(tmp_path / "cache"))
    assert sorted(clovaai_tree(cached)) == ["train/shard-00000"] and STAGING not in os.listdir(cached)
