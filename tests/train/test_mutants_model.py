"""The recognizer network and its checkpoints: what the mutation run of ``train/model.py``
found untested. The output is ``width // 4`` steps of log-probabilities over the classes,
each image's independent of the others in its batch, computed from the saved layers as
the architecture says (a checkpoint of another version means the same); the saved layers
are the documented ones."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lightning")

from helpers import torch_threads  # noqa: E402
from dataconv.train.model import CRNN, WIDTH_STRIDE, Recognizer  # noqa: E402
from dataconv.errors import DataconvError  # noqa: E402
from dataconv.train.settings import SIZES  # noqa: E402


def tiny(charset: str = "abc", height: int = 32, channels: int = 1) -> Recognizer:
    torch.manual_seed(0)
    return Recognizer(charset=charset, img_height=height, img_width=64, channels=channels, size="tiny").eval()


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


@pytest.mark.parametrize("height", [16, 48])
def test_the_output_has_width_over_4_steps_of_log_probabilities(height):
    model = tiny(height=height)
    for width in (4, 7, 37):
        with torch.no_grad():
            out = model(torch.rand(2, 1, height, width))
        assert out.shape == (2, width // 4, 4) and width // WIDTH_STRIDE == width // 4, width
        assert torch.allclose(out.exp().sum(-1), torch.ones(2, width // 4), atol=1e-5)  # over the classes


def test_each_images_output_is_independent_of_its_batch():
    model = tiny()
    torch.manual_seed(1)
    images = torch.rand(3, 1, 32, 48)
    with torch.no_grad():
        together = model(images)
        alone = torch.cat([model(images[i:i + 1]) for i in range(3)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_the_forward_pass_is_the_documented_composition_of_the_saved_layers():
    """conv stages -> (B, W/4, C*H/16) -> BiLSTM, plus a linear shortcut around it -> head ->
    log-softmax over the classes: a checkpoint's weights mean this and nothing else."""
    model = tiny(charset="abcdefg")
    net = model.net
    images = torch.rand(2, 1, 32, 40)
    with torch.no_grad():
        features = net.cnn(images)
        b, c, h, w = features.shape
        assert (h, w) == (32 // 16, 40 // 4)
        features = features.permute(0, 3, 1, 2).reshape(b, w, c * h)
        context = net.rnn(features)[0]
        expected = torch.log_softmax(net.head(context + net.skip(features)), dim=2)
        assert torch.allclose(model(images), expected, atol=1e-6)


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_the_saved_layers_and_their_shapes(size):
    """Four stages of conv 3x3 without bias (a batch norm follows), batch norm, ReLU, max
    pool; a bidirectional LSTM over the columns; the shortcut; the output layer."""
    widths, hidden = SIZES[size]
    model = Recognizer(charset="abcde", img_height=32, img_width=64, channels=3, size=size)
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    expected = {}
    cin = 3
    for k, cout in enumerate(widths):
        expected[f"net.cnn.{4 * k}.weight"] = (cout, cin, 3, 3)
        for name in ("weight", "bias", "running_mean", "running_var"):
            expected[f"net.cnn.{4 * k + 1}.{name}"] = (cout,)
        expected[f"net.cnn.{4 * k + 1}.num_batches_tracked"] = ()
        cin = cout
    features = cin * 2
    for suffix in ("", "_reverse"):
        expected.update({f"net.rnn.weight_ih_l0{suffix}": (4 * hidden, features),
                         f"net.rnn.weight_hh_l0{suffix}": (4 * hidden, hidden),
                         f"net.rnn.bias_ih_l0{suffix}": (4 * hidden,), f"net.rnn.bias_hh_l0{suffix}": (4 * hidden,)})
    expected.update({"net.skip.weight": (2 * hidden, features), "net.skip.bias": (2 * hidden,),
                     "net.head.weight": (6, 2 * hidden), "net.head.bias": (6,)})
    assert shapes == expected
    assert [type(m).__name__ for m in model.net.cnn][:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]


def test_a_height_not_a_multiple_of_16_is_refused():
    with pytest.raises(ValueError, match="multiple of 16, not 40"):
        CRNN(5, height=40)


def batches(model: Recognizer, labels: list[str], n: int) -> list[dict]:
    torch.manual_seed(3)
    out = []
    for k in range(n):
        texts = labels[k % len(labels):] + labels[:k % len(labels)]
        targets = [model.codec.encode(t) for t in texts]
        out.append({"images": torch.rand(len(texts), 1, 32, 64), "labels": texts,
                    "targets": torch.tensor([i for t in targets for i in t], dtype=torch.long),
                    "target_lengths": torch.tensor([len(t) for t in targets], dtype=torch.long)})
    return out


class LearningRates:
    """The learning rate of every optimizer step, as the optimizer holds it when it steps."""

    def __new__(cls):
        import lightning.pytorch as pl

        class Record(pl.Callback):
            def __init__(self):
                self.rates: list[float] = []

            def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
                self.rates.append(trainer.optimizers[0].param_groups[0]["lr"])

        return Record()


@pytest.mark.parametrize("epochs, total, warm", [(10, 40, 4), (3, 12, 1)])
def test_training_steps_follow_the_warm_up_and_cosine_schedule_and_log_the_scores(epochs, total, warm):
    """4 batches an epoch: warm-up over max(1, min(200, steps // 10)) steps (4 of 40, 1 of 12),
    then cosine from the full rate to 5% of it; AdamW with the --lr given and weight decay
    1e-4. The logged val/acc and val/loss are those of the validation batches."""
    import math

    import lightning.pytorch as pl

    model = Recognizer(charset="abc", img_height=32, img_width=64, size="tiny", lr=0.002)
    train, val = batches(model, ["ab", "c", "ba", "cab"], 4), batches(model, ["a", "bc", "cc"], 2)
    record = LearningRates()
    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[record],
                         num_sanity_val_steps=0)
    loader = torch.utils.data.DataLoader
    trainer.fit(model, train_dataloaders=loader(train, batch_size=None), val_dataloaders=loader(val, batch_size=None))
    expected = [0.002 * ((s + 1) / warm if s < warm else
                         0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, (s - warm) / (total - warm)))))
                for s in range(total)]
    assert record.rates == pytest.approx(expected, rel=1e-9)
    [optimizer] = trainer.optimizers
    assert type(optimizer).__name__ == "AdamW" and optimizer.param_groups[0]["weight_decay"] == 1e-4
    metrics = trainer.callback_metrics
    model.eval()
    with torch.no_grad():
        decoded = [(p, t) for b in val for p, t in zip(model.decode(model(b["images"])), b["labels"])]
        loss = sum(model._loss(b, model(b["images"])) * len(b["labels"]) for b in val) / 6
    assert float(metrics["val/acc"]) == pytest.approx(sum(p == t for p, t in decoded) / 6)
    assert float(metrics["val/loss"]) == pytest.approx(float(loss), rel=1e-4)
    assert {"train/loss", "val/cer"} <= set(metrics)


