/**
 * --defect-crops: the loader's batches hold at least the asked share of crops with a defect pixel
 * (uniform crops far fewer on these small defects), the same seed gives the same crops, a bad
 * share is refused in one sentence, a data set without defects is refused, and --resume keeps it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { Compose, RandomCrop } from '../../src/augment/index.js';
import { openBackend } from '../../src/backend.js';
import { run } from '../../src/cli/train.js';
import { isKensaError } from '../../src/errors.js';
import { mulberry32 } from '../../src/rng.js';
import { loadTrainItem } from '../../src/train/data.js';
import { cutsOnHost, epochBatches, epochWindows, readTrainData, resolveTrainConfig, type TrainLog } from '../../src/train/index.js';
import { adapterSkip } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { capture } from './_data.js';

const root = tempDir('kensa-train-crops-');
const SIZE = 64;
const CROP = 16;

/** `count` grey SIZE² images of noise; every third (0, 3, 6, …) holds a 2×2 defect at a drawn place, the rest none. */
async function writeSpecks(dir: string, count: number, seed: number): Promise<void> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  const r = mulberry32(seed);
  for (let k = 0; k < count; k++) {
    const image = Uint8Array.from({ length: SIZE * SIZE }, () => 100 + Math.floor(r() * 50));
    const mask = new Uint8Array(SIZE * SIZE);
    if (k % 3 === 0) {
      const [x, y] = [Math.floor(r() * (SIZE - 2)), Math.floor(r() * (SIZE - 2))];
      for (const i of [0, 1, SIZE, SIZE + 1]) {
        mask[y * SIZE + x + i] = 255;
        image[y * SIZE + x + i] = 20;
      }
    }
    const png = (data: Uint8Array) => sharp(data, { raw: { width: SIZE, height: SIZE, channels: 1 } }).png();
    const name = `speck-${String(k).padStart(2, '0')}`;
    await png(image).toFile(join(dir, 'images', `${name}.png`));
    await png(mask).toFile(join(dir, 'masks', `${name}.png`));
  }
}

const gpuMissing = await adapterSkip();
const data = join(root, 'specks');
await writeSpecks(data, 8, 4);

/** Per batch of epochs 0 … epochs−1: how many of its crops hold a defect pixel, and its size; and every batch's mask bytes. */
async function defectCounts(
  defectCrops: number,
  seed: number,
  epochs: number,
  device: 'cpu' | 'gpu' = 'cpu',
): Promise<{ hits: number[]; sizes: number[]; bytes: number[][] }> {
  const config = resolveTrainConfig({ data, epochs, batchSize: 4, crop: CROP, widths: [4, 8], validationFraction: 0, seed, defectCrops });
  const trainData = await readTrainData(data, { crop: CROP, validationFraction: 0, seed, defects: defectCrops > 0 });
  const backend = await openBackend({ device });
  const pipeline = Compose({ transforms: [RandomCrop({ width: CROP, height: CROP })] });
  const out = { hits: [] as number[], sizes: [] as number[], bytes: [] as number[][] };
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const { batches } = epochBatches({ config, data: trainData, pipeline, backend, epoch, load: (item) => loadTrainItem(item, CROP) });
      for await (const b of batches) {
        const [maskHost, imageHost] = [await b.mask!.toCpu(), await b.image.toCpu()];
        const mask = maskHost.data as Uint8Array;
        const n = b.names.length;
        assert.deepEqual(b.mask!.shape, [n, 1, CROP, CROP]);
        let hits = 0;
        for (let i = 0; i < n; i++) if (mask.subarray(i * CROP * CROP, (i + 1) * CROP * CROP).some((v) => v !== 0)) hits++;
        out.hits.push(hits);
        out.sizes.push(n);
        out.bytes.push([...mask, ...(imageHost.data as Uint8Array)]);
        for (const t of new Set([b.image, b.mask!, maskHost, imageHost])) t.dispose();
      }
    }
  } finally {
    backend.close();
  }
  return out;
}

