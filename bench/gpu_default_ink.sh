#!/usr/bin/env bash
# One GPU session's work for the bundled handwriting model (issue #7) and the CUDA training-speed figure
# (issue #3), as run on a lent H100/H200 (see bench/RESULTS-handwriting.md for what it gave).
#
#   bash bench/gpu_default_ink.sh OUT_DIR [MINUTES]
#
# 1. a 20-step CUDA smoke run (fails fast, before the long part);
# 2. the synthetic corpus with a share of all-capitals lines (scribe synth --caps);
# 3. three synthesis nets trained side by side on the one GPU for MINUTES each (3x192, 3x256, 3x400);
#    the GPU is launch-bound at these sizes, so three processes share it well;
# 4. bench/handwriting_speed.py on CUDA (Graves size).
# Each model's best checkpoint (weights + card, no optimizer state) is packed as OUT_DIR/<name>.tar.
# SMOKE=1 shrinks everything and runs on the CPU (to check this script without a GPU).
set -u -o pipefail
OUT=${1:?usage: gpu_default_ink.sh OUT_DIR [MINUTES]}
MIN=${2:-6}
mkdir -p "$OUT"
PY=${PY:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
DEV=cuda; LINES=60000; JOBS=16; SPEED_STEPS=5
if [ "${SMOKE:-0}" = 1 ]; then DEV=cpu; LINES=300; JOBS=2; SPEED_STEPS=1; fi
WORK=$(mktemp -d)
log() { echo "[$(date +%T)] $*"; }

log "devices"; nvidia-smi -L 2>/dev/null; $PY -c "import torch; print('torch', torch.__version__, torch.cuda.is_available() and torch.cuda.get_device_name())"

log "smoke"
$PY -m engine.cli synth --lines 200 --writers 4 --hz 30 --min-chars 8 --max-chars 30 --mix 0.45 --caps 0.15 \
    --seed 1 --jobs 2 --out "$WORK/smoke-data" >/dev/null || { log "smoke data failed"; exit 3; }
$PY -m engine.cli train ink --data "$WORK/smoke-data" --preset tiny --steps 20 --eval-every 10 --device $DEV \
    --compile off --out "$WORK/smoke-run" > "$WORK/smoke.log" 2>&1 || { log "smoke train failed"; tail -30 "$WORK/smoke.log"; exit 4; }
tail -3 "$WORK/smoke.log"

log "data"
$PY -m engine.cli synth --corpus assets/corpora/tinyshakespeare.txt --lines $LINES --writers 32 --hz 30 \
    --min-chars 8 --max-chars 40 --mix 0.45 --caps 0.15 --seed 0 --jobs $JOBS --out "$WORK/synth" \
    | tail -4 || { log "data failed"; exit 5; }

log "train x3 for $MIN min"
train() {  # name hidden batch lr warmup
    $PY -m engine.cli train ink --data "$WORK/synth" --layers 3 --hidden "$2" --mixtures 20 --window-k 10 \
        --batch "$3" --lr "$4" --warmup "$5" --clip 1.0 --weight-decay 0 --buckets 8 --max-points 1200 \
        --minutes "$MIN" --eval-every 250 --device $DEV --compile off --out "$WORK/$1" \
        --events "$WORK/$1.jsonl" --quiet > "$OUT/$1.log" 2>&1
    echo "$1 exit $?" >> "$OUT/$1.log"
}

train g192 192 64 3e-3 100 & train g256 256 64 2e-3 150 & train g400 400 64 1.5e-3 200 &
wait
for n in g192 g256 g400; do
    tail -2 "$OUT/$n.log"
    best=$($PY -c "import json,sys; print(json.load(open('$WORK/$n/best.json'))['path'])" 2>/dev/null) || continue
    mkdir -p "$WORK/pack/$n"
    cp "$WORK/$n/$best/model.safetensors" "$WORK/$n/$best/card.json" "$WORK/$n/$best/state.json" \
       "$WORK/$n.jsonl" "$WORK/pack/$n/" && echo "$best" > "$WORK/pack/$n/best-path.txt"
    tar -C "$WORK/pack" -cf "$OUT/$n.tar" "$n" && log "$n: $best"
done

log "speed"
timeout 120 $PY bench/handwriting_speed.py --device $DEV --batch 32 --points 700 --steps $SPEED_STEPS \
    --json "$OUT/speed.json" 2>&1 | grep -v Warning; echo "speed exit $?"
log "done"
