import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DTYPES, type DType } from '../../src/dtype.js';
import { POINTWISE_LAYOUTS, pointwisePrograms, runPointwise, takesVectorProgram, type PointwiseSpec } from '../../src/kernels/pointwise.js';
import { cpuPixelKernel } from '../../src/kernels/pixel.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { randomImage } from '../_kit/images.js';
import { assertGpuMatchesCpu } from '../_kit/parity.js';

const gpu = await testGpu();

// Writes a value that encodes (q, p, c) so a wrong plane or channel index shows up in any output dtype.
function probe(input: DType, output: DType, planes: boolean): PointwiseSpec {
  return {
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
  };
}

// Elementwise: exact in f32 for u8/u16/f16 inputs (x · 1.5 needs one more bit), saturating in u8.
function mapProbe(input: DType, output: DType, planes: boolean): PointwiseSpec {
  return {
    name: 'test_pointwise_map',
    key: '',
    input,
    output,
    planes,
    elementwise: true,
    uniforms: [{ name: 'add', type: 'f32' }],
    body: /* wgsl */ `
fn map4(v: vec4<f32>, c: u32) -> vec4<f32> {
  return v * 1.5 + (f32(c) * 64.0 + u.add);
}`,
  };
}

describe('pointwise programs', () => {
  test('plane, in-plane and channel indices are right across word boundaries (odd and 1-pixel planes, batches)', { skip: gpuSkip(gpu) }, async () => {
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
            if (t.device === 'gpu') return runPointwise(probe('u8', output, planes), t, [N, C, H, W], {});
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

  test('elementwise specs take the vector program only where planes (or the batch) hold a multiple of 16 elements', () => {
    const s = (planes: boolean) => mapProbe('u8', 'u8', planes);
    assert.equal(takesVectorProgram(s(true), [2, 3, 4, 8]), true);
    assert.equal(takesVectorProgram(s(true), [2, 3, 3, 8]), false); // planes of 24
    assert.equal(takesVectorProgram(s(false), [2, 1, 3, 8]), true); // 48 in all
    assert.equal(takesVectorProgram(s(false), [1, 1, 3, 5]), false);
    assert.equal(takesVectorProgram(probe('u8', 'u8', false), [2, 3, 4, 8]), false); // not elementwise
  });

  test('scalar and vector programs (both layouts) of an elementwise spec equal the CPU: every input and output dtype, channels, batches', {
    skip: gpuSkip(gpu),
  }, async () => {
    const shapes = [
      [2, 3, 4, 8], // planes of 32: vector with channel indices
      [1, 1, 72, 80], // two vector workgroups, the second partial
      [3, 2, 5, 7], // odd: scalar
    ] as const;
    for (const input of ['u8', 'u16', 'f16'] as const) {
      for (const output of DTYPES) {
        for (const shape of shapes) {
          const spec = mapProbe(input, output, true);
          const choices = takesVectorProgram(spec, shape) ? (['scalar', ...POINTWISE_LAYOUTS] as const) : (['scalar'] as const);
          for (const choice of choices) {
            const x = randomImage(shape, input, 5);
            await assertGpuMatchesCpu(
              gpu!,
              [x],
              (t) => {
                if (t.device === 'gpu') return runPointwise(spec, t, shape, { add: -3 }, choice);
                const C = shape[1];
                return cpuPixelKernel(shape, output, (n, c, y, xx) => x.at(((n * C + c) * shape[2] + y) * shape[3] + xx) * 1.5 + (c * 64 - 3));
              },
              { int: 0, atol: 0, rtol: 0 },
              `${input}→${output} [${shape.join(', ')}] ${choice}`,
            );
          }
        }
      }
    }
  });

  test('variants compile for every dtype pair', { skip: gpuSkip(gpu) }, async () => {
    for (const i of DTYPES)
      for (const o of DTYPES) for (const p of [...pointwisePrograms(probe(i, o, true)), ...pointwisePrograms(mapProbe(i, o, false))]) await gpu!.compile(p);
  });
});