def test_a_label_longer_than_the_output_adds_nothing_to_the_loss():
    """CTC cannot align 12 characters to 16 // 4 = 4 steps: that sample's loss is zeroed (not
    infinite, which would make every weight NaN), so the batch's mean is half the other's."""
    model = tiny()
    images = torch.rand(2, 1, 32, 16)
    feasible = {"targets": torch.tensor([1, 2]), "target_lengths": torch.tensor([2])}
    both = {"targets": torch.tensor([1, 2] + [3] * 12), "target_lengths": torch.tensor([2, 12])}
    with torch.no_grad():
        alone = model._loss(feasible, model(images[:1]))
        pair = model._loss(both, model(images))
    assert torch.isfinite(alone) and torch.isfinite(pair)
    assert float(pair) == pytest.approx(float(alone) / 2, rel=1e-5)


def tensor_part(name: str, tensor) -> tuple[str, str, tuple[int, ...], bytes]:
    flat = tensor.detach().contiguous().reshape(-1)
    return name, str(tensor.dtype), tuple(tensor.shape), flat.view(torch.uint8).numpy().tobytes()


def test_the_checkpoint_digest_covers_the_settings_and_every_tensor_by_its_place(tmp_path):
    """The digest as documented (``digest.sha256``): the hyperparameters, then every tensor
    named by where it sits (``/state_dict/net.head.weight``, ``/optimizer_states/0/...``),
    keys in order, the digest key itself and the top-level hyperparameters left out. Any
    other naming is a digest no other version reproduces: its checkpoints would be refused."""
    from dataconv.train import digest
    from dataconv.train.model import checkpoint_sha256, load_recognizer, read_checkpoint

    model = tiny()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    moments = [torch.arange(6, dtype=torch.float32).reshape(2, 3), torch.ones(2, dtype=torch.float64)]
    checkpoint = {"hyper_parameters": dict(model.hparams), "state_dict": state,
                  "optimizer_states": [{"state": {0: {"exp_avg": moments[0]}}, "extra": (moments[1],)}]}
    expected = digest.sha256(dict(model.hparams),
                             [tensor_part("/optimizer_states/0/extra/0", moments[1]),
                              tensor_part("/optimizer_states/0/state/0/exp_avg", moments[0])]
                             + [tensor_part(f"/state_dict/{k}", state[k]) for k in sorted(state)])
    assert checkpoint_sha256(checkpoint) == expected
    assert checkpoint_sha256({**checkpoint, digest.KEY: "anything"}) == expected

    path = str(tmp_path / "m.ckpt")
    torch.save({**checkpoint, digest.KEY: expected}, path)
    assert read_checkpoint(path)[digest.KEY] == expected
    for changed in ({**checkpoint, "hyper_parameters": {**checkpoint["hyper_parameters"], "charset": "cba"}},
                    {**checkpoint, "state_dict": {**state, "net.skip.bias": state["net.skip.bias"] + 1}}):
        torch.save({**changed, digest.KEY: expected}, path)  # changed after it was signed
        with pytest.raises(DataconvError, match="do not match the digest"):
            load_recognizer(path)


