"""Sources read from, and datasets written to, object storage: a real S3-compatible server
(moto's, its own process on 127.0.0.1), real LMDBs read back and compared with the same
run on local disk."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from helpers import REPO, run_cli
from hostile_util import assert_one_line_error, gt_source, png

pytest.importorskip("s3fs")
from s3_util import KEY, SECRET, S3Server, keys, upload_folder  # noqa: E402

BUCKET = "data"
N = 12


@pytest.fixture(scope="module")
def source(tmp_path_factory, server: S3Server) -> str:
    """A gt-txt folder on disk, uploaded as the prefix ``src`` and as the object ``zips/src.zip``."""
    root = str(tmp_path_factory.mktemp("s3src") / "src")
    gt = "".join(f"img/{i}.png\tword{i}\n" for i in range(N)) + "img/missing.png\tgone\n"
    gt_source(root, gt.encode(), {f"img/{i}.png": png(i) for i in range(N)})
    client = server.client()
    upload_folder(client, BUCKET, "src", root)
    client.upload_file(shutil.make_archive(root, "zip", root), BUCKET, "zips/src.zip")
    client.upload_file(shutil.make_archive(root, "tar", root), BUCKET, "zips/src.tar")
    return root


@pytest.fixture(scope="module")
def local_out(tmp_path_factory, source: str) -> str:
    """The same source converted on local disk, to local disk: the reference."""
    out = str(tmp_path_factory.mktemp("local") / "out")
    run_cli("gt-txt", "-i", source, "-o", out, "-q", "--workers", "1")
    return out


def s3(server: S3Server, *args: str, expect: int | None = 0, cache: str = ""):
    extra = ["--cache", cache] if cache else []
    return run_cli(*args, "--storage-options", server.options(), *extra, expect=expect)


def dataset_files(folder: str) -> dict[str, bytes]:
    """What must be identical between two runs: the card, the tables, every shard's records."""
    from helpers import clovaai_tree

    found = {name: open(os.path.join(folder, name), "rb").read()
             for name in ("manifest.json", "rejects.jsonl", "samples.parquet", "charset.txt")}
    found["shards"] = repr(sorted(clovaai_tree(folder).items())).encode()
    return found


def fetched(server: S3Server, url: str, cache: str) -> str:
    """The verified local copy of the dataset at ``url`` (what every reader reads)."""
    from dataconv.io.remote import set_options
    from dataconv.io.remote_dataset import local_folder

    set_options(server.options())
    return local_folder(url, cache)


@pytest.mark.parametrize("name, src, how", [
    ("prefix", "s3://data/src", ("--workers", "2")),
    ("one-worker", "s3://data/src", ("--workers", "1")),
    ("prefix-dask", "s3://data/src", ("--dask", "local", "--workers", "2")),
    ("zip", "s3://data/zips/src.zip", ("--workers", "2")),
    ("zip-dask", "s3://data/zips/src.zip", ("--dask", "local", "--workers", "2")),
    ("tar", "s3://data/zips/src.tar", ("--workers", "2"))])
def test_round_trip_matches_local(server, source, local_out, tmp_path, name, src, how) -> None:
    out = f"s3://{BUCKET}/out-{name}"
    result = s3(server, "gt-txt", "-i", src, "-o", out, "-q", *how)
    assert f"written to {out}" in result.output
    assert keys(server.client(), BUCKET, out.split("/", 3)[3])[-1:] != []
    copy = fetched(server, out, str(tmp_path / "cache"))
    assert dataset_files(copy) == dataset_files(local_out)
    card = json.loads(open(os.path.join(copy, "manifest.json")).read())
    assert card["counts"]["input"] == N + 1 and card["rejects"] == {"missing_image": 1}
    listing = s3(server, "ls", out, cache=str(tmp_path / "cache2")).output
    assert f"total  {N:>10,} samples" in listing


