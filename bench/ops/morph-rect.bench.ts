/**
 * bench/ops/morph-rect: u8 rectangle dilations on 16×1×H×W batches through the public API only,
 * so the same file times any build (one engine against another: run it on both builds in one call).
 * Usage: node dist/bench/ops/morph-rect.bench.js [label]   (prints one JSON line per case)
 */
import { Gpu } from '../../src/gpu/gpu.js';
import { dilate } from '../../src/ops/morphology/morphology.js';
import { Tensor } from '../../src/tensor.js';
import { repeat } from '../_kit/stats.js';

const label = process.argv[2] ?? '';
const N = 16;
const H = 2048;
const gpu = await Gpu.open();
// [width, ksize [w, h]]: 2048 is a multiple of 16 (the strips take halo ≤ 4), 2044 only of 4
const cases: [number, [number, number]][] = [
  [2048, [3, 3]],
  [2048, [5, 5]],
  [2048, [11, 11]],
  [2048, [15, 3]],
  [2048, [3, 21]],
  [2048, [21, 21]],
  [2048, [31, 31]],
  [2048, [41, 3]],
  [2048, [61, 3]],
  [2044, [5, 5]],
  [2044, [9, 9]],
  [2044, [11, 11]],
];
const inputs = new Map<number, Tensor>();
for (const [w] of cases) {
  if (inputs.has(w)) continue;
  const host = new Uint8Array(N * H * w);
  for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
  inputs.set(w, await Tensor.fromArray(host, [N, 1, H, w], 'u8').toGpu(gpu));
}
for (const [w, ksize] of cases) {
  const x = inputs.get(w)!;
  const s = await repeat(3, 25, async () => {
    const timer = gpu.startTimer();
    const y = dilate(x, { ksize });
    const { gpuMs } = await timer.stop();
    y.dispose();
    return gpuMs;
  });
  console.log(
    JSON.stringify({ label, case: `dilate ${ksize[0]}×${ksize[1]} ${N}×1×${H}×${w} u8`, ms: +s.median.toFixed(4), q1: +s.q1.toFixed(4), q3: +s.q3.toFixed(4) }),
  );
}
for (const x of inputs.values()) x.dispose();
gpu.destroy();
