"""The package card: the checkpoint card plus the graph's inputs/outputs, state shapes, parity and exporter."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from engine.runtime.package import FORMAT, FORMAT_VERSION

_CHECKPOINT_ONLY = ("format", "format_version", "saved", "checkpoint_path")


def package_card(card: dict, step, onnx_path: Path, parity: dict, name: str, exporter: str) -> dict:
    import onnx
    import torch

    from engine.core.stepper import state_names

    model = onnx.load(str(onnx_path), load_external_data=False)

    def spec(vi):
        t = vi.type.tensor_type
        dims = [d.dim_param if d.dim_param else int(d.dim_value) for d in t.shape.dim]
        return {"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": dims}

    init = step.initial_state()
    pkg = {"format": FORMAT, "format_version": FORMAT_VERSION, "kind": card["kind"], "name": name}
    pkg.update((k, v) for k, v in card.items() if k not in _CHECKPOINT_ONLY + tuple(pkg))
    pkg.update(exported=time.time(),
               io={"inputs": [spec(v) for v in model.graph.input], "outputs": [spec(v) for v in model.graph.output],
                   "state": {n: [int(d) for d in np.asarray(init[n]).shape] for n in state_names(step)}},
               parity=parity,
               exporter={"exporter": exporter, "torch": torch.__version__, "onnx_opset":
                         max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=None)})
    if "checkpoint_path" in card:
        pkg["source"] = {"checkpoint": str(card["checkpoint_path"])}
    return pkg
