/**
 * The early-exit cascade (docs/models.md "Cascades") against its full model alone: the classic
 * recipe first, a kensa UNet trained here on synthetic samples as the full model. Samples (kensa
 * samples, seed 1 for training, seed 2 for the test side, a quarter defect-free) are written as
 * PNG; the UNet is trained with `train()` on the first set; then `inspect()` runs over the test
 * files with each contender — classic alone, the model alone, the cascade at each band — and
 * reports per contender the wall images/s (decode included, one warm-up pass first), the share of
 * images that exited after the first stage, the verdict agreement with the model alone, and the
 * image-level accuracy against the samples' truth. Bands are `low:high` pairs of the classic
 * score; every band's exit share and agreement are also computed from the two single-stage runs
 * without running it (the cascade decides exactly as they do), a check on the measured rows.
 *
 * Usage: node --import tsx bench/models/cascade.bench.ts [--device gpu] [--train 96] [--test 200]
 *          [--size 512] [--epochs 8] [--widths 16-32-64-128] [--bands 0.5:2,0.75:1.5,1:1.25] [--out FILE.md]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openBackend } from '../../src/backend.js';
import { openRecipeModels } from '../../src/detect/model.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { inspect, type ItemResult } from '../../src/pipeline/inspect.js';
import { type SampleLabels, writeSamples } from '../../src/samples/index.js';
import { bestEpoch, parseWidths, resolveTrainConfig, train } from '../../src/train/index.js';
import { metadata } from '../_kit/stats.js';

const { values: args } = parseArgs({
  options: {
    device: { type: 'string', default: 'gpu' },
    train: { type: 'string', default: '96' },
    test: { type: 'string', default: '200' },
    size: { type: 'string', default: '512' },
    epochs: { type: 'string', default: '8' },
    widths: { type: 'string', default: '16-32-64-128' },
    bands: { type: 'string', default: '0.5:2,0.75:1.5,1:1.25' },
    out: { type: 'string' },
  },
});
const SIZE = Number(args.size);
const dir = mkdtempSync(join(os.tmpdir(), 'kensa-bench-cascade-'));
const jobs = Math.min(16, os.availableParallelism());
const bands = args.bands.split(',').map((b) => b.split(':').map(Number) as [number, number]);

/** One contender's pass over the test files: images/s and each file's verdict, score and deciding stage. */
interface Pass {
  name: string;
  imagesPerSecond: number;
  results: Map<string, ItemResult>;
}

