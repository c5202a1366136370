import assert from 'node:assert/strict';
import { test } from 'node:test';
import { detect } from '../src/detect/detector.js';
import { DEFAULT_RECIPE, parseRecipe, type ClassicRecipe, type DecoupledRecipe } from '../src/detect/recipe.js';
import { KensaError } from '../src/errors.js';
import { convert } from '../src/ops/color/convert.js';
import { gaussianBlur } from '../src/ops/filters/gaussian.js';
import { threshold } from '../src/ops/threshold/binary.js';
import { liveTensors, Tensor, tidy } from '../src/tensor.js';
import { testGpu } from './_kit/gpu.js';

const gpu = await testGpu();

function image(n: number, h: number, w: number): Tensor {
  const data = new Uint8Array(n * h * w);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  return Tensor.fromArray(data, [n, 1, h, w], 'u8');
}

test('tidy disposes what its function made, except what it returns', () => {
  const x = image(1, 8, 8);
  let inner: Tensor | undefined;
  const before = liveTensors();
  const out = tidy(() => {
    inner = convert(x, { dtype: 'f32' });
    return { mask: threshold(inner, { thresh: 100 }), list: [gaussianBlur(inner, { sigma: 1 })] };
  });
  assert.throws(
    () => inner!.data,
    (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_DISPOSED',
  );
  assert.equal(out.mask.shape[3], 8);
  assert.equal(out.list[0]!.dtype, 'f32');
  assert.equal(x.size, 64);
  assert.equal(liveTensors(), before + 2);
  out.mask.dispose();
  out.list[0]!.dispose();
  assert.equal(liveTensors(), before);
});

test('tidy: a result kept by a nested scope belongs to the enclosing one', () => {
  const x = image(1, 8, 8);
  const before = liveTensors();
  const out = tidy(() => {
    const kept = tidy(() => convert(convert(x, { dtype: 'f32' }), { dtype: 'u16' }));
    assert.equal(liveTensors(), before + 1);
    return threshold(kept, { thresh: 9 });
  });
  assert.equal(liveTensors(), before + 1);
  out.dispose();
});

test('tidy disposes everything when its function throws, and refuses an async function', async () => {
  const x = image(1, 8, 8);
  const before = liveTensors();
  assert.throws(() =>
    tidy(() => {
      convert(x, { dtype: 'f32' });
      throw new Error('boom');
    }),
  );
  assert.equal(liveTensors(), before);
  assert.throws(
    () => tidy(async () => convert(x, { dtype: 'f32' })),
    (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_INVALID_ARGUMENT' && /Expected a synchronous function .* for fn/.test(e.message),
  );
  assert.equal(liveTensors(), before);
});

test('using disposes a tensor when its block ends', () => {
  const x = image(1, 4, 4);
  const before = liveTensors();
  let seen: Tensor;
  {
    using t = convert(x, { dtype: 'f32' });
    seen = t;
    assert.equal(liveTensors(), before + 1);
  }
  assert.equal(liveTensors(), before);
  assert.throws(
    () => seen.data,
    (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_DISPOSED',
  );
});

test('no growth over 10,000 steps of a small recipe (CPU: live tensors)', () => {
  const x = image(1, 8, 8);
  const step = () => tidy(() => threshold(gaussianBlur(convert(x, { dtype: 'f32', scale: 1 / 255 }), { sigma: 1 }), { thresh: 0.5, dtype: 'u8' }));
  step().dispose();
  const before = liveTensors();
  for (let i = 0; i < 10_000; i++) step().dispose();
  assert.equal(liveTensors(), before);
});

const classic = DEFAULT_RECIPE.recipe as ClassicRecipe;
const decoupled = parseRecipe({ kind: 'decoupled' }, 'test').recipe as DecoupledRecipe;

test('the classic and decoupled recipes leave no tensor behind (CPU)', async () => {
  const x = image(2, 32, 32);
  await detect(x, classic, false);
  await detect(x, decoupled, false);
  const before = liveTensors();
  for (let i = 0; i < 20; i++) {
    await detect(x, classic, true);
    await detect(x, decoupled, true);
  }
  assert.equal(liveTensors(), before);
});

test('the classic and decoupled recipes leave the GPU pool flat (lavapipe)', { skip: gpu ? false : 'no WebGPU adapter' }, async () => {
  const x = await image(2, 32, 32).toGpu(gpu!);
  await detect(x, classic, false);
  await detect(x, decoupled, false);
  const inUse = gpu!.pool.stats.bytesInUse;
  const created = gpu!.pool.stats.created;
  for (let i = 0; i < 5; i++) {
    await detect(x, classic, true);
    await detect(x, decoupled, true);
  }
  assert.equal(gpu!.pool.stats.bytesInUse, inUse);
  assert.equal(gpu!.pool.stats.created, created);
  x.dispose();
});
