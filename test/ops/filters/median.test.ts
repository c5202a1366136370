import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { medianBlur, medianNetwork, medianPrograms, networkCost, type SelectionNetwork, withMedianTuning } from '../../../src/ops/filters/median.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { fromMat, opencv, toMat } from '../../_kit/opencv.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

/** Popcount of a 32-bit integer. */
function ones(v: number): number {
  let c = 0;
  for (let x = v >>> 0; x !== 0; x &= x - 1) c++;
  return c;
}

/**
 * 0-1 principle: a min/max network selects the median of every input iff it does for every
 * input of zeros and ones. Runs all 2^n 0-1 inputs, 32 at a time (bit l of a wire's word is
 * lane l); inputs 0..4 of a lane come from the lane number, the rest from the batch number.
 * The median of a 0-1 input is 1 iff more than half of its bits are 1.
 */
function selectsMedianOfEvery01Input(net: SelectionNetwork): boolean {
  const n = net.inputs;
  const laneOnes = Array.from({ length: 32 }, (_, l) => ones(l));
  const lowWords = Array.from({ length: 5 }, (_, b) => {
    let m = 0;
    for (let l = 0; l < 32; l++) if ((l >> b) & 1) m |= 1 << l;
    return m;
  });
  // expected[k]: lanes whose total count of ones is > n/2 when the batch contributes k ones
  const expected = Array.from({ length: n + 1 }, (_, k) => {
    let m = 0;
    for (let l = 0; l < 32; l++) if (laneOnes[l]! + k > (n - 1) / 2) m |= 1 << l;
    return m;
  });
  const opI = Int32Array.from(net.ops, (o) => o[0]);
  const opJ = Int32Array.from(net.ops, (o) => o[1]);
  const w = new Int32Array(n);
  for (let batch = 0; batch < 2 ** (n - 5); batch++) {
    for (let b = 0; b < 5; b++) w[b] = lowWords[b]!;
    for (let b = 5; b < n; b++) w[b] = (batch >> (b - 5)) & 1 ? -1 : 0;
    for (let q = 0; q < opI.length; q++) {
      const i = opI[q]!;
      const j = opJ[q]!;
      const a = w[i]!;
      const c = w[j]!;
      w[i] = a & c;
      w[j] = a | c;
    }
    if (w[net.output] !== (expected[ones(batch)]! | 0)) return false;
  }
  return true;
}