const backend = await openBackend({ device: args.device === 'cpu' ? 'cpu' : 'gpu' });
try {
  const trainDir = join(dir, 'train');
  const testDir = join(dir, 'test');
  await writeSamples({ out: trainDir, count: Number(args.train), width: SIZE, height: SIZE, seed: 1, jobs, force: true });
  await writeSamples({ out: testDir, count: Number(args.test), width: SIZE, height: SIZE, seed: 2, jobs, force: true });
  const truth = new Map(
    (JSON.parse(readFileSync(join(testDir, 'labels.json'), 'utf8')) as SampleLabels).images.map((l) => [join(testDir, l.image), l.verdict]),
  );

  const runDir = join(dir, 'run');
  const config = resolveTrainConfig({
    data: trainDir,
    epochs: Number(args.epochs),
    batchSize: 8,
    crop: Math.min(256, SIZE),
    widths: parseWidths(args.widths),
    posWeight: 5,
    defectCrops: 0.5,
    amp: false,
    seed: 1,
  });
  const t0 = performance.now();
  const trained = await train(config, { backend, out: runDir });
  const trainS = (performance.now() - t0) / 1000;
  const model = { path: join(runDir, 'best.safetensors'), task: 'segmentation' as const };

  /** Runs inspect over the test images with `recipe` (models opened as a run opens them): a warm-up pass, then the timed one. */
  async function pass(name: string, recipe: object): Promise<Pass> {
    const { loaded, models } = await openRecipeModels(parseRecipe(recipe), {}, 16, backend.gpu);
    try {
      const once = async () => {
        const results = new Map<string, ItemResult>();
        const t = performance.now();
        for await (const r of inspect([join(testDir, 'images')], { backend, recipe: loaded })) results.set(r.path, r);
        return { results, ms: performance.now() - t };
      };
      await once();
      const { results, ms } = await once();
      const errors = [...results.values()].filter((r) => r.status === 'error');
      if (errors.length > 0) throw new Error(`${name}: ${errors.length} errors, the first: ${errors[0]!.error}`);
      return { name, imagesPerSecond: results.size / (ms / 1000), results };
    } finally {
      await Promise.all(models.map((m) => m.close()));
    }
  }

  const classic = await pass('classic recipe alone', { kind: 'classic' });
  const full = await pass(`UNet ${args.widths} alone`, { kind: 'model', model });
  const cascades: Pass[] = [];
  for (const [low, high] of bands)
    cascades.push(
      await pass(`cascade, band [${low}, ${high})`, { kind: 'cascade', first: { kind: 'classic' }, full: { kind: 'model', model }, band: { low, high } }),
    );

  const paths = [...truth.keys()];
  const verdict = (p: Pass, path: string) => p.results.get(path)?.verdict;
  const agreement = (p: Pass) => paths.filter((path) => verdict(p, path) === verdict(full, path)).length / paths.length;
  const accuracy = (p: Pass) => paths.filter((path) => verdict(p, path) === truth.get(path)).length / paths.length;
  const exited = (p: Pass) => paths.filter((path) => p.results.get(path)?.cascade === 'first').length / paths.length;
  /** What the band would give, from the two single-stage passes: the classic verdict outside it, the model's inside. */
  const predicted = ([low, high]: [number, number]) => {
    const exits = (path: string) => {
      const s = classic.results.get(path)!.score!;
      return s < low || s >= high;
    };
    // an image inside the band gets the model's own verdict
    const agree = paths.filter((path) => !exits(path) || verdict(classic, path) === verdict(full, path));
    return { exit: paths.filter(exits).length / paths.length, agreement: agree.length / paths.length };
  };

  const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
  const meta = metadata(backend.name);
  const lines = [
    `# Early-exit cascade vs its full model — ${meta.date}`,
    '',
    `Device ${meta.device}; ${meta.cpus} cores (${meta.host}); Node ${meta.node}; commit ${meta.commit}.`,
    `Test side: ${paths.length} synthetic ${SIZE}² gray PNGs (kensa samples, seed 2; ${paths.filter((p) => truth.get(p) === 'OK').length} defect-free).`,
    `Full model: kensa UNet ${args.widths}, trained here on ${args.train} samples (seed 1) for ${args.epochs} epochs (crop ${config.crop}, batch 8, pos-weight 5, defect crops 0.5; ${trainS.toFixed(0)} s; best validation IoU ${bestEpoch(trained.log)?.iou?.toFixed(3) ?? '–'}).`,
    'First stage: the default classic recipe. `inspect()` over the files (decode included), one warm-up pass, then the timed one.',
    '',
    '| contender | images/s | exited early | agreement with the model alone | image accuracy (truth) | predicted from the single stages: exit / agreement |',
    '|---|---|---|---|---|---|',
    ...[classic, full].map((p) => `| ${p.name} | ${p.imagesPerSecond.toFixed(1)} | – | ${pct(agreement(p))} | ${pct(accuracy(p))} | – |`),
    ...cascades.map((p, i) => {
      const e = predicted(bands[i]!);
      return `| ${p.name} | ${p.imagesPerSecond.toFixed(1)} (${(p.imagesPerSecond / full.imagesPerSecond).toFixed(2)}× the model) | ${pct(exited(p))} | ${pct(agreement(p))} | ${pct(accuracy(p))} | ${pct(e.exit)} / ${pct(e.agreement)} |`;
    }),
    '',
  ];
  const report = lines.join('\n');
  console.log(report);
  if (args.out) writeFileSync(args.out, report);
} finally {
  backend.close();
  rmSync(dir, { recursive: true, force: true });
}
