/**
 * Decode rate at the recipe's `input.scale` (src/pipeline/decode.ts): synthetic 2048×2048 gray
 * JPEGs (quality 92, as `kensa samples --format jpg` writes them) and the same images as PNG,
 * decoded from memory (file reading excluded) at 1, ½, ¼ and ⅛, with as many concurrent decodes
 * as cores, the way `kensa inspect` decodes. Two figures: the wall rate, and the process's CPU time
 * per image (every libvips thread included), which a shared machine's load disturbs less. Then, for
 * what the scale buys downstream, `inspect()` end to end on the JPEGs (decode + detection on the
 * `auto` backend, default recipe at each scale, batches of at most 2 images at every scale, since
 * lavapipe's 128 MiB storage-binding limit refuses 4 × 2048² (a 138 MB intermediate); one pass after
 * a warm-up on two images).
 *
 * Methodology (bench/_kit): one warm-up pass, then `repeats` passes over every image, the scales
 * taking turns within each pass so that load changes hit them alike; median and IQR of the passes.
 *
 * Usage: node --import tsx bench/pipeline/decode-scale.bench.ts [--count 16] [--side 2048]
 *        [--repeats 5] [--out bench/results/decode-scale-DATE.md]
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { decodeBuffer, DECODE_SCALES, DEFAULT_MAX_PIXELS, type DecodeScale } from '../../src/pipeline/decode.js';
import { inspect } from '../../src/pipeline/inspect.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { writeSamples } from '../../src/samples/index.js';
import { type Pass, pooled } from '../_kit/decode.js';
import { metadata, summarize, type Summary } from '../_kit/stats.js';

const { values: args } = parseArgs({
  options: {
    count: { type: 'string', default: '16' },
    side: { type: 'string', default: '2048' },
    repeats: { type: 'string', default: '5' },
    out: { type: 'string' },
  },
});
const COUNT = Number(args.count);
const SIDE = Number(args.side);
const REPEATS = Number(args.repeats);
const threads = os.availableParallelism();
const work = join(os.tmpdir(), 'kensa-bench-decode-scale');

function decodeAll(files: readonly [string, Buffer][], scale: DecodeScale, concurrency: number): Promise<Pass> {
  return pooled(files.length, concurrency, (i) => decodeBuffer(files[i]![0], files[i]![1], { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS, scale }));
}

const fmt = (s: Summary, digits: number) => `${s.median.toFixed(digits)} [${s.q1.toFixed(digits)}–${s.q3.toFixed(digits)}]`;
const meta = metadata('cpu (libvips through sharp)');
const load = os
  .loadavg()
  .map((l) => l.toFixed(1))
  .join(', ');
const lines = [
  `# Decode rate by input.scale — ${meta.date}`,
  '',
  `Machine: ${meta.host} (${meta.cpus} cores), Node ${meta.node}, sharp ${sharp.versions.sharp} (libvips ${sharp.versions.vips}), commit ${meta.commit}.`,
  `${COUNT} synthetic ${SIDE}×${SIDE} gray images (kensa samples, seed 1), decoded from memory to gray u8 with ${threads} concurrent decodes;`,
  `the scales take turns within each of ${REPEATS} passes (after a warm-up pass), median [IQR] of the passes. Load average at the start: ${load}.`,
  '',
  '| format | scale | decoded size | images/s (wall) | vs scale 1 | CPU ms per image | vs scale 1 |',
  '|---|---|---|---|---|---|---|',
];
rmSync(work, { recursive: true, force: true });
for (const format of ['jpg', 'png'] as const) {
  const out = join(work, format);
  await writeSamples({ out, count: COUNT, width: SIDE, height: SIDE, format, seed: 1 });
  const files = readdirSync(join(out, 'images'))
    .sort()
    .map((f) => [f, readFileSync(join(out, 'images', f))] as [string, Buffer]);
  const passes = new Map<DecodeScale, Pass[]>(DECODE_SCALES.map((s) => [s, []]));
  for (let r = -1; r < REPEATS; r++)
    for (const scale of DECODE_SCALES) {
      const p = await decodeAll(files, scale, threads);
      if (r >= 0) passes.get(scale)!.push(p);
    }
  const rate = (s: DecodeScale) => summarize(passes.get(s)!.map((p) => COUNT / (p.wall / 1000)));
  const cpu = (s: DecodeScale) => summarize(passes.get(s)!.map((p) => p.cpu / COUNT));
  for (const scale of DECODE_SCALES) {
    const size = Math.ceil(SIDE * scale);
    const [r, c] = [rate(scale), cpu(scale)];
    lines.push(
      `| ${format} | ${scale} | ${size}×${size} | ${fmt(r, 1)} | ${(r.median / rate(1).median).toFixed(2)}× | ${fmt(c, 1)} | ${(c.median / cpu(1).median).toFixed(2)}× |`,
    );
    console.error(lines.at(-1));
  }
}
const backend = await openBackend({ device: 'auto' });
lines.push(
  '',
  `inspect() end to end on the ${COUNT} JPEGs (batches of at most 2), backend ${backend.name}:`,
  '',
  '| scale | images/s | vs scale 1 |',
  '|---|---|---|',
);
let full = 0;
for (const scale of DECODE_SCALES) {
  const recipe = parseRecipe({ input: { scale } });
  const images = join(work, 'jpg', 'images');
  const all = readdirSync(images)
    .sort()
    .map((f) => join(images, f));
  const options = { backend, recipe, batch: { maxCount: 2 } };
  for await (const r of inspect(all.slice(0, 2), options)) if (r.status === 'error') throw new Error(r.error);
  const t = performance.now();
  for await (const r of inspect(all, options)) if (r.status === 'error') throw new Error(r.error);
  const rate = COUNT / ((performance.now() - t) / 1000);
  if (scale === 1) full = rate;
  lines.push(`| ${scale} | ${rate.toFixed(2)} | ${(rate / full).toFixed(2)}× |`);
  console.error(lines.at(-1));
}
backend.close();
rmSync(work, { recursive: true, force: true });
const text = `${lines.join('\n')}\n`;
console.log(text);
if (args.out) writeFileSync(args.out, text);
