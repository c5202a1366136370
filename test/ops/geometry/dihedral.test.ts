import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ELEMENTS_PER_WORD, type DType } from '../../../src/dtype.js';
import type { Gpu } from '../../../src/gpu/gpu.js';
import { dihedralPrograms, isDihedral } from '../../../src/ops/geometry/dihedral.js';
import { warpAffine } from '../../../src/ops/geometry/warp-affine.js';
import { integerMap, type GatherBorder, type IntegerMap } from '../../../src/ops/geometry/gather.js';
import type { Tensor } from '../../../src/tensor.js';
import { dispatchedPrograms, gpuSkip, testGpu } from '../../_kit/gpu.js';
import { rng } from '../../_kit/images.js';
import { bits, DTYPES, specialImage } from './_exact.js';

const gpu = await testGpu();

type Dims = readonly [number, number, number, number];

/**
 * Element g (0..7) of the dihedral group on an oh×ow output: bit 0 mirrors the source columns,
 * bit 1 its rows, bit 2 swaps the axes; (dx, dy) translates the source position.
 */
function element(g: number, oh: number, ow: number, dx = 0, dy = 0): IntegerMap {
  const fx = (g & 1) !== 0;
  const fy = (g & 2) !== 0;
  // along output x and y when the axes are kept; swapped, sx follows y and sy follows x
  const [xLen, yLen] = (g & 4) !== 0 ? [oh, ow] : [ow, oh];
  const along = (flip: boolean, len: number, d: number) => [flip ? -1 : 1, (flip ? len - 1 : 0) + d] as const;
  const [ax, cx] = along(fx, xLen, dx);
  const [ay, cy] = along(fy, yLen, dy);
  return (g & 4) !== 0 ? { mx: [ax, 0, cx], my: [0, ay, cy] } : { mx: [0, ax, cx], my: [ay, 0, cy] };
}

/** Runs `op` on the CPU and on the GPU; asserts equal bits and that the GPU dispatched `program` alone. */
async function assertTiled(g: Gpu, x: Tensor, op: (t: Tensor) => Tensor, what: string, program = 'integer_map_tiled'): Promise<void> {
  const cpu = op(x);
  const onGpu = await x.toGpu(g);
  const { result: out, names } = dispatchedPrograms(g, () => op(onGpu));
  assert.deepEqual(names, [program], `${what}: dispatched`);
  const back = await out.toCpu();
  out.dispose();
  onGpu.dispose();
  assert.deepEqual(back.shape, cpu.shape, what);
  assert.deepEqual(bits(back), bits(cpu), what);
}

