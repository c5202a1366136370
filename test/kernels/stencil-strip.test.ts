/** The stencil-strip engine on its own: a weighted box through it equals the separable CPU reference, for every tuning. */
import { describe, test } from 'node:test';
import { BORDER_MODES } from '../../src/kernels/border.js';
import { filter2dSeparable } from '../../src/ops/filters/separable.js';
import { runStencilStrip, stencilStripFits } from '../../src/kernels/stencil-strip.js';
import { runStencilTile } from '../../src/kernels/stencil-tile.js';
import type { Tensor } from '../../src/tensor.js';
import assert from 'node:assert/strict';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { naturalImage } from '../_kit/images.js';
import { assertGpuMatchesCpu } from '../_kit/parity.js';
import { weightedBox } from '../_kit/stencil.js';

const gpu = await testGpu();

describe('stencil strips', () => {
  test('take u8 rows of a multiple of 16 pixels with radii up to 4', () => {
    const { spec } = weightedBox('u8', 'reflect101', 4, 4);
    assert.equal(stencilStripFits(spec, [1, 1, 8, 64]), true);
    assert.equal(stencilStripFits(spec, [1, 1, 8, 68]), false);
    assert.equal(stencilStripFits({ ...spec, rx: 5 }, [1, 1, 8, 64]), false);
    assert.equal(stencilStripFits({ ...spec, inDtype: 'f32' }, [1, 1, 8, 64]), false);
    assert.equal(stencilStripFits({ ...spec, outDtype: 'i32' }, [1, 1, 8, 64]), false);
  });

  test('equal the CPU reference: borders, radii, tunings, row ends, partial row blocks', { skip: gpuSkip(gpu) }, async () => {
    for (const [rows, quads] of [
      [16, 4],
      [5, 2],
      [1, 4],
      [3, 2],
    ] as const) {
      for (const border of BORDER_MODES) {
        for (const [rx, ry] of [
          [1, 1],
          [4, 2],
          [0, 3],
          [2, 0],
        ] as const) {
          // 1168 px = 73 strips: a second workgroup column of 9; 75 rows: a partial row block; 16 px: one strip with both row ends
          for (const shape of [
            [2, 1, 75, 1168],
            [1, 2, 9, 16],
          ] as const) {
            const x: Tensor = naturalImage([...shape], 'u8', rx + ry + rows);
            const { spec, kx, ky } = weightedBox('u8', border, rx, ry);
            const op = (t: Tensor) =>
              t.device === 'gpu' ? runStencilStrip(spec, t, {}, 3, { rows, quads }) : filter2dSeparable(t, { kx, ky, border, borderValue: 3, dtype: 'f32' });
            await assertGpuMatchesCpu(gpu!, [x], op, {}, `${border} r=${rx},${ry} rows=${rows} quads=${quads} [${shape.join(', ')}]`);
          }
        }
      }
    }
  });

  test('u8, u16 and f16 outputs equal the tiled stencil bit for bit', { skip: gpuSkip(gpu) }, async () => {
    const x = await naturalImage([1, 3, 21, 48], 'u8', 5).toGpu(gpu!);
    for (const quads of [2, 4] as const) {
      for (const outDtype of ['u8', 'f16', 'u16'] as const) {
        const spec = { ...weightedBox('u8', 'reflect101', 2, 1).spec, outDtype };
        const [a, b] = [await runStencilStrip(spec, x, {}, 0, { quads }).toCpu(), await runStencilTile(spec, x, {}).toCpu()];
        assert.deepEqual(a.data, b.data, `${outDtype} quads=${quads}`);
      }
    }
  });
});
