import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { isKensaError } from '../../../src/errors.js';
import { decodeJpeg, decodeJpegBatch, type JpegBatch } from '../../../src/ops/jpeg/index.js';
import { jpegReduceProgram, jpegShrinkPlan, reduceAxis, reduceCubic, reduceCubicGpu } from '../../../src/ops/jpeg/reduce.js';
import { DEFAULT_MAX_PIXELS, type DecodeScale, decodeBuffer } from '../../../src/pipeline/decode.js';
import { Tensor } from '../../../src/tensor.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { encodeJpeg, makeJpeg, mismatch, picture } from './_jpeg.js';

const gpu = await testGpu();

function planar(px: Uint8Array, w: number, h: number, c: number): Uint8Array {
  const out = new Uint8Array(px.length);
  for (let i = 0; i < w * h; i++) for (let k = 0; k < c; k++) out[k * w * h + i] = px[i * c + k]!;
  return out;
}

/** Sizes: even (an exact ½), odd on either axis (a shrink just under 2, masks of every phase), 1 and 2 wide. */
const SIZES: [number, number, 1 | 3][] = [
  [64, 48, 3],
  [37, 23, 3],
  [101, 77, 1],
  [301, 207, 3],
  [3, 5, 1],
  [2, 9, 3],
  [1, 7, 1],
];

/** Files of every sampling kensa decodes, even and odd sizes, one a few pixels across. */
/** Each file's sample of a GPU batch at `scale` is decode.ts's (sharp's) there: its shape and every byte. */
async function assertAsSharp(batch: JpegBatch, files: readonly Uint8Array[], scale: DecodeScale, channels: 'gray' | 'rgb'): Promise<void> {
  for (const [i, f] of files.entries()) {
    const w = batch.where[i]!;
    assert.ok('tensor' in w, `file ${i}`);
    const t = batch.tensors[w.tensor]!;
    const per = t.size / t.shape[0]!;
    const all = new Uint8Array(await gpu!.read(t.gpu.ref, t.byteLength));
    const want = await decodeBuffer('x.jpg', Buffer.from(f), { scale, channels, maxPixels: DEFAULT_MAX_PIXELS });
    assert.deepEqual(t.shape.slice(1), [want.channels, want.height, want.width], `file ${i}`);
    assert.equal(mismatch(all.subarray(w.index * per, (w.index + 1) * per), want.data as Uint8Array), null, `file ${i} ${channels} at ${scale}`);
  }
}

async function scaledFiles(): Promise<Uint8Array[]> {
  return [
    await makeJpeg({ w: 64, h: 48, c: 3, quality: 90, subsampling: '4:2:0' }),
    await makeJpeg({ w: 67, h: 45, c: 3, quality: 90, subsampling: '4:2:0' }),
    await makeJpeg({ w: 61, h: 77, c: 3, quality: 50, subsampling: '4:4:4' }),
    await makeJpeg({ w: 45, h: 17, c: 1, quality: 90 }),
    encodeJpeg(50, 30, [2, 1]),
    encodeJpeg(38, 26, [1, 2]),
    await makeJpeg({ w: 9, h: 7, c: 3, quality: 90, subsampling: '4:2:0' }),
  ];
}

