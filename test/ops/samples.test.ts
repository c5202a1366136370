/**
 * takeSamples / putSamples: the samples' bits moved whole, on both backends (the GPU by buffer
 * copies, one per run of consecutive samples), and bad indices refused with one sentence.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { putSamples, samplesOnWords, takeSamples } from '../../src/ops/samples.js';
import type { Tensor } from '../../src/tensor.js';
import { assertClose, EXACT } from '../_kit/compare.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { randomImage } from '../_kit/images.js';

const gpu = await testGpu();

/** Sample n of a CPU batch as an array. */
const sample = (t: Tensor, n: number) => {
  const per = t.size / t.shape[0]!;
  return [...t.data.slice(n * per, (n + 1) * per)];
};

describe('takeSamples / putSamples', () => {
  test('take gathers the samples in the order given; put replaces them and keeps the rest', () => {
    const x = randomImage([6, 2, 3, 4], 'u8', 1);
    const v = randomImage([3, 2, 3, 4], 'u8', 2);
    const taken = takeSamples(x, [4, 1, 2]);
    assert.deepEqual(taken.shape, [3, 2, 3, 4]);
    assert.deepEqual(
      [0, 1, 2].map((k) => sample(taken, k)),
      [4, 1, 2].map((n) => sample(x, n)),
    );
    const put = putSamples(x, [5, 0, 1], v);
    const expected = [sample(v, 1), sample(v, 2), sample(x, 2), sample(x, 3), sample(x, 4), sample(v, 0)];
    assert.deepEqual(
      [0, 1, 2, 3, 4, 5].map((n) => sample(put, n)),
      expected,
    );
  });

  test('GPU equals the CPU bit for bit: dtypes, consecutive and scattered indices', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of ['u8', 'u16', 'f32', 'f16'] as const) {
      const x = randomImage([7, 3, 4, 8], dtype, 3);
      const v = randomImage([3, 3, 4, 8], dtype, 4);
      const gx = await x.toGpu(gpu!);
      const gv = await v.toGpu(gpu!);
      for (const indices of [
        [2, 3, 4],
        [6, 0, 3],
      ]) {
        const taken = takeSamples(gx, indices);
        assertClose(await taken.toCpu(), takeSamples(x, indices), EXACT, `${dtype} take ${indices}`);
        const put = putSamples(gx, indices, gv);
        assertClose(await put.toCpu(), putSamples(x, indices, v), EXACT, `${dtype} put ${indices}`);
        taken.dispose();
        put.dispose();
      }
      gx.dispose();
      gv.dispose();
    }
  });

  test('bad indices and values are refused with one sentence', async () => {
    const x = randomImage([4, 1, 2, 4], 'u8', 5);
    assert.throws(() => takeSamples(x, [1, 1]), /Expected a non-empty array of distinct sample indices from 0 to 3 for indices but received \[1, 1\]/);
    assert.throws(() => takeSamples(x, [4]), /from 0 to 3 for indices but received \[4\]/);
    assert.throws(() => takeSamples(x, []), /non-empty array/);
    assert.throws(() => putSamples(x, [0, 1], randomImage([1, 1, 2, 4], 'u8')), /Expected values of shape \[2, 1, 2, 4\] u8 but received \[1, 1, 2, 4\] u8/);
    assert.throws(() => putSamples(x, [0], randomImage([1, 1, 2, 4], 'u16')), /Expected values of shape \[1, 1, 2, 4\] u8 but received \[1, 1, 2, 4\] u16/);
    assert.ok(!samplesOnWords(randomImage([2, 1, 3, 3], 'u8')), '9 u8 pixels a sample: not on a word');
    if (gpu) {
      const odd = await randomImage([2, 1, 3, 3], 'u8').toGpu(gpu);
      assert.throws(() => takeSamples(odd, [0]), /Expected samples that start on a storage word on the GPU/);
      odd.dispose();
    }
  });
});