def test_label_paths_never_leave_the_prefix(server, tmp_path) -> None:
    client = server.client()
    for key in ("secret/x.png", "conf2/x.png", "conf/img/ok.png"):
        client.put_object(Bucket=BUCKET, Key=key, Body=png(1))
    gt = "img/ok.png\tok\n../secret/x.png\tA\nimg/../../secret/x.png\tB\n../conf2/x.png\tC\n/secret/x.png\tD\n"
    client.put_object(Bucket=BUCKET, Key="conf/gt.txt", Body=gt.encode())
    out = str(tmp_path / "out")
    s3(server, "gt-txt", "-i", f"s3://{BUCKET}/conf", "-o", out, "-q", "--workers", "1", "--split", "none")
    rejects = [json.loads(line) for line in open(os.path.join(out, "rejects.jsonl"))]
    assert sorted(r["reason"] for r in rejects) == ["path_outside_source"] * 4
    card = json.loads(open(os.path.join(out, "manifest.json")).read())
    assert card["counts"] == {"input": 5, "written": 1, "rejected": 4, "splits": {"train": 1}}


def test_prefix_that_is_not_a_dataconv_output(server, source, tmp_path) -> None:
    client = server.client()
    client.put_object(Bucket=BUCKET, Key="notours/readme.txt", Body=b"keep me")
    for more in ((), ("--overwrite",)):
        result = s3(server, "gt-txt", "-i", source, "-o", f"s3://{BUCKET}/notours", "-q", *more, expect=2)
        assert "no dataconv manifest.json" in result.output and "Traceback" not in result.output
    assert keys(client, BUCKET, "notours") == ["notours/readme.txt"]
    assert_one_line_error(s3(server, "ls", f"s3://{BUCKET}/notours", expect=1), "notours", "no manifest.json")


def test_overwrite_replaces_only_a_previous_output(server, source, tmp_path) -> None:
    out = f"s3://{BUCKET}/again"
    s3(server, "gt-txt", "-i", source, "-o", out, "-q", "--workers", "1", "--split", "0.5,0.25,0.25")
    before = keys(server.client(), BUCKET, "again")
    assert "already exists" in s3(server, "gt-txt", "-i", source, "-o", out, "-q", expect=2).output
    s3(server, "gt-txt", "-i", source, "-o", out, "-q", "--workers", "1", "--split", "none", "--overwrite")
    after = keys(server.client(), BUCKET, "again")
    assert "again/val/shard-00000/data.mdb" in before and not any("/val/" in k for k in after)
    import dataconv

    with dataconv.open(out, cache=str(tmp_path / "cache")) as dataset:  # the API's one open path
        assert dataset.summary()["splits"]["train"]["count"] == N and list(dataset.summary()["splits"]) == ["train"]


def test_wrong_credentials_one_line(server, source, tmp_path) -> None:
    server.require_auth(True)
    try:
        result = run_cli("gt-txt", "-i", f"s3://{BUCKET}/src", "-o", str(tmp_path / "out"), "-q",
                         "--storage-options", server.options(key="AKIDWRONGWRONG", secret="not-the-secret-1"),
                         expect=None)
    finally:
        server.require_auth(False)
    err = assert_one_line_error(result, f"s3://{BUCKET}/src")
    assert "not-the-secret-1" not in result.output + err
    assert not os.path.exists(tmp_path / "out")


def test_shard_changed_in_storage_is_refused(server, source, tmp_path) -> None:
    out = f"s3://{BUCKET}/tampered"
    s3(server, "gt-txt", "-i", source, "-o", out, "-q", "--workers", "1", "--split", "0.5,0.5,0")
    client = server.client()
    val = client.get_object(Bucket=BUCKET, Key="tampered/val/shard-00000/data.mdb")["Body"].read()
    client.put_object(Bucket=BUCKET, Key="tampered/train/shard-00000/data.mdb", Body=val)
    result = s3(server, "ls", out, expect=1, cache=str(tmp_path / "cache"))
    assert_one_line_error(result, "tampered/train/shard-00000", "sha256")
    assert os.listdir(tmp_path / "cache") == []  # nothing half-verified is kept


def test_secrets_never_written_or_printed(server, source, tmp_path) -> None:
    out = f"s3://{BUCKET}/secretless"
    result = s3(server, "gt-txt", "-i", f"s3://{BUCKET}/src", "--gt", f"s3://{BUCKET}/src/gt.txt",
                "-o", out, "-q", "--workers", "1")
    copy = fetched(server, out, str(tmp_path / "cache"))
    written = b"".join(open(os.path.join(here, f), "rb").read()
                       for here, _, files in os.walk(copy) for f in files)
    for secret in (SECRET, KEY):
        assert secret.encode() not in written and secret not in result.output + result.stderr
    assert json.loads(open(os.path.join(copy, "manifest.json")).read())["options"]["gt"] == \
        f"s3://{BUCKET}/src/gt.txt"


