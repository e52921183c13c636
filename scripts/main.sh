#!/usr/bin/env bash
# The main job, end to end from a fresh clone:
#   train (short run, or CKPT=path to use a checkpoint) -> export -> Verilog -> cocotb
#   regression on a sample of the test set -> Arty A7-35T build (Yosys estimate) -> summary.
# Environment knobs: CKPT, DATASET (mnist), TRAIN_MINUTES (10), SHIFT (1 on MNIST, else 0),
# TRAIN_THREADS (1), IMAGES (1000),
# SIMULATOR (verilator), JOBS (simulator processes, default one per core), OUT (runs/main).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
OUT="${OUT:-runs/main}"
DATASET="${DATASET:-mnist}"
mkdir -p "$OUT"
: > "$OUT/steps.tsv"
cpu_seconds() {   # CPU := user + system seconds of this shell's finished child processes
  times > "$OUT/.times"         # (in this shell: a $(...) subshell has no children yet)
  CPU=$(awk 'NR == 2 { split($0, t, /[ms ]+/); print 60 * t[1] + t[2] + 60 * t[3] + t[4] }' \
    "$OUT/.times")
}
step() {   # step NAME COMMAND...: run it, record its wall time and the CPU time of its processes
  local name="$1" t0=$SECONDS c0
  shift
  cpu_seconds
  c0=$CPU
  "$@"
  cpu_seconds
  printf '%s\t%s\t%s\n' "$name" "$((SECONDS - t0))" \
    "$(awk -v a="$CPU" -v b="$c0" 'BEGIN { printf "%.0f", a - b }')" >> "$OUT/steps.tsv"
}
if [ -z "${CKPT:-}" ]; then
  CKPT="$OUT/$DATASET.npz"
  echo "== 1/5 training ($DATASET, ${TRAIN_MINUTES:-10} min budget) -> $CKPT"
  # MNIST trains with 1-pixel random translations (benchmarks/results/tta_mnist_*.log);
  # on Fashion-MNIST they slowed short runs down.
  SHIFT="${SHIFT:-$([ "$DATASET" = mnist ] && echo 1 || echo 0)}"
  step train python -m model.train --dataset "$DATASET" --max-minutes "${TRAIN_MINUTES:-10}" \
    --shift "$SHIFT" --threads "${TRAIN_THREADS:-1}" --out "$CKPT"
else
  echo "== 1/5 using checkpoint $CKPT"
fi
step evaluate python -m model.evaluate "$CKPT" --json > "$OUT/evaluate.json"
echo "== 2/5 export -> $OUT/artifacts"
step export python -m export.weights "$CKPT" --out "$OUT/artifacts" --force
echo "== 3/5 Verilog -> $OUT/core.v"
step verilog python -m hdl.generate "$OUT/artifacts" --out "$OUT/core.v"
echo "== 4/5 cocotb regression (${SIMULATOR:-verilator}, ${IMAGES:-1000} images)"
step regression python -m sim.regress "$OUT/artifacts" --simulator "${SIMULATOR:-verilator}" \
  --images "${IMAGES:-1000}" --jobs "${JOBS:-$(nproc)}" --json "$OUT/regress.json"
echo "== 5/5 Arty A7-35T build"
step arty-build python -m hdl.build --board arty --artifacts "$OUT/artifacts" \
  --out "$OUT/build-arty" --json "$OUT/build-arty.json"
python scripts/summary.py "$OUT"
