import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { detect } from '../../src/detect/detector.js';
import { openRecipeModels } from '../../src/detect/model.js';
import { parseRecipe, type ModelRecipe } from '../../src/detect/recipe.js';
import { isKensaError } from '../../src/errors.js';
import { encodeOnnxModel, OnnxGraphBuilder } from '../../src/models/onnx-writer.js';
import { openModel, type OpenModel } from '../../src/models/registry.js';
import { thresholdModel, tinyClassifier, TINY_UNET_RADIUS, tinyUnet } from '../../src/models/tiny.js';
import { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';

const opened: OpenModel[] = [];
after(() => Promise.all(opened.map((m) => m.close())));

/** Opens `bytes` as model `path` on the CPU provider; returns the model recipe for it with `fields`. */
async function modelRecipe(bytes: Uint8Array, path: string, fields: Record<string, unknown> = {}, task = 'segmentation'): Promise<ModelRecipe> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  opened.push(await openModel({ path, bytes, sha256 }, { providers: ['cpu'], intraOpThreads: 1 }));
  return parseRecipe({ kind: 'model', model: { path, sha256, task }, ...fields }).recipe as ModelRecipe;
}

/** A u8 image of `value` with a `v` square of side s at (x, y). */
function squareImage(w: number, h: number, value: number, square: { x: number; y: number; s: number; v: number }): Uint8Array {
  const data = new Uint8Array(w * h).fill(value);
  for (let y = square.y; y < square.y + square.s; y++) data.fill(square.v, y * w + square.x, y * w + square.x + square.s);
  return data;
}

test('segmentation: the probability map above the threshold becomes the classic recipe regions', async () => {
  const r = await modelRecipe(thresholdModel({ level: 0.5, gain: 20 }), 'bright.onnx', { components: { minArea: 4 } });
  const a = squareImage(32, 24, 20, { x: 10, y: 6, s: 6, v: 200 });
  const b = new Uint8Array(32 * 24).fill(20);
  const batch = Tensor.fromArray(new Uint8Array([...a, ...b]), [2, 1, 24, 32], 'u8');
  const [da, db] = await detect(batch, r, true);
  assert.equal(da!.verdict, 'NG');
  assert.equal(da!.defects.length, 1);
  const d = da!.defects[0]!;
  assert.deepEqual([d.x, d.y, d.w, d.h, d.area], [10, 6, 6, 6, 36]);
  // the mean probability over the square is σ(20 · (200/255 − 0.5)); its score that over the threshold
  const p = 1 / (1 + Math.exp(-20 * (200 / 255 - 0.5)));
  assert.ok(Math.abs(d.meanGradient - p) < 1e-5);
  assert.ok(Math.abs(d.score - p / 0.5) < 1e-5);
  assert.equal(da!.mask!.filter((v) => v === 255).length, 36);
  assert.equal(db!.verdict, 'OK');
  assert.deepEqual(db!.defects, []);
});

test('segmentation: normalisation and the sigmoid activation apply as the recipe says', async () => {
  // the model outputs logits gain · (x − level); with mean 0.5 and std 0.25 its input is (v/255 − 0.5) / 0.25
  const g = new OnnxGraphBuilder();
  const x = g.input('image', ['batch', 1, 'height', 'width']);
  g.output(g.conv(x, [1], [-1], 1, 1, 1), ['batch', 1, 'height', 'width']); // logit = x − 1: positive where v/255 > 0.75
  const r = await modelRecipe(encodeOnnxModel(g.graph('logits')), 'logits.onnx', { normalize: { mean: 0.5, std: 0.25 }, activation: 'sigmoid' });
  const image = squareImage(16, 16, 180, { x: 4, y: 4, s: 5, v: 230 }); // 180/255 = 0.71 < 0.75 < 230/255
  const [found] = await detect(Tensor.fromArray(image, [1, 1, 16, 16], 'u8'), { ...r, components: { connectivity: 8, minArea: 1 } }, false);
  assert.deepEqual(
    found!.defects.map((d) => [d.x, d.y, d.w, d.h]),
    [[4, 4, 5, 5]],
  );
});

test('classification: each image scores its classes; NG when the top class is not the ok class', async () => {
  // logits [5 − 10 m, 10 m − 5] of the image mean m: class 1 ("defect") when m > 0.5
  const g = new OnnxGraphBuilder();
  const x = g.input('image', ['batch', 1, 'height', 'width']);
  const mean = g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: { int: 1 } });
  g.output(g.node('Gemm', [mean, g.constant([1, 2], [-10, 10]), g.constant([2], [5, -5])]), ['batch', 2]);
  const r = await modelRecipe(
    encodeOnnxModel(g.graph('mean')),
    'mean.onnx',
    { activation: 'softmax', classes: { ok: 0, labels: ['good', 'stain'] } },
    'classification',
  );
  const batch = Tensor.fromArray(new Uint8Array([...new Uint8Array(64).fill(51), ...new Uint8Array(64).fill(204)]), [2, 1, 8, 8], 'u8');
  const [dark, bright] = await detect(batch, r, false);
  const p = (m: number) => 1 / (1 + Math.exp(-(20 * m - 10))); // softmax of two = σ of the difference
  assert.equal(dark!.verdict, 'OK');
  assert.equal(dark!.label!.name, 'good');
  assert.ok(Math.abs(dark!.score - p(0.2)) < 1e-5);
  assert.equal(bright!.verdict, 'NG');
  assert.equal(bright!.label!.name, 'stain');
  assert.ok(Math.abs(bright!.label!.score - p(0.8)) < 1e-5);
  assert.deepEqual(bright!.defects, []);
});

