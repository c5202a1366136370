/**
 * bench/ops/morph-resize: the morphology and resize variants on a 16×1×2048×2048 u8 batch, with
 * CuPy / PyTorch (peers.py dilate3_u8, resize_half_f32) and copy bandwidth from the same run.
 * Usage: node dist/bench/ops/morph-resize.bench.js
 */
import { spawnSync } from 'node:child_process';
import { Gpu } from '../../src/gpu/gpu.js';
import { resize } from '../../src/ops/geometry/resize.js';
import { dilate, erode, morphologyEx, withMorphTuning, type MorphTuning } from '../../src/ops/morphology/morphology.js';
import { Tensor } from '../../src/tensor.js';
import { repeat } from '../_kit/stats.js';

const [N, H, W] = [16, 2048, 2048];
const gpu = await Gpu.open();
const host = new Uint8Array(N * H * W);
for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
const x = await Tensor.fromArray(host, [N, 1, H, W], 'u8').toGpu(gpu);
const xf = await Tensor.fromArray(Float32Array.from(host.subarray(0, 4 * H * W)), [4, 1, H, W], 'f32').toGpu(gpu);
const tune = (o: Partial<MorphTuning>, f: () => Tensor): Tensor => withMorphTuning(o, f);
const tiled = (f: () => Tensor) => tune({ strip: false }, f);
const cases: [string, number, (t: Tensor) => Tensor, Tensor?][] = [
  ['dilate 3×3 rect u8', 2, (t) => dilate(t, { ksize: 3 })],
  ['erode 3×3 rect u8', 2, (t) => erode(t, { ksize: 3 })],
  ['dilate 3×3 reflect101 u8', 2, (t) => dilate(t, { ksize: 3, border: 'reflect101' })],
  ['dilate 5×5 rect u8', 2, (t) => dilate(t, { ksize: 5 })],
  ['dilate 9×9 rect u8', 2, (t) => dilate(t, { ksize: 9 })],
  ['tiled: dilate 3×3 rect u8', 2, (t) => tiled(() => dilate(t, { ksize: 3 }))],
  ['dilate 15×15 rect u8', 2, (t) => dilate(t, { ksize: 15 })],
  ['gradient 3×3 u8', 2, (t) => morphologyEx(t, { op: 'gradient', ksize: 3 })],
  ['dilate 3×3 ellipse u8 (spans)', 2, (t) => dilate(t, { element: 'ellipse', ksize: 3 })],
  ['resize ½ bilinear u8→f32', 1 + 1, (t) => resize(t, { width: W / 2, height: H / 2, dtype: 'f32' })],
  ['resize ½ bilinear u8→u8', 1.25, (t) => resize(t, { width: W / 2, height: H / 2 })],
  ['resize ⅓ bilinear u8→f32 (non-multiple)', 1 + 4 / 9, (t) => resize(t, { width: 682, height: 682, dtype: 'f32' })],
  ['resize ½ bilinear f32→f32 (4 frames)', 1.25, (t) => resize(t, { width: W / 2, height: H / 2 }), xf],
];
const r = process.env.NO_PEERS
  ? { status: 1, stdout: '', stderr: 'skipped' }
  : spawnSync('python3', ['bench/ops/peers.py', String(N), String(H), String(W), 'dilate3_u8,resize_half_f32'], { encoding: 'utf8' });
const peer = r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').pop()!) : { error: r.stderr.slice(-500) };
console.log(JSON.stringify(peer));
const copy = peer.copy_gbs ?? NaN;
const out: string[] = ['| case | ms | q1–q3 | GB/s | % copy |', '|---|---|---|---|---|'];
for (const [name, bytesPerPx, fn, input] of cases) {
  const t = input ?? x;
  const bytes = bytesPerPx * t.size * (t.dtype === 'f32' ? 4 : 1);
  const s = await repeat(3, 25, async () => {
    const timer = gpu.startTimer();
    const y = fn(t);
    const { gpuMs } = await timer.stop();
    y.dispose();
    return gpuMs;
  });
  const gbs = bytes / (s.median / 1e3) / 1e9;
  out.push(`| ${name} | ${s.median.toFixed(3)} | ${s.q1.toFixed(3)}–${s.q3.toFixed(3)} | ${gbs.toFixed(0)} | ${((gbs / copy) * 100).toFixed(0)}% |`);
}
console.log(out.join('\n'));
x.dispose();
xf.dispose();
gpu.destroy();
