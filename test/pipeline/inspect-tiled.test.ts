import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openBackend, type Backend } from '../../src/backend.js';
import { builtinRecipe, DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import { inspect, tilingFor, type InspectOptions, type ItemResult } from '../../src/pipeline/inspect.js';
import { testGpu } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { writeFrames } from './_images.js';

const gpu = await testGpu();
const dir = tempDir('kensa-inspect-tiled-');
const images = join(dir, 'images');
await writeFrames(images, 3, 160);

/**
 * Runs `f` with the backend as if its storage binding were `bytes` (a batch of one 160² frame,
 * 11 B/px, does not fit 64 KiB): its limits say so and its device refuses larger buffers.
 */
async function withBinding<T>(backend: Backend, bytes: number, f: (small: Backend) => Promise<T>): Promise<T> {
  const real = backend.gpu!;
  const info = { ...real.info, limits: { ...real.info.limits, maxStorageBufferBindingSize: bytes } };
  const alloc = real.alloc;
  real.alloc = (n: number) => {
    if (n > bytes) throw new Error(`A tensor of ${n} bytes exceeds this adapter's largest storage binding (${bytes} bytes)`);
    return alloc.call(real, n);
  };
  try {
    return await f({ ...backend, gpu: Object.create(real, { info: { value: info } }) as typeof real });
  } finally {
    real.alloc = alloc;
  }
}

async function collect(backend: Backend, o: Omit<InspectOptions, 'backend'>): Promise<ItemResult[]> {
  const out: ItemResult[] = [];
  for await (const r of inspect([images], { backend, postWorkers: 0, ...o })) out.push(r);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

const masks = (d: string) =>
  readdirSync(d)
    .sort()
    .map((f) => [f, readFileSync(join(d, f))]);

test('an image whose batch of one passes the storage binding runs tile by tile, with the untiled results', {
  skip: gpu ? false : 'no GPU adapter',
}, async () => {
  const backend = await openBackend({ device: 'gpu' });
  try {
    const whole = await collect(backend, { masksDir: join(dir, 'whole') });
    const geometry = { width: 160, height: 160, channels: 1, dtype: 'u8' };
    assert.equal(tilingFor(backend, DEFAULT_RECIPE.recipe, geometry), null, 'a frame that fits takes the batch path');
    const tiled = await withBinding(backend, 64 * 1024, async (small) => {
      // 128² f32 crops: 80 px interiors with the default recipe's 24 px halo, so 2 × 2 tiles
      assert.deepEqual(tilingFor(small, DEFAULT_RECIPE.recipe, geometry), { backend: small, tile: 80 });
      const refusal =
        "An image of 160×160 needs 281600 bytes in one storage binding, more than this adapter's 65536, and the decoupled recipe cannot run tile by tile: inspect it with --device cpu, or at a recipe input.scale below 1";
      assert.throws(() => tilingFor(small, builtinRecipe('decoupled')!.recipe, geometry), { code: 'KENSA_ERR_GPU_OUT_OF_MEMORY', message: refusal });
      const decoupled = await collect(small, { recipe: builtinRecipe('decoupled')! });
      assert.deepEqual(
        decoupled.map((r) => r.error),
        Array(3).fill(refusal),
        'k-means and Canny need the whole image: their items fail with the reason',
      );
      const pooled = await collect(small, { postWorkers: 2 });
      const inline = await collect(small, { masksDir: join(dir, 'tiled') });
      assert.deepEqual(
        pooled.map((r) => r.defects),
        inline.map((r) => r.defects),
        'the post stage of a tiled image runs on a worker alike',
      );
      return inline;
    });
    assert.deepEqual(
      tiled.map((r) => [r.key, r.status, r.error]),
      whole.map((r) => [r.key, r.status, r.error]),
    );
    assert.deepEqual(
      whole.map((r) => r.status),
      ['ok', 'ng', 'ng'],
    );
    const box = (r: ItemResult) => r.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]);
    assert.deepEqual(tiled.map(box), whole.map(box));
    for (const [i, r] of tiled.entries()) {
      for (const [k, d] of r.defects.entries()) assert.ok(Math.abs(d.meanGradient - whole[i]!.defects[k]!.meanGradient) < 1e-5);
    }
    assert.deepEqual(masks(join(dir, 'tiled')), masks(join(dir, 'whole')));
  } finally {
    backend.close();
  }
});
