"""Training further from an exported handwriting package (the bundled model, the app's personal models)."""

import numpy as np
import pytest
import torch

from engine.core.errors import CheckpointError
from engine.export.fixtures import make_tiny_package
from engine.models.torch_stepper import TorchStepper
from engine.runtime import load_package
from engine.training.from_package import load_package_model


def test_a_float_synthesis_package_becomes_the_same_trainable_model(tmp_path):
    path = make_tiny_package("ink-synthesis", tmp_path / "pkg", seed=3)
    net, card = load_package_model(path)
    assert net.training and card["kind"] == "ink-synthesis" and card["init_from_package"] == str(path)
    assert all(p.requires_grad for p in net.parameters())
    # the rebuilt model writes what the package writes (same seed, same loop)
    pkg = load_package(path)
    text = "ab"
    a = list(pkg.generate_ink(text, seed=4, max_steps=30))
    from engine.core.ink_stream import ink_stream

    b = list(ink_stream(TorchStepper(net.eval().step_module()), text=text, vocab=pkg.vocab, norm=pkg.card["norm"],
                        seed=4, max_steps=30))
    np.testing.assert_allclose(np.stack(a), np.stack(b), atol=1e-3)
    # and it trains: one gradient step changes the weights
    net.train()
    x = torch.randn(1, 8, 3)
    chars = torch.eye(net.cfg.vocab_size)[None, :3]
    y, _ = net(x, chars)
    y.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_packages_that_cannot_be_trained_further(tmp_path):
    with pytest.raises(CheckpointError, match="int8"):
        load_package_model(make_tiny_package("ink-synthesis", tmp_path / "q", quantize="int8"))
    with pytest.raises(CheckpointError, match="only handwriting synthesis"):
        load_package_model(make_tiny_package("text", tmp_path / "t"))


def test_scribe_train_ink_init_from_a_package(tmp_path, run_cli):
    from hw_data import toy_dataset, toy_texts

    import engine.training.checkpoint as ckpt

    pkg = make_tiny_package("ink-synthesis", tmp_path / "pkg", seed=1)
    data = tmp_path / "data"
    toy_dataset(toy_texts(16), val_every=4).save(data)
    rc = run_cli("train", "ink", "--data", data, "--init-from", pkg, "--steps", 2, "--eval-every", 1, "--batch", 4,
                 "--buckets", 1, "--threads", 1, "--out", tmp_path / "run")
    assert rc == 0
    _, card = ckpt.load_model(tmp_path / "run")
    assert card["model_config"] == load_package(pkg).card["model_config"] and card["step"] == 2
