"""A trainable torch model from an exported handwriting package (``model.onnx`` + ``card.json``).

The app ships packages, not checkpoints: fine-tuning the bundled model (``scribe train ink --init-from
assets/models/handwriting-script``, the app's "Make my model") starts from its ONNX weights. A float
package's fused synthesis graph (``engine.export.steps.FusedSynthesisStep``) stores each LSTM layer as one
matrix over [input, h] and one summed bias; here they are split back into the model's parameters
(``b_ih`` = the sum, ``b_hh`` = 0: the same cell). The rebuilt model is checked against the package: both
run the same 40 chained steps from random inputs, and every output must agree to 1e-4, or loading fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.core.errors import CheckpointError

PARITY_STEPS = 40
PARITY_TOL = 1e-4


def _initializers(path: Path) -> dict[str, np.ndarray]:
    """The graph's weights by name. A bias the exporter shared with an identical one (an untrained model's
    layers have equal biases) is found through the graph: the Add that follows its weight's MatMul."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path), load_external_data=False)
    out = {}
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            raise CheckpointError(f"{path}: weights stored outside the file are not accepted")
        out[t.name] = numpy_helper.to_array(t)
    nodes = list(model.graph.node)
    for name in [n for n in out if n.endswith(".w")]:
        bias = name[:-2] + ".b"
        if bias in out:
            continue
        mm = [o for n in nodes if n.op_type == "MatMul" and name in n.input for o in n.output]
        for n in nodes:
            if n.op_type == "Add" and any(o in n.input for o in mm):
                other = [i for i in n.input if i in out]
                if other:
                    out[bias] = out[other[0]]
                    break
    return out


def load_package_model(path) -> tuple[torch.nn.Module, dict]:
    """(SynthesisNet in train mode, card) rebuilt from a float ink-synthesis package folder."""
    from engine.models.handwriting import HandwritingConfig, SynthesisNet
    from engine.runtime import load_package

    pkg = load_package(path)
    card = dict(pkg.card)
    if card.get("kind") != "ink-synthesis":
        raise CheckpointError(f"{path}: only handwriting synthesis packages can be trained further, "
                              f"this one is {card.get('kind')!r}")
    if card.get("quantization") or (card.get("parity") or {}).get("graph") not in (None, "fused"):
        raise CheckpointError(f"{path}: an int8 or reference-graph package cannot be trained further; use the "
                              f"float package it was exported with")
    w = _initializers(Path(path) / "model.onnx")
    cfg = HandwritingConfig(**card["model_config"])
    net = SynthesisNet(cfg)
    H, V, X = cfg.hidden, cfg.vocab_size, 3
    try:
        with torch.no_grad():
            def put_lstm(mod, W, b, n_in):
                W = torch.from_numpy(np.ascontiguousarray(W.T))            # (4H, n_in + H)
                mod.weight_ih_l0.copy_(W[:, :n_in])
                mod.weight_hh_l0.copy_(W[:, n_in:])
                mod.bias_ih_l0.copy_(torch.from_numpy(np.array(b)))
                mod.bias_hh_l0.zero_()
            put_lstm(net.lstm1, w["cell1.w"], w["cell1.b"], X + V)
            for i, layer in enumerate(net.upper):
                put_lstm(layer, w[f"upper.{i}.w"], w[f"upper.{i}.b"], X + H + V)
            net.window.weight.copy_(torch.from_numpy(np.ascontiguousarray(w["win_w"].T)))
            net.window.bias.copy_(torch.from_numpy(np.array(w["win_b"])))
            net.head.linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(w["head_w"].T)))
            net.head.linear.bias.copy_(torch.from_numpy(np.array(w["head_b"])))
    except (KeyError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{path}: the package's weights do not fit its card ({exc})") from None
    _check_parity(net.eval(), pkg, path)
    card.pop("io", None)
    card.pop("parity", None)
    card["init_from_package"] = str(path)
    return net.train(), card


def _check_parity(net, pkg, path) -> None:
    from engine.models.torch_stepper import TorchStepper

    ref = TorchStepper(net.step_module())
    rng = np.random.default_rng(0)
    V = net.cfg.vocab_size
    chars = np.eye(V, dtype=np.float32)[rng.integers(0, V, 12)][None]
    a = {"x": None, "chars": chars, **ref.initial_state()}
    b = {"x": None, "chars": chars, **pkg.stepper.initial_state()}
    states = [n for n in ref.input_names if f"{n}_out" in ref.output_names]
    worst = 0.0
    for _ in range(PARITY_STEPS):
        x = np.concatenate([rng.normal(0, 1, 2), [float(rng.random() < 0.1)]]).astype(np.float32)[None]
        a["x"] = b["x"] = x
        ra, rb = ref.step(a), pkg.stepper.step(b)
        for k in ra:
            worst = max(worst, float(np.max(np.abs(ra[k] - rb[k]) / np.maximum(1.0, np.abs(rb[k])))))
        for n in states:
            a[n], b[n] = ra[f"{n}_out"], rb[f"{n}_out"]
    if not worst <= PARITY_TOL:
        raise CheckpointError(f"{path}: the weights rebuilt from the package differ from it by {worst:.2g} "
                              f"(tolerance {PARITY_TOL:g}); it cannot be trained further")
