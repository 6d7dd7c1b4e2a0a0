"""Torch-free CPU runtime: load an exported model package and generate text or handwriting.

Imports numpy and onnxruntime only (and torch-free engine modules), so the GUI and the slim packaged
app generate without torch::

    from engine.runtime import load_package, ModelPackage, PackageError
    pkg = load_package("my-model")            # folder with model.onnx + card.json
    for ch in pkg.generate_text("The ", 200, temperature=0.8, seed=1): ...
    for point in pkg.generate_ink("hello", bias=0.5): ...      # (dx, dy, pen_up) raw units, y down
"""

from engine.runtime.package import FORMAT, FORMAT_VERSION, KINDS, ModelPackage, PackageError, load_package, read_card

__all__ = ["FORMAT", "FORMAT_VERSION", "KINDS", "ModelPackage", "PackageError", "load_package", "read_card"]