describe('tiled integer maps (dihedral group and translations)', () => {
  test('isDihedral takes the 8 signed permutations with integer offsets only', () => {
    for (let g = 0; g < 8; g++) assert.ok(isDihedral(element(g, 5, 7, 2, -3)), `element ${g}`);
    assert.ok(!isDihedral({ mx: [0, 2, 0], my: [1, 0, 0] }));
    assert.ok(!isDihedral({ mx: [1, 1, 0], my: [1, 0, 0] }));
    assert.ok(!isDihedral({ mx: [0, 1, 0.5], my: [1, 0, 0] }));
    assert.ok(!isDihedral({ mx: [0, 0, 0], my: [1, 0, 0] }));
  });

  test('the element helper matches the ops: g = 1 mirrors columns, g = 4 transposes', () => {
    assert.deepEqual(element(1, 4, 6), { mx: [0, -1, 5], my: [1, 0, 0] });
    assert.deepEqual(element(4, 6, 4), { mx: [1, 0, 0], my: [0, 1, 0] });
  });

  test('every element, whole images: bit-exact at every dtype, odd sizes over several tiles', { skip: gpuSkip(gpu) }, async () => {
    // 67 and 133: not multiples of 4 nor of a tile (64 elements, 32 for 4-byte dtypes); rows start anywhere in a word
    const shape: Dims = [2, 3, 67, 133];
    for (const dtype of DTYPES) {
      const x = specialImage(shape, dtype, 5);
      for (let g = 0; g < 8; g++) {
        const out: Dims = g & 4 ? [2, 3, 133, 67] : shape;
        // flips of rows on whole words (4-byte dtypes here) go to the flip word kernels
        const program = g < 4 && ELEMENTS_PER_WORD[dtype] === 1 ? 'flip_words' : 'integer_map_tiled';
        await assertTiled(gpu!, x, (t) => integerMap('t', t, out, dtype, 'inside', 0, element(g, out[2], out[3])), `${dtype} element ${g}`, program);
      }
    }
  });

  test('mixed per-sample maps with translations and a constant border (crops and pads at every edge)', { skip: gpuSkip(gpu) }, async () => {
    const r = rng(9);
    const pick = (n: number) => Math.floor(r() * n);
    for (const dtype of DTYPES) {
      const shape: Dims = [6, 2, 70, 70];
      const x = specialImage(shape, dtype, 7);
      // outputs smaller (crops), larger (pads) and of another aspect than the input
      for (const [oh, ow] of [
        [61, 45],
        [99, 131],
        [70, 70],
        [3, 5],
      ] as const) {
        const maps = Array.from({ length: shape[0] }, () => element(pick(8), oh, ow, pick(41) - 20, pick(41) - 20));
        const fill = dtype === 'f32' || dtype === 'f16' ? -1.5 : 200;
        await assertTiled(gpu!, x, (t) => integerMap('t', t, [6, 2, oh, ow], dtype, 'constant', fill, maps), `${dtype} ${oh}×${ow}`);
      }
    }
  });

  test('crops touching the right and bottom edges, one map for the batch and one per sample', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of ['u8', 'u16', 'f32'] as const satisfies readonly DType[]) {
      const x = specialImage([3, 1, 45, 77], dtype, 2);
      const edge: IntegerMap = { mx: [0, 1, 77 - 30], my: [1, 0, 45 - 21] };
      await assertTiled(gpu!, x, (t) => integerMap('t', t, [3, 1, 21, 30], dtype, 'inside', 0, edge), `${dtype} one crop`);
      const each: IntegerMap[] = [edge, { mx: [0, 1, 0], my: [1, 0, 0] }, { mx: [0, -1, 29 + 13], my: [-1, 0, 20 + 24] }];
      await assertTiled(gpu!, x, (t) => integerMap('t', t, [3, 1, 21, 30], dtype, 'inside', 0, each), `${dtype} per-sample crops`);
    }
  });

  test('tiny images: fewer elements than a word, one row, one column', { skip: gpuSkip(gpu) }, async () => {
    for (const dtype of ['u8', 'u16', 'f16'] as const satisfies readonly DType[]) {
      for (const [shape, border] of [
        [[2, 1, 1, 3], 'inside'],
        [[3, 2, 5, 1], 'inside'],
        [[1, 1, 1, 1], 'constant'],
      ] as const satisfies readonly (readonly [Dims, GatherBorder])[]) {
        const x = specialImage(shape, dtype, 4);
        for (let g = 0; g < 8; g++) {
          const out: Dims = g & 4 ? [shape[0], shape[1], shape[3], shape[2]] : shape;
          const grow = border === 'constant' ? 2 : 0;
          const o: Dims = [out[0], out[1], out[2] + grow, out[3] + grow];
          await assertTiled(
            gpu!,
            x,
            (t) => integerMap('t', t, o, dtype, border, 9, element(g, o[2], o[3], -1 * (grow / 2), -1 * (grow / 2))),
            `${dtype} [${shape}] ${g}`,
          );
        }
      }
    }
  });

  test('a nearest warpAffine by flips, quarter turns and integer shifts runs tiled, equal to its bilinear warp', { skip: gpuSkip(gpu) }, async () => {
    // source → destination matrices; bilinear at integer coordinates reads exactly one pixel
    const matrices = [
      [0, 1, 3, -1, 0, 40],
      [-1, 0, 36, 0, 1, -2],
      [1, 0, 0, 0, 1, 0],
      [0, -1, 41, -1, 0, 33],
    ];
    const x = specialImage([4, 3, 37, 37], 'u8', 6);
    const options = { matrix: matrices, width: 43, height: 35, borderValue: 77 };
    const nearest = warpAffine(x, { ...options, interpolation: 'nearest' });
    assert.deepEqual(bits(nearest), bits(warpAffine(x, { ...options, interpolation: 'bilinear' })));
    await assertTiled(gpu!, x, (t) => warpAffine(t, { ...options, interpolation: 'nearest' }), 'warpAffine per sample');
    await assertTiled(gpu!, x, (t) => warpAffine(t, { ...options, matrix: matrices[3]!, interpolation: 'nearest' }), 'warpAffine one matrix');
  });

  test('reflecting borders and other maps stay on the gather engine', { skip: gpuSkip(gpu) }, async () => {
    const x = specialImage([2, 1, 9, 11], 'u8', 3);
    const pad = element(6, 13, 15, -2, -2);
    await assertTiled(gpu!, x, (t) => integerMap('t', t, [2, 1, 13, 15], 'u8', 'reflect101', 0, pad), 'reflect101', 't_raw');
    await assertTiled(gpu!, x, (t) => integerMap('t', t, [2, 1, 4, 5], 'u8', 'inside', 0, { mx: [0, 2, 0], my: [2, 0, 0] }), 'scaling', 't_raw');
  });

  test('every tiled program compiles', { skip: gpuSkip(gpu) }, async () => {
    for (const p of dihedralPrograms()) await gpu!.compile(p);
  });
});
