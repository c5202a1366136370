import { describe, test } from 'node:test';
import { DTYPES, type DType } from '../../../src/dtype.js';
import { pointwiseProgram, runPointwise } from '../../../src/ops/color/pointwise.js';
import { cpuPixelKernel } from '../../../src/ops/pixel-kernel.js';
import { testGpu } from '../../_kit/gpu.js';
import { randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();

// Writes a value that encodes (q, p, c) so a wrong plane or channel index shows up in any output dtype.
function probe(input: DType, output: DType, planes: boolean) {
  return pointwiseProgram({
    name: 'test_pointwise_probe',
    key: '',
    input,
    output,
    planes,
    uniforms: [],
    body: /* wgsl */ `
fn value(i: u32, q: u32, p: u32, c: u32) -> f32 {
  return src_load(i) + f32(q) * 8.0 + f32(p) * 0.5 + f32(c) * 64.0;
}`,
  });
}

describe('pointwiseProgram', () => {
  test('plane, in-plane and channel indices are right across word boundaries (odd and 1-pixel planes, batches)', { skip: !gpu }, async () => {
    for (const output of ['u8', 'u16', 'f32', 'f16'] as const) {
      for (const [planes, [N, C, H, W]] of [
        [true, [3, 3, 3, 5]],
        [false, [3, 3, 3, 5]],
        [true, [5, 7, 1, 1]], // plane of 1: every element a new plane
        [true, [2, 1, 1, 3]],
        [true, [1, 5, 7, 3]],
        [true, [2, 3, 37, 41]], // several workgroups of 4 × 256 words
      ] as const) {
        const x = randomImage([N, C, H, W], 'u8', 11);
        await assertGpuMatchesCpu(
          gpu!,
          [x],
          (t) => {
            if (t.device === 'gpu') return runPointwise(probe('u8', output, planes), t, [N, C, H, W], output, {});
            return cpuPixelKernel([N, C, H, W], output, (n, c, y, xx) => {
              const i = ((n * C + c) * H + y) * W + xx;
              return planes ? t.data[i]! + (n * C + c) * 8 + (y * W + xx) * 0.5 + c * 64 : t.data[i]!;
            });
          },
          { int: 0 },
          `${output} planes=${planes} [${N}, ${C}, ${H}, ${W}]`,
        );
      }
    }
  });

  test('variants compile for every dtype pair', { skip: !gpu }, async () => {
    for (const i of DTYPES) for (const o of DTYPES) await gpu!.compile(probe(i, o, true));
  });
});
