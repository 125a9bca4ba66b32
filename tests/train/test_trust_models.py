"""Model files and predict inputs are untrusted: a tampered checkpoint or ONNX file, a
FIFO, a pixel bomb, a missing extra or an impossible accelerator end in one line naming the
file (or the option), never in a traceback, a hang, a walk of the file system or memory
sized by what a file claims.

One tiny model is trained for one epoch per module (about 10 s), exported, then tampered with.
"""
from __future__ import annotations

import os
import struct
import subprocess
import sys
import unicodedata
import zipfile
import zlib
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from dataconv.errors import DataconvError  # noqa: E402
from dataconv.export.predict import onnx_sha256  # noqa: E402
from dataconv.train.digest import KEY as DIGEST  # noqa: E402
from dataconv.train.settings import check_hparams  # noqa: E402
from dataconv.train.text import load_charset  # noqa: E402

from helpers import torch_threads, run_cli  # noqa: E402
from hostile_util import assert_one_line_error, png  # noqa: E402

TINY = ["--model-size", "tiny", "--batch-size", "32", "--workers", "0", "--accelerator", "cpu"]
CLI = "import sys; from dataconv.cli.main import main; sys.argv = ['dataconv'] + sys.argv[1:]; main()"


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    with torch_threads():
        root = str(tmp_path_factory.mktemp("trust"))
        src, out, run = (os.path.join(root, name) for name in ("src", "out", "run"))
        run_cli("fixture", "rendered-digits", "-o", src, "-n", 60)
        run_cli("gt-txt", "-i", src, "--gt", os.path.join(src, "gt.txt"), "-o", out, "--workers", "1",
                "-q", "--split", "0.5,0.5,0")
        run_cli("train", out, "--out", run, "--max-epochs", "1", *TINY)
        ckpt = os.path.join(run, "checkpoints", "best.ckpt")
        onnx_path = os.path.join(root, "model.onnx")
        run_cli("export", ckpt, "-o", onnx_path, "--samples", "8")
        yield SimpleNamespace(root=root, src=src, out=out, ckpt=ckpt, onnx=onnx_path,
                              images=sorted(os.path.join(src, "images", n)
                                            for n in os.listdir(os.path.join(src, "images"))))


def signed(checkpoint: dict) -> dict:
    """``checkpoint`` with its digest computed again: an edit made on purpose, past the
    digest, so that the checks of the values themselves are what is tested."""
    from dataconv.train.model import checkpoint_sha256

    return {**checkpoint, DIGEST: checkpoint_sha256(checkpoint)}


def tampered_checkpoint(model: SimpleNamespace, tmp_path, **hparams: object) -> str:
    checkpoint = torch.load(model.ckpt, map_location="cpu", weights_only=True)
    checkpoint["hyper_parameters"].update(hparams)
    path = str(tmp_path / "tampered.ckpt")
    torch.save(signed(checkpoint), path)
    return path


def tampered_onnx(model: SimpleNamespace, tmp_path, **metadata: str | None) -> str:
    graph = onnx.load(model.onnx)
    props = {p.key: p.value for p in graph.metadata_props}
    props.update(metadata)
    del graph.metadata_props[:]
    for key, value in props.items():
        if value is not None and key != DIGEST:
            graph.metadata_props.add(key=key, value=value)
    graph.metadata_props.add(key=DIGEST, value=onnx_sha256(graph))  # signed again, as above
    path = str(tmp_path / "tampered.onnx")
    onnx.save(graph, path)
    return path


def refused(model_path: str, image: str, *fragments: str) -> None:
    """Both predict and (for a checkpoint) export refuse the file in one line, exit 1."""
    assert_one_line_error(run_cli("predict", model_path, image, expect=None), model_path, *fragments)
    if model_path.endswith(".ckpt"):
        out = model_path + ".onnx"
        assert_one_line_error(run_cli("export", model_path, "-o", out, expect=None), model_path, *fragments)
        assert not os.path.exists(out)


