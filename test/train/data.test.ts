import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { formatTrainLine, run } from '../../src/cli/train.js';
import { resolveTrainConfig, splitItems, tileOrigins } from '../../src/train/index.js';
import { tempDir } from '../_kit/tmp.js';
import { capture, writeDiscs } from './_data.js';

const root = tempDir('kensa-train-data-');

const png = (path: string, size: number, fill: (i: number) => number) =>
  sharp(
    Uint8Array.from({ length: size * size }, (_, i) => fill(i)),
    { raw: { width: size, height: size, channels: 1 } },
  )
    .toColourspace('b-w')
    .png()
    .toFile(path);

/** A copy of 4 good 32×32 disc images; `spoil` changes it. */
async function dataset(name: string, spoil: (dir: string) => unknown = () => {}): Promise<string> {
  const dir = join(root, name);
  cpSync(join(root, 'good'), dir, { recursive: true });
  await spoil(dir);
  return dir;
}

/** Runs kensa train on `data` (CPU, no database writes reached) and returns its exit code and stderr. */
async function train(data: string, extra: string[] = []): Promise<{ code: number; err: string }> {
  const { buf, io } = capture();
  const code = await run(
    [
      '--data',
      data,
      '--epochs',
      '1',
      '--batch',
      '2',
      '--crop',
      '16',
      '--widths',
      '4-8',
      '--device',
      'cpu',
      '--db',
      join(root, 'k.db'),
      '--out',
      join(root, 'out'),
      ...extra,
    ],
    io,
  );
  return { code, err: buf.err };
}

describe('kensa train: bad inputs name the file or option', async () => {
  await writeDiscs(join(root, 'good'), 4, 32, 1);

  test('a mask of another size than its image', async () => {
    const dir = await dataset('size', (d) => png(join(d, 'masks', 'disc-01.png'), 24, () => 0));
    const r = await train(dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /The mask of disc-01 is 24×24 but its image is 32×32 \(.*size\/masks\/disc-01\.png\) \[KENSA_ERR_TRAIN_DATA\]/);
    // refused before anything is written: no empty run folder is left behind
    assert.equal(existsSync(join(root, 'out')), false);
  });

  test('an empty folder', async () => {
    const dir = join(root, 'empty');
    mkdirSync(join(dir, 'images'), { recursive: true });
    mkdirSync(join(dir, 'masks'), { recursive: true });
    const r = await train(dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /--data .*empty: IMAGES folder .*empty\/images holds no images .*\[KENSA_ERR_TRAIN_DATA\]/);
    const bare = await train(join(root, 'good', 'images'));
    assert.match(
      bare.err,
      /--data expects a folder with images\/ and masks\/ \(as kensa samples writes\) but received '.*good\/images' \[KENSA_ERR_TRAIN_DATA\]/,
    );
  });

  test('a mask that is not binary', async () => {
    const dir = await dataset('grey', (d) => png(join(d, 'masks', 'disc-02.png'), 32, (i) => (i % 3) * 100));
    const r = await train(dir);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /The mask .*grey\/masks\/disc-02\.png of disc-02 is not binary: it holds the defect values 100, 200, … besides 0 .*\[KENSA_ERR_TRAIN_DATA\]/,
    );
  });

  test('an image without a mask', async () => {
    const dir = await dataset('orphan', (d) => rmSync(join(d, 'masks', 'disc-03.png')));
    const r = await train(dir);
    assert.equal(r.code, 1);
    assert.match(r.err, /--data .*orphan: no mask in .*orphan\/masks for 1 image\(s\): disc-03 \[KENSA_ERR_TRAIN_DATA\]/);
  });

  test('widths that do not divide the crop, and a crop larger than an image', async () => {
    const dir = join(root, 'good');
    const r = await train(dir, ['--widths', '4-8-16-32', '--crop', '20']);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /Expected a multiple of 8 \(2\^\(levels−1\) for widths 4-8-16-32, which do not divide the crop\) for crop but received 20 .*\[KENSA_ERR_INVALID_ARGUMENT\]/,
    );
    const big = await train(dir, ['--crop', '64']);
    assert.equal(big.code, 1);
    assert.match(big.err, /--crop 64 is larger than the image .*good\/images\/disc-0\d\.png \(32×32\) \[KENSA_ERR_TRAIN_DATA\]/);
    const words = await train(dir, ['--widths', 'wide']);
    assert.match(words.err, /Expected 'default', 'slim' or channel counts like 64-128-256-512 for widths but received "wide"/);
  });

  test('--resume of a folder that holds no run, --out of one that holds a run, and missing flags', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--resume', join(root, 'good'), '--device', 'cpu', '--db', join(root, 'k.db')], io), 1);
    assert.match(buf.err, /--resume expects a run folder of kensa train but .*good\/checkpoint\.json cannot be read .*\[KENSA_ERR_TRAIN_DATA\]/);
    const taken = join(root, 'taken');
    mkdirSync(taken);
    writeFileSync(join(taken, 'checkpoint.json'), '{}');
    const again = capture();
    assert.equal(
      await run(
        ['--data', join(root, 'good'), '--epochs', '1', '--batch', '2', '--crop', '16', '--device', 'cpu', '--db', join(root, 'k.db'), '--out', taken],
        again.io,
      ),
      1,
    );
    assert.match(again.buf.err, /--out .*taken already holds a training run: continue it with --resume or choose another folder \[KENSA_ERR_TRAIN_DATA\]/);
    const c = capture();
    assert.equal(await run(['--data', join(root, 'good'), '--epochs', '1', '--out', join(root, 'x')], c.io), 2);
    assert.match(c.buf.err, /--batch is required \(or --resume <run-dir>\)/);
  });
});