def upload_run(tmp_path, server: S3Server, prefix: str, temp: str, workers: str = "1") -> subprocess.Popen:
    """``dataconv`` in its own process converting 60 one-sample shards into ``prefix``
    (enough objects for the test to act while they go up), its temporary files in
    ``temp`` (a short path: a fork server's socket lives there)."""
    root = gt_source(str(tmp_path / "src"), "".join(f"{i}.png\tw{i}\n" for i in range(60)).encode(),
                     {f"{i}.png": png(i) for i in range(60)})
    env = {**os.environ, "DATACONV_STORAGE_OPTIONS": server.options(), "PYTHONPATH": REPO,
           "TMPDIR": temp}
    return subprocess.Popen([sys.executable, "-m", "dataconv", "gt-txt", "-i", root, "-o", f"s3://{BUCKET}/{prefix}",
                             "-q", "--workers", workers, "--split", "none", "--shard-size", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def first_objects(run: subprocess.Popen, client, prefix: str) -> list[str]:
    """The keys under ``prefix`` as soon as there are any (the upload has begun)."""
    seen: list[str] = []
    while not seen and run.poll() is None:
        seen = keys(client, BUCKET, prefix)
        time.sleep(0.02)
    return seen


def test_server_killed_mid_upload(tmp_path) -> None:
    """The server dies while the shards go up (staged by the worker): one line naming the
    URL, exit 1, and at the moment it died no manifest was there (it goes last)."""
    dying = S3Server()
    run = None
    try:
        client = dying.client()
        client.create_bucket(Bucket=BUCKET)
        run = upload_run(tmp_path, dying, "out", str(tmp_path))
        seen = first_objects(run, client, "out")
        assert seen and "out/manifest.json" not in seen, seen
        dying.stop()
        stdout, stderr = run.communicate(timeout=60)
    finally:
        dying.stop()
        if run is not None and run.poll() is None:
            run.kill()
    assert run.returncode == 1, (stdout, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: s3://{BUCKET}/out: "), stderr
    assert "no manifest.json was written" in lines[0] and "could not be removed" in lines[0]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupted_upload_removes_what_it_wrote(server, tmp_path, workers) -> None:
    """Stopped while the workers stage their shards: nothing left in the bucket, and no
    build or scratch folder left on this machine (workers ended mid-item included)."""
    client = server.client()
    temp = tempfile.mkdtemp(prefix="dc-")  # short: pytest's tmp_path can pass AF_UNIX's 108 bytes
    run = upload_run(tmp_path, server, f"stopped{workers}", temp, workers)
    try:
        seen = first_objects(run, client, f"stopped{workers}")
        assert seen and f"stopped{workers}/manifest.json" not in seen, (seen, run.poll(), run.stderr.read() if run.poll() is not None else "")
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert keys(client, BUCKET, f"stopped{workers}") == []
    left = os.listdir(temp)
    shutil.rmtree(temp)
    assert left == []


def test_local_run_imports_no_object_storage(tmp_path, source) -> None:
    code = ("import sys; from dataconv.cli.main import cli\n"
            f"try: cli(['gt-txt', '-i', {source!r}, '-o', {str(tmp_path / 'o')!r}, '-q', '--workers', '1'])\n"
            "except SystemExit as e: assert not e.code, e.code\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('fsspec', 's3fs', 'botocore')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout


def test_recipe_sources_in_a_bucket(server, source, tmp_path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("output: mixed\nsplit: none\nsources:\n"
                      f"  - {{name: prefix, format: gt-txt, input: s3://{BUCKET}/src}}\n"
                      f"  - {{name: packed, format: gt-txt, input: s3://{BUCKET}/zips/src.zip, "
                      f"options: {{gt: s3://{BUCKET}/src/gt.txt}}}}\n", encoding="utf-8")
    run_cli("build", str(recipe), "-q", "--workers", "1", "--storage-options", server.options())
    card = json.loads((tmp_path / "mixed" / "manifest.json").read_text())
    assert {name: (s["input"], s["written"]) for name, s in card["sources"].items()} == \
        {"prefix": (N + 1, N), "packed": (N + 1, N)}
