import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openBackend, type Backend } from '../../src/backend.js';
import { batchLimitsFor, bytesPerPixelOf, DEFAULT_BATCH, inspect, type InspectOptions, type ItemResult } from '../../src/pipeline/inspect.js';
import { DEFAULT_RECIPE, type ClassicRecipe, type LoadedRecipe, type Recipe } from '../../src/detect/recipe.js';
import { runInspection } from '../../src/pipeline/run.js';
import { openStore } from '../../src/store/store.js';
import { assertDeepClose } from '../_kit/compare.js';
import { adapterSkip } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { judged, writeFrames } from './_images.js';

const noGpu = await adapterSkip();
// one GPU device for the file (a new device compiles the recipe anew); a test's close() leaves it open
const sharedGpu = noGpu ? null : await openBackend({ device: 'gpu' });
after(() => sharedGpu?.close());
const backendFor = async (kind: 'cpu' | 'gpu'): Promise<Backend> => (kind === 'gpu' ? { ...sharedGpu!, close: () => {} } : openBackend({ device: 'cpu' }));
const dir = tempDir('kensa-inspect-');
const images = join(dir, 'images');
const { defective } = await writeFrames(images, 12, 48);

async function collect(o: Omit<InspectOptions, 'backend'>, backend: Backend): Promise<ItemResult[]> {
  const out: ItemResult[] = [];
  for await (const r of inspect([images], { backend, ...o })) out.push(r);
  return out.sort((a, b) => a.key.localeCompare(b.key));
}

const masks = (d: string) =>
  readdirSync(d)
    .sort()
    .map((f) => [f, readFileSync(join(d, f))]);

for (const kind of ['cpu', 'gpu'] as const) {
  test(`${kind} backend: worker threads give the same results and masks as the main thread`, { skip: kind === 'gpu' && noGpu }, async () => {
    const backend = await backendFor(kind);
    try {
      const batch = { maxCount: 3 };
      const inline = await collect({ batch, postWorkers: 0, masksDir: join(dir, `${kind}-inline`) }, backend);
      const pooled = await collect({ batch, postWorkers: 2, masksDir: join(dir, `${kind}-pooled`) }, backend);
      assert.equal(inline.length, 12);
      assert.deepEqual(new Set(inline.filter((r) => r.status === 'ng').map((r) => r.key)), defective);
      // a region's mean on the GPU is an f32 sum added atomically, in no fixed order (components.ts): its last bits vary
      assertDeepClose(pooled.map(judged), inline.map(judged), 1e-6);
      assert.deepEqual(masks(join(dir, `${kind}-pooled`)), masks(join(dir, `${kind}-inline`)));
    } finally {
      backend.close();
    }
  });

  test(`${kind} backend: a post stage that throws on a worker fails its batch's items; the run goes on`, { skip: kind === 'gpu' && noGpu }, async () => {
    // a recipe zod would refuse: its post stage throws at the first defect it classifies
    const broken: LoadedRecipe = { ...DEFAULT_RECIPE, recipe: { ...DEFAULT_RECIPE.recipe, classify: null } as unknown as Recipe };
    const backend = await backendFor(kind);
    try {
      const results = await collect({ recipe: broken, batch: { maxCount: 1 }, postWorkers: 2 }, backend);
      assert.equal(results.length, 12);
      const stage = kind === 'cpu' ? 'whole recipe' : 'post';
      for (const r of results) {
        if (defective.has(r.key)) {
          assert.equal(r.status, 'error', r.key);
          assert.match(r.error!, new RegExp(`^The ${stage} failed on a worker thread: .*spotMaxElongation`));
        } else {
          assert.equal(r.status, 'ok', r.key);
        }
      }
    } finally {
      backend.close();
    }
  });
}

test('postWorkers is checked before anything runs or is stored', async () => {
  const backend = await openBackend({ device: 'cpu' });
  const message = 'Expected integer between 0 and 256 for postWorkers but received 257 of type number';
  await assert.rejects(inspect([images], { backend, postWorkers: 257 }).next(), { name: 'KensaError', message });
  const db = join(dir, 'validation.db');
  await assert.rejects(runInspection([images], { db, backend, postWorkers: 257 }), { message });
  const store = await openStore(db);
  assert.deepEqual(await store.listRuns(), []);
  await store.close();
});

test('batch limits: the CPU keeps the asked pixel budget', async () => {
  const cpu = await openBackend({ device: 'cpu' });
  assert.deepEqual(batchLimitsFor(cpu), DEFAULT_BATCH);
  assert.equal(batchLimitsFor(cpu, { maxPixels: 1000 }).maxPixels, 1000);
});

test("batch limits: a batch's widest buffer fits the adapter's largest storage binding", { skip: noGpu }, async () => {
  const backend = await backendFor('gpu');
  try {
    const binding = backend.gpu!.info.limits.maxStorageBufferBindingSize!;
    const limits = batchLimitsFor(backend);
    assert.ok(limits.maxPixels * 4 <= binding, `${limits.maxPixels} px × 4 B > ${binding} B`);
    assert.equal(limits.maxPixels, Math.min(DEFAULT_BATCH.maxPixels, Math.floor(binding / 4)));
    assert.equal(batchLimitsFor(backend, { maxPixels: 64 }).maxPixels, 64);
    // the labelling's per-block statistics are the widest buffer of a recipe: 11 B/px 8-connected, 22 B/px 4-connected
    const classic = DEFAULT_RECIPE.recipe as ClassicRecipe;
    assert.equal(bytesPerPixelOf(classic), 11);
    assert.equal(bytesPerPixelOf({ ...classic, components: { ...classic.components, connectivity: 4 } }), 22);
    assert.equal(batchLimitsFor(backend, {}, 22).maxPixels, Math.min(DEFAULT_BATCH.maxPixels, Math.floor(binding / 22)));
  } finally {
    backend.close();
  }
});

test('a default batch of 2048² frames on this adapter: every item inspected, none lost to the binding limit', { skip: noGpu }, async () => {
  const big = join(tempDir('kensa-inspect-big-'), 'images');
  await writeFrames(big, 3, 2048);
  const backend = await backendFor('gpu');
  try {
    const got: ItemResult[] = [];
    for await (const r of inspect([big], { backend, postWorkers: 0 })) got.push(r);
    assert.equal(got.length, 3);
    assert.deepEqual(
      got.filter((r) => r.status === 'error').map((r) => r.error),
      [],
    );
  } finally {
    backend.close();
  }
});
