/**
 * bench/ops/f16: the ops with f16 outputs or inputs on a 16×1×2048×2048 batch, with native f16
 * (`shader-f16`) against the packed-half path, two devices on one GPU timed in interleaved rounds
 * (timestamp queries, median of 9, best of 5 rounds after 3 warm-ups). Also prints the adapter's
 * f16 and subgroup-matrix configurations, and checks both paths' outputs agree (f16 ULPs).
 * Usage: node dist/bench/ops/f16.bench.js OUT_DIR [N H W]   (writes f16.json and f16.md)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Gpu } from '../../src/gpu/gpu.js';
import { convert } from '../../src/ops/color/convert.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, repeat, type Summary } from '../_kit/stats.js';
import { CASES } from './cases.js';

const outDir = process.argv[2] ?? 'bench-out';
const [N, H, W] = (process.argv.slice(3, 6).length === 3 ? process.argv.slice(3, 6).map(Number) : [16, 2048, 2048]) as [number, number, number];
mkdirSync(outDir, { recursive: true });

const native = await Gpu.open();
const packed = await Gpu.open({ shaderF16: false });
const meta = metadata(native.info.name);
console.log(
  JSON.stringify(
    { device: native.info.name, f16: native.info.f16, features: native.info.features, subgroupMatrixConfigs: native.info.subgroupMatrixConfigs },
    null,
    1,
  ),
);
if (!native.info.f16) console.log('this adapter has no shader-f16: both columns run the packed path');

interface Case {
  name: string;
  /** The input: the u8 batch or its f16 conversion. */
  input: 'u8' | 'f16';
  run(x: Tensor): Tensor;
}
const cases: Case[] = [
  ...CASES.filter((c) => c.name.includes('f16')).map((c) => ({ name: c.name, input: 'u8' as const, run: c.run })),
  { name: 'gaussian 5×5 f16→f16', input: 'f16', run: (x) => gaussianBlur(x, { ksize: 5 }) },
  { name: 'convert f16→u8 (x·255)', input: 'f16', run: (x) => convert(x, { dtype: 'u8', scale: 255 }) },
];

const host = new Uint8Array(N * H * W);
for (let i = 0; i < host.length; i++) host[i] = (Math.imul(i, 2654435761) >>> 24) & 0xff;
const inputs = async (gpu: Gpu) => {
  const u8 = await Tensor.fromArray(host, [N, 1, H, W], 'u8').toGpu(gpu);
  return { u8, f16: convert(u8, { dtype: 'f16', scale: 1 / 255 }) };
};
const devices = [
  { label: 'native', gpu: native, x: await inputs(native) },
  { label: 'packed', gpu: packed, x: await inputs(packed) },
];

const best = cases.map(() => devices.map((): Summary => ({ median: Infinity, min: Infinity, max: Infinity, q1: Infinity, q3: Infinity, n: 0 })));
for (let round = 0; round < 5; round++) {
  for (const [i, c] of cases.entries()) {
    for (const [j, d] of devices.entries()) {
      const s = await repeat(round === 0 ? 3 : 1, 9, async () => {
        const timer = d.gpu.startTimer();
        const y = c.run(d.x[c.input]);
        const { gpuMs } = await timer.stop();
        y.dispose();
        return gpuMs;
      });
      if (s.median < best[i]![j]!.median) best[i]![j] = s;
    }
  }
}

/** Largest difference of two f16 outputs in units of the last place (0 for other dtypes when equal). */
async function ulps(c: Case): Promise<number> {
  const [a, b] = await Promise.all(
    devices.map(async (d) => {
      const y = c.run(d.x[c.input]);
      const out = await y.toCpu();
      y.dispose();
      return out.data;
    }),
  );
  let worst = 0;
  for (let i = 0; i < a!.length; i++) worst = Math.max(worst, Math.abs(Number(a![i]) - Number(b![i])));
  return worst;
}

const rows = [];
for (const [i, c] of cases.entries()) {
  const [n, p] = best[i]! as [Summary, Summary];
  rows.push({
    op: c.name,
    native_ms: n.median,
    native_iqr: [n.q1, n.q3],
    packed_ms: p.median,
    packed_iqr: [p.q1, p.q3],
    packed_over_native: p.median / n.median,
    max_diff: await ulps(c),
  });
}
const fmt = (v: number, d = 3) => v.toFixed(d);
const lines = [
  `# bench/ops/f16 — ${String(meta.date).slice(0, 10)}, ${native.info.name}, commit ${meta.commit}`,
  '',
  `Batch ${N}×1×${H}×${W}. GPU time from timestamp queries (median of 9, best of 5 interleaved rounds), native f16 (\`shader-f16\`: ${native.info.f16}) against the packed-half path on a second device of the same GPU. "max diff": largest difference of the two outputs' raw values (f16 bits: ULPs).`,
  `Subgroup-matrix configurations: ${native.info.subgroupMatrixConfigs.map((c) => `${c.componentType}→${c.resultComponentType} ${c.M}×${c.N}×${c.K}`).join(', ') || 'none'}.`,
  '',
  '| op | native f16 ms | packed ms | packed ÷ native | max diff |',
  '|---|---|---|---|---|',
  ...rows.map((r) => `| ${r.op} | ${fmt(r.native_ms)} | ${fmt(r.packed_ms)} | ${r.packed_over_native.toFixed(3)} | ${r.max_diff} |`),
];
console.log(lines.join('\n'));
writeFileSync(join(outDir, 'f16.md'), `${lines.join('\n')}\n`);
writeFileSync(
  join(outDir, 'f16.json'),
  JSON.stringify(
    { meta, shape: [N, 1, H, W], f16: native.info.f16, features: native.info.features, subgroupMatrixConfigs: native.info.subgroupMatrixConfigs, rows },
    null,
    2,
  ),
);
for (const d of devices) {
  d.x.u8.dispose();
  d.x.f16.dispose();
  d.gpu.destroy();
}
