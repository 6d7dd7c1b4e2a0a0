"""Export: a checkpoint -> an ONNX model package for ``engine.runtime`` (single-step graphs, int8
quantisation, the torch/onnxruntime parity check, the package card). Imports torch."""
