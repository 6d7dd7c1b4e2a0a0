"""Export a trained model as a *model package* for the torch-free runtime (``engine.runtime``).

A package is a folder::

    model.onnx   one sampling step with the recurrent state (and for synthesis the attention state,
                 kappa and the previous window) as explicit inputs/outputs; weights embedded in the
                 file (external_data=False), always.
    card.json    format "scribe-package", format_version, kind, name, and everything the checkpoint
                 card carried (model_config, vocab, normalisation statistics, data, metrics, step,
                 train_config, ...), plus "io" (input/output names, dtypes, shapes; the state shapes),
                 "parity" (the torch-vs-onnxruntime check it passed) and "exporter" details.
    styles.npz   optional, copied from the checkpoint folder (priming styles; card["styles"] also works)

Before anything is written, the ONNX graph is run side by side with the torch step module for
50 chained steps from random inputs and state; export fails with the difference it saw if an output
differs by more than 1e-4 (absolute; relative to the magnitude for outputs larger than 1). The
package appears at its destination only when complete (built in a hidden sibling folder, then renamed).

The exported module follows the stepper protocol (contracts): ``input_names``, ``output_names``,
``example_inputs()``, ``initial_state()``, and optionally ``dynamic_axes`` ({input/output name:
{axis: symbol}}, e.g. the synthesis text length U).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from engine.errors import ScribeError
from engine.runtime.package import FORMAT, FORMAT_VERSION, KINDS
PARITY_STEPS = 50
PARITY_TOL = 1e-4
OPSET = 18
QUANTIZE = (None, "int8")
GRAPHS = ("fused", "reference")
FLOAT_WEIGHTS = ("head", "win")  # weight names kept float32 by quantize_int8
_CHECKPOINT_ONLY = ("format", "format_version", "saved", "checkpoint_path")


class ExportError(ScribeError):
    """The model could not be exported (or the exported graph disagrees with torch)."""


def step_module(model, kind: str):
    """The single-step module that is exported for ``model`` (a CharLM or a handwriting net)."""
    if kind == "text":
        from engine.models.charlm import CharLMStep

        return CharLMStep(model).eval()
    if hasattr(model, "step_module"):
        return model.step_module().eval()
    raise ExportError(f"cannot export a {kind!r} model: it has no single-step module")


def export_package(model_dir, out_dir, *, name: str | None = None, prefer: str = "best",
                   exporter: str = "dynamo", parity_steps: int = PARITY_STEPS, tol: float = PARITY_TOL,
                   quantize: str | None = None, graph: str = "fused") -> Path:
    """Export the model in a run or checkpoint folder ``model_dir`` to the package folder ``out_dir``."""
    from engine import checkpoint as ckpt

    model, card = ckpt.load_model(model_dir, prefer=prefer)
    src = Path(card.get("checkpoint_path", model_dir))
    extra = {"styles.npz": src / "styles.npz"} if (src / "styles.npz").is_file() else {}
    return export_model(model, card, out_dir, name=name, exporter=exporter, parity_steps=parity_steps, tol=tol,
                        extra_files=extra, quantize=quantize, graph=graph)


def export_model(model, card: dict, out_dir, *, name: str | None = None, exporter: str = "dynamo",
                 parity_steps: int = PARITY_STEPS, tol: float = PARITY_TOL, extra_files: dict | None = None,
                 quantize: str | None = None, graph: str = "fused", seed: int = 0) -> Path:
    """Export an in-memory model with its checkpoint-style ``card`` (kind, model_config, vocab, ...).

    ``quantize="int8"``: after the float graph passes the parity check, store weights as int8 (onnxruntime
    dynamic quantization of the matrix products and LSTMs: ~4x fewer bytes to stream per step, the
    bottleneck of batch-1 sampling). The outputs then drift from torch's (measured over the same 50
    steps and recorded in card["quantization"]), so the same seed no longer gives the same sample as
    the torch model; the float package is the default.

    ``graph="fused"`` (default) exports ``engine.export_steps``' fused step module where the model kind has
    one (fewer graph nodes, plain weight matrices; faster, quantizable), ``"reference"`` the model's own
    step module. Either way the graph is checked against the model's own step module.
    """
    if quantize not in QUANTIZE:
        raise ExportError(f"unknown quantization {quantize!r} (choose {', '.join(q for q in QUANTIZE if q)})")
    kind = card.get("kind")
    if kind not in KINDS:
        raise ExportError(f"unknown model kind {kind!r}")
    out_dir = Path(out_dir).expanduser().resolve()
    _check_target(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if any(t.device.type != "cpu" for t in model.parameters()):
        import copy

        model = copy.deepcopy(model).cpu()  # export on the CPU; leave the caller's (training) model alone
    if graph not in GRAPHS:
        raise ExportError(f"unknown graph {graph!r} ({' | '.join(GRAPHS)})")
    was_training = model.training
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.export-"))
    try:
        step = step_module(model.eval(), kind)  # the model's own step: the reference for every check
        exported = step
        if graph == "fused":
            from engine.export_steps import fused_step_module

            exported = fused_step_module(model, kind) or step
        onnx_path = tmp / "model.onnx"
        export_onnx(exported, onnx_path, exporter=exporter)
        parity = check_parity(step, onnx_path, card, steps=parity_steps, tol=tol, seed=seed)
        parity["graph"] = "fused" if exported is not step else "reference"
        quant = None
        if quantize:
            float_path = tmp / "float.onnx"
            os.replace(onnx_path, float_path)
            quantize_int8(float_path, onnx_path)
            float_path.unlink()
            drift = check_parity(step, onnx_path, card, steps=parity_steps, tol=None, seed=seed)
            quant = {"scheme": "int8-dynamic", "weights": "int8", "activations": "uint8 per step (dynamic)",
                     "drift": {k: drift[k] for k in ("steps", "max_diff", "max_diff_at", "sizes")}}
        pkg_card = _package_card(card, step, onnx_path, parity, name or out_dir.name, exporter)
        if quant:
            pkg_card["quantization"] = quant
        (tmp / "card.json").write_text(json.dumps(pkg_card, indent=1, ensure_ascii=False), encoding="utf-8")
        for fname, src in (extra_files or {}).items():
            shutil.copyfile(src, tmp / fname)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        model.train(was_training)
    return out_dir


# ---- ONNX export -------------------------------------------------------------------------------

def export_onnx(step, path: Path, exporter: str = "dynamo", opset: int = OPSET) -> None:
    """Write ``step`` as a single ONNX file with embedded weights.

    ``exporter="dynamo"`` (torch.export-based; torch's default and supported path) or ``"legacy"``
    (TorchScript tracing; deprecated by torch, 30x faster to export, same graph after onnxruntime's
    optimisations). Both are checked by the same parity test.
    """
    import torch

    if exporter not in ("dynamo", "legacy"):
        raise ExportError(f"unknown exporter {exporter!r} (dynamo | legacy)")
    args = tuple(step.example_inputs())
    names_in, names_out = list(step.input_names), list(step.output_names)
    dyn = dict(getattr(step, "dynamic_axes", None) or {})
    log = io.StringIO()
    onnx_logger = logging.getLogger("torch.onnx")
    old_level = onnx_logger.level
    onnx_logger.setLevel(logging.ERROR)
    try:
        with torch.no_grad(), warnings.catch_warnings(), contextlib.redirect_stdout(log):
            warnings.simplefilter("ignore")
            if exporter == "dynamo":
                dims = {}
                shapes = []
                for n in names_in:
                    axes = dyn.get(n)
                    if axes:
                        shapes.append({a: dims.setdefault(s, torch.export.Dim(_ident(s), min=1, max=1 << 16))
                                       for a, s in axes.items()})
                    else:
                        shapes.append(None)
                prog = torch.onnx.export(step, args, None, input_names=names_in, output_names=names_out,
                                         dynamo=True, opset_version=opset, verbose=False,
                                         dynamic_shapes=tuple(shapes) if dims else None)
                prog.save(str(path), external_data=False)
            else:
                torch.onnx.export(step, args, str(path), input_names=names_in, output_names=names_out,
                                  dynamo=False, opset_version=min(opset, 17), external_data=False,
                                  dynamic_axes=dyn or None)
    except ExportError:
        raise
    except Exception as exc:  # the exporter's own errors are many and varied
        detail = log.getvalue().strip().splitlines()[-5:]
        raise ExportError(f"ONNX export failed ({exporter}): {type(exc).__name__}: {str(exc)[:500]}"
                          + ("\n" + "\n".join(detail) if detail else "")) from exc
    finally:
        onnx_logger.setLevel(old_level)
    if not path.is_file() or any(path.parent.glob("*.data")):
        raise ExportError("the ONNX exporter did not write a single self-contained model file")


def quantize_int8(src: Path, dst: Path) -> None:
    """int8 weights: fold the graph's constants (onnxruntime basic optimisations, portable ONNX), then
    onnxruntime's dynamic quantization of the recurrent layers' matrix products (MatMulInteger, or
    DynamicQuantizeLSTM for a reference graph). The output layer and the attention window stay float32:
    they are small, and their precision shows directly in the samples (MDN parameters, attention)."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    folded = dst.with_name("folded.onnx")
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    so.optimized_model_filepath = str(folded)
    so.log_severity_level = 3
    old = logging.root.manager.disable
    logging.disable(logging.WARNING)  # the quantizer logs every node it skips
    try:
        ort.InferenceSession(str(src), so, providers=["CPUExecutionProvider"])
        import onnx

        model = onnx.load(str(folded))
        for i, n in enumerate(model.graph.node):  # the quantizer excludes nodes by name
            n.name = n.name or f"{n.op_type}_{i}"
        keep_float = [name for n in model.graph.node if n.op_type in ("MatMul", "Gemm")
                      and any(any(k in i for k in FLOAT_WEIGHTS) for i in n.input)
                      for name in (n.name, f"{n.name}_MatMul")]  # the quantizer splits a Gemm first
        onnx.save(model, str(folded))
        quantize_dynamic(folded, dst, op_types_to_quantize=["MatMul", "Gemm", "LSTM"], weight_type=QuantType.QInt8,
                         nodes_to_exclude=keep_float)
    except Exception as exc:
        raise ExportError(f"int8 quantization failed: {type(exc).__name__}: {str(exc)[:300]}") from exc
    finally:
        logging.disable(old)
        if folded.exists():
            folded.unlink()


def _ident(s: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(s)) or "dim"


# ---- parity ------------------------------------------------------------------------------------

def random_feeds(step, card: dict, rng: np.random.Generator, sizes: dict | None = None) -> dict[str, np.ndarray]:
    """Random inputs (and state) shaped like ``step.example_inputs()``; dynamic axes get ``sizes``."""
    from engine.generate import state_names

    sizes = sizes or {}
    dyn = dict(getattr(step, "dynamic_axes", None) or {})
    n_vocab = len(card.get("vocab") or []) or 2
    states = set(state_names(step))
    feeds = {}
    for n, t in zip(step.input_names, step.example_inputs()):
        shape = list(t.shape)
        for a, s in (dyn.get(n) or {}).items():
            shape[a] = sizes.get(s, shape[a])
        if str(t.dtype) in ("torch.int64", "torch.int32"):
            feeds[n] = rng.integers(0, n_vocab, size=shape).astype(np.int64 if t.dtype.itemsize == 8 else np.int32)
        elif n == "chars":  # a one-hot text
            a = np.zeros(shape, dtype=np.float32)
            idx = rng.integers(0, shape[-1], size=shape[:-1])
            np.put_along_axis(a, idx[..., None], 1.0, axis=-1)
            feeds[n] = a
        elif n in states:
            feeds[n] = (0.5 * rng.standard_normal(shape)).astype(np.float32)
        else:
            feeds[n] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def check_parity(step, onnx_path: Path, card: dict, steps: int = PARITY_STEPS, tol: float | None = PARITY_TOL,
                 seed: int = 0) -> dict:
    """Run torch and onnxruntime side by side for ``steps`` chained steps (each backend carries its own
    state) from the same random inputs and state; raise ExportError if any output differs by more than
    ``tol`` (scaled by the output's magnitude when that exceeds 1). ``tol=None`` only measures (the
    drift of a quantized graph), failing on non-finite outputs only."""
    import onnxruntime as ort

    from engine.generate import TorchStepper, state_names

    try:
        sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportError(f"onnxruntime cannot load the exported graph: {exc}") from exc
    torch_step = TorchStepper(step)
    states = state_names(step)
    rng = np.random.default_rng(seed)
    dyn = dict(getattr(step, "dynamic_axes", None) or {})
    symbols = sorted({s for n, axes in dyn.items() if n in step.input_names for s in axes.values()})
    # two different sizes for every dynamic axis, to exercise the dynamic shapes
    phases = [{}] if not symbols else [{s: int(v) for s in symbols for v in [rng.integers(2, 12)]},
                                       {s: int(v) for s in symbols for v in [rng.integers(12, 40)]}]
    worst, worst_at = 0.0, None
    t_state = o_state = None
    for k in range(steps):
        sizes = phases[min(k * len(phases) // max(steps, 1), len(phases) - 1)]
        feeds = random_feeds(step, card, rng, sizes)
        if t_state is None:
            t_state = {n: feeds[n] for n in states}
            o_state = dict(t_state)
        ref = torch_step.step({**feeds, **t_state})
        try:
            got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {**feeds, **o_state})))
        except Exception as exc:
            raise ExportError(f"onnxruntime failed on the exported graph at step {k}: {exc}") from exc
        for name in step.output_names:
            a, b = np.asarray(got[name], dtype=np.float64), np.asarray(ref[name], dtype=np.float64)
            if a.shape != b.shape:
                raise ExportError(f"parity check failed: output {name!r} has shape {a.shape} in onnxruntime "
                                  f"but {b.shape} in torch (step {k})")
            if not np.all(np.isfinite(b)):
                raise ExportError(f"parity check: torch produced non-finite {name!r} at step {k}")
            d = float(np.max(np.abs(a - b) / np.maximum(1.0, np.abs(b)))) if a.size else 0.0
            if not d <= worst:
                worst, worst_at = d, (k, name)
            if not np.all(np.isfinite(a)):
                raise ExportError(f"onnxruntime produced non-finite {name!r} at step {k}; the package was not written")
            if tol is not None and not d <= tol:
                raise ExportError(f"parity check failed: torch and onnxruntime differ by {d:.3g} in {name!r} at "
                                  f"step {k} of {steps} (tolerance {tol:g}); the package was not written")
        t_state = {n: ref[f"{n}_out"] for n in states}
        o_state = {n: got[f"{n}_out"] for n in states}
    return {"steps": steps, "tolerance": tol, "max_diff": worst,
            "max_diff_at": None if worst_at is None else {"step": worst_at[0], "output": worst_at[1]},
            "sizes": phases}


