"""The Train tab's "GPUs: N" (data-parallel training, ``scribe train ... --nproc N``): offered only with more than
one GPU, kept in the command preview, and a run of several processes driven from the training process."""

from __future__ import annotations

import json
import threading


def _gpus(n: int) -> dict:
    return {"torch": "2.x", "cuda": n > 0, "threads": 1, "mps": False,
            "gpus": [{"index": i, "name": "Test GPU", "memory_gb": 80.0} for i in range(n)]}


def test_nproc_is_placed_by_the_view_and_added_to_the_argv():
    import studio.train.spec as train_spec

    assert "nproc" in train_spec.options("text")                        # the CLI's own option
    assert "nproc" not in dict(train_spec.more_knobs("text"))           # not a "More options" knob
    vals = train_spec.defaults("text")
    one = train_spec.build_argv("text", vals, data="/d/c.txt", out="/r", device="cuda", steps=10, nproc=1)
    two = train_spec.build_argv("ink-synthesis", train_spec.defaults("ink-synthesis"), data="/d/ink", out="/r",
                                steps=10, nproc=2)
    assert "--nproc" not in one
    assert two[two.index("--nproc") + 1] == "2"


def test_gpus_box_is_offered_with_several_gpus_and_follows_the_command(qtbot, home):
    from studio.train.view import TrainView

    v = TrainView()
    qtbot.addWidget(v)
    st = v.settings
    st.device_combo.setCurrentIndex(st.device_combo.findData("auto"))   # (the text tab's first preset is "cpu")
    st.set_device_info(_gpus(1))                      # one GPU: nothing to choose
    assert not st._gpus_offered() and st.gpus() == 1 and "--nproc" not in st.build_argv()
    st.set_device_info(_gpus(4))
    assert st._gpus_offered() and st.gpus_spin.maximum() == 4
    st.gpus_spin.setValue(3)
    argv = st.build_argv()
    assert argv[argv.index("--nproc") + 1] == "3"
    assert "--nproc 3" in st.command_label.text()     # the preview is the command that runs
    st.device_combo.setCurrentIndex(st.device_combo.findData("cpu"))   # a CPU run: no GPUs to share out
    assert not st._gpus_offered() and st.gpus() == 1
    assert "--nproc" not in st.build_argv() and "--nproc" not in st.command_label.text()
    st.device_combo.setCurrentIndex(st.device_combo.findData("cuda"))
    assert st._gpus_offered() and st.gpus() == 1     # back to one until asked again


class _Ctx:
    def __init__(self):
        self.events: list[dict] = []
        self.stop = threading.Event()
        self.pause = threading.Event()

    def emit(self, type_, **fields):
        self.events.append({"type": type_, **fields})

    def forward(self, event):
        self.events.append(event)

    def stopped(self):
        return self.stop.is_set()


def test_worker_runs_several_processes_and_forwards_rank_0_events(tmp_path, corpus):
    """``--nproc 2`` on CPU processes (what two GPUs do, with gloo): the events of the run reach the app."""
    import studio.train.worker as worker

    ctx = _Ctx()
    events = tmp_path / "run" / "events.jsonl"
    argv = ["train", "text", "--corpus", str(corpus), "--out", str(tmp_path / "run"), "--cell", "lstm", "--layers", "1",
            "--hidden", "8", "--embed", "4", "--batch", "4", "--seq-len", "8", "--steps", "4", "--eval-every", "2",
            "--eval-blocks", "2", "--device", "cpu", "--threads", "1", "--nproc", "2", "--events", str(events)]
    summary = worker.train(ctx, argv)
    assert summary["status"] == "finished" and summary["step"] == 4
    steps = [e["step"] for e in ctx.events if e.get("type") == "step"]
    assert steps == [1, 2, 3, 4]                       # once each: rank 0 alone writes events
    assert sum(e.get("type") == "checkpoint" for e in ctx.events) == 2
    assert [json.loads(x)["type"] for x in events.read_text().splitlines()].count("step") == 4
