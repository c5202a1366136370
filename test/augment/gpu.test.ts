/**
 * GPU = CPU for the same seed (the draw happens on the host, so the parameters are equal): masks,
 * boxes and images of exact maps (flips, quarter turns, transposes, crops, padding) and nearest
 * warps are the same bytes; images resampled bilinearly are within the warp and resize ops' own
 * GPU = CPU tolerance (integers ±1 where a value lands within an f32 rounding of a .5 tie, f32 1e-4),
 * for u8, u16 and f32 images; 16-bit images stay 16-bit.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Affine,
  augment,
  ColorJitter,
  GaussianBlur,
  HueSaturationValue,
  RandomBrightnessContrast,
  RandomGamma,
  Compose,
  HorizontalFlip,
  OneOf,
  PadIfNeeded,
  Perspective,
  RandomCrop,
  RandomRotate90,
  registeredTransforms,
  Sequential,
  VerticalFlip,
  replay,
  ShiftScaleRotate,
  ToGray,
  Transpose,
  type AugmentBatch,
  type Transform,
} from '../../src/augment/index.js';
import type { DType } from '../../src/dtype.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { arithmeticExact, assertClose, EXACT } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { batchOf, example } from './_cases.js';

const gpu = await testGpu();

/** Whether the image is the same on both backends: exact copies only (no bilinear resampling), exact colour and pixel transforms. */
function exactImage(t: Transform): boolean {
  if (t.kind === 'container') return t.children.every(exactImage);
  if (t.kind !== 'geometric') return example(t.name).gpuTolerance === undefined;
  return exactMap(t);
}

/** Whether the image's pixels are only moved (flips, quarter turns, crops, padding, nearest warps): the same bytes on every GPU. */
function exactMap(t: Transform): boolean {
  if (t.kind === 'container') return t.children.every(exactMap);
  if (t.kind !== 'geometric') return false;
  return t.resample === null || (t.resample.interpolation === 'nearest' && t.name !== 'Resize');
}

/** The largest GPU = CPU tolerance of the colour and pixel transforms in `t` (test/augment/_cases.ts), if any. */
function gpuTolerance(t: Transform): { int: number } | undefined {
  if (t.kind === 'container') return t.children.map(gpuTolerance).find((g) => g !== undefined);
  return t.kind === 'geometric' ? undefined : example(t.name).gpuTolerance;
}

async function onGpu(g: Gpu, b: AugmentBatch): Promise<AugmentBatch> {
  return { ...b, image: await b.image.toGpu(g), mask: await b.mask!.toGpu(g) };
}

async function assertGpuEqualsCpu(g: Gpu, t: Transform, b: AugmentBatch, seed: number, what: string): Promise<void> {
  const cpu = augment(t, b, { seed });
  const gb = await onGpu(g, b);
  const r = augment(t, gb, { seed });
  assert.deepEqual(r.params, cpu.params, `${what} params`);
  assert.deepEqual(r.batch.boxes, cpu.batch.boxes, `${what} boxes`);
  const tol = exactMap(t) ? EXACT : exactImage(t) ? arithmeticExact(g) : (gpuTolerance(t) ?? {});
  assertClose(await r.batch.image.toCpu(), cpu.batch.image, tol, `${what} image`);
  assertClose(await r.batch.mask!.toCpu(), cpu.batch.mask!, EXACT, `${what} mask`);
  const again = replay(t, gb, cpu.params);
  assertClose(await again.image.toCpu(), await r.batch.image.toCpu(), EXACT, `${what} replay on the GPU`);
  for (const x of [gb.image, gb.mask!, r.batch.image, r.batch.mask!, again.image, again.mask!]) x.dispose();
}

