import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { classicDetector, detectClassic } from '../../src/detect/classic.js';
import sharp from 'sharp';
import { decodeFile, decodeHashed, PixelLimitError, readHashedImageFile } from '../../src/pipeline/decode.js';
import { transferables } from '../../src/detect/detector.js';
import { DEFAULT_RECIPE, type ClassicRecipe } from '../../src/detect/recipe.js';
import { readAndDecodeItem, WorkerPool, resolvePostWorkers } from '../../src/pipeline/workers.js';
import { Tensor } from '../../src/tensor.js';
import { tempDir } from '../_kit/tmp.js';

const recipe = DEFAULT_RECIPE.recipe as ClassicRecipe;
const H = 64;
const W = 80;

/** N frames: even ones with a bright spot, odd ones flat. */
function frames(n: number): Uint8Array {
  const img = new Uint8Array(n * H * W).fill(120);
  for (let i = 0; i < n; i += 2) for (let y = 20; y < 27; y++) for (let x = 30; x < 37; x++) img[i * H * W + y * W + x] = 235;
  return img;
}

describe('WorkerPool', () => {
  const pool = new WorkerPool(2);
  after(() => pool.destroy());

  test('the whole recipe on a worker equals it on this thread; frames go in and masks come back by transfer', async () => {
    const host = frames(3);
    const inline = await detectClassic(Tensor.fromArray(host.slice(), [3, 1, H, W], 'u8'), recipe, true);
    const r = await pool.detect(recipe, host, [3, 1, H, W], true);
    assert.equal(host.byteLength, 0, 'the frames were transferred (detached here)');
    assert.deepEqual(r.detections, inline);
    assert.deepEqual(
      r.detections.map((d) => d.verdict),
      ['NG', 'OK', 'NG'],
    );
  });

  test('post stages on a worker equal them on this thread; the payloads are transferred', async () => {
    const payloads = await classicDetector.device(Tensor.fromArray(frames(2), [2, 1, H, W], 'u8'), recipe, true);
    const inline = payloads.map((p) => classicDetector.post(structuredClone(p), recipe));
    const r = await pool.post(recipe, payloads);
    assert.deepEqual(r.detections, inline);
    assert.equal(payloads[0]!.area.byteLength, 0, 'the payload was transferred (detached here)');
  });

  test('batches sent at once run on more than one thread', async () => {
    const runs = await Promise.all(Array.from({ length: 8 }, () => pool.detect(recipe, frames(2), [2, 1, H, W], false)));
    assert.equal(new Set(runs.map((r) => r.thread)).size, 2, `threads ${runs.map((r) => r.thread).join(', ')}`);
  });

  test('a task that throws rejects with KENSA_ERR_WORKER naming the stage; the pool goes on', async () => {
    const broken = { area: null } as unknown as Parameters<WorkerPool['post']>[1][number];
    await assert.rejects(
      pool.post(recipe, [broken]),
      (e: unknown) => isKensaError(e, 'KENSA_ERR_WORKER') && /^The post failed on a worker thread: .*length/.test(e.message),
    );
    const r = await pool.detect(recipe, frames(1), [1, 1, H, W], false);
    assert.equal(r.detections[0]!.verdict, 'NG');
  });
});

test('tasks running when the pool is destroyed reject with KENSA_ERR_WORKER', async () => {
  const pool = new WorkerPool(1);
  const running = assert.rejects(
    pool.detect(recipe, frames(4), [4, 1, H, W], false),
    (e: unknown) => isKensaError(e, 'KENSA_ERR_WORKER') && /^The whole recipe failed on a worker thread: /.test(e.message),
  );
  await pool.destroy();
  await running;
});

test('postWorkers: 0 … 256, default cores', () => {
  assert.equal(resolvePostWorkers(undefined), os.availableParallelism());
  assert.equal(resolvePostWorkers(0), 0);
  assert.throws(() => resolvePostWorkers(-1), {
    name: 'KensaError',
    message: 'Expected integer between 0 and 256 for postWorkers but received -1 of type number',
  });
  assert.throws(() => resolvePostWorkers(1.5), { message: 'Expected integer between 0 and 256 for postWorkers but received 1.5 of type number' });
  assert.throws(() => resolvePostWorkers('2'), { message: 'Expected integer between 0 and 256 for postWorkers but received "2" of type string' });
});

test('transferables: whole buffers of typed arrays at any depth, once each; views into larger buffers are left to copy', () => {
  const a = new Int32Array(4);
  const b = new Uint8Array(8);
  const big = new Uint8Array(16);
  assert.deepEqual(transferables({ a, nested: [{ b }, a], view: big.subarray(4, 8), n: 3, s: 'x', none: null }), [a.buffer, b.buffer]);
  assert.deepEqual(transferables(big), [big.buffer]);
});

