#!/usr/bin/env bash
# Runs the benchmarks on the GPU machine (the device tool; see README "Benchmarks"); results land
# in $OUT. Prepare here first:  npx tsc -p tsconfig.device.json && bash ../shared/device/pack.sh
# On the device:  KENSA_COMMIT=<sha> bash bench/run-device.sh [gputests] [pipeline] [profile] [filters] [gpu] [ops] [components] [nn] [unet] [engine] [serve] [serve-profile] [device-stage] [augment] [train] [model-inspect] [cascade] [slim] [tasks1080p] [jpeg]
# Every phase has its own time limit and log file (written as it runs: no pipes, so a phase that
# hangs or is killed still shows how far it got); its tail is printed after it. Results and logs
# are written to a work folder and packed into $OUT/results.tgz after every phase (the device
# tool returns at most 8 files).
set -u
# a warm machine keeps the previous call's unpacked outputs: unpack this call's
rm -rf dist node_modules
source .device/on-device.sh
# extras carried beside the pack (git-ignored .device-extra/, see the README's Benchmarks): OpenCV.js for
# the GPU tests that compare with it (a dev dependency the pack leaves out), Kornia's source tree
[[ -f .device-extra/opencv.tar.zst ]] && zstd -dc .device-extra/opencv.tar.zst | tar -x -C node_modules
[[ -f .device-extra/kornia.tar.zst ]] && mkdir -p kornia-src && zstd -dc .device-extra/kornia.tar.zst | tar -x -C kornia-src
export PYTHONUNBUFFERED=1
what=" ${*:-pipeline gpu ops components} "
# each call measures its GEMM kernels afresh (a warm machine keeps ~/.cache/kensa between calls)
KENSA_CACHE_DIR=$(mktemp -d)
export KENSA_CACHE_DIR
results=/tmp/kensa-results
rm -rf "$results"
mkdir -p "$results"
phase() { # name seconds command...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$results/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc after $((SECONDS - t0)) s"
  grep -v '^Warning: maxDyn' "$results/$name.log" | tail -n "${TAIL_LINES:-40}"
  tar czf "$OUT/results.tgz" -C "$results" .
}
# the GPU tests on this GPU, what lavapipe checks in CI: every test file that opens one (or those in GPU_TESTS), less those
# that need tsx, the source tree or its fixtures (the device has dist/ alone)
# (TAP in gputests.log; each failure's first lines printed after the phase)
if [[ $what == *" gputests "* ]]; then
  TAIL_LINES=9 phase gputests "${GPUTESTS_LIMIT:-300}" bash -c 'KENSA_REQUIRE_GPU=1 node --test --test-reporter=tap --test-concurrency=1 ${GPU_TESTS:-$(grep -rl "_kit/gpu.js" dist/test --include=*.test.js | xargs grep -L "tsx\|fixtures\|new URL(")}'
  grep -E -A12 "^ *not ok" "$results/gputests.log" | grep -vE "duration_ms|location:|failureType|^ *---|^ *\.\.\.|stack:|node:internal" | head -n 200
