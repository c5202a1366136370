/** filter2dSeparable's GPU paths (the tile; the two-pass general path) against the CPU reference. */
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../../src/kernels/border.js';
import { filter2dSeparable } from '../../../src/ops/filters/separable.js';
import { gaussianKernel1d } from '../../../src/ops/filters/kernels.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { naturalImage, randomImage } from '../../_kit/images.js';
import { assertGpuMatchesCpu } from '../../_kit/parity.js';

const gpu = await testGpu();
const DTYPES = ['u8', 'u16', 'i32', 'f32', 'f16'] as const;

describe('filter2dSeparable at radii 0 and 1 (W % 4 == 0: the tile)', () => {
  test('every input dtype and border, interior and rim threads, several workgroups', { skip: gpuSkip(gpu) }, async () => {
    const kx = [-1, 0, 1];
    const ky = gaussianKernel1d(3, 0.8);
    for (const dtype of DTYPES) {
      for (const border of BORDER_MODES) {
        // 1040 px: interior tiles across; 268 px (u8): rows on 4 pixels, not on 16;
        // 45 rows: interior tiles and a short last one
        for (const w of dtype === 'u8' ? [1040, 268] : [1040]) {
          const x = (dtype === 'u8' ? naturalImage : randomImage)([2, 1, 45, w], dtype, 11);
          await assertGpuMatchesCpu(gpu!, [x], (t) => filter2dSeparable(t, { kx, ky, border, borderValue: 7, dtype }), {}, `${dtype} ${border} ${w}`);
        }
      }
    }
  });

  test('every output dtype from u8; radii 0..1 on each axis; narrow images', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([1, 3, 37, 80], 'u8', 4);
    for (const dtype of DTYPES) {
      for (const [kxs, kys] of [
        [3, 3],
        [3, 1],
        [1, 3],
      ] as const) {
        const kx = gaussianKernel1d(kxs, 0);
        const ky = gaussianKernel1d(kys, 0).map((v, i) => v * (i % 2 ? -1.5 : 2));
        await assertGpuMatchesCpu(
          gpu!,
          [x],
          (t) => filter2dSeparable(t, { kx, ky, border: 'reflect101', borderValue: 0, dtype }),
          {},
          `${dtype} ${kxs}x${kys}`,
        );
      }
    }
    for (const [h, w] of [
      [1, 4],
      [3, 8],
      [20, 12],
      [9, 16],
    ] as const) {
      for (const border of BORDER_MODES) {
        const small = randomImage([2, 1, h, w], 'u8', h + w);
        const kx = gaussianKernel1d(3, 0);
        await assertGpuMatchesCpu(
          gpu!,
          [small],
          (t) => filter2dSeparable(t, { kx, ky: kx, border, borderValue: 200, dtype: 'f32' }),
          {},
          `${h}x${w} ${border}`,
        );
      }
    }
  });
});

describe('filter2dSeparable tiled path (radii 2..8)', () => {
  test('every input dtype, border and radius; interior and rim tiles; rows on 4 pixels or not', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of DTYPES) {
      for (const border of BORDER_MODES) {
        // 200 px: interior tiles across (W % 4 == 0, quad loads, vec4 f32 stores); 203 px: rows
        // off the word grid (every tile resolves borders, scalar stores)
        for (const w of dtype === 'u8' || dtype === 'f32' ? [200, 203] : [200]) {
          const x = (dtype === 'u8' ? naturalImage : randomImage)([2, 1, 53, w], dtype, 5);
          const radii =
            dtype === 'u8'
              ? ([
                  [2, 2],
                  [5, 1],
                  [8, 0],
                ] as const)
              : ([[2, 2]] as const);
          for (const [rx, ry] of radii) {
            const kx = gaussianKernel1d(2 * rx + 1, 0);
            const ky = gaussianKernel1d(2 * ry + 1, 0).map((v, i) => v * (i % 2 ? -1 : 1.5));
            await assertGpuMatchesCpu(
              gpu!,
              [x],
              (t) => filter2dSeparable(t, { kx, ky, border, borderValue: 9, dtype: 'f32' }),
              {},
              `${dtype} ${border} ${w} r=${rx},${ry}`,
            );
          }
        }
      }
    }
  });

  test('packed outputs (u8, u16, f16) from u8', { skip: gpuSkip(gpu) }, async () => {
    const x = naturalImage([1, 2, 40, 136], 'u8', 8);
    const k = gaussianKernel1d(5, 1.2);
    for (const dtype of ['u8', 'u16', 'f16', 'i32'] as const) {
      await assertGpuMatchesCpu(gpu!, [x], (t) => filter2dSeparable(t, { kx: k, ky: k, border: 'reflect101', borderValue: 0, dtype }), {}, dtype);
    }
  });
});
