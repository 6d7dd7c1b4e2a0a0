"""Data-parallel training (engine/training/distributed.py): throughput of 1 vs N processes, the cost of the
per-step all-reduce, and (on a GPU) the overhead of the data-parallel step on one GPU.

    python bench/distributed.py --device cpu            # 1 vs 2 CPU processes (gloo), text and ink
    python bench/distributed.py --device cuda           # one GPU: no torchrun vs torchrun world size 1 (NCCL)

Every arm is the real ``scribe train`` command (printed), same global batch, same seed; throughput is the
median of the per-step rates of the ``step`` events after ``--skip`` warm-up steps (tokens/s for text,
pen points/s for handwriting, counted over the global batch, evaluation excluded). The all-reduce is timed
apart: gloo between 2 CPU processes on this machine, on a buffer of (parameters + 4) float32, the size of
one step's reduce. Results: bench/RESULTS-distributed.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEXT = ["--cell", "lstm", "--layers", "2", "--hidden", "256", "--embed", "64", "--batch", "32", "--seq-len", "64",
        "--dropout", "0", "--eval-blocks", "8", "--stateful-streams", "8", "--lr", "2e-3", "--warmup", "5"]
INK = ["--kind", "synthesis", "--layers", "2", "--hidden", "128", "--mixtures", "10", "--window-k", "5",
       "--batch", "16", "--buckets", "2", "--max-points", "600", "--lr", "2e-3", "--warmup", "5"]
GPU_TEXT = ["--preset", "gpu"]
GPU_INK = ["--preset", "gpu", "--cuda-graphs", "off"]   # graphs are off under torchrun: compare like with like


def run(cmd: list[str], events: Path, env: dict) -> dict:
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    if r.returncode:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return {"events": events, "wall_s": wall}


def rates(events: Path, skip: int) -> tuple[float, float]:
    """(median per-step rate after ``skip`` steps, median step time)."""
    steps = [e for e in map(json.loads, events.read_text().splitlines()) if e["type"] == "step" and e["step"] > skip]
    return statistics.median(e["rate"] for e in steps), statistics.median(e["step_time"] for e in steps)


def scribe(*argv) -> list[str]:
    return [sys.executable, "-m", "engine.cli", *map(str, argv)]


def torchrun(nproc: int, *argv) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc),
            "-m", "engine.cli", *map(str, argv)]


def make_ink(tmp: Path, lines: int, env: dict) -> Path:
    out = tmp / "ink"
    r = subprocess.run(scribe("synth", "--corpus", REPO / "assets/corpora/tinyshakespeare.txt", "--lines", lines,
                              "--out", out, "--hz", 30, "--seed", 1), cwd=REPO, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(r.stderr)
    return out


# ---- the all-reduce alone -------------------------------------------------------------------------------------

def _allreduce_worker(rank: int, world: int, port: int, sizes: list[int], repeats: int, q) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    out = {}
    for n in sizes:
        t = torch.ones(n)
        for _ in range(3):
            dist.all_reduce(t)
        times = []
        for _ in range(repeats):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t)
            times.append(time.perf_counter() - t0)
        out[n] = statistics.median(times)
    if rank == 0:
        q.put(out)
    dist.destroy_process_group()


def allreduce_times(sizes: list[int], world: int = 2, repeats: int = 30) -> dict[int, float]:
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_allreduce_worker, args=(r, world, port, sizes, repeats, q)) for r in range(world)]
    for p in procs:
        p.start()
    out = q.get(timeout=600)
    for p in procs:
        p.join(60)
    return out


def n_params(kind: str, flags: list[str]) -> int:
    from engine.cli.main import build_parser
    from engine.training.presets import merge_settings

    words = ["train", "text", "--corpus", "x"] if kind == "text" else ["train", "ink", "--data", "x"]
    args = build_parser().parse_args([*words, "--out", "x", *flags])
    s = argparse.Namespace(**merge_settings("text" if kind == "text" else "ink", args))
    from engine.cli.common import estimate_params

    return estimate_params("text" if kind == "text" else "ink-synthesis", s, vocab=65 if kind == "text" else 60)


# ---- main --------------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--skip", type=int, default=5, help="warm-up steps left out of the rates")
    ap.add_argument("--nproc", type=int, default=2, help="processes of the data-parallel arm (CPU)")
    ap.add_argument("--json", default=None, help="also write the figures here")
    a = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    corpus = REPO / "assets/corpora/tinyshakespeare.txt"
    results: dict = {"device": a.device, "steps": a.steps, "cores": os.cpu_count(),
                     "load_before": os.getloadavg()[0] if hasattr(os, "getloadavg") else None, "arms": []}
    with tempfile.TemporaryDirectory(prefix="scribe-dist-") as tmp:
        tmp = Path(tmp)
        ink = make_ink(tmp, 400, env)
        common = ["--steps", a.steps, "--eval-every", 10 ** 6, "--sample-every", 10 ** 6, "--seed", 1, "--quiet",
                  "--device", a.device]
        if a.device == "cpu":
            common += ["--threads", 1]
        plans = []
        for kind, data_flag, data, flags in (("text", "--corpus", corpus, GPU_TEXT if a.device == "cuda" else TEXT),
                                             ("ink", "--data", ink, GPU_INK if a.device == "cuda" else INK)):
            base = ["train", kind, data_flag, data, *flags, *common]
            if a.device == "cpu":
                plans += [(kind, "1 process", lambda o, e, b=base: scribe(*b, "--out", o, "--events", e)),
                          (kind, f"{a.nproc} processes (--nproc {a.nproc})",
                           lambda o, e, b=base: scribe(*b, "--out", o, "--events", e, "--nproc", a.nproc))]
            else:
                plans += [(kind, "no torchrun", lambda o, e, b=base: scribe(*b, "--out", o, "--events", e)),
                          (kind, "torchrun, world size 1", lambda o, e, b=base: torchrun(1, *b, "--out", o,
                                                                                          "--events", e))]
        for i, (kind, arm, make) in enumerate(plans):
            out, ev = tmp / f"run{i}", tmp / f"run{i}.jsonl"
            cmd = make(out, ev)
            print("$", " ".join(str(c).replace(str(REPO) + "/", "") for c in cmd), file=sys.stderr)
            r = run(cmd, ev, env)
            rate, step_time = rates(ev, a.skip)
            results["arms"].append({"task": kind, "arm": arm, "rate": rate, "step_time_s": step_time,
                                    "wall_s": r["wall_s"]})
            print(f"  {kind:5s} {arm:28s} {rate:12,.0f} /s   step {step_time * 1000:8.1f} ms", file=sys.stderr)
    sizes = {"text (this bench)": n_params("text", TEXT), "ink (this bench)": n_params("ink", INK),
             "text --preset gpu": n_params("text", GPU_TEXT), "ink --preset gpu": n_params("ink", ["--preset", "gpu"])}
    t = allreduce_times(sorted({p + 4 for p in sizes.values()}))
    results["allreduce_gloo_2proc"] = {name: {"params": p, "bytes": 4 * (p + 4), "seconds": t[p + 4]}
                                       for name, p in sizes.items()}
    results["load_after"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    print("\n| task | arm | throughput | median step |\n|---|---|---|---|")
    by = {}
    for r in results["arms"]:
        unit = "tokens/s" if r["task"] == "text" else "points/s"
        by.setdefault(r["task"], []).append(r["rate"])
        print(f"| {r['task']} | {r['arm']} | {r['rate']:,.0f} {unit} | {r['step_time_s'] * 1000:.1f} ms |")
    for task, (x, y) in by.items():
        label = "speed-up" if a.device == "cpu" else "overhead"
        val = f"{y / x:.2f}x" if a.device == "cpu" else f"{(x / y - 1) * 100:+.1f} %"
        print(f"\n{task}: {label} {val}")
    print("\n| model | parameters | bytes per step | gloo all-reduce, 2 processes |\n|---|---|---|---|")
    for name, v in results["allreduce_gloo_2proc"].items():
        print(f"| {name} | {v['params']:,} | {v['bytes'] / 1e6:.2f} MB | {v['seconds'] * 1000:.2f} ms |")
    print(f"\nload average before {results['load_before']}, after {results['load_after']}; {os.cpu_count()} cores")
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