describe('--defect-crops', () => {
  test('at least the asked share of every batch holds a defect pixel; uniform crops far fewer; the same seed the same crops', async () => {
    const epochs = 12;
    const half = await defectCounts(0.5, 3, epochs);
    assert.equal(half.hits.length, epochs * 2, '8 training images in batches of 4');
    for (const [k, hits] of half.hits.entries())
      assert.ok(hits >= Math.floor(0.5 * half.sizes[k]!), `batch ${k}: ${hits} of ${half.sizes[k]} crops hold a defect`);
    const share = (c: { hits: number[]; sizes: number[] }) => c.hits.reduce((a, b) => a + b, 0) / c.sizes.reduce((a, b) => a + b, 0);
    assert.ok(share(half) >= 0.5, `share ${share(half)}`);
    // without the option: 3 of 8 images hold a 2×2 speck that a uniform 16² crop of 64² meets about an eighth of the time
    const uniform = await defectCounts(0, 3, epochs);
    assert.ok(share(uniform) < 0.25, `uniform crops: share ${share(uniform)}`);
    const again = await defectCounts(0.5, 3, 2);
    assert.deepEqual(again.bytes, half.bytes.slice(0, again.bytes.length), 'the same seed, the same crops');
    const other = await defectCounts(0.5, 4, 2);
    assert.notDeepEqual(other.bytes, again.bytes, 'another seed, other crops');
  });

  test("on the GPU (lavapipe) the batches are the CPU run's bytes", { skip: gpuMissing }, async () => {
    assert.deepEqual((await defectCounts(0.5, 3, 2, 'gpu')).bytes, (await defectCounts(0.5, 3, 2)).bytes);
  });

  test('windows: a defect crop holds its defect pixel and stays inside the image; the share holds in any run of samples', async () => {
    const trainData = await readTrainData(data, { crop: CROP, validationFraction: 0, seed: 1, defects: true });
    for (const fraction of [0.3, 0.5, 1]) {
      for (let epoch = 0; epoch < 20; epoch++) {
        const windows = epochWindows(trainData.train, trainData.images, { seed: 1, epoch, crop: CROP, fraction });
        assert.equal(windows.length, 8);
        const defects = windows.filter((w) => w.defect);
        assert.ok(Math.abs(defects.length - 8 * fraction) < 1, `${defects.length} defect crops of 8 at ${fraction}`);
        for (const w of windows) {
          assert.ok(w.x >= 0 && w.y >= 0 && w.x + CROP <= SIZE && w.y + CROP <= SIZE, `window ${w.x}, ${w.y}`);
          if (!w.defect) continue;
          const mask = (await loadTrainItem(w.item, CROP)).mask!.data;
          let inside = false;
          for (let r = 0; r < CROP && !inside; r++) for (let c = 0; c < CROP; c++) if (mask[(w.y + r) * SIZE + w.x + c] === 1) inside = true;
          assert.ok(inside, `defect crop of ${w.item.name} at ${w.x}, ${w.y} holds no defect pixel`);
        }
      }
    }
  });

  test('images of different sizes: windows cut on the host, so every batch is full (the loader alone batches one size at a time)', async () => {
    const mixed = join(root, 'mixed');
    mkdirSync(join(mixed, 'images'), { recursive: true });
    mkdirSync(join(mixed, 'masks'), { recursive: true });
    for (let k = 0; k < 8; k++) {
      const [w, h] = [32 + 8 * k, 48 - 2 * k];
      const png = (v: number) => sharp(new Uint8Array(w * h).fill(v), { raw: { width: w, height: h, channels: 1 } }).png();
      await png(100 + k).toFile(join(mixed, 'images', `m${k}.png`));
      await png(0).toFile(join(mixed, 'masks', `m${k}.png`));
    }
    const config = resolveTrainConfig({ data: mixed, epochs: 1, batchSize: 4, crop: CROP, widths: [4, 8], validationFraction: 0, seed: 1 });
    const trainData = await readTrainData(mixed, { crop: CROP, validationFraction: 0, seed: 1 });
    assert.ok(cutsOnHost(config, trainData));
    assert.ok(!cutsOnHost(config, await readTrainData(data, { crop: CROP, validationFraction: 0, seed: 1 })), 'one size: the loader crops');
    const backend = await openBackend({ device: 'cpu' });
    try {
      const pipeline = Compose({ transforms: [RandomCrop({ width: CROP, height: CROP })] });
      const { batches, windows } = epochBatches({ config, data: trainData, pipeline, backend, epoch: 0, load: (item) => loadTrainItem(item, CROP) });
      const sizes: number[] = [];
      for await (const b of batches) {
        sizes.push(b.names.length);
        b.image.dispose();
        b.mask?.dispose();
      }
      assert.deepEqual(sizes, [4, 4]);
      assert.equal(windows?.filter((w) => w.defect).length, 0, 'no defect crops were asked for');
    } finally {
      backend.close();
    }
  });

  test('a share outside 0 … 1 is refused in one sentence; so is a data set without defects', async () => {
    const { buf, io } = capture();
    const args = ['--data', data, '--epochs', '1', '--batch', '2', '--crop', '16', '--widths', '4-8', '--device', 'cpu', '--db', join(root, 'k.db')];
    assert.equal(await run([...args, '--defect-crops', '1.5', '--out', join(root, 'bad')], io), 2);
    assert.match(buf.err, /--defect-crops expects a number between 0 and 1 but received '1\.5'/);
    assert.throws(
      () => resolveTrainConfig({ data, epochs: 1, batchSize: 2, defectCrops: -0.1 }),
      (e: unknown) => isKensaError(e) && e.message === 'Expected number between 0 and 1 for defectCrops but received -0.1 of type number',
    );
    assert.equal(resolveTrainConfig({ data, epochs: 1, batchSize: 2 }).defectCrops, 0, 'default: uniform crops');
    const clean = await readTrainData(data, { crop: CROP, validationFraction: 0, seed: 1, defects: true });
    const none = clean.images.map((d) => ({ ...d, defects: new Uint32Array(0) }));
    assert.throws(
      () => epochWindows(clean.train, none, { seed: 1, epoch: 0, crop: CROP, fraction: 0.5 }),
      (e: unknown) =>
        isKensaError(e) &&
        e.code === 'KENSA_ERR_TRAIN_DATA' &&
        e.message === '--defect-crops 0.5 centres crops on defects but none of the 8 training images has one',
    );
  });

  test('--resume keeps --defect-crops: the losses of a run never stopped; passing it with --resume is a usage error', async () => {
    const readLog = (dir: string) => JSON.parse(readFileSync(join(dir, 'train-log.json'), 'utf8')) as TrainLog;
    const args = ['--data', data, '--epochs', '2', '--batch', '4', '--crop', '16', '--widths', '4-8', '--val-fraction', '0.25', '--seed', '2'];
    const common = ['--device', 'cpu', '--db', join(root, 'resume.db'), '--progress', 'json', '--defect-crops', '0.5'];
    const whole = join(root, 'whole');
    const a = capture();
    assert.equal(await run([...args, ...common, '--out', whole], a.io), 0, a.buf.err);
    const stopped = join(root, 'stopped');
    const abort = new AbortController();
    const b = capture((s) => {
      if (s.includes('"type":"train-progress","epoch":2,')) abort.abort();
    });
    assert.equal(await run([...args, ...common, '--out', stopped], b.io, abort.signal), 1);
    const usage = capture();
    assert.equal(await run(['--resume', stopped, '--defect-crops', '0.5'], usage.io), 2);
    assert.match(usage.buf.err, /--resume continues a run with its own options but received --defect-crops/);
    const c = capture();
    assert.equal(await run(['--resume', stopped, '--device', 'cpu', '--db', join(root, 'resume.db'), '--progress', 'json'], c.io), 0, c.buf.err);
    const [x, y] = [readLog(whole), readLog(stopped)];
    assert.equal(y.config.defectCrops, 0.5);
    assert.equal(x.steps.loss.length, 4);
    assert.deepEqual(y.steps, x.steps);
    assert.deepEqual(readFileSync(join(stopped, 'last.safetensors')), readFileSync(join(whole, 'last.safetensors')));
    // the same run with uniform crops takes other steps
    const plain = join(root, 'plain');
    const d = capture();
    assert.equal(await run([...args, '--device', 'cpu', '--db', join(root, 'resume.db'), '--progress', 'none', '--out', plain], d.io), 0, d.buf.err);
    assert.notDeepEqual(readLog(plain).steps.loss, x.steps.loss);
  });
});
