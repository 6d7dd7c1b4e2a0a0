"""Runtime benchmark: batch-1 sampling with onnxruntime packages vs torch eager, in one run.

    flock /tmp/scribe-heavy.lock .venv/bin/python bench/runtime_bench.py [--quick]

1. Graves-size synthesis net (3 x 400 LSTM, K = 10 window Gaussians, M = 20 mixtures, 75 symbols):
   time per step of torch eager vs onnxruntime (float and int8 packages; 1 and 2 threads), and a
   700-point line through the real sampling loop (engine.core.ink_stream.ink_stream) with the time split
   into the ORT call, numpy sampling and the rest (Python loop overhead).
2. Char LM 3 x 512 LSTM (65 symbols): characters per second through engine.core.text_stream, torch
   eager vs onnxruntime, with the same split.

Random weights (speed does not depend on training). Timings interleave the configurations and report
the median of several blocks, so a busy machine slows all of them alike; `uptime` is printed.
"""

from __future__ import annotations

import argparse
import os
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SYMBOLS = string.ascii_letters + string.digits + " .,'!?-:;\"()&"   # 75
LINE_TEXT = "A MOVE to stop Mr. Gaitskell from nominating any more Labour life Peers"  # an IAM-style line


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "?"


class Timed:
    """A stepper proxy that accumulates the time spent in ``step``."""

    def __init__(self, inner):
        self.inner = inner
        self.input_names, self.output_names = inner.input_names, inner.output_names
        self.seconds = 0.0
        self.calls = 0

    def initial_state(self):
        return self.inner.initial_state()

    def step(self, feeds):
        t = time.perf_counter()
        out = self.inner.step(feeds)
        self.seconds += time.perf_counter() - t
        self.calls += 1
        return out


def timed_fn(fn, acc: dict):
    def wrapper(*a, **k):
        t = time.perf_counter()
        r = fn(*a, **k)
        acc["s"] += time.perf_counter() - t
        acc["n"] += 1
        return r
    return wrapper


def per_step(configs: dict, feeds: dict, n: int, blocks: int) -> dict:
    """Per config: (min, median) wall seconds per step over interleaved blocks of n steps, and the CPU
    seconds per step of the calling thread (min; the whole work for 1-thread configs, which run in the
    caller's thread; robust to other processes taking the CPU)."""
    wall = {k: [] for k in configs}
    cpu = {k: [] for k in configs}
    for step in configs.values():
        for _ in range(5):
            step(feeds)
    for _ in range(blocks):
        for k, step in configs.items():
            c = time.thread_time()
            t = time.perf_counter()
            for _ in range(n):
                step(feeds)
            wall[k].append((time.perf_counter() - t) / n)
            cpu[k].append((time.thread_time() - c) / n)
    return {k: (min(wall[k]), float(np.median(wall[k])), min(cpu[k])) for k in configs}