describe('medianBlur', () => {
  test('selection networks pick the median of every 0-1 input (0-1 principle), with few operations', () => {
    const n3 = medianNetwork(3);
    const n5 = medianNetwork(5);
    assert.ok(selectsMedianOfEvery01Input(n3), '3×3 network');
    assert.ok(selectsMedianOfEvery01Input(n5), '5×5 network');
    // a broken network (one op dropped) must fail the check
    assert.ok(!selectsMedianOfEvery01Input({ ...n3, ops: n3.ops.slice(1) }), 'check detects a broken network');
    assert.ok(networkCost(n3) <= 32, `3×3 cost ${networkCost(n3)}`);
    assert.ok(networkCost(n5) <= 202, `5×5 cost ${networkCost(n5)}`);
  });

  test('CPU reference equals OpenCV medianBlur exactly (u8, u16, f32; ksize 3 and 5)', async () => {
    const { cv } = await opencv();
    for (const dtype of ['u8', 'u16', 'f32'] as const) {
      for (const ksize of [3, 5] as const) {
        for (const make of [naturalImage, randomImage]) {
          const x = make([1, 1, 19, 23], dtype, 3);
          const ours = medianBlur(x, { ksize });
          const src = toMat(cv, x);
          const dst = new cv.Mat();
          // cv.medianBlur(src, dst, ksize)  (always BORDER_REPLICATE)
          cv.medianBlur(src, dst, ksize);
          assertClose(ours, fromMat(dst, dtype), { int: 0, atol: 0, rtol: 0 }, `${dtype} k=${ksize} ${make.name}`);
          src.delete();
          dst.delete();
        }
      }
    }
  });

  test('removes isolated specks, keeps edges; replicate border on a 1×1 image', () => {
    const data = new Uint8Array(7 * 7).fill(10);
    data[3 * 7 + 3] = 255;
    for (let y = 0; y < 7; y++) for (let x = 5; x < 7; x++) data[y * 7 + x] = 200;
    const y = medianBlur(Tensor.fromArray(data, [1, 1, 7, 7], 'u8'), { ksize: 3 });
    assert.equal(y.data[3 * 7 + 3], 10);
    assert.equal(y.data[3 * 7 + 5], 200);
    assert.equal(y.data[3 * 7 + 4], 10);
    const one = medianBlur(Tensor.fromArray(new Float32Array([4.5]), [1, 1, 1, 1], 'f32'), { ksize: 5 });
    assert.equal(one.data[0], 4.5);
  });

  test('GPU equals the CPU reference exactly: dtypes, ksizes, batches, odd and tiny sizes, 1 and 3 channels', { skip: gpuSkip(gpu) }, async () => {
    for (const [shape, dtype] of [
      [[1, 1, 17, 23], 'u8'],
      [[3, 3, 9, 8], 'u8'],
      [[1, 1, 2, 3], 'u8'],
      // u8 rows of a multiple of 4 pixels take the word kernel: one word per row, several, batches
      [[1, 1, 5, 4], 'u8'],
      [[2, 3, 7, 12], 'u8'],
      [[3, 1, 33, 64], 'u8'],
      // and rows of a multiple of 16 the 3×3 strip kernel: several strips and row blocks, a partial block
      [[2, 3, 21, 32], 'u8'],
      [[1, 1, 40, 1040], 'u8'],
      [[2, 1, 1, 8], 'u8'],
      [[2, 1, 13, 7], 'u16'],
      [[2, 3, 11, 5], 'f32'],
      [[1, 1, 6, 33], 'f16'],
      [[2, 1, 1, 1], 'f16'],
    ] as const) {
      for (const ksize of [3, 5] as const) {
        const x = (shape[0] > 1 ? randomImage : naturalImage)(shape as [number, number, number, number], dtype, 7);
        await assertGpuMatchesCpu(gpu!, [x], (t) => medianBlur(t, { ksize }), { int: 0, atol: 0, rtol: 0 }, `${dtype} k=${ksize} [${shape.join(', ')}]`);
      }
    }
  });

  test('the 3×3 u8 strip kernel equals the CPU reference at every rows-per-thread', { skip: gpuSkip(gpu) }, async () => {
    for (const rows of [1, 3, 16]) {
      await withMedianTuning({ stripRows: rows }, async () => {
        const x = naturalImage([2, 1, 35, 1056], 'u8', rows);
        await assertGpuMatchesCpu(gpu!, [x], (t) => medianBlur(t, { ksize: 3 }), { int: 0, atol: 0, rtol: 0 }, `rows=${rows}`);
      });
    }
  });

  test('every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of medianPrograms()) await gpu!.compile(p);
  });

  test('bad arguments name the argument and the allowed range', () => {
    const x = randomImage([1, 1, 4, 4], 'u8');
    assert.throws(() => medianBlur(x, { ksize: 4 as never }), /Expected 3 or 5 for ksize but received 4 of type number/);
    assert.throws(() => medianBlur(x, { ksize: 7 as never }), /Expected 3 or 5 for ksize but received 7 of type number/);
    assert.throws(() => medianBlur(x, { ksize: -3 as never }), /Expected 3 or 5 for ksize but received -3 of type number/);
    assert.throws(() => medianBlur(x, {} as never), /Expected 3 or 5 for ksize but received undefined of type undefined/);
    assert.throws(() => medianBlur(randomImage([1, 1, 4, 4], 'i32'), { ksize: 3 }), /Expected x of dtype u8, u16, f32, f16 but received i32/);
    assert.throws(() => medianBlur(x.reshape([16]), { ksize: 3 }), /Expected x of shape \[N, C, H, W\] but received \[16\]/);
  });
});
