import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { Compose, Crack, HorizontalFlip, replay, VerticalFlip } from '../../src/augment/index.js';
import { openBackend } from '../../src/backend.js';
import type { AugmentItem, LoadedItem } from '../../src/pipeline/augment-files.js';
import { loadItem } from '../../src/pipeline/augment-files.js';
import { augmentLoader, type LoaderBatch } from '../../src/pipeline/augment-loader.js';
import { Tensor } from '../../src/tensor.js';
import { adapterSkip } from '../_kit/gpu.js';

const noAdapter = await adapterSkip();

const root = mkdtempSync(join(tmpdir(), 'kensa-augment-loader-'));
after(() => rmSync(root, { recursive: true, force: true }));
const images = join(root, 'images');
const masks = join(root, 'masks');
const pipeline = Compose({ transforms: [HorizontalFlip({ p: 0.5 }), VerticalFlip({ p: 0.5 }), Crack({ p: 0.5 })] });

/** Five 16×12 images and two 20×12, each with a mask. */
before(async () => {
  mkdirSync(images);
  mkdirSync(masks);
  for (let i = 0; i < 7; i++) {
    const w = i < 5 ? 16 : 20;
    const px = Uint8Array.from({ length: w * 12 }, (_, k) => (k * 7 + i * 31) % 251);
    await sharp(px, { raw: { width: w, height: 12, channels: 1 } })
      .png()
      .toFile(join(images, `im${i}.png`));
    const m = Uint8Array.from({ length: w * 12 }, (_, k) => (k % w < 4 ? 1 : 0));
    await sharp(m, { raw: { width: w, height: 12, channels: 1 } })
      .png()
      .toFile(join(masks, `im${i}.png`));
  }
});

async function collect(options: Partial<Parameters<typeof augmentLoader>[0]> = {}): Promise<{ batches: LoaderBatch[]; bytes: string[] }> {
  const backend = await openBackend({ device: 'cpu' });
  const batches: LoaderBatch[] = [];
  const bytes: string[] = [];
  for await (const b of augmentLoader({ images, masks, pipeline, backend, batchSize: 2, seed: 3, epochs: 2, ...options })) {
    batches.push(b);
    bytes.push(Buffer.from((b.image.data as Uint8Array).buffer).toString('base64') + Buffer.from((b.mask!.data as Uint8Array).buffer).toString('base64'));
  }
  return { batches, bytes };
}

