/**
 * bench/ops/filters: focused timing of the separable strip kernel's shapes and the flip word
 * kernel against the previous kernels and the peers (CuPy/PyTorch, same run), with a check that
 * every variant gives the previous kernel's result.
 * Usage: node dist/bench/ops/filters.bench.js OUT_DIR [N H W]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DType } from '../../src/dtype.js';
import { Gpu } from '../../src/gpu/gpu.js';
import { separableStripProgram, separableTiledProgram, stripWorkgroups, type StripShape } from '../../src/ops/filters/separable.js';
import { flip, flipWordsScalar } from '../../src/ops/geometry/flip.js';
import { integerMap } from '../../src/ops/geometry/gather.js';
import { flipWordProgram } from '../../src/ops/geometry/flip.js';
import { Tensor } from '../../src/tensor.js';
import { repeat } from '../_kit/stats.js';

const outDir = process.argv[2] ?? 'bench-out';
const [N, H, W] = (process.argv.slice(3, 6).length === 3 ? process.argv.slice(3, 6).map(Number) : [16, 2048, 2048]) as [number, number, number];
mkdirSync(outDir, { recursive: true });
const gpu = await Gpu.open();
const host = new Uint8Array(N * H * W);
for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
const x = await Tensor.fromArray(host, [N, 1, H, W], 'u8').toGpu(gpu);
const shape = [N, 1, H, W] as const;
const d = { n: N, c: 1, h: H, w: W };
const G5 = [1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16];
const per: Record<string, number> = { u8: 1, u16: 2, i32: 4, f32: 4, f16: 2 };

const peerRun = spawnSync('python3', ['bench/ops/peers.py', String(N), String(H), String(W), 'gaussian5_f32,gaussian5_f16,box5_f32,sobel_f32,flip_u8'], { encoding: 'utf8' });
const peer = peerRun.status === 0 ? JSON.parse(peerRun.stdout.trim().split('\n').pop()!) : {};
if (peerRun.status !== 0) console.error(peerRun.stderr);
const copyGbs: number = peer.copy_gbs ?? NaN;

interface Row { name: string; ms: number; gbs: number; pct: number; maxDiff: number | string; peer?: string }
interface Variant { name: string; outBytes: number; run: () => Tensor; peer?: string; ref?: () => Tensor }
const variants: Variant[] = [];
function tiled(dtype: DType, kx: number[], ky: number[]): Tensor {
  const out = Tensor.empty(gpu, shape, dtype);
  gpu.dispatch({ program: separableTiledProgram('u8', dtype, 'reflect101', (kx.length - 1) / 2, (ky.length - 1) / 2), inputs: [x.gpu.ref], outputs: [out.gpu.ref], uniforms: { shape, border_value: 0, wx: kx, wy: ky }, workgroups: [Math.ceil(W / 64), Math.ceil(H / 16), N] });
  return out;
}
function strip(dtype: DType, kx: number[], ky: number[], s: StripShape): Tensor {
  const out = Tensor.empty(gpu, shape, dtype);
  gpu.dispatch({ program: separableStripProgram('u8', dtype, 'reflect101', (kx.length - 1) / 2, (ky.length - 1) / 2, s), inputs: [x.gpu.ref], outputs: [out.gpu.ref], uniforms: { shape, taps: [kx.length, ky.length, 0, 0], border_value: 0, wx: kx, wy: ky }, workgroups: stripWorkgroups('u8', d, s) });
  return out;
}
const SX = [-1, 0, 1];
const SY = [1, 2, 1];
const SHAPES: StripShape[] = [
  { rows: 8, tx: 32, wide: false, vecOut: true, unroll: false },
  { rows: 8, tx: 64, wide: false, vecOut: true, unroll: true },
  { rows: 4, tx: 16, wide: true, vecOut: true, unroll: false },
  { rows: 8, tx: 16, wide: true, vecOut: true, unroll: true },
  { rows: 8, tx: 32, wide: true, vecOut: false, unroll: false },
];
for (const [label, kx, ky, dtype, peerKey] of [
  ['gaussian5 u8→f32', G5, G5, 'f32', 'gaussian5_f32'],
  ['gaussian5 u8→f16', G5, G5, 'f16', 'gaussian5_f16'],
  ['sobel dx u8→f32', SX, SY, 'f32', 'sobel_f32'],
] as const) {
  const ref = () => tiled(dtype, [...kx], [...ky]);
  variants.push({ name: `${label} tiled (before)`, outBytes: per[dtype]!, run: ref, peer: peerKey });
  for (const s of SHAPES) variants.push({ name: `${label} strip m=${s.rows} tx=${s.tx} wide=${s.wide} vec=${s.vecOut} unroll=${s.unroll}`, outBytes: per[dtype]!, run: () => strip(dtype, [...kx], [...ky], s), peer: peerKey, ref });
}
const gatherFlip = () => integerMap('flip', x, shape, 'u8', 'inside', 0, { mx: [0, -1, W - 1], my: [1, 0, 0] });
variants.push({ name: 'flip horizontal u8 gather (before)', outBytes: 1, run: gatherFlip, peer: 'flip_u8' });
variants.push({ name: 'flip horizontal u8 word/thread', outBytes: 1, run: () => flipWordsScalar(x, 'horizontal')!, peer: 'flip_u8', ref: gatherFlip });
variants.push({ name: 'flip horizontal u8 vec4/thread', outBytes: 1, run: () => flip(x, { axis: 'horizontal' }), peer: 'flip_u8', ref: gatherFlip });
const copy = (vec: boolean) => () => {
  const out = Tensor.empty(gpu, shape, 'u8');
  const units = (N * H * W) / (vec ? 16 : 4);
  gpu.dispatch({ program: flipWordProgram(1, false, false, vec), inputs: [x.gpu.ref], outputs: [out.gpu.ref], uniforms: { dims: [W / (vec ? 16 : 4), H, units, 0] }, workgroups: Math.ceil(units / 256) });
  return out;
};
variants.push({ name: 'copy u8 word/thread', outBytes: 1, run: copy(false) });
variants.push({ name: 'copy u8 vec4/thread', outBytes: 1, run: copy(true) });

// The GPU may be shared: rounds over all variants, interleaved; each variant's best round counts.
const best = variants.map(() => Infinity);
for (let round = 0; round < 5; round++) {
  for (const [i, v] of variants.entries()) {
    const r = await repeat(round === 0 ? 3 : 1, 9, async () => {
      const t = gpu.startTimer();
      const y = v.run();
      const { gpuMs } = await t.stop();
      y.dispose();
      return gpuMs;
    });
    best[i] = Math.min(best[i]!, r.median);
  }
  console.error(`round ${round}: ${best.map((b) => b.toFixed(3)).join(' ')}`);
}
const rows: Row[] = [];
for (const [i, v] of variants.entries()) {
  let maxDiff: number | string = '—';
  if (v.ref) {
    const [ya, yb] = [v.run(), v.ref()];
    const [a, b] = [await ya.toCpu(), await yb.toCpu()];
    let m = 0;
    for (let k = 0; k < a.size; k++) m = Math.max(m, Math.abs(Number(a.data[k]) - Number(b.data[k])));
    maxDiff = a.dtype === 'f16' ? `${m} (f16 bits)` : m;
    ya.dispose();
    yb.dispose();
  }
  const ms = best[i]!;
  const gbs = (N * H * W * (1 + v.outBytes)) / (ms / 1e3) / 1e9;
  const p = v.peer ? peer[v.peer] : undefined;
  rows.push({ name: v.name, ms, gbs, pct: (100 * gbs) / copyGbs, maxDiff, peer: p ? `CuPy ${p.cupy_ms?.toFixed(3)} (${(p.cupy_ms / ms).toFixed(2)}×), PyTorch ${p.torch_ms?.toFixed(3)} (${(p.torch_ms / ms).toFixed(2)}×)` : undefined });
}

const lines = [
  `# bench/ops/filters — ${new Date().toISOString().slice(0, 10)}, ${gpu.info.name}; ${N}×1×${H}×${W} u8 in; copy bw (PyTorch) ${copyGbs.toFixed(0)} GB/s`,
  '',
  '| kernel | ms | GB/s | % copy | max |diff| vs before | peers (same run) |',
  '|---|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.name} | ${r.ms.toFixed(3)} | ${r.gbs.toFixed(0)} | ${r.pct.toFixed(0)}% | ${r.maxDiff} | ${r.peer ?? ''} |`),
];
console.log(lines.join('\n'));
writeFileSync(join(outDir, 'filters.md'), lines.join('\n') + '\n');
x.dispose();
gpu.destroy();