@pytest.mark.parametrize("hparams, says", [
    ({"img_width": 10**9}, "image width must be an integer from 4 to 4096, got 1000000000"),
    ({"img_width": -5}, "image width must be an integer from 4 to 4096, got -5"),
    ({"img_height": 40}, "image height 40 is not a multiple of 16"),
    ({"img_height": 10**6}, "image height must be an integer from 16 to 256"),
    ({"img_height": "32"}, "image height must be an integer from 16 to 256, got '32'"),
    ({"channels": 4}, "channels must be 1 or 3, got 4"),
    ({"keep_ratio": "yes"}, "keep_ratio must be true or false"),
    ({"charset": ""}, "charset must be a non-empty string, got ''"),
    ({"charset": "01234\x0056789"}, "charset holds control character U+0000"),
    ({"charset": "0123456780"}, "charset holds '0' more than once"),
    ({"charset": ["0", "1"]}, "charset must be a non-empty string"),
    ({"charset": "".join(map(chr, range(0x4E00, 0x4E00 + 20_000)))},  # sized by the weights, not by this
     "net.head.weight has shape (11, 128), the charset needs 20001 rows"),
    ({"charset": "0123456789abc"}, "net.head.weight has shape (11, 128), the charset needs 14 rows"),
    ({"size": "huge"}, "model size must be one of tiny, small, base, got 'huge'"),
    ({"size": "small"}, "not a dataconv training checkpoint (Error(s) in loading state_dict"),
])
def test_tampered_checkpoint_metadata_is_refused(model, tmp_path, hparams, says):
    refused(tampered_checkpoint(model, tmp_path, **hparams), model.images[0], says)