describe('augment on the GPU', () => {
  test('every registered transform: the CPU result for the same seed (u8)', { skip: gpuSkip(gpu) }, async () => {
    const b = batchOf(3);
    for (const name of registeredTransforms()) await assertGpuEqualsCpu(gpu!, example(name).make(0.7), b, 2, name);
  });

  test('a fused geometric pipeline on u8, u16 and f32: the CPU result, the dtype kept', { skip: gpuSkip(gpu) }, async () => {
    const pipeline = Compose({
      transforms: [
        PadIfNeeded({ minWidth: 28, minHeight: 28 }),
        RandomRotate90({ p: 0.5 }),
        HorizontalFlip({ p: 0.5 }),
        Transpose({ p: 1 }),
        OneOf({ transforms: [Affine({ p: 1, rotate: [-20, 20] }), Perspective({ p: 1 })] }),
        ShiftScaleRotate({ p: 0.5, border: 'reflect101' }),
        RandomCrop({ width: 20, height: 20 }),
      ],
    });
    for (const dtype of ['u8', 'u16', 'f32'] as DType[]) {
      const b = batchOf(2, dtype);
      await assertGpuEqualsCpu(gpu!, pipeline, b, 9, dtype);
      const r = augment(pipeline, await onGpu(gpu!, b), { seed: 9 });
      assert.equal(r.batch.image.dtype, dtype);
      assert.deepEqual(r.batch.image.shape, [2, 3, 20, 20]);
    }
  });

  test("the seed's quarter turn and Flip (a OneOf of flips) record one dispatch: the CPU result", { skip: gpuSkip(gpu) }, async () => {
    const flip = OneOf({
      transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 }), Sequential({ transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 })] })],
    });
    const pipeline = Compose({ transforms: [RandomRotate90({ p: 1 }), flip] });
    const b = batchOf(4);
    await assertGpuEqualsCpu(gpu!, pipeline, b, 5, 'rot90 + Flip');
    const image = await b.image.toGpu(gpu!);
    const before = gpu!.stats.dispatches;
    const r = augment(pipeline, { image }, { seed: 5 });
    assert.equal(gpu!.stats.dispatches - before, 1);
    await gpu!.sync();
    for (const x of [image, r.batch.image]) x.dispose();
  });

  test("a colour run right after exact maps reads through their gather: the seed composite records 2 dispatches, the unfused bytes and the CPU's", {
    skip: gpuSkip(gpu),
  }, async () => {
    const flip = OneOf({
      transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 }), Sequential({ transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 })] })],
    });
    const pipeline = Compose({
      transforms: [RandomRotate90({ p: 1 }), flip, RandomBrightnessContrast({ p: 1 }), GaussianBlur({ p: 1, blurLimit: [3, 7] })],
    });
    for (const dtype of ['u8', 'u16', 'f32'] as DType[]) {
      const b = batchOf(4, dtype);
      await assertGpuEqualsCpu(gpu!, pipeline, b, 6, `${dtype} composite`);
      const image = await b.image.toGpu(gpu!);
      const counted = (fuse: boolean) => {
        const before = gpu!.stats.dispatches;
        const r = augment(pipeline, { image }, { seed: 6, fuse });
        return { image: r.batch.image, dispatches: gpu!.stats.dispatches - before };
      };
      const fused = counted(true);
      const unfused = counted(false);
      // gather + colour, blur; unfused: rot90, each flip, colour, blur
      assert.equal(fused.dispatches, 2, `${dtype} fused dispatches`);
      assert.ok(unfused.dispatches >= 4, `${dtype} unfused dispatches: ${unfused.dispatches}`);
      assertClose(await fused.image.toCpu(), await unfused.image.toCpu(), EXACT, `${dtype} fused vs unfused`);
      for (const x of [image, fused.image, unfused.image]) x.dispose();
    }
  });

  test('a colour run after a warp it cannot read through (bilinear; a contrast step first) runs after it: the unfused bytes; a longer run after flips: the CPU result', {
    skip: gpuSkip(gpu),
  }, async () => {
    const b = batchOf(3);
    const image = await b.image.toGpu(gpu!);
    for (const pipeline of [
      Compose({ transforms: [Affine({ p: 1, rotate: [-20, 20] }), RandomBrightnessContrast({ p: 1 })] }),
      Compose({ transforms: [RandomRotate90({ p: 1 }), ColorJitter({ p: 1, contrast: 0.3 })] }),
    ]) {
      const fused = augment(pipeline, { image }, { seed: 8 }).batch.image;
      const unfused = augment(pipeline, { image }, { seed: 8, fuse: false }).batch.image;
      assertClose(await fused.toCpu(), await unfused.toCpu(), EXACT);
      for (const x of [fused, unfused]) x.dispose();
    }
    image.dispose();
    const long = Compose({
      transforms: [
        RandomRotate90({ p: 1 }),
        HorizontalFlip({ p: 0.5 }),
        RandomBrightnessContrast({ p: 1 }),
        RandomGamma({ p: 1, gammaLimit: [70, 130] }),
        HueSaturationValue({ p: 1 }),
        ToGray({ p: 0.3 }),
        ColorJitter({ p: 1, brightness: 0.2, contrast: 0.2, saturation: 0.3, hue: 0.05 }),
      ],
    });
    for (const dtype of ['u8', 'f32'] as DType[]) {
      const bd = batchOf(4, dtype);
      const cpu = augment(long, bd, { seed: 11 });
      const gi = await bd.image.toGpu(gpu!);
      const r = augment(long, { image: gi }, { seed: 11 });
      assertClose(await r.batch.image.toCpu(), cpu.batch.image, { int: 1, atol: 1e-4, rtol: 1e-4 }, `${dtype} long colour run`);
      for (const x of [gi, r.batch.image]) x.dispose();
    }
  });

  test("per-sample parameters upload what the batch uses: the seed composite's uniform bytes grow with the batch, within twice its parameters per dispatch", {
    skip: gpuSkip(gpu),
  }, async () => {
    const flip = OneOf({
      transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 }), Sequential({ transforms: [HorizontalFlip({ p: 1 }), VerticalFlip({ p: 1 })] })],
    });
    const pipeline = Compose({
      transforms: [RandomRotate90({ p: 1 }), flip, RandomBrightnessContrast({ p: 1 }), GaussianBlur({ p: 1, blurLimit: [7, 7] })],
    });
    const uploaded = async (n: number) => {
      const image = await batchOf(n).image.toGpu(gpu!);
      const before = { bytes: gpu!.stats.transfers.uniformBytes, dispatches: gpu!.stats.dispatches };
      const r = augment(pipeline, { image }, { seed: 3 });
      const bytes = gpu!.stats.transfers.uniformBytes - before.bytes;
      const dispatches = gpu!.stats.dispatches - before.dispatches;
      await gpu!.sync();
      for (const x of [image, r.batch.image]) x.dispose();
      // the largest parameters of a sample here are the blur's 7 + 7 taps (4 vec4s, 64 bytes); a size class at most doubles them
      assert.ok(bytes <= dispatches * (2 * 64 * n + 512), `batch ${n}: ${bytes} uniform bytes for ${dispatches} dispatches`);
      return bytes;
    };
    const [b8, b32, b64] = [await uploaded(8), await uploaded(32), await uploaded(64)];
    assert.ok(b8 < b32 && b32 < b64, `uniform bytes for batches of 8, 32, 64: ${b8}, ${b32}, ${b64}`);
  });
});
