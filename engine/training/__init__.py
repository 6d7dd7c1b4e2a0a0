"""Training: the shared trainer, the text and ink tasks, checkpoints, presets (text and ink), the
gradient-flow probe, CUDA-graph steps and device selection.

Most modules import torch; ``engine.training.presets`` does not (the app lists presets without torch),
so this package's ``__init__`` imports nothing.
"""
