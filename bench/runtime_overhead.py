"""Where a batch-1 onnxruntime step of the Graves-size synthesis net (3x400) spends its time, beyond the
weights: the fixed per-step cost (the same graph with H = 8) and onnxruntime's weight-only block
quantization (MatMulNBits, 4 and 8 bits) against our float32 and int8 packages. One run, interleaved.

    .venv/bin/python bench/runtime_overhead.py      # ~1 min; figures in bench/RESULTS-runtime.md
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_bench import SYMBOLS, build_synthesis, per_step  # noqa: E402


def session(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def random_feeds(s, rng) -> dict:
    return {i.name: (rng.standard_normal([d if isinstance(d, int) else 30 for d in i.shape]) * 0.5)
            .astype(np.float32) for i in s.get_inputs()}


def main() -> None:
    import onnx
    import torch
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    from engine.export.exporter import export_model
    from engine.models.handwriting import build

    logging.disable(logging.WARNING)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _, pk, _ = build_synthesis(tmp, True)
        src = pk[None] / "model.onnx"
        sessions = {"float32": session(src), "int8 dynamic (--quantize int8)": session(pk["int8"] / "model.onnx")}
        m = onnx.load(str(src))
        keep = [n.name for n in m.graph.node if n.op_type == "MatMul" and any("head" in i or "win" in i for i in n.input)]
        for bits, block in [(8, 32), (8, 128), (4, 32), (4, 128)]:
            q = MatMulNBitsQuantizer(onnx.load(str(src)), bits=bits, block_size=block, is_symmetric=True,
                                     accuracy_level=4, nodes_to_exclude=keep)
            q.process()
            out = tmp / f"nbits{bits}-{block}.onnx"
            q.model.save_model_to_file(str(out), use_external_data_format=False)
            sessions[f"{bits}-bit blocks of {block} ({out.stat().st_size / 1e6:.1f} MB)"] = session(out)
        torch.manual_seed(0)  # the same graph with negligible weights: what a step costs regardless of size
        for q in (None, "int8"):
            tiny = build("ink-synthesis", dict(layers=3, hidden=8, mixtures=20, window_k=10, vocab_size=len(SYMBOLS)))
            card = {"kind": "ink-synthesis", "model_config": tiny.eval().config_dict(), "vocab": list(SYMBOLS),
                    "norm": {"mean": [0.3, 0.0], "std": [2.0, 2.0]}}
            p = export_model(tiny, card, tmp / f"h8-{q}", quantize=q)
            sessions[f"H = 8, {q or 'float32'} (fixed cost)"] = session(p / "model.onnx")
        feeds = {k: random_feeds(s, rng) for k, s in sessions.items()}
        ref = sessions["float32"].run(None, feeds["float32"])
        res = per_step({k: (lambda f, s=s, k=k: s.run(None, feeds[k])) for k, s in sessions.items()}, None, 100, 15)
        print("| graph | µs/step (min) | µs/step (median) | max output difference vs float32 |")
        print("|---|---:|---:|---:|")
        for k, (mn, med, _) in res.items():
            diff = "n/a" if k.startswith("H = 8") else \
                f"{max(float(np.abs(a - b).max()) for a, b in zip(sessions[k].run(None, feeds['float32']), ref)):.3f}"
            print(f"| {k} | {mn * 1e6:.0f} | {med * 1e6:.0f} | {diff} |")


if __name__ == "__main__":
    main()