describe('augmentLoader', () => {
  test('firstEpoch starts with that epoch: a resumed run gets the batches an uninterrupted one got', async () => {
    const whole = await collect({ epochs: 2 });
    const second = await collect({ epochs: 1, firstEpoch: 1 });
    const fromSecond = whole.batches.flatMap((b, i) => (b.epoch === 1 ? [i] : []));
    assert.deepEqual(
      second.bytes,
      fromSecond.map((i) => whole.bytes[i]),
    );
    assert.deepEqual(
      second.batches.map((b) => [b.epoch, b.indices]),
      fromSecond.map((i) => [1, whole.batches[i]!.indices]),
    );
  });

  test('items replaces the folder listing (a training split)', async () => {
    const items: AugmentItem[] = ['im1', 'im3'].map((name) => ({ name, path: join(images, `${name}.png`), maskPath: join(masks, `${name}.png`) }));
    const { batches } = await collect({ items, epochs: 1, shuffle: false });
    assert.deepEqual(
      batches.map((b) => b.names),
      [['im1', 'im3']],
    );
  });

  test('the same seed yields the same batches, bytes and parameters; another seed others', async () => {
    const a = await collect();
    const b = await collect();
    assert.deepEqual(b.bytes, a.bytes);
    assert.deepEqual(
      b.batches.map((x) => [x.names, x.indices, x.params]),
      a.batches.map((x) => [x.names, x.indices, x.params]),
    );
    const c = await collect({ seed: 4 });
    assert.notDeepEqual(
      c.batches.map((x) => x.names),
      a.batches.map((x) => x.names),
    );
  });

  test('every image once per epoch, one size per batch, batches of batchSize but for the partial ones; dropLast drops those', async () => {
    const { batches } = await collect();
    for (const epoch of [0, 1]) {
      const seen = batches.filter((b) => b.epoch === epoch).flatMap((b) => b.names);
      assert.deepEqual([...seen].sort(), ['im0', 'im1', 'im2', 'im3', 'im4', 'im5', 'im6']);
    }
    for (const b of batches) {
      const widths = new Set(b.names.map((n) => (Number(n.slice(2)) < 5 ? 16 : 20)));
      assert.equal(widths.size, 1, 'one size');
      assert.equal(b.image.shape[3], [...widths][0]);
      assert.deepEqual(b.mask!.shape, [b.names.length, 1, 12, b.image.shape[3]]);
      assert.deepEqual(
        b.indices,
        b.names.map((n) => b.epoch * 7 + Number(n.slice(2))),
      );
    }
    // per epoch: 16-wide 2 + 2 + 1 (partial), 20-wide 2
    assert.deepEqual(batches.map((b) => b.names.length).sort(), [1, 1, 2, 2, 2, 2, 2, 2]);
    const dropped = await collect({ dropLast: true });
    assert.ok(dropped.batches.every((b) => b.names.length === 2));
    assert.equal(dropped.batches.length, 6);
  });

  test("a batch is the pipeline's replay on its images: the parameters it reports are the ones it drew", async () => {
    const { batches } = await collect({ epochs: 1 });
    const b = batches[0]!;
    const loaded = await Promise.all(b.names.map((name) => loadItem({ name, path: join(images, `${name}.png`), maskPath: join(masks, `${name}.png`) })));
    const [w, c, n] = [loaded[0]!.image.width, loaded[0]!.image.channels, loaded.length];
    const image = Tensor.fromArray(Uint8Array.from(loaded.flatMap((l) => [...l.image.data])), [n, c, 12, w], 'u8');
    const mask = Tensor.fromArray(Uint8Array.from(loaded.flatMap((l) => [...(l.mask!.data as Uint8Array)])), [n, 1, 12, w], 'u8');
    const again = replay(pipeline, { image, mask }, b.params);
    assert.deepEqual(again.image.data, b.image.data);
    assert.deepEqual(again.mask!.data, b.mask!.data);
  });

  test('the next batch is read while the current one is used (prefetch 1)', async () => {
    const backend = await openBackend({ device: 'cpu' });
    const reads: string[] = [];
    const load = (item: AugmentItem): Promise<LoadedItem> => {
      reads.push(item.name);
      return loadItem(item);
    };
    const it = augmentLoader({ images, masks, pipeline, backend, batchSize: 2, seed: 1, shuffle: false, load });
    const first = await it.next();
    assert.deepEqual(first.value!.names, ['im0', 'im1']);
    // while the consumer holds batch 1, batch 2 (im2, im3) has been read already
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(reads.includes('im2') && reads.includes('im3'), `read so far: ${reads.join(', ')}`);
    assert.ok(!reads.includes('im5'), 'not more than one batch ahead');
    await it.return(undefined);
  });

  test("on a GPU (lavapipe): batches live on the GPU and hold the CPU loader's bytes", { skip: noAdapter }, async () => {
    const cpu = await collect({ epochs: 1 });
    const backend = await openBackend({ device: 'gpu' });
    try {
      let k = 0;
      for await (const b of augmentLoader({ images, masks, pipeline, backend, batchSize: 2, seed: 3, epochs: 1 })) {
        assert.equal(b.image.device, 'gpu');
        const want = cpu.batches[k++]!;
        assert.deepEqual(b.names, want.names);
        assert.deepEqual((await b.image.toCpu()).data, want.image.data);
        assert.deepEqual((await b.mask!.toCpu()).data, want.mask!.data);
        b.image.dispose();
        b.mask?.dispose();
      }
      assert.equal(k, cpu.batches.length);
    } finally {
      backend.close();
    }
  });

  test('images without masks are named', async () => {
    const backend = await openBackend({ device: 'cpu' });
    const partial = join(root, 'partial-masks');
    mkdirSync(partial);
    await sharp(new Uint8Array(16 * 12), { raw: { width: 16, height: 12, channels: 1 } })
      .png()
      .toFile(join(partial, 'im0.png'));
    await assert.rejects(augmentLoader({ images, masks: partial, pipeline, backend, batchSize: 2, seed: 1 }).next(), {
      code: 'KENSA_ERR_AUGMENT_DATA',
      message: `Masks are missing in ${partial} for 6 of the 7 images: im1, im2, im3, im4, im5, im6`,
    });
  });
});
