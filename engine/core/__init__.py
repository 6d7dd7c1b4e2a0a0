"""The torch-free core: vocabularies, sampling, the stepper protocol and the generation loops
(text and ink), normalisation statistics, errors, events and paths.

Imports numpy and the standard library only; every other engine layer builds on it, and the runtime
(onnxruntime) and the app generate with it without torch. Checked by the import-linter contracts in
``pyproject.toml``.
"""
