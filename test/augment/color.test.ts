/**
 * The colour and pixel transforms: fusion of consecutive colour transforms equals the unfused
 * chain within the stated tolerance, masks stay untouched by colour, each transform's image is its
 * op's result for the drawn parameters, p is honoured within statistical bounds, and bad
 * arguments and parameters are refused naming the field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  augment,
  CLAHE,
  CoarseDropout,
  ColorJitter,
  Compose,
  draw,
  GaussianBlur,
  GaussNoise,
  HorizontalFlip,
  HueSaturationValue,
  MotionBlur,
  Normalize,
  RandomBrightnessContrast,
  RandomGamma,
  RandomRotate90,
  replay,
  ToGray,
  type Transform,
} from '../../src/augment/index.js';
import type { DType } from '../../src/dtype.js';
import { brightnessContrast } from '../../src/ops/color/brightness-contrast.js';
import { gaussNoise } from '../../src/ops/color/noise.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { isKensaError } from '../../src/errors.js';
import { assertClose } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { batchOf, sampleOf } from './_cases.js';

const gpu = await testGpu();
const EXACT = { int: 0, atol: 0, rtol: 0 };

/** The colour run of the fusion tests: every colour transform, each drawn for every sample. */
function colourRun(): Transform {
  return Compose({
    transforms: [
      RandomBrightnessContrast({ p: 1, brightnessLimit: 0.15, contrastLimit: 0.2 }),
      RandomGamma({ p: 1, gammaLimit: [70, 130] }),
      HueSaturationValue({ p: 1 }),
      ToGray({ p: 0.3 }),
      ColorJitter({ p: 1, brightness: 0.2, contrast: 0.2, saturation: 0.3, hue: 0.05 }),
      RandomBrightnessContrast({ p: 1 }),
    ],
  });
}

