"""Torch models. Import submodules explicitly (this package imports torch)."""
