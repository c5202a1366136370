/** The tiled-stencil engine on its own: a weighted box through it equals the separable CPU reference. */
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../src/kernels/border.js';
import { filter2dSeparable } from '../../src/ops/filters/separable.js';
import { runStencilTile } from '../../src/kernels/stencil-tile.js';
import type { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { naturalImage, randomImage } from '../_kit/images.js';
import { assertGpuMatchesCpu } from '../_kit/parity.js';
import { weightedBox } from '../_kit/stencil.js';

const gpu = await testGpu();

describe('stencil tiles', () => {
  test('equals the CPU reference: borders, radii, interior and rim tiles, rows off the word grid', { skip: gpuSkip(gpu) }, async () => {
    for (const border of BORDER_MODES) {
      for (const [rx, ry] of [
        [1, 1],
        [5, 2],
        [0, 3],
      ] as const) {
        for (const [dtype, shape] of [
          ['u8', [2, 1, 75, 136]],
          ['f32', [1, 2, 40, 131]],
        ] as const) {
          const x: Tensor = (dtype === 'u8' ? naturalImage : randomImage)([...shape], dtype, rx + ry);
          const { spec, kx, ky } = weightedBox(dtype, border, rx, ry);
          const op = (t: Tensor) =>
            t.device === 'gpu' ? runStencilTile(spec, t, {}, 3) : filter2dSeparable(t, { kx, ky, border, borderValue: 3, dtype: 'f32' });
          await assertGpuMatchesCpu(gpu!, [x], op, {}, `${border} r=${rx},${ry} ${dtype} [${shape.join(', ')}]`);
        }
      }
    }
  });
});
