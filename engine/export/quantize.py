"""int8 weight quantisation of an exported graph (onnxruntime's dynamic quantization)."""

from __future__ import annotations

import logging
from pathlib import Path

from engine.core.errors import ExportError

QUANTIZE = (None, "int8")
FLOAT_WEIGHTS = ("head", "win")  # weight names kept float32 by quantize_int8


def quantize_int8(src: Path, dst: Path) -> None:
    """int8 weights: fold the graph's constants (onnxruntime basic optimisations, portable ONNX), then
    onnxruntime's dynamic quantization of the recurrent layers' matrix products (MatMulInteger, or
    DynamicQuantizeLSTM for a reference graph). The output layer and the attention window stay float32:
    they are small, and their precision shows directly in the samples (MDN parameters, attention).
    ``reduce_range``: 7-bit weights, because the int8 products saturate on x86 CPUs without VNNI (AVX2 only):
    there the package drifted several times further from the float one (figures: bench/RESULTS-runtime.md)."""
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
                         nodes_to_exclude=keep_float, reduce_range=True)
    except Exception as exc:
        raise ExportError(f"int8 quantization failed: {type(exc).__name__}: {str(exc)[:300]}") from exc
    finally:
        logging.disable(old)
        if folded.exists():
            folded.unlink()