def test_checkpoint_that_is_not_one_is_refused_and_never_unpickled(model, tmp_path):
    raw = open(model.ckpt, "rb").read()
    for name, data in [("random.ckpt", os.urandom(4096)), ("cut.ckpt", raw[:len(raw) // 2]),
                       ("empty.ckpt", b"")]:
        (tmp_path / name).write_bytes(data)
        refused(str(tmp_path / name), model.images[0], "not a dataconv training checkpoint")

    marker = tmp_path / "code-ran"

    class Payload:  # unpickling this with weights_only=False would create the marker
        def __reduce__(self):
            return (os.mkdir, (str(marker),))

    evil = str(tmp_path / "evil.ckpt")
    torch.save({"hyper_parameters": Payload(), "state_dict": {}}, evil)
    refused(evil, model.images[0], "not a dataconv training checkpoint (it asks to run posix.mkdir; "
                                   "refused without running it)")
    assert not marker.exists()
    done = subprocess.run([sys.executable, "-c", CLI, "predict", evil, model.images[0]],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == "", done.stderr
    assert done.stderr == (f"error: {evil}: not a dataconv training checkpoint (it asks to run posix.mkdir; "
                           "refused without running it)\n")  # nothing of torch's advice to load it unsafely
    assert not marker.exists()

    for name, content, says in [("list.ckpt", [1, 2], "(holds a list)"),
                                ("nostate.ckpt", {"hyper_parameters": {}}, "(no 'state_dict' mapping)"),
                                ("nohp.ckpt", {"hyper_parameters": {}, "state_dict": {}},
                                 "hyper_parameters lack charset, img_height")]:
        torch.save(signed(content) if isinstance(content, dict) and "state_dict" in content else content,
                   str(tmp_path / name))
        refused(str(tmp_path / name), model.images[0], says)


def test_export_never_walks_the_dataset_path_in_a_checkpoint(model, tmp_path):
    trap = tmp_path / "trap"  # if export read it, the garbage "LMDB" would fail the export
    (trap / "val" / "shard-00000").mkdir(parents=True)
    (trap / "val" / "shard-00000" / "data.mdb").write_bytes(b"not an lmdb")
    for data in (str(trap), "/"):
        ckpt = tampered_checkpoint(model, tmp_path, data=data)
        result = run_cli("export", ckpt, "-o", str(tmp_path / "m.onnx"), "--samples", "4")
        assert "onnxruntime matches PyTorch on 4 generated images" in result.output
    # --data is the one way to verify on real images, and it is read as asked
    result = run_cli("export", model.ckpt, "-o", str(tmp_path / "m.onnx"), "--samples", "4", "--data", model.out)
    assert "onnxruntime matches PyTorch on 4 validation images" in result.output


@pytest.mark.parametrize("metadata, says", [
    ({"charset": None, "preprocess": None}, "no charset/preprocess metadata (not exported by dataconv export)"),
    ({"preprocess": '{"height": 32, "width": 1000000000, "channels": 1, "keep_ratio": true}'},
     "image width must be an integer from 4 to 4096, got 1000000000"),
    ({"preprocess": '{"height": 32, "width": 128, "channels": 1}'},
     "preprocess metadata must hold exactly height, width, channels, keep_ratio"),
    ({"preprocess": "[" * 100_000}, "preprocess metadata is not JSON"),
    ({"preprocess": '{"height": 64, "width": 128, "channels": 1, "keep_ratio": true}'},
     "inputs [('image', ['batch', 1, 32, 'width'])] do not match the metadata"),
    ({"charset": "0123\n456789"}, "charset holds control character U+000A"),
    ({"charset": "01234567"}, "outputs [('log_probs', ['batch', 'time', 11])] do not match the metadata"),
])
def test_tampered_onnx_metadata_is_refused(model, tmp_path, metadata, says):
    refused(tampered_onnx(model, tmp_path, **metadata), model.images[0], says)


def test_onnx_that_is_not_one_is_refused(model, tmp_path):
    raw = open(model.onnx, "rb").read()
    for name, data in [("random.onnx", os.urandom(4096)), ("cut.onnx", raw[:len(raw) // 2])]:
        (tmp_path / name).write_bytes(data)
        refused(str(tmp_path / name), model.images[0], "not a loadable ONNX model")


def png_bomb(width: int, height: int) -> bytes:
    """A small real PNG whose header claims ``width`` x ``height``."""
    data = bytearray(png(1, 8, 8))
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


def expected_lines(model_path: str, paths: list[str]) -> list[str]:
    """What predict must print for good images, computed here step by step."""
    from dataconv.export.predict import load_predictor

    predictor = load_predictor(model_path)
    p = predictor.preprocess
    batch = p.batch([p.load(open(path, "rb").read(), path) for path in paths])
    return [f"{path}\t{text}\t{conf:.4f}"
            for path, (text, conf) in zip(paths, predictor.codec.decode_scored(predictor.scores(batch)))]


def test_predict_reports_bad_inputs_and_prints_the_good_ones(model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths, as a user types them
    good = "good.png"
    open(good, "wb").write(open(model.images[0], "rb").read())
    os.mkfifo("fifo.png")
    open("broken.png", "wb").write(b"\x89PNG\r\n\x1a\n not really")
    open("bomb.png", "wb").write(png_bomb(50_000, 50_000))
    folder = tmp_path / "crops"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.png").write_bytes(open(model.images[1], "rb").read())
    (folder / "sub" / "a.png").write_bytes(open(model.images[2], "rb").read())
    (folder / "notes.txt").write_text("not an image, not read")
    os.symlink(model.images[3], folder / "link.png")  # points out of the folder: refused
    os.symlink(model.images[4], "named-link.png")  # named by the user: followed
    args = [good, "missing.png", "fifo.png", "broken.png", "bomb.png", "crops", "named-link.png"]
    for model_path in (model.onnx, model.ckpt):
        done = subprocess.run([sys.executable, "-c", CLI, "predict", model_path, *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 1, done.stderr
        assert done.stdout.splitlines() == expected_lines(
            model_path, [good, "crops/b.png", "crops/sub/a.png", "named-link.png"])
        assert done.stderr.splitlines() == [
            "error: missing.png: no such file",
            "error: fifo.png: a FIFO, not a regular file",
            "error: broken.png: undecodable image (not an image format Pillow recognises)",
            "error: bomb.png: too many pixels (50000x50000 exceeds --max-pixels 89478485)",
            "error: crops/link.png: a symlink out of its folder",
        ]
    small = run_cli("predict", model.onnx, good, "--max-pixels", "100", expect=1)
    assert small.stdout == ""
    assert small.stderr.startswith("error: good.png: too many pixels (") and "exceeds --max-pixels 100" in small.stderr
    assert run_cli("predict", model.onnx, good).stdout.splitlines() == expected_lines(model.onnx, [good])


def test_train_refuses_an_accelerator_or_devices_it_cannot_use(model, tmp_path):
    run = tmp_path / "run"
    if not torch.cuda.is_available():
        result = run_cli("train", model.out, "--out", run, "--accelerator", "gpu", expect=None)
        assert_one_line_error(result, f"--accelerator gpu: torch {torch.__version__} is a CPU-only build; "
                                      "use --accelerator cpu, or install a CUDA build of torch")
        result = run_cli("train", model.out, "--out", run, "--devices", "0,1", expect=None)
        assert_one_line_error(result, "--devices 0,1: device indices select CUDA GPUs")
    result = run_cli("train", model.out, "--out", run, "--accelerator", "cpu", "--devices", "100000", expect=None)
    assert_one_line_error(result, f"--devices 100000: only {os.cpu_count()} CPU core(s) here")
    for bad in ("foo", "0", "-2", "1.5", "0,0", "1_0"):
        result = run_cli("train", model.out, "--out", run, "--devices", bad, expect=2)
        assert (f"Invalid value for '--devices': {bad!r}: expected auto, a count (1, 2, ...), -1 for every "
                "device, or device indices such as 0,1") in result.stderr
    result = run_cli("train", model.out, "--out", run, "--accelerator", "tpu9", expect=2)
    assert "Invalid value for '--accelerator': 'tpu9' is not one of 'auto', 'cpu', 'gpu', 'cuda', 'mps'" \
        in result.stderr
    assert not run.exists()


def test_train_charset_in_cp949_is_a_one_line_error_with_the_encoding_to_use(model, tmp_path):
    charset = tmp_path / "korean.txt"
    charset.write_bytes("0123456789가나".encode("cp949"))
    result = run_cli("train", model.out, "--out", tmp_path / "run", "--charset", charset, expect=None)
    assert_one_line_error(result, f"{charset}:1: not valid utf-8 (byte 0xb0)", "--charset-encoding", "cp949")
    assert load_charset(model.out, str(charset), "cp949") == "0123456789가나"
    tab = tmp_path / "tab.txt"
    tab.write_text("0\n1\t2\n")
    result = run_cli("train", model.out, "--out", tmp_path / "run", "--charset", tab, expect=None)
    assert_one_line_error(result, f"{tab}: charset holds control character U+0009")


def run_blocked(module: str, *args: str) -> subprocess.CompletedProcess:
    """The real CLI in a process where ``import module`` fails as if it were not installed."""
    code = f"import sys; sys.modules[{module!r}] = None; {CLI}"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_a_missing_extra_is_a_one_line_hint_before_any_work(model, tmp_path):
    out = tmp_path / "out"
    done = run_blocked("matplotlib", "gt-txt", "-i", model.src, "--gt", os.path.join(model.src, "gt.txt"),
                       "-o", str(out), "--report", "-q", "--workers", "1")
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == "error: matplotlib is not installed, needed here: pip install 'dataconv[report]'\n"
    assert not out.exists() and os.listdir(tmp_path) == []  # nor a temporary folder beside it
    done = run_blocked("matplotlib", "report", model.out, "-o", str(tmp_path / "r.html"))
    assert (done.returncode, done.stdout) == (1, "") and not (tmp_path / "r.html").exists()
    assert done.stderr == "error: matplotlib is not installed, needed here: pip install 'dataconv[report]'\n"
    hint = "pip install torch==2.13.0 'dataconv[train]' (torch first, so pip picks the build you want)\n"
    done = run_blocked("lightning", "train", model.out, "--out", str(tmp_path / "run"))
    assert (done.returncode, done.stderr) == (1, f"error: lightning is not installed, needed here: {hint}")
    assert not (tmp_path / "run").exists()
    done = run_blocked("onnxruntime", "predict", model.onnx, model.images[0])
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == ("error: onnxruntime is not installed, needed here: pip install torch==2.13.0 "
                           "'dataconv[export]' (torch first, so pip picks the build you want)\n")


def test_a_model_file_that_is_a_fifo_is_refused_not_waited_on(model, tmp_path):
    for name in ("model.ckpt", "model.onnx"):
        fifo = str(tmp_path / name)
        os.mkfifo(fifo)
        done = subprocess.run([sys.executable, "-c", CLI, "predict", fifo, model.images[0]],
                              capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == f"error: {fifo} is a FIFO, not a regular file\n"


def test_onnx_external_data_is_never_read(model, tmp_path, monkeypatch):
    """Weights stored beside the model under a path it names (``../secret.bin``) could read
    any file; the model is handed to onnxruntime as bytes, so no such path is opened."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(os.urandom(1 << 16))
    graph = onnx.load(model.onnx)
    head = next(t for t in graph.graph.initializer if t.dims and t.dims[0] == 11)
    head.ClearField("raw_data")
    head.data_location = onnx.TensorProto.EXTERNAL
    head.external_data.add(key="location", value="../secret.bin")
    path = str(tmp_path / "models" / "external.onnx")
    os.makedirs(os.path.dirname(path))
    with open(path, "wb") as f:
        f.write(graph.SerializeToString())
    refused(path, model.images[0], "keeps weights in external data files, which are never read")
    monkeypatch.chdir(tmp_path)  # even where onnxruntime would look for them: the working folder
    head.external_data[0].value = "secret.bin"
    with open(path, "wb") as f:
        f.write(graph.SerializeToString())
    refused(path, model.images[0], "keeps weights in external data files, which are never read")


def test_resume_checks_the_checkpoint_before_training(model, tmp_path):
    weights_only = str(tmp_path / "weights.ckpt")
    checkpoint = torch.load(model.ckpt, map_location="cpu", weights_only=True)
    torch.save(signed({k: checkpoint[k] for k in ("hyper_parameters", "state_dict")}), weights_only)
    run = tmp_path / "run"
    result = run_cli("train", model.out, "--out", run, "--resume", weights_only, *TINY, expect=None)
    assert_one_line_error(result, f"{weights_only}: cannot resume from it (no optimizer_states, "
                                  "lr_schedulers, loops, epoch, global_step); it holds weights only")
    result = run_cli("train", model.out, "--out", run, "--resume",
                     tampered_checkpoint(model, tmp_path, img_width=10**9), *TINY, expect=None)
    assert_one_line_error(result, "image width must be an integer from 4 to 4096, got 1000000000")
    assert not run.exists()


CLAIMS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12),
                   st.sampled_from([16, 32, 256, 4, 4096, 1, 3, "tiny", "base", "0123456789"]),
                   st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
HPARAM_KEYS = ["charset", "img_height", "img_width", "channels", "keep_ratio", "size", "data", "lr"]


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.dictionaries(st.sampled_from(HPARAM_KEYS), CLAIMS), CLAIMS))
def test_any_claimed_settings_are_kept_in_range_or_refused_in_one_line(hp):
    """Whatever a checkpoint holds: values within the ranges train accepts, or one line."""
    try:
        kept = check_hparams(hp, "m.ckpt")
    except DataconvError as e:
        assert str(e).startswith("m.ckpt: ") and "\n" not in str(e) and len(str(e)) < 200, str(e)
        return
    assert set(kept) == {"charset", "img_height", "img_width", "channels", "keep_ratio", "size"}  # no data path
    assert 16 <= kept["img_height"] <= 256 and kept["img_height"] % 16 == 0 and 4 <= kept["img_width"] <= 4096
    assert kept["channels"] in (1, 3) and isinstance(kept["keep_ratio"], bool) and kept["size"] in ("tiny", "small", "base")
    assert kept["charset"] and len(set(kept["charset"])) == len(kept["charset"])
    assert not any(unicodedata.category(c) in ("Cc", "Cs") for c in kept["charset"])


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=80), st.builds(
    lambda h, w, c, k: f'{{"height": {h}, "width": {w}, "channels": {c}, "keep_ratio": {k}}}',
    st.integers(-10, 10**12), st.integers(-10, 10**12), st.integers(-1, 5),
    st.sampled_from(["true", "false", "1", "null", '"yes"']))))
def test_any_onnx_preprocess_metadata_is_kept_in_range_or_refused_in_one_line(text):
    from dataconv.export.predict import _preprocess_metadata

    try:
        kept = _preprocess_metadata(text, "m.onnx")
    except DataconvError as e:
        assert str(e).startswith("m.onnx: ") and "\n" not in str(e), str(e)
        return
    assert 16 <= kept["height"] <= 256 and 4 <= kept["width"] <= 4096 and kept["channels"] in (1, 3)


# --- a damaged model file is refused: the digest written when it was saved ----------------

def inverted(data: bytes, start: int, length: int = 2000) -> bytes:
    """``data`` with ``length`` bytes from ``start`` inverted (a damaged run of a disk or copy)."""
    out = bytearray(data)
    out[start:start + length] = bytes(b ^ 0xFF for b in out[start:start + length])
    return bytes(out)


def largest_tensor_bytes(path: str) -> tuple[int, int]:
    """(offset, size) of the largest member of a checkpoint's zip: one tensor's bytes,
    stored uncompressed."""
    with zipfile.ZipFile(path) as archive:
        member = max(archive.infolist(), key=lambda info: info.file_size)
    with open(path, "rb") as f:
        f.seek(member.header_offset + 26)
        name_length, extra_length = struct.unpack("<HH", f.read(4))
    return member.header_offset + 30 + name_length + extra_length, member.file_size


def test_a_checkpoint_with_2000_inverted_bytes_is_refused_by_every_reader(model, tmp_path):
    data = open(model.ckpt, "rb").read()
    start, size = largest_tensor_bytes(model.ckpt)
    assert size > 4000
    bad = str(tmp_path / "damaged.ckpt")
    open(bad, "wb").write(inverted(data, start + size // 2 - 1000))
    says = "its weights do not match the digest written when it was saved"
    refused(bad, model.images[0], says)  # predict and export
    for flag in ("--resume", "--init-from"):
        result = run_cli("train", model.out, "--out", tmp_path / flag, flag, bad, *TINY, expect=None)
        assert_one_line_error(result, bad, says)
    result = run_cli("eval", model.out, "--model", bad, "-o", tmp_path / "eval", expect=None)
    assert_one_line_error(result, bad, says)


def test_an_onnx_file_with_2000_inverted_bytes_is_refused(model, tmp_path):
    data = open(model.onnx, "rb").read()
    weights = max(onnx.load(model.onnx).graph.initializer, key=lambda t: len(t.raw_data)).raw_data
    assert len(weights) > 4000
    bad = str(tmp_path / "damaged.onnx")
    open(bad, "wb").write(inverted(data, data.find(weights) + len(weights) // 2 - 1000))
    refused(bad, model.images[0], "its weights do not match the digest written when it was saved")


def test_a_model_file_without_its_digest_is_refused(model, tmp_path):
    checkpoint = torch.load(model.ckpt, map_location="cpu", weights_only=True)
    del checkpoint[DIGEST]
    torch.save(checkpoint, str(tmp_path / "old.ckpt"))
    refused(str(tmp_path / "old.ckpt"), model.images[0], f"no {DIGEST} digest of its weights")
    graph = onnx.load(model.onnx)
    kept = [(p.key, p.value) for p in graph.metadata_props if p.key != DIGEST]
    del graph.metadata_props[:]
    for key, value in kept:
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(tmp_path / "old.onnx"))
    refused(str(tmp_path / "old.onnx"), model.images[0], f"no {DIGEST} digest of its weights")


@settings(max_examples=16, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(["ckpt", "onnx"]), where=st.floats(0, 1), length=st.sampled_from([1, 16, 2000]))
def test_inverted_bytes_anywhere_are_refused_in_one_line_or_change_nothing(model, tmp_path, kind, where, length):
    """Wherever the bytes fall (a zip or protobuf header, a tensor, a name, metadata the
    predictions do not depend on): the model is refused with one DataconvError, or it
    predicts exactly what the intact file predicts."""
    original = model.ckpt if kind == "ckpt" else model.onnx
    data = open(original, "rb").read()
    path = str(tmp_path / f"fuzzed.{kind}")
    open(path, "wb").write(inverted(data, int(where * (len(data) - 1)), length))
    images = model.images[:4]
    try:
        lines = expected_lines(path, images)
    except DataconvError as e:
        assert "\n" not in str(e) and path in str(e)
        return
    assert lines == expected_lines(original, images)


@pytest.mark.parametrize("form, content, says", [
    ("lines", "a\nb\n\nc\na\nb\nb\n", "2 character(s) listed more than once: 'a' on lines 1, 5; 'b' on lines 2, 6, 7"),
    ("string", "abcab\n", "2 character(s) listed more than once: 'a' on positions 1, 4; 'b' on positions 2, 5"),
    ("literal", "xyx", "--charset: 1 character(s) listed more than once: 'x' on positions 1, 3"),
])
def test_train_refuses_a_charset_listing_a_character_twice(form, content, says, model, tmp_path):
    """Each character is one class: a repeat would split its samples between two classes."""
    spec = content
    if form != "literal":
        spec = str(tmp_path / "chars.txt")
        open(spec, "w", encoding="utf-8").write(content)
    result = run_cli("train", model.out, "--out", tmp_path / "run", "--charset", spec, *TINY, "--max-epochs", "1",
                     expect=None)
    assert_one_line_error(result, says)
    assert not (tmp_path / "run").exists()