test("WorkerPool.readAndDecode: a colour file decoded on a worker as on this thread, a gray one's bytes sent back to decode here; errors keep their class", async () => {
  const dir = tempDir('kensa-workers-read-');
  const colour = join(dir, 'colour.png');
  const gray = join(dir, 'gray.png');
  const rgb = new Uint8Array(40 * 30 * 3).map((_, i) => (i * 37) % 251);
  const colourPng = await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } })
    .png()
    .toBuffer();
  writeFileSync(colour, colourPng);
  await sharp(rgb.subarray(0, 40 * 30), { raw: { width: 40, height: 30, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(gray);
  const options = { channels: 'gray', maxPixels: 10_000 } as const;
  const pool = new WorkerPool(1);
  try {
    const there = await pool.readAndDecode(colour, options);
    const here = await decodeHashed(colour, readFileSync(colour), options);
    assert.deepEqual(there, { image: here.image, hash: here.hash });
    assert.equal(there.hash, createHash('sha256').update(colourPng).digest('hex'));
    // gray to gray is all libvips: sharp's buffer would be copied back, so the bytes come instead
    const g = await pool.readAndDecode(gray, options);
    assert.ok(!('image' in g));
    assert.deepEqual(g, await readHashedImageFile(gray));
    // a run's decode step: the same image and hash with or without the pool, whoever decodes
    for (const path of [colour, gray]) assert.deepEqual(await readAndDecodeItem(pool, path, options), await readAndDecodeItem(null, path, options));
    // planar RGB from a gray file runs JavaScript: decoded there
    assert.deepEqual(await pool.readAndDecode(gray, { ...options, channels: 'rgb' }), {
      image: await decodeFile(gray, { ...options, channels: 'rgb' }),
      hash: g.hash,
    });
    await assert.rejects(
      pool.readAndDecode(join(dir, 'missing.png'), options),
      (e: unknown) => isKensaError(e) && e.code === 'KENSA_ERR_DECODE' && /Cannot decode .*missing\.png: file not found/.test(e.message),
    );
    await assert.rejects(
      pool.readAndDecode(colour, { ...options, maxPixels: 100 }),
      (e: unknown) => e instanceof PixelLimitError && /exceeds the limit of 100/.test(e.message),
    );
  } finally {
    await pool.destroy();
  }
});

test("WorkerPool.decode: an upload's pixels and sha256 from a worker, as on this thread; decode errors keep their class (PixelLimitError)", async () => {
  // a colour PNG: the RGB → gray conversion is the part that moved off the main thread
  const rgb = new Uint8Array(40 * 30 * 3).map((_, i) => (i * 37) % 251);
  const png = await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } })
    .png()
    .toBuffer();
  const options = { channels: 'gray', maxPixels: 10_000 } as const;
  const pool = new WorkerPool(1);
  try {
    const here = await decodeHashed('a.png', Buffer.from(png), options);
    const there = await pool.decode('a.png', Buffer.from(png), options);
    assert.deepEqual(there, here);
    assert.equal(there.hash, createHash('sha256').update(png).digest('hex'));
    await assert.rejects(pool.decode('b.png', Buffer.from(png), { ...options, maxPixels: 100 }), (e: unknown) => {
      return (
        e instanceof PixelLimitError &&
        e.code === 'KENSA_ERR_DECODE' &&
        e.message === 'Cannot decode b.png: 40×30 = 1200 pixels exceeds the limit of 100 (maxPixels)'
      );
    });
    await assert.rejects(
      pool.decode('c.png', Buffer.from('not an image'), options),
      (e: unknown) => isKensaError(e) && !(e instanceof PixelLimitError) && /^Cannot decode c\.png: /.test(e.message),
    );
  } finally {
    await pool.destroy();
  }
});

/** A colour JPEG of patterned noise, w × h: slow to decode when large. */
function noiseJpeg(w: number, h: number): Promise<Buffer> {
  return sharp(
    new Uint8Array(w * h * 3).map((_, i) => (i * 7919) % 251),
    { raw: { width: w, height: h, channels: 3 } },
  )
    .jpeg({ quality: 95 })
    .toBuffer();
}

test('a pool of fewer threads than cores keeps a decode per core in flight: a small upload overtakes a large one on a one-thread pool', async () => {
  const pool = new WorkerPool(1);
  try {
    assert.equal(pool.tasksPerThread, os.availableParallelism());
    const perCore = new WorkerPool(os.availableParallelism());
    assert.equal(perCore.tasksPerThread, 1);
    await perCore.destroy();
    const [large, small] = await Promise.all([noiseJpeg(3000, 3000), noiseJpeg(16, 16)]);
    const options = { channels: 'gray', maxPixels: 10_000_000 } as const;
    const done: string[] = [];
    await Promise.all([
      pool.decode('large.jpg', large, options).then(() => done.push('large')),
      pool.decode('small.jpg', small, options).then(() => done.push('small')),
    ]);
    // one task per thread would finish them in order; two in flight let the small one through first
    assert.deepEqual(done, pool.tasksPerThread > 1 ? ['small', 'large'] : ['large', 'small']);
  } finally {
    await pool.destroy();
  }
});

test('detection tasks wait behind no queued decode: post stages sent after a queue of decodes finish before most of them', async () => {
  const pool = new WorkerPool(1);
  try {
    const large = await noiseJpeg(3000, 3000);
    const payloads = await classicDetector.device(Tensor.fromArray(frames(2), [2, 1, H, W], 'u8'), recipe, false);
    const options = { channels: 'gray', maxPixels: 10_000_000 } as const;
    const done: string[] = [];
    const decodes = Array.from({ length: pool.tasksPerThread + 8 }, (_, i) =>
      pool.decode(`d${i}.jpg`, Buffer.from(large), options).then(() => done.push('decode')),
    );
    await Promise.all([...decodes, pool.post(recipe, payloads).then(() => done.push('post'))]);
    // it starts as soon as a thread's slot frees; first in, first out it waited for the decodes queued before it
    assert.ok(done.indexOf('post') <= pool.tasksPerThread, done.join(', '));
  } finally {
    await pool.destroy();
  }
});
