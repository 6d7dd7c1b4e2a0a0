"""The torch-vs-onnxruntime parity check an export must pass before anything is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.core.errors import ExportError

PARITY_STEPS = 50
PARITY_TOL = 1e-4


def random_feeds(step, card: dict, rng: np.random.Generator, sizes: dict | None = None) -> dict[str, np.ndarray]:
    """Random inputs (and state) shaped like ``step.example_inputs()``; dynamic axes get ``sizes``."""
    from engine.core.stepper import state_names

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

    from engine.core.stepper import state_names
    from engine.models.torch_stepper import TorchStepper

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
