"""Names vulture (dead-code finder, run by .ci/run) reports that are used, just not from engine/ or studio/ code.

Each group says why. Anything else vulture reports is dead: delete it rather than adding it here.
"""
# ruff: noqa: F821
# Called by Python, Qt or a library, not by name in our code:
signum  # signal handler signature (engine/cli/common.py)
_.startElement  # xml.sax ContentHandler callbacks (engine/data/iam.py)
_.endElement
_.tabletEvent  # Qt event handlers (canvas, page view, sample panel, Train view)
_.mouseMoveEvent
_.mouseReleaseEvent
_.paintEvent
_.eventFilter
_.writable  # io.TextIOBase protocol of the child process's stream forwarders (studio/train/worker.py)
_.graph_optimization_level  # onnxruntime.SessionOptions settings (engine/export/quantize.py, engine/runtime/session.py)
_.optimized_model_filepath
_.log_severity_level
_.intra_op_num_threads
_.inter_op_num_threads
_.execution_mode
_.cursor  # QTextEdit.ExtraSelection field (studio/handwriting/view.py)
# Entry points named in strings ("studio.train.worker:NAME") for the training child process:
cli
device_info
quick_experiment
# Kept alive on purpose: the running data-summary job (studio/train/settings.py)
_._summary_job
# Public API used by the tests, the benchmarks and the docs (engine/core/stepper.py documents the protocol):
Stepper
read_events
compute_norm_stats
mdn_params
drop_nonfinite
remove_jumps
merge_duplicates
REQUIRED_CHARS
save_styles_npz
primed_pairs  # engine/cli/evaluate.py: the primed pairing of scribe eval ink, for bench/prime_gain.py and prime_first_point.py
stroke3_to_points  # engine/data/prime.py: stroke-3 -> absolute points (the personal fine-tune uses it)
_.train_view
_.latest_text
_.set_knobs
_.set_source
_.summary_pending