describe("decoding at ½, ¼ and ⅛: libjpeg's DCT scaling and libvips' cubic reduce", () => {
  test('the CPU reference equals sharp resize(⌈w/2⌉, ⌈h/2⌉, cubic) byte for byte', async () => {
    for (const [w, h, c] of SIZES) {
      const px = picture(w, h, c, w + h);
      const png = await sharp(px, { raw: { width: w, height: h, channels: c } })
        .png()
        .toBuffer();
      const ow = Math.ceil(w / 2);
      const oh = Math.ceil(h / 2);
      const { data, info } = await sharp(png).resize({ width: ow, height: oh, fit: 'fill', kernel: 'cubic' }).raw().toBuffer({ resolveWithObject: true });
      const theirs = planar(new Uint8Array(data), ow, oh, info.channels).subarray(0, c * ow * oh);
      assert.equal(mismatch(reduceCubic(planar(px, w, h, c), c, h, w, oh, ow), theirs), null, `${w}×${h}×${c}`);
    }
  });

  test("an axis' masks: 9 points for a shrink of 2, each phase summing to about 4096, the centre between the two pixels it halves", () => {
    const a = reduceAxis(64, 32);
    assert.equal(a.points, 9);
    for (let t = 0; t <= 64; t++) {
      const sum = a.masks.subarray(t * 9, t * 9 + 9).reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(sum - 4096) <= 9, `phase ${t}: ${sum}`);
    }
    // output 5 reads input 7 … 15 (the 9th tap weightless), centred on 10.5: Catmull-Rom at
    // ±1.75, ±1.25, ±0.75, ±0.25 output pixels (−0.0234375, −0.0703125, 0.2265625, 0.8671875),
    // normalised by their sum 2 and truncated to 1/4096
    assert.equal(a.first[5], 7);
    const m = a.phase[5]! * 9;
    assert.deepEqual(Array.from(a.masks.subarray(m, m + 9)), [-48, -144, 464, 1776, 1776, 464, -144, -48, 0]);
  });

  test('the CPU decode at ½, ¼ and ⅛ (decodeJpeg scale) equals decode.ts there; a file sharp box-shrinks first is refused', async () => {
    for (const f of await scaledFiles()) {
      for (const scale of [0.5, 0.25, 0.125] as const) {
        for (const channels of ['gray', 'rgb'] as const) {
          const want = await decodeBuffer('x.jpg', Buffer.from(f), { scale, channels, maxPixels: DEFAULT_MAX_PIXELS });
          const got = decodeJpeg(f, { scale, channels });
          assert.deepEqual([got.channels, got.height, got.width], [want.channels, want.height, want.width]);
          assert.equal(mismatch(got.data, want.data as Uint8Array), null, `${channels} at ${scale}`);
        }
      }
    }
    // 2 × 300 at ⅛ is 1 × 38: no shrink-on-load (the width shrinks by 2 only), so libvips starts the height's 7.9 with a box shrink
    const thin = await makeJpeg({ w: 2, h: 300, c: 1, quality: 90 });
    assert.equal(jpegShrinkPlan(2, 300, 0.125), null);
    assert.throws(
      () => decodeJpeg(thin, { scale: 0.125 }),
      (e: Error) => isKensaError(e) && e.code === 'KENSA_ERR_JPEG_UNSUPPORTED' && /box-shrunk/.test(e.message),
    );
    assert.throws(() => decodeJpeg(thin, { scale: 0.3 as 0.25 }), /one of 1, 0\.5, 0\.25, 0\.125 for scale but received 0\.3/);
  });

  test('on the GPU equals the CPU reference, gray of RGB after the reduce included', { skip: gpuSkip(gpu) }, async () => {
    for (const [w, h, c] of SIZES) {
      const n = 2;
      const src = new Uint8Array(n * c * h * w);
      for (let s = 0; s < n; s++) src.set(planar(picture(w, h, c, s + 3), w, h, c), s * c * h * w);
      const ow = Math.ceil(w / 2);
      const oh = Math.ceil(h / 2);
      const x = await Tensor.fromArray(src, [n, c, h, w], 'u8').toGpu(gpu!);
      for (const gray of c === 3 ? [false, true] : [false]) {
        const y = await reduceCubicGpu(gpu!, x, oh, ow, gray);
        assert.deepEqual(y.shape, [n, gray ? 1 : c, oh, ow]);
        const got = new Uint8Array(await gpu!.read(y.gpu.ref, y.byteLength));
        const want = reduceCubic(src, n * c, h, w, oh, ow);
        const expect = gray ? new Uint8Array(n * oh * ow) : want;
        if (gray) {
          const p = oh * ow;
          for (let s = 0; s < n; s++) {
            for (let i = 0; i < p; i++) {
              const [r, g, b] = [want[3 * s * p + i]!, want[(3 * s + 1) * p + i]!, want[(3 * s + 2) * p + i]!];
              expect[s * p + i] = ((299 * r + 587 * g + 114 * b + 500) / 1000) | 0;
            }
          }
        }
        assert.equal(mismatch(got, expect), null, `${w}×${h}×${c} gray ${gray}`);
        y.dispose();
      }
      x.dispose();
    }
  });

  test('decodeJpegBatch at scale ½ equals decode.ts at scale ½ (sharp), gray and RGB, a mixed batch', { skip: gpuSkip(gpu) }, async () => {
    const files = [
      await makeJpeg({ w: 64, h: 48, c: 3, quality: 90, subsampling: '4:2:0' }),
      // another size with the same size at ½: a tensor of its own
      await makeJpeg({ w: 63, h: 47, c: 3, quality: 90, subsampling: '4:2:0' }),
      await makeJpeg({ w: 37, h: 23, c: 3, quality: 50, subsampling: '4:4:4' }),
      await makeJpeg({ w: 45, h: 17, c: 1, quality: 90 }),
      encodeJpeg(30, 20, [2, 1]),
      await makeJpeg({ w: 64, h: 48, c: 3, quality: 80, subsampling: '4:2:0' }, { seed: 9 }),
    ];
    for (const channels of ['gray', 'rgb'] as const) {
      const batch = await decodeJpegBatch(gpu!, files, { channels, scale: 0.5 });
      assert.equal(batch.tensors.length, 5);
      await assertAsSharp(batch, files, 0.5, channels);
      for (const t of batch.tensors) t.dispose();
    }
  });

  test('decodeJpegBatch at ¼ and ⅛ (libjpeg DCT scaling by 2 and 4, then the reduce) equals decode.ts there: gray, 4:2:0, 4:4:4, 4:2:2, 4:4:0, odd sizes', {
    skip: gpuSkip(gpu),
  }, async () => {
    const files = await scaledFiles();
    for (const scale of [0.25, 0.125] as const) {
      for (const channels of ['gray', 'rgb'] as const) {
        const batch = await decodeJpegBatch(gpu!, files, { channels, scale });
        await assertAsSharp(batch, files, scale, channels);
        for (const t of batch.tensors) t.dispose();
      }
    }
    // a file sharp box-shrinks first gets its error; the rest of the batch decodes
    const thin = await makeJpeg({ w: 2, h: 300, c: 1, quality: 90 });
    const batch = await decodeJpegBatch(gpu!, [thin, files[0]!], { scale: 0.125 });
    const [t, f] = batch.where;
    assert.ok(t && 'error' in t && t.error.code === 'KENSA_ERR_JPEG_UNSUPPORTED');
    assert.ok(f && 'tensor' in f);
    for (const x of batch.tensors) x.dispose();
  });

  test('both passes compile', { skip: gpuSkip(gpu) }, async () => {
    for (const axis of ['v', 'h'] as const) await gpu!.compile(jpegReduceProgram(axis));
  });
});
