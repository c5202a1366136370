/**
 * A kensa UNet (safetensors) as the model recipe's model: the same tiler as ONNX models (windows
 * stitched by their centres) gives the whole-image logits within 1e-5 when the overlap covers the
 * net's receptive field, with no jump at tile borders that the whole-image output lacks (and with
 * overlap 0 the check sees the seams); GPU (lavapipe) and CPU runs give the same defects; a bad
 * file or a recipe that contradicts the file is refused naming it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { detect } from '../../src/detect/detector.js';
import { modelOutput, openRecipeModels } from '../../src/detect/model.js';
import { parseRecipe, type ModelRecipe } from '../../src/detect/recipe.js';
import { isKensaError } from '../../src/errors.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import type { OpenModel } from '../../src/models/registry.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { tileGrid } from '../../src/tiling/grid.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { drawnUNet } from '../_kit/unet.js';

const gpu = await testGpu();
const dir = tempDir('unet-model');
const opened: OpenModel[] = [];
after(() => Promise.all(opened.map((m) => m.close())));

/** A drawn UNet written to `name`; its path. */
async function unetFile(name: string, widths: number[]): Promise<string> {
  const path = join(dir, name);
  writeFileSync(path, await (await drawnUNet(widths, 1, 1, 11)).toSafetensors());
  return path;
}

/** Opens the model recipe of `path` with `fields` on `device`; the recipe as the run stores it. */
async function open(path: string, fields: Record<string, unknown>, on: Gpu | null): Promise<{ recipe: ModelRecipe; model: OpenModel }> {
  const loaded = parseRecipe({ kind: 'model', model: { path, task: 'segmentation' }, ...fields });
  const { loaded: filled, models } = await openRecipeModels(loaded, {}, 2, on);
  opened.push(...models);
  return { recipe: filled.recipe as ModelRecipe, model: models[0]! };
}

/** A noisy surface (values pixel / 255) with a few dark discs: structure for the net to respond to. */
function surface(w: number, h: number, seed: number): Uint8Array {
  const next = mulberry32(seed);
  const discs = Array.from({ length: 4 }, () => ({ x: next() * w, y: next() * h, r: 4 + next() * 10 }));
  return Uint8Array.from({ length: w * h }, (_, i) => {
    const x = i % w;
    const y = Math.floor(i / w);
    const inside = discs.some((d) => (x - d.x) ** 2 + (y - d.y) ** 2 < d.r * d.r);
    return Math.round((inside ? 60 : 160) + 40 * (next() - 0.5));
  });
}

/** The largest difference, over every pair of pixels across a vertical or horizontal tile border, of the jump between them in `a` and in `b`. */
function seamDifference(a: ArrayLike<number>, b: ArrayLike<number>, w: number, h: number, tile: number): number {
  let worst = 0;
  const jump = (o: ArrayLike<number>, i: number, j: number) => o[i]! - o[j]!;
  for (let x = tile; x < w; x += tile)
    for (let y = 0; y < h; y++) worst = Math.max(worst, Math.abs(jump(a, y * w + x, y * w + x - 1) - jump(b, y * w + x, y * w + x - 1)));
  for (let y = tile; y < h; y += tile)
    for (let x = 0; x < w; x++) worst = Math.max(worst, Math.abs(jump(a, y * w + x, (y - 1) * w + x) - jump(b, y * w + x, (y - 1) * w + x)));
  return worst;
}

test('an image larger than the tile stitches without seams: tiled logits equal the whole-image ones (1e-5)', async () => {
  const path = await unetFile('three.safetensors', [4, 8, 16]);
  const [w, h] = [150, 98]; // not multiples of the stride 4: the runner pads
  const input = { data: Float32Array.from(surface(w, h, 3), (v) => v / 255), dims: [1, 1, h, w] as [number, number, number, number] };
  const whole = await open(path, {}, null);
  assert.equal(whole.recipe.activation, 'sigmoid', "the file's head becomes the recipe's activation");
  const full = await modelOutput(whole.model.session, { ...input, data: input.data.slice() }, whole.recipe);
  const tiled = await open(path, { tiling: { tile: 40, overlap: 30 } }, null);
  assert.equal(tiled.recipe.tiling.align, 4, "tiles align to the net's stride");
  assert.ok(tileGrid(w, h, { tile: 40, halo: 30, align: 4 }).length > 6);
  const stitched = await modelOutput(tiled.model.session, { ...input, data: input.data.slice() }, tiled.recipe);
  assert.deepEqual(stitched.dims, full.dims);
  let worst = 0;
  for (let i = 0; i < full.data.length; i++) worst = Math.max(worst, Math.abs(stitched.data[i]! - full.data[i]!));
  assert.ok(worst < 1e-5, `largest difference ${worst}`);
  assert.ok(seamDifference(stitched.data, full.data, w, h, 40) < 1e-5);
  // without context the windows' borders show: the check sees seams
  const blind = await open(path, { tiling: { tile: 40, overlap: 0 } }, null);
  const seamed = await modelOutput(blind.model.session, { ...input, data: input.data.slice() }, blind.recipe);
  assert.ok(seamDifference(seamed.data, full.data, w, h, 40) > 1e-3);
});

