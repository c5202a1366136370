/**
 * bench/models: ONNX Runtime through kensa's ModelSession on every usable provider (cuda when
 * installed, webgpu, cpu) × batch sizes × f32/f16/INT8 (QDQ), on the tiny UNet made in code
 * (widths w, 2w; `side`² inputs; one seed, so every dtype is the same network): milliseconds per
 * batch (median and IQR of `repeats`, after a warm-up at load), images per second, and the
 * agreement with f32 on the same provider (max |p − p_f32| over the batch). Then the model detector end to end on one 2048² frame, tiled 512 with
 * 32 px of overlap (windows batched, centres stitched), on each provider. A provider that fails
 * is a row with its reason; the script never fails.
 * Usage: node dist/bench/models/onnx.bench.js OUT_DIR [width=32] [side=512] [batches=1,8,16] [repeats=10] [frame=2048]
 */
import { createHash } from 'node:crypto';
import { f16BitsToF32, f32ToF16Bits } from '../../src/dtype.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detect } from '../../src/detect/detector.js';
import { parseRecipe, type ModelRecipe } from '../../src/detect/recipe.js';
import { EXECUTION_PROVIDERS, onnxProviders, type ExecutionProvider } from '../../src/models/providers.js';
import { openModel } from '../../src/models/registry.js';
import { ModelSession } from '../../src/models/session.js';
import { tinyUnet } from '../../src/models/tiny.js';
import { Tensor } from '../../src/tensor.js';
import { metadata, repeat, type Summary } from '../_kit/stats.js';

const outDir = process.argv[2] ?? 'bench-out';
const width = Number(process.argv[3] ?? 32);
const side = Number(process.argv[4] ?? 512);
const batches = (process.argv[5] ?? '1,8,16').split(',').map(Number);
const repeats = Number(process.argv[6] ?? 10);
const frameSide = Number(process.argv[7] ?? 2048);
mkdirSync(outDir, { recursive: true });

const lines: string[] = [];
const log = (s: string) => {
  console.log(s);
  lines.push(s);
};
const ms = (v: number) => v.toFixed(2);

interface Row {
  provider: ExecutionProvider;
  dtype: 'f32' | 'f16' | 'int8';
  batch: number;
  ms?: Summary;
  imagesPerSecond?: number;
  /** max |p − p_f32| over the batch, on the same provider and input. */
  maxDiffToF32?: number;
  error?: string;
}

/** A deterministic input in [0, 1]. */
function image(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 24) / 255);
}

const { version, providers } = await onnxProviders();
const usable = EXECUTION_PROVIDERS.filter((p) => providers.some((q) => q.name === p && q.installed));
log(`# ONNX Runtime ${version} through ModelSession: tiny UNet width ${width}, ${side}×${side}`);
log(`providers: ${usable.join(', ')} (listed: ${providers.map((p) => `${p.name} ${p.installed ? 'installed' : 'missing'}`).join(', ')})`);
log('');
log('| provider | dtype | batch | ms / batch (median) | IQR | images/s | max abs diff to f32 |');
log('|---|---|---:|---:|---:|---:|---:|');

const rows: Row[] = [];
for (const provider of usable) {
  const reference = new Map<number, Float32Array>();
  for (const dtype of ['f32', 'f16', 'int8'] as const) {
    const model = tinyUnet({ width, dtype });
    for (const batch of batches) {
      const dims = [batch, 1, side, side];
      let session: ModelSession | null = null;
      try {
        session = await ModelSession.load(model, `tiny UNet ${dtype}`, { providers: [provider], strict: true, warmUp: [dims] });
        const n = batch * side * side;
        const x = image(n);
        const input = () => (dtype === 'f16' ? Uint16Array.from(x, f32ToF16Bits) : x.slice());
        const s = session;
        const [out] = await s.run(input(), dims);
        const p = out!.type === 'float16' ? Float32Array.from(out!.data, f16BitsToF32) : (out!.data as Float32Array);
        if (dtype === 'f32') reference.set(batch, p);
        const f32 = reference.get(batch);
        const maxDiffToF32 = f32 ? p.reduce((m, v, i) => Math.max(m, Math.abs(v - f32[i]!)), 0) : undefined;
        const summary = await repeat(1, repeats, async () => {
          const data = input();
          const t = performance.now();
          await s.run(data, dims);
          return performance.now() - t;
        });
        const row = {
          provider,
          dtype,
          batch,
          ms: summary,
          imagesPerSecond: (1000 * batch) / summary.median,
          ...(maxDiffToF32 === undefined ? {} : { maxDiffToF32 }),
        };
        rows.push(row);
        log(
          `| ${provider} | ${dtype} | ${batch} | ${ms(summary.median)} | ${ms(summary.q1)}–${ms(summary.q3)} | ${row.imagesPerSecond.toFixed(1)} | ${maxDiffToF32 === undefined ? '–' : maxDiffToF32.toPrecision(2)} |`,
        );
      } catch (e) {
        const error = (e as Error).message;
        rows.push({ provider, dtype, batch, error });
        log(`| ${provider} | ${dtype} | ${batch} | failed: ${error.slice(0, 120)} | | |`);
      } finally {
        await session?.close();
      }
    }
  }
}

log('');
log(`## Tiled ${frameSide}×${frameSide} through the model detector (tile 512, overlap 32, CPU tensors in and out)`);
log('| provider | ms / frame (median) | IQR |');
log('|---|---:|---:|');
const tiled: { provider: ExecutionProvider; ms?: Summary; error?: string }[] = [];
const bytes = tinyUnet({ width });
const sha256 = createHash('sha256').update(bytes).digest('hex');
const frame = Tensor.fromArray(
  Uint8Array.from({ length: frameSide * frameSide }, (_, i) => (i * 2654435761) >>> 24),
  [1, 1, frameSide, frameSide],
  'u8',
);
for (const provider of usable) {
  const recipe = parseRecipe({ kind: 'model', model: { path: 'tiny-unet.onnx', sha256 }, tiling: { tile: 512, overlap: 32, align: 2 } }).recipe as ModelRecipe;
  try {
    const open = await openModel({ path: 'tiny-unet.onnx', bytes, sha256 }, { providers: [provider], strict: true, warmUp: [[16, 1, 576, 576]] });
    try {
      const summary = await repeat(1, Math.max(3, repeats >> 1), async () => {
        const t = performance.now();
        await detect(frame, recipe, false);
        return performance.now() - t;
      });
      tiled.push({ provider, ms: summary });
      log(`| ${provider} | ${ms(summary.median)} | ${ms(summary.q1)}–${ms(summary.q3)} |`);
    } finally {
      await open.close();
    }
  } catch (e) {
    tiled.push({ provider, error: (e as Error).message });
    log(`| ${provider} | failed: ${(e as Error).message.slice(0, 120)} | |`);
  }
}

const meta = metadata(usable.join('+'));
console.error(`wrote ${join(outDir, 'models-onnx.md')}`);
writeFileSync(join(outDir, 'models-onnx.json'), `${JSON.stringify({ meta, width, side, rows, tiled }, null, 2)}\n`);
writeFileSync(join(outDir, 'models-onnx.md'), `${lines.join('\n')}\n\n${JSON.stringify(meta)}\n`);
