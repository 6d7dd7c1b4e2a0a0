"""A single-step module -> one self-contained ONNX file (torch's dynamo or legacy exporter)."""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

from engine.core.errors import ExportError

OPSET = 18


def export_onnx(step, path: Path, exporter: str = "dynamo", opset: int = OPSET) -> None:
    """Write ``step`` as a single ONNX file with embedded weights.

    ``exporter="dynamo"`` (torch.export-based; torch's default and supported path) or ``"legacy"``
    (TorchScript tracing; deprecated by torch, much faster to export, same graph after onnxruntime's
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


def _ident(s: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in str(s)) or "dim"