test('GPU (nn engine) and CPU runs of a tiled UNet give the same defects', { skip: gpuSkip(gpu) }, async () => {
  const path = await unetFile('two.safetensors', [4, 8]);
  const [w, h] = [96, 72];
  const frames = new Uint8Array([...surface(w, h, 5), ...surface(w, h, 6)]);
  // a drawn net's probabilities sit anywhere: threshold at their 90th percentile, so there are regions to compare
  const probe = await open(path, {}, null);
  const logits = (await modelOutput(probe.model.session, { data: Float32Array.from(frames, (v) => v / 255), dims: [2, 1, h, w] }, probe.recipe)).data;
  const p = Float32Array.from(logits, (v) => 1 / (1 + Math.exp(-v))).sort();
  // between two probabilities at least 1e-5 apart: flat regions share one value, and a threshold on it would hand
  // the whole region to whichever backend rounds an ulp higher (hardware GPUs fuse multiply-adds)
  let k = Math.floor(0.9 * p.length);
  while (k + 2 < p.length && p[k + 1]! - p[k]! < 1e-5) k++;
  const fields = { tiling: { tile: 32, overlap: 16 }, threshold: { value: (p[k]! + p[k + 1]!) / 2 }, components: { minArea: 4 } };
  // one model per file is registered at a time (by its sha256): the CPU one runs and closes before the GPU one opens
  const cpu = await open(path, fields, null);
  assert.match(cpu.model.session.runsOn, /kensa nn UNet 4-8 on cpu/);
  const a = await detect(Tensor.fromArray(frames, [2, 1, h, w], 'u8'), cpu.recipe, true);
  await cpu.model.close();
  const onGpu = await open(path, fields, gpu);
  assert.match(onGpu.model.session.runsOn, /kensa nn UNet 4-8 on gpu/);
  using batch = await Tensor.fromArray(frames, [2, 1, h, w], 'u8').toGpu(gpu!);
  const b = await detect(batch, onGpu.recipe, true);
  // an input whose widest activation (2 · 4 channels of f32) passes the storage binding is refused, naming the way out
  const binding = gpu!.info.limits.maxStorageBufferBindingSize!;
  const wide = Math.ceil(binding / (32 * 64)) + 2;
  await assert.rejects(
    onGpu.model.session.runBatch(new Float32Array(64 * wide), [1, 1, 64, wide]),
    (e: unknown) => isKensaError(e) && e.code === 'KENSA_ERR_GPU_OUT_OF_MEMORY' && /--tile/.test(e.message),
  );
  assert.ok(
    a.some((d) => d.defects.length > 0),
    'the drawn net finds regions to compare',
  );
  for (const [i, da] of a.entries()) {
    const db = b[i]!;
    assert.equal(db.verdict, da.verdict);
    assert.deepEqual(
      db.defects.map((d) => [d.x, d.y, d.w, d.h, d.area]),
      da.defects.map((d) => [d.x, d.y, d.w, d.h, d.area]),
    );
    for (const [k, d] of da.defects.entries()) assert.ok(Math.abs(db.defects[k]!.meanGradient - d.meanGradient) < 1e-4);
  }
});

test('a bad safetensors file, or a recipe its file contradicts, is refused naming it', async () => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, new Uint8Array([8, 0, 0, 0, 0, 0, 0, 0, 123, 125]));
  await assert.rejects(open(bad, {}, null), (e: unknown) => isKensaError(e) && e.code === 'KENSA_ERR_WEIGHTS' && e.message.includes(bad));
  const path = await unetFile('net.safetensors', [4, 8]);
  await assert.rejects(
    open(path, { normalize: { mean: 0.5, std: 1 } }, null),
    (e: unknown) => isKensaError(e) && e.code === 'KENSA_ERR_MODEL' && e.message.includes(path) && /normalize/.test(e.message),
  );
  await assert.rejects(
    open(path, { activation: 'softmax' }, null),
    (e: unknown) => isKensaError(e) && e.code === 'KENSA_ERR_MODEL' && /sigmoid/.test(e.message),
  );
});
