#!/usr/bin/env bash
# Runs bench/ops and bench/pipeline for two builds in one call on the GPU machine (the device tool),
# so a change is timed against the commit before it on the same card. Prepare here:
#   npx tsc -p tsconfig.device.json && mkdir -p .kbench && tar -cf - dist | zstd -3 -q -o .kbench/new-dist.tar.zst
#   (in a worktree of the base commit, the same into .kbench/base-dist.tar.zst); bash ../shared/device/pack.sh
#   add /.kbench/ to .git/info/exclude; carry [".device", ".kbench"]
# On the device:  BASE=<sha> NEW=<sha> [PIPE=1] bash bench/run-compare.sh   (results in $OUT/results.tgz)
set -u
source .device/on-device.sh
export PYTHONUNBUFFERED=1
Z="env LD_LIBRARY_PATH=$PWD/.device/bin zstd"
mkdir -p kb/base kb/new
$Z -dc .kbench/base-dist.tar.zst | tar -x -C kb/base
$Z -dc .kbench/new-dist.tar.zst | tar -x -C kb/new
R=/tmp/kr
rm -rf $R
mkdir -p $R/base $R/new
pack() { tar czf "$OUT/results.tgz" -C $R .; }
t0=$SECONDS
timeout 10 node kb/new/dist/src/cli/main.js doctor >$R/new/doctor.txt 2>&1
pack
for v in base new; do
  c=$([ $v = base ] && echo "$BASE" || echo "$NEW")
  KENSA_COMMIT=$c timeout 120 node kb/$v/dist/bench/ops/ops.bench.js $R/$v >$R/$v/ops.log 2>&1
  echo "$v ops: exit $? after $((SECONDS - t0)) s"
  pack
done
if [ "${PIPE:-0}" = 1 ]; then
  for v in base new; do
    c=$([ $v = base ] && echo "$BASE" || echo "$NEW")
    KENSA_COMMIT=$c timeout 100 node kb/$v/dist/bench/pipeline/inspect.bench.js $R/$v 32 2048 1000 500 >$R/$v/pipeline.log 2>&1
    echo "$v pipeline: exit $? after $((SECONDS - t0)) s"
    pack
  done
fi
for v in base new; do
  echo "== $v"
  grep "^|" $R/$v/ops.md 2>/dev/null
  grep -E "^\||GPU stage|Long run" $R/$v/pipeline.md 2>/dev/null
done
grep -iE "f16|subgroup|×" $R/new/doctor.txt | head -14