fi
[[ $what == *" pipeline "* ]] && phase pipeline "${PIPELINE_LIMIT:-400}" node dist/bench/pipeline/inspect.bench.js "$results" "${PIPELINE_COUNT:-256}" 2048 "${PIPELINE_LONG:-20000}" "${PIPELINE_RUN:-2000}"
# a CPU profile of `kensa inspect` over the pipeline bench's long-run folder (main and worker threads)
[[ $what == *" profile "* ]] && phase profile 150 bash -c 'rm -rf /tmp/prof; node --cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval 2000 dist/src/cli/main.js inspect /tmp/kensa-bench-pipeline/many --db /tmp/prof.db --progress json | tail -n 2; tar czf "$results/prof.tgz" -C /tmp/prof .'
[[ $what == *" filters "* ]] && phase filters 240 node dist/bench/ops/filters.bench.js "$results"
[[ $what == *" gpu "* ]] && phase gpu 90 node dist/bench/gpu/gpu.bench.js "$results/gpu.json"
[[ $what == *" ops "* ]] && phase ops "${OPS_LIMIT:-240}" node dist/bench/ops/ops.bench.js "$results"
# kensa's GPU JPEG decoder (src/ops/jpeg) next to sharp with all cores, 1080p colour and 2048² gray, batches of 16 and 64
[[ $what == *" jpeg "* ]] && phase jpeg "${JPEG_LIMIT:-300}" node dist/bench/ops/jpeg.bench.js "$results" "${JPEG_BATCHES:-16,64}"
# components writes its 268 MB mask file beside its results: keep it out of the results
[[ $what == *" components "* ]] && phase components 120 node dist/bench/ops/components.bench.js /tmp/kensa-cc && cp /tmp/kensa-cc/components.* "$results/" && tar czf "$OUT/results.tgz" -C "$results" .
# the network convolutions' GEMMs next to cuBLAS / cuDNN (PyTorch first: its figures go into gemm.md)
[[ $what == *" nn "* ]] && phase nn "${NN_LIMIT:-500}" bash -c "python3 bench/nn/torch_ref.py > $results/torch.json; node dist/bench/nn/gemm.bench.js $results $results/torch.json"
# the UNet's training step and inference, f32 and tensor-core f16, next to PyTorch f32 / AMP on the same shapes
[[ $what == *" unet "* ]] && phase unet "${UNET_LIMIT:-400}" bash -c "python3 bench/nn/unet_torch_ref.py > $results/unet-torch.json; node dist/bench/nn/unet.bench.js $results/unet.json"
# the nn engine: SIMT matmul TFLOP/s and training steps (MLP, tiny UNet): wall, GPU time, launches
[[ $what == *" engine "* ]] && phase engine "${ENGINE_LIMIT:-300}" node dist/bench/nn/nn.bench.js "$results/engine.json"
# kensa serve under load, dynamic batching off and on (bench/serve/load.bench.ts; a table in serve-load.md);
# SERVE_FLAGS="--unet 16-32-64-128 --scale 0.5" serves a model recipe
[[ $what == *" serve "* ]] && phase serve "${SERVE_LIMIT:-420}" node dist/bench/serve/load.bench.js --device gpu --concurrency "${SERVE_CONCURRENCY:-1,4,16,64}" --seconds "${SERVE_SECONDS:-15}" ${SERVE_FLAGS:-} --compare --out "$results/serve-load.md"
# the same load with every process profiled (NODE_OPTIONS reaches the server's child process): where the server's own overhead goes
[[ $what == *" serve-profile "* ]] && phase serve-profile "${SERVE_LIMIT:-420}" bash -c "rm -rf /tmp/prof; NODE_OPTIONS='--cpu-prof --cpu-prof-dir=/tmp/prof' node dist/bench/serve/load.bench.js --device gpu --concurrency ${SERVE_CONCURRENCY:-1,16,64} --seconds ${SERVE_SECONDS:-8} --compare --out $results/serve-profile.md; tar czf $results/serve-prof.tgz -C /tmp/prof ."
# serve's device stage of a 1080p JPEG batch split into decode and recipe, wall against GPU time (bench/serve/device-stage.bench.ts)
[[ $what == *" device-stage "* ]] && phase device-stage 180 node dist/bench/serve/device-stage.bench.js "$results/device-stage.md"
# kensa augmentation vs torchvision.transforms.v2 (bench/augment/torchvision_ref.py, same run)
# Kornia from its source tree when carried (kornia-src/kornia: see bench/augment/kornia_ref.py)
[[ -d kornia-src/kornia ]] && export PYTHONPATH="$PWD/kornia-src${PYTHONPATH:+:$PYTHONPATH}"
[[ $what == *" augment "* ]] && phase augment "${AUGMENT_LIMIT:-500}" node dist/bench/augment/augment.bench.js "$results"
# kensa train's loop vs PyTorch AMP on the same samples, crops and batch (the kensa bench writes the data first)
[[ $what == *" train "* ]] && phase train "${TRAIN_LIMIT:-560}" bash -c "node dist/bench/train/train.bench.js > $results/train-kensa.json; python3 bench/train/train_torch.py > $results/train-torch.json; cat $results/train-kensa.json $results/train-torch.json"
# `inspect --model` with a kensa UNet on 2048² frames (default and slim widths) next to PyTorch f16 with the same tiling
[[ $what == *" model-inspect "* ]] && phase model-inspect "${MODEL_INSPECT_LIMIT:-400}" bash -c "python3 bench/models/unet_inspect_torch.py 2048 1 > $results/unet-inspect-torch.json; node dist/bench/models/unet-inspect.bench.js 2048 ${MODEL_INSPECT_REPEATS:-3} 1 > $results/unet-inspect-kensa.json; cat $results/unet-inspect-torch.json $results/unet-inspect-kensa.json"
# the early-exit cascade (classic first, a UNet trained there as the full model) against the model alone
[[ $what == *" cascade "* ]] && phase cascade "${CASCADE_LIMIT:-300}" node dist/bench/models/cascade.bench.js --out "$results/cascade.md"
# kensa slim on this GPU, as a user runs it: samples, a 32-256 UNet trained, pruned to 24-192, fine-tuned, compared
[[ $what == *" slim "* ]] && phase slim "${SLIM_LIMIT:-240}" bash -c "rm -rf /tmp/kensa-slim && k='node dist/src/cli/main.js' && \$k samples --out /tmp/kensa-slim/data --count 64 --size 512x512 --seed 3 && \$k train --data /tmp/kensa-slim/data --out /tmp/kensa-slim/run --epochs 6 --batch 8 --widths 32-64-128-256 --pos-weight 5 --defect-crops 0.5 --device gpu --db /tmp/kensa-slim/k.db --progress none && \$k slim --model /tmp/kensa-slim/run/best.safetensors --widths 24,48,96,192 --out /tmp/kensa-slim/slim.safetensors --data /tmp/kensa-slim/data --epochs 3 --size 512 --runs 10 --device gpu --json | tee $results/slim.json"
# the seed's SQL task table at 1080p: `inspect --tasks … --write-back` per contender (classic, shrink-on-load, UNet, ONNX) next to decode-only
[[ $what == *" tasks1080p "* ]] && phase tasks1080p "${TASKS1080P_LIMIT:-240}" node dist/bench/pipeline/tasks-1080p.bench.js --items "${TASKS1080P_ITEMS:-2000}" --device gpu --out "$results/tasks-1080p.md"
exit 0
