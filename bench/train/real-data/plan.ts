/**
 * What the PyTorch twin (scripts/train/torch_train.py) trains on: kensa train's own validation
 * split, and every epoch's batches and crop corners from kensa's own loader (epochBatches: the
 * RandomCrop pipeline `kensa train` builds, with --defect-crops its windows, the same seed), so
 * both trainers see the same crops in the same order; the pixels as kensa decodes them (so the twin needs only torch, and a JPEG
 * decoder's rounding cannot differ); and kensa's initial weights for the seed (UNet.create), so
 * both start from the same network.
 *
 *   node dist/bench/train/real-data/plan.js --data DIR/train --test DIR/test/images --out PLAN_DIR
 *     --epochs N --batch B --crop C --widths 32-64-128-256 [--seed S] [--val-fraction F] [--pos-weight W] [--lr R] [--defect-crops F]
 * Writes PLAN_DIR/plan.json (configuration, items, split, batches), PLAN_DIR/pixels.bin (u8
 * planar C×H×W images, 0/1 masks, at the offsets plan.json gives) and PLAN_DIR/init.safetensors.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Compose, RandomCrop } from '../../../src/augment/index.js';
import { openBackend } from '../../../src/backend.js';
import { UNet } from '../../../src/models/unet.js';
import { listAugmentItems, type LoadedItem, loadItem } from '../../../src/pipeline/augment-files.js';
import { parseWidths, resolveTrainConfig } from '../../../src/train/config.js';
import { epochBatches } from '../../../src/train/crops.js';
import { loadTrainItem, readTrainData } from '../../../src/train/data.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string' },
    test: { type: 'string' },
    out: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    crop: { type: 'string' },
    widths: { type: 'string' },
    seed: { type: 'string' },
    'val-fraction': { type: 'string' },
    'pos-weight': { type: 'string' },
    lr: { type: 'string' },
    'defect-crops': { type: 'string' },
  },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const config = resolveTrainConfig({
  data: a.data!,
  epochs: Number(a.epochs),
  batchSize: Number(a.batch),
  crop: num(a.crop),
  widths: a.widths === undefined ? undefined : parseWidths(a.widths),
  seed: num(a.seed),
  validationFraction: num(a['val-fraction']),
  posWeight: num(a['pos-weight']),
  lr: num(a.lr),
  defectCrops: num(a['defect-crops']),
});
const out = a.out!;
mkdirSync(out, { recursive: true });

const data = await readTrainData(config.data, { ...config, defects: config.defectCrops > 0 });
const loaded = new Map<string, LoadedItem>();
for (const item of data.train) loaded.set(item.name, await loadTrainItem(item, config.crop));
const index = new Map(data.train.map((item, i) => [item.name, i]));

// as kensa train's trainingPipeline without --augment: a RandomCrop inside a Compose (the Compose draws too)
const pipeline = Compose({ transforms: [RandomCrop({ width: config.crop, height: config.crop })] });
const backend = await openBackend({ device: 'cpu' });
const batches: { epoch: number; crops: [number, number, number][] }[] = [];
for (let epoch = 0; epoch < config.epochs; epoch++) {
  const { batches: loader, windows } = epochBatches({ config, data, pipeline, backend, epoch, load: async (item) => loaded.get(item.name)! });
  for await (const b of loader) {
    b.image.dispose();
    b.mask?.dispose();
    const crops = b.names.map((name, k): [number, number, number] => {
      // with --defect-crops the loader gets each window cut already: its corner is the window's
      const w = windows?.[b.indices[k]! - epoch * data.train.length];
      if (w) return [w.source, w.x, w.y];
      const [crop] = b.params[k] as [{ x: number; y: number }];
      return [index.get(name)!, crop.x, crop.y];
    });
    batches.push({ epoch, crops });
  }
}
backend.close();

const test = listAugmentItems(a.test!).items;
const chunks: Uint8Array[] = [];
let offset = 0;
const put = (bytes: Uint8Array): [number, number] => {
  chunks.push(bytes);
  offset += bytes.length;
  return [offset - bytes.length, bytes.length];
};
const entry = (l: LoadedItem) => {
  if (l.image.dtype !== 'u8') throw new Error(`${l.name}: ${l.image.dtype} pixels; the plan holds 8-bit images`);
  return {
    name: l.name,
    width: l.image.width,
    height: l.image.height,
    channels: l.image.channels,
    image: put(l.image.data as Uint8Array),
    mask: l.mask ? put(l.mask.data as Uint8Array) : null,
  };
};
const items = {
  train: data.train.map((item) => entry(loaded.get(item.name)!)),
  validation: data.validation.map(entry),
  test: await Promise.all(test.map(async (item) => entry(await loadItem(item)))),
};
for (const l of [...items.train, ...items.validation, ...items.test]) {
  if (l.channels !== data.channels) throw new Error(`${l.name}: ${l.channels} channel(s), the training images ${data.channels}`);
}
writeFileSync(join(out, 'pixels.bin'), Buffer.concat(chunks));
const steps = Math.ceil(data.train.length / config.batchSize);
writeFileSync(join(out, 'plan.json'), JSON.stringify({ config: { ...config, channels: data.channels, stepsPerEpoch: steps }, items, batches }));
const net = await UNet.create({ widths: config.widths, inChannels: data.channels }, { seed: config.seed });
writeFileSync(join(out, 'init.safetensors'), await net.toSafetensors());
console.log(
  `plan: ${items.train.length} training, ${items.validation.length} validation, ${items.test.length} test images; ${batches.length} batches over ${config.epochs} epochs; ${offset} bytes of pixels in ${out}`,
);