describe('colour transforms', () => {
  test('fused colour runs equal the unfused chain: u8 within 2 grey levels for 98 % of pixels and 8 for all, f32 within 1e-5; masks unchanged', () => {
    for (const dtype of ['u8', 'u16', 'f32'] as DType[]) {
      const b = batchOf(6, dtype, 24);
      const fused = augment(colourRun(), b, { seed: 4 });
      const unfused = augment(colourRun(), b, { seed: 4, fuse: false });
      assert.deepEqual(fused.params, unfused.params);
      // an almost grey pixel's hue turns with a rounding of its channels, and later steps carry it
      const scale = dtype === 'u16' ? 257 : 1;
      if (dtype === 'f32') assertClose(fused.batch.image, unfused.batch.image, { atol: 1e-5, rtol: 1e-5 }, 'f32 fused vs unfused');
      else {
        assertClose(fused.batch.image, unfused.batch.image, { int: 8 * scale }, `${dtype} fused vs unfused`);
        assertClose(fused.batch.image, unfused.batch.image, { int: 2 * scale, outliers: 0.02 }, `${dtype} within 2 but for 2 % of pixels`);
      }
      assertClose(fused.batch.mask!, b.mask!, EXACT, `${dtype} mask`);
    }
  });

  test('GPU = CPU for the same seed: the fused colour run and the issue’s composite (u8 ±1, u16 ±4: hue near grey is ill-conditioned, f32 1e-4)', {
    skip: gpuSkip(gpu),
  }, async () => {
    const composite = Compose({
      transforms: [RandomRotate90({ p: 0.5 }), HorizontalFlip({ p: 0.5 }), RandomBrightnessContrast({ p: 0.5 }), GaussianBlur({ p: 0.5, blurLimit: [3, 7] })],
    });
    for (const dtype of ['u8', 'u16', 'f32'] as DType[]) {
      const b = batchOf(4, dtype, 24);
      for (const t of [colourRun(), composite]) {
        const cpu = augment(t, b, { seed: 21 });
        const image = await b.image.toGpu(gpu!);
        const mask = await b.mask!.toGpu(gpu!);
        const r = augment(t, { ...b, image, mask }, { seed: 21 });
        assert.deepEqual(r.params, cpu.params);
        assertClose(await r.batch.image.toCpu(), cpu.batch.image, { int: dtype === 'u16' ? 4 : 1 }, `${dtype} ${t.name} image`);
        assertClose(await r.batch.mask!.toCpu(), cpu.batch.mask!, EXACT, `${dtype} mask`);
        for (const x of [image, mask, r.batch.image, r.batch.mask!]) x.dispose();
      }
    }
  });

  test('RandomBrightnessContrast is brightnessContrast with the drawn α and β · 255 (u8, exact); GaussNoise is gaussNoise with the drawn seed', () => {
    const b = batchOf(3);
    const t = RandomBrightnessContrast({ p: 1 });
    const r = augment(t, b, { seed: 8 });
    for (let n = 0; n < 3; n++) {
      const p = r.params[n] as { alpha: number; beta: number };
      assertClose(sampleOf(r.batch.image, n), brightnessContrast(sampleOf(b.image, n), { alpha: p.alpha, beta: p.beta * 255 }), EXACT, `sample ${n}`);
    }
    const noise = augment(GaussNoise({ p: 1, stdRange: [0.1, 0.2] }), b, { seed: 8 });
    for (let n = 0; n < 3; n++) {
      const p = noise.params[n] as { sigma: number; mean: number; seed: number };
      const want = gaussNoise(sampleOf(b.image, n), { sigma: p.sigma * 255, mean: p.mean * 255, seed: p.seed });
      assertClose(sampleOf(noise.batch.image, n), want, EXACT, `noise sample ${n}`);
    }
  });

  test('GaussianBlur draws odd sizes in blurLimit and blurs as gaussianBlur; undrawn samples are unchanged', () => {
    const b = batchOf(8);
    const r = augment(GaussianBlur({ p: 0.5, blurLimit: [3, 9] }), b, { seed: 2 });
    assert.ok(r.params.some((p) => p === null) && r.params.some((p) => p !== null));
    for (const [n, p] of r.params.entries()) {
      const item = sampleOf(b.image, n);
      if (p === null) assertClose(sampleOf(r.batch.image, n), item, EXACT, `undrawn ${n}`);
      else {
        const { ksize, sigma } = p as { ksize: number; sigma: number };
        assert.ok(ksize % 2 === 1 && ksize >= 3 && ksize <= 9, `ksize ${ksize}`);
        assertClose(sampleOf(r.batch.image, n), gaussianBlur(item, { ksize, sigma }), { int: 1 }, `drawn ${n}`);
      }
    }
  });

  test('CoarseDropout fills its holes in the image with fill and in the mask with maskFill, nothing else', () => {
    const b = batchOf(4);
    const r = augment(CoarseDropout({ p: 1, numHolesRange: [2, 4], fill: 200, maskFill: 7 }), b, { seed: 6 });
    for (const [n, p] of r.params.entries()) {
      const holes = (p as { holes: number[][] }).holes;
      assert.ok(holes.length >= 2 && holes.length <= 4);
      for (let y = 0; y < 24; y++)
        for (let x = 0; x < 24; x++) {
          const inside = holes.some(([hx, hy, hw, hh]) => x >= hx! && x < hx! + hw! && y >= hy! && y < hy! + hh!);
          const i = (n * 24 + y) * 24 + x;
          assert.equal(r.batch.mask!.data[i], inside ? 7 : b.mask!.data[i], `mask ${n} (${x}, ${y})`);
          assert.equal(r.batch.image.data[n * 3 * 576 + y * 24 + x], inside ? 200 : b.image.data[n * 3 * 576 + y * 24 + x], `image ${n} (${x}, ${y})`);
        }
    }
    // replayed holes may lie anywhere a large image has pixels
    const far = replay(CoarseDropout({ p: 1, fill: 9 }), batchOf(1), [{ holes: [[1500, 2000, 30, 30]] }]);
    assertClose(far.image, batchOf(1).image, EXACT, 'a hole outside the 24×24 image');
    const kept = augment(CoarseDropout({ p: 1 }), b, { seed: 6 });
    assertClose(kept.batch.mask!, b.mask!, EXACT, 'mask without maskFill');
  });

  test('Normalize gives f32 (x / 255 − mean) / std per channel; CLAHE refuses non-u8 images', () => {
    const b = batchOf(2);
    const r = augment(Compose({ transforms: [HorizontalFlip({ p: 0 }), Normalize({ mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.5] })] }), b, { seed: 1 });
    assert.equal(r.batch.image.dtype, 'f32');
    const mean = [0.5, 0.4, 0.3];
    const std = [0.2, 0.25, 0.5];
    for (let i = 0; i < r.batch.image.size; i += 37) {
      const c = Math.floor(i / 576) % 3;
      assert.ok(Math.abs(r.batch.image.at(i) - (b.image.data[i]! / 255 - mean[c]!) / std[c]!) < 1e-5, `element ${i}`);
    }
    assert.throws(
      () => augment(CLAHE({ p: 1 }), batchOf(2, 'f32'), { seed: 1 }),
      (e) => isKensaError(e, 'KENSA_ERR_DTYPE'),
    );
  });

  test('p is honoured within statistical bounds over 4000 draws (4.5 standard deviations)', () => {
    const ctx = { width: 24, height: 24, channels: 3, dtype: 'u8' as DType };
    const n = 4000;
    for (const t of [
      RandomBrightnessContrast({ p: 0.2 }),
      RandomGamma({ p: 0.5 }),
      HueSaturationValue({ p: 0.7 }),
      ColorJitter({ p: 0.35 }),
      ToGray({ p: 0.1 }),
      GaussianBlur({ p: 0.1 }),
      MotionBlur({ p: 0.6 }),
      GaussNoise({ p: 0.25 }),
      CLAHE({ p: 0.9 }),
      CoarseDropout({ p: 0.45 }),
    ]) {
      const drawn = draw(t, n, ctx, { seed: 17 }).filter((p) => p !== null).length;
      const sd = Math.sqrt(n * t.p * (1 - t.p));
      assert.ok(Math.abs(drawn - n * t.p) <= 4.5 * sd, `${t.name}: ${drawn} of ${n} drawn for p ${t.p}`);
    }
  });

  test('bad arguments and replayed parameters are refused with one sentence naming the field', () => {
    assert.throws(() => RandomGamma({ gammaLimit: [120, 80] }), /for RandomGamma.gammaLimit but received \[120, 80\]/);
    assert.throws(() => RandomBrightnessContrast({ brightnessLimit: 2 }), /Expected .* for RandomBrightnessContrast.brightnessLimit but received 2/);
    assert.throws(
      () => GaussianBlur({ blurLimit: [4, 7] }),
      /Expected an odd integer at least 3 \(or 0\) for GaussianBlur.blurLimit\[0\] but received 4 of type number/,
    );
    assert.throws(
      () => GaussianBlur({ blurLimit: [0, 0], sigmaLimit: [0, 2] }),
      /Expected sigmaLimit above 0 when blurLimit is \[0, 0\] for GaussianBlur.sigmaLimit but received \[0, 2\]/,
    );
    assert.throws(() => ColorJitter({ hue: 0.7 }), /for ColorJitter.hue but received 0.7/);
    assert.throws(() => Normalize({ std: [0.2, 0] }), /for Normalize.std\[1\] but received 0/);
    assert.throws(() => CoarseDropout({ holeWidthRange: [0.5, 2] }), /for CoarseDropout.holeWidthRange\[1\] but received 2/);
    assert.throws(() => MotionBlur({ blurLimit: [1, 3] } as never), /for MotionBlur.blurLimit/);
    const b = batchOf(1);
    assert.throws(
      () => replay(RandomGamma({ p: 1 }), b, [{ gamma: -1 }]),
      (e) => isKensaError(e, 'KENSA_ERR_AUGMENT') && /params\[0\]\.gamma/.test((e as Error).message),
    );
    assert.throws(
      () => replay(ColorJitter({ p: 1 }), b, [{ brightness: 1, contrast: 1, saturation: 1, hue: 0, order: [0, 0, 1, 2] }]),
      (e) => isKensaError(e, 'KENSA_ERR_AUGMENT') && /params\[0\]\.order/.test((e as Error).message),
    );
  });
});
