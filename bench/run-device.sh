#!/usr/bin/env bash
# Runs every benchmark on the GPU machine (the device tool; see README "Benchmarks"); results land
# in $OUT. Prepare here first:  npx tsc -p tsconfig.device.json && bash ../shared/device/pack.sh
# On the device:  KENSA_COMMIT=<sha> bash bench/run-device.sh [ops] [pipeline]
set -u
# a warm machine keeps the previous call's unpacked outputs: unpack this call's
rm -rf dist node_modules
source .device/on-device.sh
export PYTHONUNBUFFERED=1
what=${*:-ops pipeline}
if [[ $what == *ops* ]]; then
  node dist/bench/gpu/gpu.bench.js "$OUT/gpu.json" 2>&1 | grep -v '^Warning: maxDyn'
  node dist/bench/ops/ops.bench.js "$OUT" 2>&1 | grep -v '^Warning: maxDyn'
  node dist/bench/ops/components.bench.js /tmp/kensa-cc 2>&1 | grep -v '^Warning: maxDyn' && cp /tmp/kensa-cc/components.* "$OUT/"
fi
if [[ $what == *pipeline* ]]; then
  node dist/bench/pipeline/inspect.bench.js "$OUT" "${PIPELINE_COUNT:-256}" 2048 "${PIPELINE_LONG:-20000}" 2>&1 | grep -v '^Warning: maxDyn'
fi
