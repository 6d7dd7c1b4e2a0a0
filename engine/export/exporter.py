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
package appears at its destination only when complete (built in a hidden sibling folder
``.NAME.export-PID-*``, fsynced, then renamed); leftovers of killed exports are removed by the next export
to the same place. The card written is checked against the schema every loader applies
(``engine.core.card_schema``).

The exported module follows the stepper protocol (``engine.core.stepper``): ``input_names``, ``output_names``,
``example_inputs()``, ``initial_state()``, and optionally ``dynamic_axes`` ({input/output name:
{axis: symbol}}, e.g. the synthesis text length U).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from engine.core.card_schema import read_json, validate_card
from engine.core.errors import CheckpointError, ExportError
from engine.export.card import package_card
from engine.export.onnx_graph import export_onnx
from engine.export.parity import PARITY_STEPS, PARITY_TOL, check_parity
from engine.export.quantize import QUANTIZE, quantize_int8
from engine.runtime.package import FORMAT, KINDS

GRAPHS = ("fused", "reference")


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
    import engine.training.checkpoint as ckpt
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
    dynamic quantization of the matrix products and LSTMs: a quarter of the bytes to stream per step, the
    bottleneck of batch-1 sampling). The outputs then drift from torch's (measured over the same 50
    steps and recorded in card["quantization"]), so the same seed no longer gives the same sample as
    the torch model; the float package is the default.

    ``graph="fused"`` (default) exports ``engine.export.steps``' fused step module where the model kind has
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
    from engine.core.process import fsync_path
    from engine.training.checkpoint import remove_stale_temps, temp_tag

    # leftovers of killed exports to this place (their process is gone, or they predate process tags by an hour)
    remove_stale_temps(out_dir.parent, (f".{out_dir.name}.export-*", f".{out_dir.name}.old-*"),
                       before=time.time() - 3600)
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.{temp_tag('export')}"))
    try:
        step = step_module(model.eval(), kind)  # the model's own step: the reference for every check
        exported = step
        if graph == "fused":
            from engine.export.steps import fused_step_module

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
        pkg_card = package_card(card, step, onnx_path, parity, name or out_dir.name, exporter)
        if quant:
            pkg_card["quantization"] = quant
        try:  # what every loader will check: better refused now than unusable later
            validate_card(json.loads(json.dumps(pkg_card)), "the package card", package=True, error=ExportError)
        except ValueError as exc:  # a value JSON cannot hold
            raise ExportError(f"the package card cannot be written as JSON: {exc}") from None
        (tmp / "card.json").write_text(json.dumps(pkg_card, indent=1, ensure_ascii=False), encoding="utf-8")
        for fname, src in (extra_files or {}).items():
            shutil.copyfile(src, tmp / fname)
        for f in tmp.iterdir():
            fsync_path(f)
        fsync_path(tmp)
        os.chmod(tmp, 0o755)  # mkdtemp makes it private
        _move_into_place(tmp, out_dir)
        fsync_path(out_dir.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        model.train(was_training)
    return out_dir




def _is_package(path: Path) -> bool:
    try:
        card = read_json(path / "card.json")
    except CheckpointError:
        return False
    return isinstance(card, dict) and card.get("format") == FORMAT


def _check_target(out_dir: Path) -> None:
    if out_dir.exists():
        if not out_dir.is_dir():
            raise ExportError(f"{out_dir} exists and is not a folder")
        if any(out_dir.iterdir()) and not _is_package(out_dir):
            raise ExportError(f"{out_dir} exists and is not a model package; refusing to overwrite it")


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    old = None
    if out_dir.exists():
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{time.monotonic_ns()}"  # a temp_tag name
        os.replace(out_dir, old)
    try:
        os.replace(tmp, out_dir)
    except BaseException:
        if old is not None:
            os.replace(old, out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