describe('split, tiles and options', () => {
  test('the validation split is a seeded shuffle: the same seed the same split, a share of at least one', () => {
    const items = Array.from({ length: 10 }, (_, i) => ({ name: `n${i}` }));
    const a = splitItems(items, 0.2, 3);
    assert.deepEqual(splitItems(items, 0.2, 3), a);
    assert.equal(a.validation.length, 2);
    assert.equal(a.train.length, 8);
    assert.deepEqual([...a.train, ...a.validation].map((i) => i.name).sort(), items.map((i) => i.name).sort());
    assert.notDeepEqual(splitItems(items, 0.2, 4).validation, a.validation);
    assert.equal(splitItems(items, 0.01, 3).validation.length, 1);
    assert.equal(splitItems(items, 0, 3).validation.length, 0);
    assert.equal(splitItems(items.slice(0, 1), 0.5, 3).validation.length, 0);
  });

  test('the progress line: epoch, step, loss, rate, scale (under AMP only), images/s, ETA', () => {
    const p = { epoch: 2, epochs: 10, step: 5, stepsPerEpoch: 40, loss: 0.41234, lr: 9.51e-4, lossScale: 65536, imagesPerSecond: 31.24, etaMs: 185_000 };
    assert.equal(formatTrainLine(p), 'epoch 2/10 · step 5/40 · loss 0.4123 · lr 9.51e-4 · scale 65536 · 31.2 img/s · ETA 3:05');
    assert.equal(formatTrainLine({ ...p, lossScale: null, etaMs: null }), 'epoch 2/10 · step 5/40 · loss 0.4123 · lr 9.51e-4 · 31.2 img/s · ETA ?');
  });

  test('validation tiles cover the image, the last aligned to its edge', () => {
    assert.deepEqual(tileOrigins(32, 16), [0, 16]);
    assert.deepEqual(tileOrigins(40, 16), [0, 16, 24]);
    assert.deepEqual(tileOrigins(16, 16), [0]);
  });

  test('widths: default and slim, and the defaults of the options', () => {
    const c = resolveTrainConfig({ data: 'd', epochs: 2, batchSize: 8 });
    assert.deepEqual(c.widths, [64, 128, 256, 512]);
    assert.deepEqual([c.crop, c.validationFraction, c.lr, c.posWeight, c.seed, c.amp, c.augment, c.defectCrops], [256, 0.2, 1e-3, 1, 0, false, null, 0]);
    assert.deepEqual(resolveTrainConfig({ data: 'd', epochs: 2, batchSize: 8, widths: 'slim' }).widths, [48, 96, 192, 384]);
  });
});
