/** The word-kernel frame on its own: every thread sees its unit, row and plane row. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ProgramInfo } from '../../src/gpu/program.js';
import { runWordKernel, WORD_DIMS, WORD_MAIN, WORD_WG } from '../../src/kernels/word.js';
import { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';

const gpu = await testGpu();

const coordinates: ProgramInfo = {
  name: 'test_word_coordinates',
  key: '',
  inputs: [{ name: 'src', dtype: 'u8' }],
  outputs: [{ name: 'out', dtype: 'u8' }],
  uniforms: [WORD_DIMS, { name: 'bias', type: 'u32' }],
  workgroupSize: WORD_WG,
  body: /* wgsl */ `
${WORD_MAIN}
  out[i] = q | (y << 8u) | (rows << 16u) | (((src[i] & 0xffu) + u.bias) << 24u);
}`,
};

test('runWordKernel: one thread per word (the rest of the workgroup does nothing); q, y and rows per word', { skip: gpuSkip(gpu) }, async () => {
  // 2 images × 3 channels × 5 rows × 3 words: 90 words, one workgroup of 256 threads
  const [n, c, h, w] = [2, 3, 5, 12];
  const x = Tensor.fromArray(
    Uint8Array.from({ length: n * c * h * w }, (_, i) => i % 7),
    [n, c, h, w],
    'u8',
  );
  const y = await runWordKernel(coordinates, await x.toGpu(gpu!), w / 4, { bias: 100 }).toCpu();
  assert.deepEqual([...y.shape], [n, c, h, w]);
  for (let i = 0; i < (n * c * h * w) / 4; i++) {
    const rows = Math.floor(i / 3);
    assert.deepEqual([...y.data.subarray(4 * i, 4 * i + 4)], [i % 3, rows % h, rows, (x.data[4 * i]! + 100) & 0xff], `word ${i}`);
  }
});
