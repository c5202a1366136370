#!/usr/bin/env bash
# The real-data comparison of issue 16 in one device call (docs/train-real-data.md): kensa train
# and its PyTorch twin (scripts/train/torch_train.py) on the same split, batches, crops, pixels and
# initial weights, then both predict the test images and one scorer (bench/train/real-data/score.ts,
# kensa eval's code) scores them next to the classic recipe. Prints a Markdown table at the end.
#
# Prepare here:   node scripts/data/deepcrack.mjs --limit 500 --test-limit 60 --out data/deepcrack-500
#                 cp -r data/deepcrack-500/train data/deepcrack-500/test realdata/   (untracked, not ignored: it travels)
#                 npx tsc -p tsconfig.device.json && bash ../shared/device/pack.sh
# On the device:  DATA=realdata bash bench/train/real-data.sh
# Settings (environment): WIDTHS (32-64-128-256), EPOCHS (40), CROP (128), BATCH (8), SEED (0),
# POS_WEIGHT (1), LR (0.001, the peak of the cosine), AMP (0; 1 = --amp for both), DEVICE (gpu; cpu for a run without one),
# DEFECT_CROPS (0: uniform crops; a share 0 … 1 of each batch's crops centred on defects, for both trainers through the plan),
# THRESHOLD (0.5: both predict at σ > 0.5; file: kensa also predicts at the threshold its validation chose, a second kensa row),
# RECIPES (classic; more names or recipe files, space-separated), PYTHON (python3: one with torch), and each phase's time limit in
# seconds: PLAN_LIMIT (120, beside kensa train), KENSA_LIMIT (240), TORCH_LIMIT (90), PREDICT_LIMIT (45), SCORE_LIMIT (45).
# A phase that hits its limit leaves what it wrote (a training run keeps its best epoch so far) and
# the next phases go on with it; the table says how many epochs each trainer finished.
# Logs, training logs, predictions and the table go to $OUT (real-data.md, real-data.tgz).
set -u
DATA=${DATA:?DATA=<folder with train/ and test/, each with images/ and masks/>}
WIDTHS=${WIDTHS:-32-64-128-256} EPOCHS=${EPOCHS:-40} CROP=${CROP:-128} BATCH=${BATCH:-8} SEED=${SEED:-0}
POS_WEIGHT=${POS_WEIGHT:-1} LR=${LR:-0.001} AMP=${AMP:-0} DEFECT_CROPS=${DEFECT_CROPS:-0} THRESHOLD=${THRESHOLD:-0.5} DEVICE=${DEVICE:-gpu} RECIPES=${RECIPES:-classic} PYTHON=${PYTHON:-python3}
OUT=${OUT:-/tmp/kensa-real-data-out}
# a warm machine keeps the previous call's unpacked outputs: unpack this call's (as bench/run-device.sh)
if [[ -f .device/on-device.sh ]]; then
  rm -rf dist node_modules
  source .device/on-device.sh
fi
export PYTHONUNBUFFERED=1
work=/tmp/kensa-real-data
rm -rf "$work"
mkdir -p "$work" "$OUT"
amp=()
[[ $AMP == 1 ]] && amp=(--amp)
phase() { # name seconds command...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$work/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s (limit $limit s)" | tee -a "$work/phases.txt"
  tail -n "${TAIL_LINES:-6}" "$work/$name.log"
  tar czf "$OUT/real-data.tgz" -C "$work" --exclude='*.safetensors' --exclude=pixels.bin .
}
echo "real-data: $DATA, widths $WIDTHS, $EPOCHS epochs, crop $CROP, batch $BATCH, seed $SEED, pos-weight $POS_WEIGHT, lr $LR, amp $AMP, defect crops $DEFECT_CROPS, threshold $THRESHOLD, device $DEVICE; commit ${KENSA_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null)}"
# the plan (CPU only: kensa's loader on the CPU backend) is made while kensa trains on the GPU
phase plan "${PLAN_LIMIT:-120}" node dist/bench/train/real-data/plan.js --data "$DATA/train" --test "$DATA/test/images" --out "$work/plan" \
  --epochs "$EPOCHS" --batch "$BATCH" --crop "$CROP" --widths "$WIDTHS" --seed "$SEED" --pos-weight "$POS_WEIGHT" --lr "$LR" --defect-crops "$DEFECT_CROPS" &