def test_a_checkpoint_without_an_output_layer_is_a_one_line_error(tmp_path):
    from dataconv.train import digest
    from dataconv.train.model import HEAD, checkpoint_sha256, load_recognizer

    model = tiny()
    state = {k: v for k, v in model.state_dict().items() if k != HEAD}
    checkpoint = {"hyper_parameters": dict(model.hparams), "state_dict": state}
    path = str(tmp_path / "nohead.ckpt")
    torch.save({**checkpoint, digest.KEY: checkpoint_sha256(checkpoint)}, path)
    with pytest.raises(DataconvError, match=r"net.head.weight has shape None, the charset needs 4 rows"):
        load_recognizer(path)


def test_init_from_a_checkpoint_of_another_size_is_a_one_line_error(tmp_path):
    from helpers import save_checkpoint
    from dataconv.train.model import init_from

    path = str(tmp_path / "tiny.ckpt")
    save_checkpoint(tiny(), path)
    bigger = Recognizer(charset="abc", img_height=32, img_width=64, size="small")
    before = {k: v.clone() for k, v in bigger.state_dict().items()}
    with pytest.raises(DataconvError, match=r"net.cnn.0.weight has shape \(8, 1, 3, 3\), this model needs "
                                            r"\(32, 1, 3, 3\) \(another --model-size, --img-height or --color\?\)"):
        init_from(bigger, path)
    assert all(torch.equal(v, before[k]) for k, v in bigger.state_dict().items())  # nothing copied


def test_init_from_counts_the_copied_tensors_and_refuses_a_bad_output_layer(tmp_path):
    from helpers import save_checkpoint
    from dataconv.train import digest
    from dataconv.train.model import HEAD, HEAD_BIAS, checkpoint_sha256, init_from

    path = str(tmp_path / "old.ckpt")
    checkpoint = save_checkpoint(tiny(charset="abcd"), path)
    model = tiny(charset="dcx")
    carried = init_from(model, path)
    body = [k for k in model.state_dict() if k not in (HEAD, HEAD_BIAS)]
    assert (carried.tensors, carried.kept, carried.added) == (len(body), "dc", "x")
    hidden = checkpoint["state_dict"][HEAD].shape[1]
    for change, says in [({"hyper_parameters": {**checkpoint["hyper_parameters"], "charset": "abc"}},
                          rf"net.head.weight has shape \(5, {hidden}\), the charset needs 4 rows"),
                         ({"state_dict": {k: v for k, v in checkpoint["state_dict"].items() if k != HEAD_BIAS}},
                          "net.head.bias has shape None, the charset needs 5 rows")]:
        changed = {k: v for k, v in {**checkpoint, **change}.items() if k != digest.KEY}
        torch.save({**changed, digest.KEY: checkpoint_sha256(changed)}, path)
        with pytest.raises(DataconvError, match=says):
            init_from(tiny(charset="dcx"), path)
