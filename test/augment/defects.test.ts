import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { augment, Compose, Crack, CutPaste, type DefectParams, PerlinStain, Pit, replay, Scratch, Spot } from '../../src/augment/index.js';
import { defectPrograms } from '../../src/internal.js';
import { footprint, type ShadeShape } from '../../src/samples/defects.js';
import { Tensor } from '../../src/tensor.js';
import { arithmeticExact, assertClose } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { naturalImage } from '../_kit/images.js';

const gpu = await testGpu();
const [N, W, H] = [4, 48, 32];

describe('augment/defects', () => {
  test('each defect marks its pixels with maskValue, keeps other labels, and appends the tight box of its mask pixels (CPU, and GPU where present)', async () => {
    for (const device of gpu ? (['cpu', 'gpu'] as const) : (['cpu'] as const))
      for (const make of [Crack, Scratch, Spot, Pit, PerlinStain, CutPaste]) {
        const cpuImage = naturalImage([N, 3, H, W], 'u8', 2);
        const cpuLabels = Tensor.fromArray(new Int32Array(N * H * W).fill(3), [N, 1, H, W], 'i32');
        const [image, labels] = device === 'gpu' ? [await cpuImage.toGpu(gpu!), await cpuLabels.toGpu(gpu!)] : [cpuImage, cpuLabels];
        const t = make({ p: 1, maskValue: 9, label: 'defect' });
        const { batch, params } = augment(Compose({ transforms: [t] }), { image, mask: labels, boxes: Array.from({ length: N }, () => []) }, { seed: 4 });
        const mask = (await batch.mask!.toCpu()).data as Int32Array;
        assert.equal(batch.mask!.dtype, 'i32');
        for (let n = 0; n < N; n++) {
          const shapes = ((params[n] as DefectParams[])[0] as DefectParams).shapes;
          const boxes = batch.boxes![n]!;
          assert.ok(boxes.length >= 1 && boxes.length <= shapes.length, `${t.name} sample ${n}: one box per drawn defect`);
          const marked: [number, number][] = [];
          for (let y = 0; y < H; y++)
            for (let x = 0; x < W; x++) {
              const v = mask[(n * H + y) * W + x]!;
              assert.ok(v === 9 || v === 3, `${t.name}: labels 9 or 3 only`);
              if (v === 9) marked.push([x, y]);
            }
          assert.ok(marked.length > 0, `${t.name} sample ${n} marked pixels`);
          for (const [x, y] of marked)
            assert.ok(
              boxes.some((b) => x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1),
              `${t.name}: pixel ${x},${y} inside a box`,
            );
          for (const b of boxes) {
            assert.equal(b.label, 'defect');
            const inside = marked.filter(([x, y]) => x >= b.x0 && x < b.x1 && y >= b.y0 && y < b.y1);
            assert.deepEqual(
              [
                Math.min(...inside.map((p) => p[0])),
                Math.min(...inside.map((p) => p[1])),
                Math.max(...inside.map((p) => p[0])) + 1,
                Math.max(...inside.map((p) => p[1])) + 1,
              ],
              [b.x0, b.y0, b.x1, b.y1],
              `${t.name}: the box is tight`,
            );
          }
        }
      }
  });

  test('a CutPaste patch holds its source × gain; a crack only darkens; a fresh u8 mask is made when the batch has none', () => {
    const image = naturalImage([1, 1, H, W], 'u8', 7);
    const src = image.data as Uint8Array;
    const paste = augment(CutPaste({ p: 1 }), { image }, { seed: 9 });
    const shape = (paste.params[0] as DefectParams).shapes[0]!;
    assert.equal(shape.class, 'cutpaste');
    if (shape.class !== 'cutpaste') return;
    const out = paste.batch.image.data as Uint8Array;
    for (let y = 0; y < shape.height; y++)
      for (let x = 0; x < shape.width; x++) {
        const v = src[(shape.sy + y) * W + shape.sx + x]!;
        assert.ok(Math.abs(out[(shape.dy + y) * W + shape.dx + x]! - Math.min(255, v * shape.gain)) <= 0.5 + 1e-4);
      }
    assert.equal(paste.batch.mask!.dtype, 'u8');
    const crack = augment(Crack({ p: 1 }), { image }, { seed: 2 }).batch.image.data as Uint8Array;
    assert.ok(crack.every((v, i) => v <= src[i]!) && crack.some((v, i) => v < src[i]!));
  });

  test('f32 and u16 images: shading stays within the range, 16-bit stays 16-bit', () => {
    for (const dtype of ['u16', 'f32'] as const) {
      const image = naturalImage([2, 1, H, W], dtype, 3);
      const { batch } = augment(Scratch({ p: 1, count: [2, 2] }), { image }, { seed: 5 });
      assert.equal(batch.image.dtype, dtype);
      const max = dtype === 'u16' ? 65535 : 1;
      assert.ok((batch.image.data as Float32Array | Uint16Array).every((v) => v >= 0 && v <= max));
      assert.notDeepEqual(batch.image.data, image.data);
    }
  });

  test('bad arguments and replayed parameters are named', () => {
    assert.throws(() => Crack({ count: [3, 1] }), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: 'Expected a range [lo, hi] with lo ≤ hi for Crack.count but received [3, 1]',
    });
    assert.throws(() => Spot({ contrast: [0.2, 1.5] }), { code: 'KENSA_ERR_INVALID_ARGUMENT', message: /for Spot\.contrast\[1\]/ });
    const image = naturalImage([1, 1, H, W], 'u8', 1);
    const t = CutPaste({ p: 1 });
    const outside = { shapes: [{ class: 'cutpaste', sx: 40, sy: 0, dx: 0, dy: 0, width: 20, height: 4, gain: 1.2 }] };
    assert.throws(() => replay(t, { image }, [outside]), {
      code: 'KENSA_ERR_AUGMENT',
      message: /^Expected a CutPaste patch inside the 48×32 image but received/,
    });
    assert.throws(() => replay(t, { image }, [{ shapes: [{ class: 'crack' }] }]), { code: 'KENSA_ERR_AUGMENT', message: /params\[0\]\.shapes\[0\]/ });
  });

  test('on the GPU: the CPU images (arithmeticExact) and masks for u8, u16 and f32 images, with an i32 mask or none', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of ['u8', 'u16', 'f32'] as const)
      for (const make of [Spot, CutPaste, PerlinStain, Scratch, Pit]) {
        const image = naturalImage([3, 2, H, W], dtype, 6);
        const labels = Tensor.fromArray(new Int32Array(3 * H * W).fill(2), [3, 1, H, W], 'i32');
        const t = Compose({ transforms: [make({ p: 0.8, count: [1, 3] }), Crack({ p: 0.5 })] });
        for (const mask of [labels, undefined]) {
          const cpu = augment(t, { image, ...(mask ? { mask } : {}) }, { seed: 8 });
          const gi = await image.toGpu(gpu!);
          const gm = mask ? await mask.toGpu(gpu!) : undefined;
          const g = augment(t, { image: gi, ...(gm ? { mask: gm } : {}) }, { seed: 8 });
          const what = `${dtype} ${t.children[0]!.name} ${mask ? 'i32 mask' : 'no mask'}`;
          assertClose(await g.batch.image.toCpu(), cpu.batch.image, arithmeticExact(gpu!), `${what}: image`);
          assert.deepEqual((await g.batch.mask!.toCpu()).data, cpu.batch.mask!.data, `${what}: mask`);
          for (const x of [gi, gm, g.batch.image, g.batch.mask]) x?.dispose();
        }
      }
  });

  test('on the GPU: the CPU image and mask on a larger f32 image with several defects a sample (lines over many tiles)', { skip: gpuSkip(gpu) }, async () => {
    const image = naturalImage([2, 1, 150, 200], 'f32', 11);
    const gi = await image.toGpu(gpu!);
    for (const make of [Crack, Scratch, Spot, Pit, PerlinStain, CutPaste]) {
      const t = make({ p: 1, count: [2, 4] });
      const cpu = augment(t, { image }, { seed: 3 });
      const g = augment(t, { image: gi }, { seed: 3 });
      assertClose(await g.batch.image.toCpu(), cpu.batch.image, arithmeticExact(gpu!), `${t.name}: image`);
      assert.deepEqual((await g.batch.mask!.toCpu()).data, cpu.batch.mask!.data, `${t.name}: mask`);
      g.batch.image.dispose();
      g.batch.mask!.dispose();
    }
    gi.dispose();
  });

  test('a shape shades and masks the pixels its footprint (the rasteriser of kensa samples) gives', () => {
    const [w, h] = [120, 90];
    const f = Math.fround;
    for (const make of [Crack, Scratch, Spot, Pit, PerlinStain]) {
      const image = Tensor.fromArray(new Float32Array(w * h).fill(0.5), [1, 1, h, w], 'f32');
      const { batch, params } = augment(make({ p: 1 }), { image }, { seed: 12 });
      const shape = (params[0] as DefectParams).shapes[0] as ShadeShape;
      const fp = footprint(shape, w, h)!;
      const out = batch.image.data as Float32Array;
      const mask = batch.mask!.data as Uint8Array;
      let marked = 0;
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const inside = x >= fp.x0 && x <= fp.x1 && y >= fp.y0 && y <= fp.y1;
          const i = (y - fp.y0) * (fp.x1 - fp.x0 + 1) + x - fp.x0;
          const k = inside ? fp.shade[i]! : 0;
          const [a, b] = k < 0 ? [f(1 + k), 0] : [f(1 - k), k];
          assert.equal(out[y * w + x], f(f(a * 0.5) + b), `${make.name} pixel ${x},${y}`);
          assert.equal(mask[y * w + x], inside && fp.mask[i] ? 255 : 0, `${make.name} mask ${x},${y}`);
          marked += mask[y * w + x] ? 1 : 0;
        }
      assert.ok(marked > 0, `${make.name} marks pixels`);
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of defectPrograms()) await gpu!.compile(p);
  });
});
