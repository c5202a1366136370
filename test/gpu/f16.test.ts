import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Gpu } from '../../src/gpu/gpu.js';
import { buildSource, cacheKey, type ProgramInfo } from '../../src/gpu/program.js';
import { convert, convertPrograms } from '../../src/ops/color/convert.js';
import { gradientMagnitude, gradientPrograms } from '../../src/ops/features/gradient.js';
import { gaussianBlur } from '../../src/ops/filters/gaussian.js';
import { separablePrograms } from '../../src/ops/filters/separable.js';
import { BORDER_MODES } from '../../src/kernels/border.js';
import type { Tensor } from '../../src/tensor.js';
import { testGpu } from '../_kit/gpu.js';
import { naturalImage, randomImage } from '../_kit/images.js';

const gpu = await testGpu();
const native = gpu?.info.f16 ? gpu : null;

const copy: ProgramInfo = {
  name: 'test_f16_copy',
  key: '',
  inputs: [{ name: 'x', dtype: 'f16' }],
  outputs: [{ name: 'y', dtype: 'f16' }],
  uniforms: [{ name: 'n', type: 'u32' }],
  workgroupSize: 64,
  body: `@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < u.n) { y[g.x] = y_pack(vec2<f32>(x_load(2u * g.x), x_load(2u * g.x + 1u))); }
}`,
};

/** Largest distance in units of the last place between two arrays of f16 bits (same sign assumed). */
function maxUlp(a: Uint16Array, b: Uint16Array): number {
  assert.equal(a.length, b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    if ((a[i]! ^ b[i]!) & 0x8000) worst = Math.max(worst, (a[i]! & 0x7fff) + (b[i]! & 0x7fff));
    else worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  }
  return worst;
}

describe('native f16', () => {
  test('the preamble enables f16 and the cache key names the variant only when asked', () => {
    assert.ok(buildSource(copy, { f16: true }).source.startsWith('enable f16;'));
    assert.ok(!buildSource(copy, { f16: false }).source.includes('enable f16'));
    assert.ok(!buildSource(copy).source.includes('f16>'));
    assert.notEqual(cacheKey(copy, { f16: true }), cacheKey(copy, { f16: false }));
    assert.equal(cacheKey(copy), cacheKey(copy, { f16: false }));
  });

  test('GpuInfo says whether f16 is native and lists subgroup-matrix shapes', { skip: !gpu }, () => {
    assert.equal(gpu!.info.f16, gpu!.info.features.includes('shader-f16'));
    assert.ok(Array.isArray(gpu!.info.subgroupMatrixConfigs));
    for (const c of gpu!.info.subgroupMatrixConfigs) {
      for (const k of ['M', 'N', 'K'] as const) assert.ok(Number.isInteger(c[k]) && c[k] > 0);
      assert.equal(typeof c.componentType, 'string');
      assert.equal(typeof c.resultComponentType, 'string');
    }
    assert.equal(gpu!.source(copy).startsWith('enable f16;'), gpu!.info.f16);
  });

  describe('packed and native f16 agree', { skip: !native ? 'the adapter has no shader-f16' : false }, () => {
    const withPacked = async <T>(fn: (packed: Gpu) => Promise<T>): Promise<T> => {
      const packed = await Gpu.open({ shaderF16: false });
      try {
        return await fn(packed);
      } finally {
        packed.destroy();
      }
    };

    test('shaderF16: false keeps the packed path', async () => {
      await withPacked(async (packed) => {
        assert.equal(packed.info.f16, false);
        assert.ok(!packed.info.features.includes('shader-f16'));
        assert.ok(!packed.source(copy).includes('enable f16'));
      });
    });

    test('f16 programs compile in both variants', async () => {
      const programs = [...convertPrograms(), ...separablePrograms(['f16'], BORDER_MODES), ...gradientPrograms(['u8', 'f16'], ['f16'], ['reflect101'])].filter(
        (p) => [...p.inputs, ...p.outputs].some((b) => b.dtype === 'f16'),
      );
      assert.ok(programs.length > 0);
      await withPacked(async (packed) => {
        for (const p of programs) {
          await packed.compile(p);
          await native!.compile(p);
        }
      });
    });

    test('f16 outputs and inputs equal within one f16 rounding step', async () => {
      const u8 = naturalImage([2, 1, 48, 40], 'u8');
      const f16 = randomImage([1, 2, 24, 30], 'f16', 7);
      const ops: [string, Tensor, (x: Tensor) => Tensor][] = [
        ['convert u8→f16', u8, (x) => convert(x, { dtype: 'f16', scale: 1 / 255 })],
        ['convert f16→f16', f16, (x) => convert(x, { dtype: 'f16', scale: -3.7, offset: 0.25 })],
        ['gaussian 5×5 u8→f16', u8, (x) => gaussianBlur(x, { ksize: 5, dtype: 'f16' })],
        ['gaussian 3×3 f16', f16, (x) => gaussianBlur(x, { ksize: 3 })],
        ['gradient magnitude u8→f16', u8, (x) => gradientMagnitude(x, { dtype: 'f16' })],
      ];
      await withPacked(async (packed) => {
        for (const [name, x, op] of ops) {
          const run = async (g: Gpu) => {
            const xg = await x.toGpu(g);
            const y = op(xg);
            const out = await y.toCpu();
            xg.dispose();
            y.dispose();
            return out;
          };
          const a = await run(packed);
          const b = await run(native!);
          assert.equal(a.dtype, 'f16', name);
          assert.ok(maxUlp(a.data as Uint16Array, b.data as Uint16Array) <= 1, name);
        }
      });
    });
  });
});