def bandwidth_probe(threads: int = 1) -> float:
    """GB/s that one onnxruntime matrix-vector product (1 x 1024 @ 1024 x 2048 float32, 8 MB) streams."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from engine.runtime.session import make_session, session_options

    w = np.random.default_rng(0).standard_normal((1024, 2048)).astype(np.float32)
    g = helper.make_graph([helper.make_node("MatMul", ["a", "W"], ["y"])], "g",
                          [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 1024])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2048])],
                          [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    sess = make_session(m.SerializeToString(), session_options(threads=threads))
    a = {"a": np.ones((1, 1024), np.float32)}
    best = float("inf")
    for _ in range(7):
        t = time.perf_counter()
        for _ in range(50):
            sess.run(["y"], a)
        best = min(best, (time.perf_counter() - t) / 50)
    del onnx
    return w.nbytes / best / 1e9


def torch_threads(n: int):
    import torch

    torch.set_num_threads(n)


def build_synthesis(tmp: Path, quick: bool):
    import torch

    from engine.export.exporter import export_model
    from engine.models.handwriting import build

    torch.manual_seed(0)
    H = 400
    model = build("ink-synthesis", dict(layers=3, hidden=H, mixtures=20, window_k=10, vocab_size=len(SYMBOLS))).eval()
    card = {"kind": "ink-synthesis", "model_config": model.config_dict(), "vocab": list(SYMBOLS),
            "norm": {"mean": [0.3, 0.0], "std": [2.0, 2.0]}}
    pk = {}
    for q in (None, "int8"):
        t = time.perf_counter()
        pk[q] = export_model(model, card, tmp / f"synthesis-{q or 'float'}", quantize=q)
        print(f"  export synthesis ({q or 'float'}): {time.perf_counter() - t:.1f} s, "
              f"{(pk[q] / 'model.onnx').stat().st_size / 1e6:.1f} MB", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    return model, pk, n_params


def build_charlm(tmp: Path):
    import torch

    from engine.export.exporter import export_model
    from engine.models.charlm import CharLM, CharLMConfig

    torch.manual_seed(0)
    vocab = "\n" + SYMBOLS[:64]  # 65 symbols, like tiny-shakespeare
    model = CharLM(CharLMConfig(vocab_size=len(vocab), cell="lstm", layers=3, hidden=512, embed=64)).eval()
    card = {"kind": "text", "model_config": model.config_dict(), "vocab": list(vocab)}
    pk = {}
    for q in (None, "int8"):
        t = time.perf_counter()
        pk[q] = export_model(model, card, tmp / f"charlm-{q or 'float'}", quantize=q)
        print(f"  export char LM ({q or 'float'}): {time.perf_counter() - t:.1f} s, "
              f"{(pk[q] / 'model.onnx').stat().st_size / 1e6:.1f} MB", flush=True)
    return model, pk, vocab, sum(p.numel() for p in model.parameters())


def bench_synthesis(tmp: Path, quick: bool) -> list[str]:
    import engine.core.ink_stream as inkgen
    from engine.models.torch_stepper import TorchStepper
    from engine.runtime import load_package

    out = []
    model, pk, n_params = build_synthesis(tmp, quick)
    out.append(f"### Synthesis net 3x400, K=10, M=20, {len(SYMBOLS)} symbols ({n_params / 1e6:.2f} M weights, "
               f"{n_params * 4 / 1e6:.1f} MB float32)\n")
    bw1, bw2 = bandwidth_probe(1), bandwidth_probe(2)
    qbytes = (pk["int8"] / "model.onnx").stat().st_size
    out.append(f"Memory bandwidth of one onnxruntime float32 matrix-vector product (8 MB of weights), measured now: "
               f"{bw1:.1f} GB/s with 1 thread, {bw2:.1f} GB/s with 2. A batch-1 step must stream every weight "
               f"once: float32 {n_params * 4 / 1e6:.1f} MB -> at least {n_params * 4 / bw1 / 1e3:.0f} us/step "
               f"(1 thread), {700 * n_params * 4 / bw1 / 1e6:.0f} ms per 700 points; int8 package "
               f"{qbytes / 1e6:.1f} MB -> at least {qbytes / bw1 / 1e3:.0f} us/step, "
               f"{700 * qbytes / bw1 / 1e6:.0f} ms per 700 points.\n")
    pkgs = {(q, t): load_package(pk[q], threads=t) for q in (None, "int8") for t in (1, 2)}
    tstep = TorchStepper(model.step_module())
    chars = inkgen.one_hot(LINE_TEXT, pkgs[(None, 1)].vocab)
    feeds = {"x": np.array([[0.1, -0.2, 0.0]], np.float32), "chars": chars, **tstep.initial_state()}

    def torch_cfg(threads):
        def run(f):
            torch_threads(threads)
            return tstep.step(f)
        return run

    configs = {"torch eager, 1 thread": torch_cfg(1), "torch eager, 2 threads": torch_cfg(2)}
    for (q, t), p in pkgs.items():
        configs[f"onnxruntime {q or 'float32'}, {t} thread{'s' if t > 1 else ''}"] = p.stepper.step
    from engine.runtime.session import OrtStepper, make_session, session_options

    spin = make_session(pk[None] / "model.onnx", session_options(threads=2, spin=True))
    configs["onnxruntime float32, 2 threads, spinning"] = OrtStepper(spin, {}).step
    for level in ("disable", "basic", "extended"):  # graph optimisation levels ("all" is above)
        configs[f"onnxruntime float32, 1 thread, optimisation {level}"] = \
            load_package(pk[None], threads=1, optimization=level).stepper.step
    res = per_step(configs, feeds, n=10 if quick else 20, blocks=3 if quick else 15)
    torch_threads(1)
    base = res["torch eager, 1 thread"]
    out.append("| step (batch 1) | us/step (min) | us/step (median) | CPU us/step (calling thread) | "
               "speed-up vs torch eager 1 thread (min; CPU) |")
    out.append("|---|---:|---:|---:|---:|")
    for k, (mn, med, c) in res.items():
        cpu = f"{c * 1e6:.0f}" if "2 threads" not in k else "(n/a)"
        ratio = f"{base[0] / mn:.1f}x" + (f"; {base[2] / c:.1f}x" if "2 threads" not in k else "")
        out.append(f"| {k} | {mn * 1e6:.0f} | {med * 1e6:.0f} | {cpu} | {ratio} |")
    out.append("")

    # a 700-point line through the real loop, with the time split
    out.append("700-point line through `ink_stream` (bias 0.5, stop rule off: `max_steps=700` on a long text):\n")
    out.append("| backend | line ms (best of 3) | CPU ms (calling thread) | ORT/torch call ms | numpy sampling ms | "
               "rest (Python loop) ms | points |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    lines = {"torch eager, 1 thread": (tstep, 1)}
    for (q, t), p in pkgs.items():
        lines[f"onnxruntime {q or 'float32'}, {t} thread{'s' if t > 1 else ''}"] = (p.stepper, t)
    reps = 1 if quick else 3
    orig = inkgen.sample_mdn
    for label, (stepper, threads) in lines.items():
        torch_threads(threads if label.startswith("torch") else 1)
        best = None
        for r in range(reps):
            acc = {"s": 0.0, "n": 0}
            inkgen.sample_mdn = timed_fn(orig, acc)
            ts = Timed(stepper)
            c = time.thread_time()
            t = time.perf_counter()
            pts = list(inkgen.ink_stream(ts, text=LINE_TEXT, vocab=SYMBOLS, norm=None, bias=0.5, seed=r,
                                         max_steps=700, finish_stroke=10_000))
            total = time.perf_counter() - t
            cpu = time.thread_time() - c
            inkgen.sample_mdn = orig
            row = (total, ts.seconds, acc["s"], len(pts), cpu)
            if best is None or row[0] < best[0]:
                best = row
        total, t_step, t_samp, n, cpu = best
        cpu_s = f"{cpu * 1e3:.0f}" if threads == 1 else "(n/a)"
        out.append(f"| {label} | {total * 1e3:.0f} | {cpu_s} | {t_step * 1e3:.0f} | {t_samp * 1e3:.1f} | "
                   f"{(total - t_step - t_samp) * 1e3:.1f} | {n} |")
    torch_threads(1)
    out.append("")
    return out


def bench_graphs(tmp: Path, quick: bool) -> list[str]:
    """Fused export graph vs the model's own step module (torch's LSTM ops), synthesis net, same run."""
    import onnx
    import torch

    from engine.core.ink_stream import one_hot
    from engine.export.exporter import export_model
    from engine.models.handwriting import build
    from engine.runtime import load_package

    torch.manual_seed(0)
    model = build("ink-synthesis", dict(layers=3, hidden=400, mixtures=20, window_k=10, vocab_size=len(SYMBOLS))).eval()
    card = {"kind": "ink-synthesis", "model_config": model.config_dict(), "vocab": list(SYMBOLS),
            "norm": {"mean": [0.3, 0.0], "std": [2.0, 2.0]}}
    configs, nodes = {}, {}
    for graph in ("reference", "fused"):
        for q in (None, "int8"):
            label = f"{graph} graph, {q or 'float32'}"
            path = export_model(model, card, tmp / f"g-{graph}-{q}", graph=graph, quantize=q)
            nodes[label] = len(onnx.load(str(path / "model.onnx")).graph.node)
            configs[label] = load_package(path, threads=1).stepper.step
    feeds = {"x": np.array([[0.1, -0.2, 0.0]], np.float32), "chars": one_hot(LINE_TEXT, SYMBOLS),
             **model.step_module().initial_state()}
    res = per_step(configs, feeds, n=10 if quick else 20, blocks=3 if quick else 15)
    out = ["### Export graph: fused vs the model's own step module (synthesis 3x400, 1 thread)\n",
           "| graph | nodes in model.onnx | us/step (min) | us/step (median) | CPU us/step |", "|---|---:|---:|---:|---:|"]
    for k, (mn, med, c) in res.items():
        out.append(f"| {k} | {nodes[k]} | {mn * 1e6:.0f} | {med * 1e6:.0f} | {c * 1e6:.0f} |")
    out.append("")
    return out


def bench_charlm(tmp: Path, quick: bool) -> list[str]:
    import engine.core.text_stream as gen
    from engine.core.vocab import Vocab
    from engine.models.charlm import CharLMStep
    from engine.models.torch_stepper import TorchStepper
    from engine.runtime import load_package

    out = []
    model, pk, vocab, n_params = build_charlm(tmp)
    out.append(f"### Char LM 3x512 LSTM, {len(vocab)} symbols ({n_params / 1e6:.2f} M weights, "
               f"{n_params * 4 / 1e6:.1f} MB float32)\n")
    v = Vocab(vocab)
    n_chars = 300 if quick else 1500
    out.append(f"{n_chars} characters through `text_stream` (temperature 0.8, top-k off; best of "
               f"{1 if quick else 3}):\n")
    out.append("| backend | chars/s | chars per CPU-second (calling thread) | ms/char | ORT/torch call ms/char | "
               "numpy sampling ms/char | rest ms/char |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    steppers = {"torch eager, 1 thread": (TorchStepper(CharLMStep(model)), 1),
                "torch eager, 2 threads": (TorchStepper(CharLMStep(model)), 2)}
    for q in (None, "int8"):
        for t in (1, 2):
            steppers[f"onnxruntime {q or 'float32'}, {t} thread{'s' if t > 1 else ''}"] = (
                load_package(pk[q], threads=t).stepper, t)
    orig = gen.sample_logits
    for label, (stepper, threads) in steppers.items():
        torch_threads(threads if label.startswith("torch") else 1)
        best = None
        for r in range(1 if quick else 3):
            acc = {"s": 0.0, "n": 0}
            gen.sample_logits = timed_fn(orig, acc)
            ts = Timed(stepper)
            c = time.thread_time()
            t = time.perf_counter()
            text = "".join(gen.text_stream(ts, v, "The ", n_chars, temperature=0.8, seed=r))
            total = time.perf_counter() - t
            cpu = time.thread_time() - c
            gen.sample_logits = orig
            assert len(text) == n_chars
            row = (total, ts.seconds, acc["s"], cpu)
            if best is None or row[0] < best[0]:
                best = row
        total, t_step, t_samp, cpu = best
        per = 1e3 / n_chars
        cpu_s = f"{n_chars / cpu:,.0f}" if threads == 1 else "(n/a)"
        out.append(f"| {label} | {n_chars / total:,.0f} | {cpu_s} | {total * per:.3f} | {t_step * per:.3f} | "
                   f"{t_samp * per:.3f} | {(total - t_step - t_samp) * per:.3f} |")
    torch_threads(1)
    out.append("")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (a smoke run)")
    ap.add_argument("--only", choices=["synthesis", "charlm", "graphs", "bandwidth"], default=None)
    args = ap.parse_args()
    import warnings

    warnings.filterwarnings("ignore")
    import onnxruntime
    import torch

    print(f"# runtime benchmark  ({time.strftime('%Y-%m-%d %H:%M')})\n")
    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs")
    print(f"load before: {uptime()}\n", flush=True)
    lines = []
    if args.only == "bandwidth":
        print(f"onnxruntime float32 matrix-vector product, 8 MB of weights: {bandwidth_probe(1):.1f} GB/s with 1 thread, "
              f"{bandwidth_probe(2):.1f} GB/s with 2 threads")
        return 0
    with tempfile.TemporaryDirectory(prefix="scribe-bench-") as d:
        tmp = Path(d)
        if args.only in (None, "synthesis"):
            lines += bench_synthesis(tmp, args.quick)
        if args.only in (None, "charlm"):
            lines += bench_charlm(tmp, args.quick)
        if args.only in (None, "graphs"):
            lines += bench_graphs(tmp, args.quick)
    print()
    print("\n".join(lines))
    print(f"load after: {uptime()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
