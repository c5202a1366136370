/**
 * kensa's GPU JPEG decoder (src/ops/jpeg) vs sharp on the same files: 1920×1080 colour (4:2:0,
 * q90) and 2048×2048 gray (q90) JPEGs made by sharp from a smooth picture with noise, batches of
 * 16 and 64. Reports, never asserts:
 * - kensa: images/s of decodeJpegBatch (parsing and destuffing on this thread, upload, every GPU
 *   pass, the status readback; the pixels stay on the GPU), its GPU time (timestamp queries, where
 *   the adapter has them), dispatches and synchronisation passes per batch, and the parse alone;
 *   for subsequences of 1024, 2048 (the default) and 4096 bits (JPEG_SUBSEQ=… to choose others);
 *   and from one more batch, each stage's GPU time in a pass of its own and the subsequence
 *   decodes each synchronisation pass made;
 * - sharp: images/s of sharp(file).raw().toBuffer() with as many decodes in flight as cores
 *   (UV_THREADPOOL_SIZE is set to the core count unless given).
 * - at scales below 1 (default ¼: the model input of the seed's 1080p workflow), the same with
 *   decoding at that scale (shrink-on-load and the reduce on the GPU, docs/jpeg.md), subsequences of
 *   2048 bits only, next to sharp's resize of the same files at all cores.
 * Usage: node dist/bench/ops/jpeg.bench.js OUT_DIR [batch sizes, comma-separated] [scales below 1, comma-separated]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

process.env.UV_THREADPOOL_SIZE ??= String(os.availableParallelism());
const { default: sharp } = await import('sharp');
const { Gpu } = await import('../../src/gpu/gpu.js');
const { decodeJpegBatch, parseJpeg } = await import('../../src/ops/jpeg/index.js');
const { metadata, repeat } = await import('../_kit/stats.js');
const { pooled } = await import('../_kit/decode.js');
const { benchJpeg } = await import('../_kit/jpeg.js');
type DecodeScale = import('../../src/detect/scales.js').DecodeScale;

const outDir = process.argv[2] ?? 'bench-out';
const batches = (process.argv[3] ?? '16,64').split(',').map(Number);
const scales = (process.argv[4] ?? '0.25').split(',').map(Number) as DecodeScale[];
mkdirSync(outDir, { recursive: true });
const gpu = await Gpu.open();
const meta = metadata(gpu.info.name);

const KINDS = [
  { name: '1080p-colour-420-q90', w: 1920, h: 1080, c: 3 },
  { name: '2048-gray-q90', w: 2048, h: 2048, c: 1 },
] as const;
/** Distinct files per kind (a batch repeats them). */
const DISTINCT = 8;

const rows: Record<string, unknown>[] = [];
/** sharp's images/s by kind and batch size (it does not depend on the subsequence length). */
const sharpRates = new Map<string, number>();
for (const kind of KINDS) {
  const files: Uint8Array[] = [];
  for (let i = 0; i < DISTINCT; i++) {
    files.push(await benchJpeg(kind.w, kind.h, kind.c, i + 1));
  }
  const bytes = files.reduce((n, f) => n + f.length, 0) / files.length;
  const parse = await repeat(1, 5, async () => {
    const t = performance.now();
    for (const f of files) parseJpeg(f);
    return (performance.now() - t) / files.length;
  });
  for (const n of batches) {
    for (const subseqBits of (process.env.JPEG_SUBSEQ ?? '1024,2048,4096').split(',').map(Number))
      await measure(kind.name, files, bytes, parse.median, n, subseqBits, 1, kind);
    for (const scale of scales) await measure(kind.name, files, bytes, parse.median, n, 2048, scale, kind);
  }
}

async function measure(
  kind: string,
  files: Uint8Array[],
  bytes: number,
  parseMs: number,
  n: number,
  subseqBits: number,
  scale: DecodeScale,
  size: { w: number; h: number },
): Promise<void> {
  const batch = Array.from({ length: n }, (_, i) => files[i % DISTINCT]!);
  let dispatches = 0;
  let syncPasses = 0;
  const gpuMs: number[] = [];
  const wall = await repeat(2, 8, async () => {
    await gpu.sync();
    const timer = gpu.info.features.includes('timestamp-query') ? gpu.startTimer() : null;
    const t = performance.now();
    const r = await decodeJpegBatch(gpu, batch, { subseqBits, scale });
    const ms = performance.now() - t;
    if (timer) gpuMs.push((await timer.stop()).gpuMs);
    dispatches = r.dispatches;
    syncPasses = r.syncPasses;
    for (const x of r.tensors) x.dispose();
    return ms;
  });
  gpuMs.sort((a, b) => a - b);
  // one more batch with each stage in a timed pass of its own, and the Huffman work per pass
  const profiled = await decodeJpegBatch(gpu, batch, { subseqBits, scale, profile: true });
  for (const x of profiled.tensors) x.dispose();
  const key = `${kind}|${n}|${scale}`;
  if (!sharpRates.has(key)) {
    const [width, height] = [Math.ceil(size.w * scale), Math.ceil(size.h * scale)];
    const pass = await pooled(n * 2, os.availableParallelism(), (i) =>
      (scale === 1 ? sharp(batch[i % n]!) : sharp(batch[i % n]!).resize({ width, height, fit: 'fill', kernel: 'cubic' })).raw().toBuffer(),
    );
    sharpRates.set(key, (n * 2) / (pass.wall / 1000));
  }
  rows.push({
    kind,
    batch: n,
    scale,
    subseq_bits: subseqBits,
    file_kib: Math.round(bytes / 1024),
    kensa_images_per_s: n / (wall.median / 1000),
    kensa_batch_ms: wall.median,
    kensa_iqr: [wall.q1, wall.q3],
    kensa_gpu_ms: gpuMs.length ? gpuMs[gpuMs.length >> 1]! : null,
    parse_ms_per_image: parseMs,
    dispatches,
    sync_passes: syncPasses,
    // subsequence decodes per image in pass 0 and each synchronisation pass (the decode pass adds one per subsequence)
    pass_decodes_per_image: profiled.passDecodes.map((d) => d / n),
    subsequences_per_image: Math.ceil((bytes * 8) / subseqBits),
    stage_ms: profiled.stageMs ?? null,
    sharp_images_per_s: sharpRates.get(key)!,
    sharp_threads: Number(process.env.UV_THREADPOOL_SIZE),
  });
  console.log(JSON.stringify(rows.at(-1)));
}

writeFileSync(join(outDir, 'jpeg.json'), JSON.stringify({ meta, rows }, null, 2));
gpu.destroy();