plan=$!
phase kensa-train "${KENSA_LIMIT:-240}" node dist/src/cli/main.js train --data "$DATA/train" --epochs "$EPOCHS" --batch "$BATCH" --crop "$CROP" \
  --widths "$WIDTHS" --seed "$SEED" --pos-weight "$POS_WEIGHT" --lr "$LR" --defect-crops "$DEFECT_CROPS" "${amp[@]}" --device "$DEVICE" --progress none --db "$work/kensa.db" --out "$work/kensa"
wait "$plan"
phase torch-train "${TORCH_LIMIT:-90}" "$PYTHON" scripts/train/torch_train.py --plan "$work/plan" --out "$work/torch" "${amp[@]}"
phase kensa-predict "${PREDICT_LIMIT:-45}" node dist/bench/train/real-data/predict.js --weights "$work/kensa/best.safetensors" \
  --images "$DATA/test/images" --out "$work/kensa/pred" --device "$DEVICE"
chosen=()
if [[ $THRESHOLD == file ]]; then
  phase kensa-predict-threshold "${PREDICT_LIMIT:-45}" node dist/bench/train/real-data/predict.js --weights "$work/kensa/best.safetensors" \
    --images "$DATA/test/images" --out "$work/kensa/pred-threshold" --device "$DEVICE" --threshold file
  chosen=("kensa UNet $WIDTHS at its validation threshold=$work/kensa/pred-threshold")
fi
recipes=()
for r in $RECIPES; do recipes+=(--recipe "$r"); done
phase score "${SCORE_LIMIT:-45}" node dist/bench/train/real-data/score.js --images "$DATA/test/images" --truth "$DATA/test/masks" --device "$DEVICE" \
  --json "$work/score.json" "kensa UNet $WIDTHS=$work/kensa/pred" "${chosen[@]}" "PyTorch UNet $WIDTHS=$work/torch/pred" "${recipes[@]}"
# the training side of the table: epochs finished, best epoch and its validation IoU, seconds, and how far the losses agree
"$PYTHON" - "$work" "$EPOCHS" >"$work/training.md" <<'EOF'
import json, os, sys
work, epochs = sys.argv[1], int(sys.argv[2])
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
k, t = load(f"{work}/kensa/train-log.json"), load(f"{work}/torch/log.json")
print("| trainer | epochs done | best epoch (validation IoU) | training s (epochs, without validation) | images/s (last epoch) |\n|---|---|---|---|---|")
for name, log in [("kensa", k), ("PyTorch", t)]:
    if not log or not log["epochs"]:
        print(f"| {name} | 0/{epochs} | – | – | – |")
        continue
    e = log["epochs"]
    best = max((x for x in e if x["iou"] is not None), key=lambda x: x["iou"], default=None)
    b = "–" if best is None else f"{best['epoch']} ({best['iou']:.4f})"
    chosen = best.get("threshold") if best else None
    if chosen:
        fmt = lambda v, d: "–" if v is None else f"{v:.{d}f}"
        b += f", threshold {chosen['value']:.2f} (IoU {fmt(chosen['iou'], 4)}, false-NG {fmt(chosen['falseNgRate'], 2)})"
    print(f"| {name} | {len(e)}/{epochs} | {b} | {sum(x['seconds'] for x in e):.1f} | {e[-1]['imagesPerSecond']:.0f} |")
if k and t:
    a, b = k["steps"]["loss"], t["steps"]["loss"]
    n = min(len(a), len(b))
    for m in (1, 10, 100, n):
        if m <= n:
            d = max(abs(x - y) for x, y in zip(a[:m], b[:m]))
            print(f"\nlargest step-loss difference over the first {m} steps: {d:.2e}", end="")
    print()
EOF
card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
{
  echo "## Real data: $DATA ($(date -u +%F), ${card:-no GPU}, device $DEVICE, commit ${KENSA_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null)})"
  echo
  echo "UNet $WIDTHS, $EPOCHS epochs, crop $CROP, batch $BATCH, lr $LR (cosine), seed $SEED, pos-weight $POS_WEIGHT, defect crops $DEFECT_CROPS, amp $AMP, threshold $THRESHOLD"
  echo
  cat "$work/phases.txt"
  echo
  cat "$work/training.md"
  echo
  sed -n '/^[0-9]* test images/,$p' "$work/score.log"
} >"$OUT/real-data.md"
tar czf "$OUT/real-data.tgz" -C "$work" --exclude='*.safetensors' --exclude=pixels.bin .
cat "$OUT/real-data.md"