test('tiled: overlapping windows stitched by their centres give the whole-image run of a translation-equivariant model', async () => {
  const bytes = tinyUnet({ width: 4, seed: 3 });
  // its probabilities spread around 0.46 on this image: that threshold makes many regions
  const whole = await modelRecipe(bytes, 'unet.onnx', { threshold: { value: 0.46 }, components: { minArea: 1 } });
  // the UNet pools by 2 (origins on even pixels) and reads 5 px around each output pixel
  const tiled = { ...whole, tiling: { tile: 8, overlap: TINY_UNET_RADIUS + 1, align: 2 } };
  const data = Uint8Array.from({ length: 2 * 30 * 38 }, (_, i) => (i * 37 + ((i / 38) | 0) * 11) % 256);
  const batch = Tensor.fromArray(data, [2, 1, 30, 38], 'u8');
  const a = await detect(batch, whole, true);
  const b = await detect(batch, tiled, true);
  for (let n = 0; n < 2; n++) {
    assert.ok(a[n]!.defects.length > 0, 'the random model finds regions to compare');
    assert.deepEqual(b[n]!.mask, a[n]!.mask);
    assert.equal(b[n]!.defects.length, a[n]!.defects.length);
    for (const [i, d] of b[n]!.defects.entries()) {
      const e = a[n]!.defects[i]!;
      assert.deepEqual([d.x, d.y, d.w, d.h, d.area], [e.x, e.y, e.w, e.h, e.area]);
      assert.ok(Math.abs(d.meanGradient - e.meanGradient) < 1e-5);
    }
  }
  // too little overlap: the seams differ from the whole-image run
  const seams = await detect(batch, { ...tiled, tiling: { tile: 8, overlap: 2, align: 2 } }, true);
  assert.notDeepEqual(seams[0]!.defects, a[0]!.defects);
});

test('a model that does not fit its task, or is not open, fails with KENSA_ERR_MODEL naming it', async () => {
  const g = new OnnxGraphBuilder();
  const x = g.input('image', ['batch', 1, 'height', 'width']);
  g.output(g.node('Flatten', [g.node('GlobalAveragePool', [x])], { axis: { int: 1 } }), ['batch', 1]);
  const r = await modelRecipe(encodeOnnxModel(g.graph('flat')), 'flat.onnx');
  const batch = Tensor.fromArray(new Uint8Array(16), [1, 1, 4, 4], 'u8');
  await assert.rejects(
    detect(batch, r, false),
    (e) =>
      isKensaError(e, 'KENSA_ERR_MODEL') &&
      e.message === 'Model flat.onnx: a segmentation output must be N×C×H×W (rank 4) for 1 images but output flatten1 is [1, 1]',
  );
  const closed = { ...r, model: { ...r.model, sha256: 'f'.repeat(64), path: 'gone.onnx' } };
  await assert.rejects(
    detect(batch, closed, false),
    (e) => isKensaError(e, 'KENSA_ERR_MODEL') && e.message.startsWith('Model gone.onnx (sha256 ffffffffffff) is not open'),
  );
});

const gpu = await testGpu();

test('GPU and CPU batches give the same defects and masks (two-channel softmax output; an f16 model)', { skip: gpuSkip(gpu) }, async () => {
  // logits (−20 x + 10, 20 x − 10): 1 − softmax₀ = σ(40 (x − 0.5))
  const g = new OnnxGraphBuilder();
  const x = g.input('image', ['batch', 1, 'height', 'width']);
  g.output(g.conv(x, [-20, 20], [10, -10], 2, 1, 1), ['batch', 2, 'height', 'width']);
  const softmax = await modelRecipe(encodeOnnxModel(g.graph('two')), 'two.onnx', { activation: 'softmax', components: { minArea: 1 } });
  const half = await modelRecipe(thresholdModel({ level: 0.5, gain: 20, dtype: 'f16' }), 'half.onnx', { components: { minArea: 1 } });
  const data = new Uint8Array([...squareImage(24, 20, 40, { x: 3, y: 5, s: 7, v: 210 }), ...squareImage(24, 20, 90, { x: 15, y: 2, s: 4, v: 180 })]);
  const host = Tensor.fromArray(data, [2, 1, 20, 24], 'u8');
  using device = await host.toGpu(gpu!);
  for (const r of [softmax, half]) {
    const expected = await detect(host, r, true);
    const got = await detect(device, r, true);
    for (let n = 0; n < 2; n++) {
      assert.deepEqual(got[n]!.mask, expected[n]!.mask);
      assert.equal(got[n]!.defects.length, 1);
      const [d, e] = [got[n]!.defects[0]!, expected[n]!.defects[0]!];
      assert.deepEqual([d.x, d.y, d.w, d.h, d.area], [e.x, e.y, e.w, e.h, e.area]);
      assert.ok(Math.abs(d.meanGradient - e.meanGradient) < 1e-5);
    }
  }
});

