#!/usr/bin/env bash
# CUDA graphs in the trainer (engine/training/step_graph.py) on a lent GPU: the same short handwriting run with
# ordinary steps and with replayed graphs, same seed; prints speed and the loss curves side by side.
#
#   bash bench/gpu_graphs_check.sh OUT_DIR [STEPS]
# SMOKE=1: on the CPU with tiny sizes (checks this script; no graphs there).
set -u -o pipefail
OUT=${1:?usage: gpu_graphs_check.sh OUT_DIR [STEPS]}
STEPS=${2:-120}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DEV=cuda; LINES=4000; JOBS=16; H=400; B=64
if [ "${SMOKE:-0}" = 1 ]; then DEV=cpu; LINES=200; JOBS=2; H=32; B=8; fi
WORK=$(mktemp -d)
nvidia-smi -L 2>/dev/null
$PY -m engine.cli synth --lines $LINES --writers 16 --hz 30 --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.15 \
    --seed 3 --jobs $JOBS --out "$WORK/data" | tail -2 || exit 3
for mode in off auto; do
    /usr/bin/time -f "$mode: %e s wall" $PY -m engine.cli train ink --data "$WORK/data" --layers 3 --hidden $H \
        --batch $B --lr 1.5e-3 --warmup 50 --buckets 8 --steps "$STEPS" --eval-every "$STEPS" --device $DEV \
        --cuda-graphs $mode --quiet --out "$WORK/run-$mode" --events "$OUT/events-$mode.jsonl" 2>&1 | tail -3
done
$PY - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
runs = {}
for mode in ("off", "auto"):
    ev = [json.loads(l) for l in (out / f"events-{mode}.jsonl").read_text().splitlines()]
    steps = [e for e in ev if e["type"] == "step"]
    evals = [e for e in ev if e["type"] == "eval"]
    warn = [e["message"][:300] for e in ev if e["type"] == "warning"]
    t = [e["time"] for e in steps]
    # steady state: the last half of the steps (graph capture happens early, once per bucket)
    half = len(t) // 2
    sps = (len(t) - 1 - half) / (t[-1] - t[half]) if len(t) > 2 else float("nan")
    pts = sum(e["rate"] * e["step_time"] for e in steps[half + 1:]) / (t[-1] - t[half]) if len(t) > 2 else float("nan")
    runs[mode] = [e["loss"] for e in steps]
    print(f"{mode:5s}: {len(steps)} steps, steady {sps:.2f} steps/s (~{pts:,.0f} points/s), "
          f"val {evals[-1]['val_loss'] if evals else 'n/a'}, warnings {warn}")
a, b = runs["off"], runs["auto"]
print("loss at steps 1, 2, 10, 50, last (off | graphs):")
for i in (0, 1, 9, 49, len(a) - 1):
    if i < len(a) and i < len(b):
        print(f"  {i + 1:4d}: {a[i]:.5f} | {b[i]:.5f}")
EOF