# ---- card and files ----------------------------------------------------------------------------

def _package_card(card: dict, step, onnx_path: Path, parity: dict, name: str, exporter: str) -> dict:
    import onnx
    import torch

    from engine.generate import state_names

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


def _is_package(path: Path) -> bool:
    try:
        return json.loads((path / "card.json").read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def _check_target(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ExportError(f"{out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not _is_package(out_dir):
            raise ExportError(f"{out_dir} exists and is not a model package; refusing to overwrite it")


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{time.monotonic_ns()}"
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


# ---- tiny packages for tests -------------------------------------------------------------------

TINY_TEXT_VOCAB = "\n !',.?abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def make_tiny_package(kind: str, out_dir, seed: int = 0, **sizes) -> Path:
    """Build a tiny randomly initialised model of ``kind`` and export it to ``out_dir``; returns the path.

    For tests (the GUI's included): the package is real (ONNX + card, parity-checked) but untrained.
    ``kind``: "text" | "ink-synthesis" | "ink-prediction". ``sizes`` override the model config
    (text: cell, layers, hidden, embed, skip, vocab=<string of characters>; ink: layers, hidden,
    mixtures, window_k, vocab=<string> (synthesis), norm={"mean": [mx, my], "std": [sx, sy]}) and may
    include ``name``, ``quantize`` ("int8") and ``styles``
    (a list of dict(name, text, stroke3) written into the card). Takes well under a second per call
    after the first (torch's exporter warms up once, ~2 s).
    """
    import torch

    sizes = dict(sizes)
    name = sizes.pop("name", None)
    quantize = sizes.pop("quantize", None)
    styles = sizes.pop("styles", None)
    torch.manual_seed(seed)
    if kind == "text":
        from engine.models.charlm import CharLM, CharLMConfig
        from engine.vocab import Vocab

        vocab = Vocab(sizes.pop("vocab", TINY_TEXT_VOCAB))
        cfg = dict(cell="lstm", layers=2, hidden=16, embed=8)
        cfg.update(sizes)
        model = CharLM(CharLMConfig(vocab_size=len(vocab), **cfg))
        card = {"kind": "text", "model_config": model.config_dict(), "vocab": vocab.to_json()}
    elif kind in ("ink-synthesis", "ink-prediction"):
        model, card = _tiny_ink_model(kind, sizes)
    else:
        raise ExportError(f"unknown model kind {kind!r}")
    card.update(step=0, metrics={}, data={"note": "tiny randomly initialised model (tests)"})
    if styles:
        card["styles"] = [{"name": s["name"], "text": s.get("text", ""),
                           "stroke3": np.asarray(s["stroke3"], dtype=np.float32).round(4).tolist()} for s in styles]
    return export_model(model.eval(), card, out_dir, name=name, seed=seed, quantize=quantize)


TINY_INK_VOCAB = " abcdefghijklmnopqrstuvwxyz.,'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _tiny_ink_model(kind: str, sizes: dict):
    from engine.models.handwriting import build

    vocab = sizes.pop("vocab", sizes.pop("charset", TINY_INK_VOCAB))
    norm = sizes.pop("norm", {"mean": [2.0, 0.1], "std": [4.0, 3.0]})
    cfg = dict(layers=2, hidden=16, mixtures=3, window_k=2)
    if kind == "ink-synthesis":
        cfg["vocab_size"] = len(vocab)
    cfg.update(sizes)
    model = build(kind, cfg)
    card = {"kind": kind, "model_config": model.config_dict(), "norm": dict(norm)}
    if kind == "ink-synthesis":
        card["vocab"] = list(vocab)
    return model, card