test('a segmentation model of a fixed size runs on larger images through windows of its size; a classifier gets the image resized', async () => {
  // σ(20 (x − 0.5)) per pixel with a fixed 16×16 input: windows of 16 with 4 px of overlap
  const fixedSeg = new OnnxGraphBuilder();
  const x = fixedSeg.input('image', ['batch', 1, 16, 16]);
  fixedSeg.output(fixedSeg.node('Sigmoid', [fixedSeg.conv(x, [20], [-10], 1, 1, 1)]), ['batch', 1, 16, 16]);
  const fixed = await modelRecipe(encodeOnnxModel(fixedSeg.graph('fixed')), 'fixed.onnx', {
    tiling: { tile: 0, overlap: 4, align: 1 },
    components: { minArea: 1 },
  });
  const dynamic = await modelRecipe(thresholdModel({ level: 0.5, gain: 20 }), 'dynamic.onnx', { components: { minArea: 1 } });
  const image = Tensor.fromArray(squareImage(40, 36, 60, { x: 13, y: 17, s: 9, v: 200 }), [1, 1, 36, 40], 'u8');
  const [a] = await detect(image, fixed, true);
  const [b] = await detect(image, dynamic, true);
  assert.deepEqual(a!.mask, b!.mask);
  assert.deepEqual(
    a!.defects.map((d) => [d.x, d.y, d.w, d.h]),
    [[13, 17, 9, 9]],
  );

  // the image mean through a fixed 8×8 input: the area resize keeps the mean
  const cls = new OnnxGraphBuilder();
  const c = cls.input('image', ['batch', 1, 8, 8]);
  const mean = cls.node('Flatten', [cls.node('GlobalAveragePool', [c])], { axis: { int: 1 } });
  cls.output(cls.node('Gemm', [mean, cls.constant([1, 2], [-10, 10]), cls.constant([2], [5, -5])]), ['batch', 2]);
  const r = await modelRecipe(encodeOnnxModel(cls.graph('mean8')), 'mean8.onnx', { activation: 'softmax' }, 'classification');
  const [found] = await detect(Tensor.fromArray(squareImage(32, 32, 51, { x: 0, y: 0, s: 16, v: 255 }), [1, 1, 32, 32], 'u8'), r, false);
  const m = (0.75 * 51 + 0.25 * 255) / 255;
  assert.ok(Math.abs(found!.label!.score - 1 / (1 + Math.exp(-(10 - 20 * m)))) < 1e-4);
});

test('a model that does not fit its task is refused when the run opens it, naming the output', async () => {
  const dir = tempDir('kensa-model-fit-');
  const path = join(dir, 'classifier.onnx');
  writeFileSync(path, tinyClassifier({ classes: 3, width: 2 }));
  const loaded = parseRecipe({ kind: 'model', model: { path } });
  await assert.rejects(
    openRecipeModels(loaded, { providers: ['cpu'] }, 4, null),
    (e) =>
      isKensaError(e, 'KENSA_ERR_MODEL') &&
      e.message === `Model ${path}: a segmentation model's first output must be N×C×H×W (rank 4) but output scores is [batch, 3]`,
  );
  const changed = parseRecipe({ kind: 'model', model: { path, sha256: '0'.repeat(64) } });
  await assert.rejects(
    openRecipeModels(changed, { providers: ['cpu'] }, 4, null),
    (e) => isKensaError(e, 'KENSA_ERR_MODEL') && /the file changed since the recipe named it$/.test(e.message),
  );
});

test('a segmentation output at half the resolution is resized back to the image before its regions', async () => {
  const g = new OnnxGraphBuilder();
  const x = g.input('image', ['batch', 1, 'height', 'width']);
  const p = g.node('Sigmoid', [g.conv(x, [20], [-10], 1, 1, 1)]);
  g.output(g.node('MaxPool', [p], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } }), ['batch', 1, 'h2', 'w2']);
  const r = await modelRecipe(encodeOnnxModel(g.graph('half')), 'half-res.onnx', { components: { minArea: 1 } });
  const [found] = await detect(Tensor.fromArray(squareImage(32, 32, 20, { x: 8, y: 8, s: 8, v: 200 }), [1, 1, 32, 32], 'u8'), r, true);
  // bilinear upsampling of the 4×4 half-resolution block crosses ½ exactly at the square's edges
  assert.deepEqual(
    found!.defects.map((d) => [d.x, d.y, d.w, d.h]),
    [[8, 8, 8, 8]],
  );
  assert.equal(found!.mask!.length, 32 * 32);
});
