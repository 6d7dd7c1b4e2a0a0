"""onnxruntime sessions and the ORT stepper. Imports numpy and onnxruntime only.

Session options, chosen by measurement on the 2-core development machine (bench/RESULTS-runtime.md):

- intra-op threads: 2 (at most the number of cores) for model files over 8 MB, else 1. A batch-1 step is
  a chain of matrix-vector products bound by memory bandwidth; a second thread paid off for the large
  float32 packages but not for the int8 packages (the hand-offs cost more than the second core adds),
  nor for small models (figures: bench/RESULTS-runtime.md);
- no spinning: an idle worker thread that spins burns the second core between steps (the GUI's), and
  on a busy machine it was slower, not faster;
- all graph optimisations (the fused graphs leave little for them to do; "disable" is slower),
  sequential execution (the step is one chain of dependent products).

Override with keyword arguments to ``load_package`` or environment variables:

    SCRIBE_ORT_THREADS        intra-op threads (default: automatic as above; 0 = onnxruntime's choice)
    SCRIBE_ORT_INTER_THREADS  inter-op threads (default 1)
    SCRIBE_ORT_OPT            disable | basic | extended | all (default all)
    SCRIBE_ORT_PARALLEL       1 = parallel execution mode (default sequential)
    SCRIBE_ORT_SPIN           1 = let idle worker threads spin (default off)
"""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort

OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def _env_int(name: str, default: int) -> int:
    v = os.environ.get(name, "").strip()
    try:
        return int(v) if v else default
    except ValueError:
        return default


LARGE_MODEL_BYTES = 8_000_000
MAX_THREADS = 1024


def auto_threads(model_bytes: int | None) -> int:
    """Intra-op threads for a model of this size (see the module docstring)."""
    if model_bytes is None or model_bytes < LARGE_MODEL_BYTES:
        return 1
    return max(1, min(2, os.cpu_count() or 1))


def session_options(threads: int | None = None, inter_threads: int | None = None,
                    optimization: str | None = None, parallel: bool | None = None,
                    spin: bool | None = None, model_bytes: int | None = None) -> ort.SessionOptions:
    """Session options: keyword arguments win over SCRIBE_ORT_* environment variables over defaults
    (``model_bytes``: the model file's size, for the automatic thread count)."""
    so = ort.SessionOptions()
    threads = _env_int("SCRIBE_ORT_THREADS", auto_threads(model_bytes)) if threads is None else int(threads)
    inter_threads = _env_int("SCRIBE_ORT_INTER_THREADS", 1) if inter_threads is None else int(inter_threads)
    optimization = (optimization or os.environ.get("SCRIBE_ORT_OPT", "").strip().lower() or "all")
    if optimization not in OPT_LEVELS:
        raise ValueError(f"unknown graph optimisation level {optimization!r} ({' | '.join(OPT_LEVELS)})")
    if parallel is None:
        parallel = os.environ.get("SCRIBE_ORT_PARALLEL", "").strip() == "1"
    for what, n in (("threads", threads), ("inter-op threads", inter_threads)):
        if n > MAX_THREADS:   # onnxruntime's binding takes a C int: a bigger number is a TypeError there
            raise ValueError(f"{n} onnxruntime {what} (SCRIBE_ORT_*): give 0 (onnxruntime's choice) to {MAX_THREADS}")
    so.intra_op_num_threads = max(0, threads)
    so.inter_op_num_threads = max(0, inter_threads)
    so.graph_optimization_level = OPT_LEVELS[optimization]
    so.execution_mode = ort.ExecutionMode.ORT_PARALLEL if parallel else ort.ExecutionMode.ORT_SEQUENTIAL
    if spin is None:
        spin = os.environ.get("SCRIBE_ORT_SPIN", "").strip() == "1"
    # a spinning worker thread burns the other core between steps (the GUI needs it)
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    so.log_severity_level = 3
    return so


def make_session(model_bytes_or_path, options: ort.SessionOptions) -> ort.InferenceSession:
    if isinstance(model_bytes_or_path, os.PathLike):
        model_bytes_or_path = str(model_bytes_or_path)
    return ort.InferenceSession(model_bytes_or_path, options, providers=["CPUExecutionProvider"])


class OrtStepper:
    """The stepper protocol (``engine.core.stepper``) over an onnxruntime session.

    ``step`` runs the session with a fixed output-name list (the inputs were checked once, against the
    card, at load). An onnxruntime failure becomes a one-line PackageError naming ``source`` (the model file).
    """

    def __init__(self, session: ort.InferenceSession, state_shapes: dict[str, list[int]], source: str | None = None):
        self.session = session
        self.input_names = [i.name for i in session.get_inputs()]
        self.output_names = [o.name for o in session.get_outputs()]
        self._state_shapes = {k: tuple(int(d) for d in v) for k, v in state_shapes.items()}
        self._names = list(self.output_names)
        self.source = source or "the model"

    def initial_state(self) -> dict[str, np.ndarray]:
        return {k: np.zeros(v, dtype=np.float32) for k, v in self._state_shapes.items()}

    def step(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return dict(zip(self._names, self.session.run(self._names, feeds)))
        except Exception as exc:  # onnxruntime's own exception types: a graph that disagrees with its card
            from engine.runtime.package import PackageError

            msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise PackageError(f"{self.source}: onnxruntime failed on a step: {msg}") from None
