"""Scribe Studio engine: data, models, training, sampling and export.

This package's top level imports nothing heavy: ``engine.runtime`` and ``engine.core.sampling`` are
torch-free, so the GUI can generate without importing torch.
"""

__version__ = "0.1.0"
