import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildSource, cacheKey, sizedProgram, type ProgramInfo } from '../../src/gpu/program.js';
import { uniformLayout } from '../../src/gpu/uniforms.js';

const copy = (views?: Record<string, string>): ProgramInfo => ({
  name: 'test_views',
  key: '',
  inputs: [{ name: 'src', dtype: 'u8', ...(views ? { views } : {}) }],
  outputs: [{ name: 'out', dtype: 'f32', views: { out_v: 'vec4<f32>' } }],
  uniforms: [{ name: 'n', type: 'u32' }],
  workgroupSize: 64,
  body: '@compute @workgroup_size(WG)\nfn main(@builtin(global_invocation_id) g: vec3<u32>) { if (g.x < u.n) { out_v[g.x] = vec4<f32>(u8x4_f32(src_v[g.x].x)); } }',
});

describe('program descriptors', () => {
  test('views are declared at their binding, with its access mode', () => {
    const source = buildSource(copy({ src_v: 'vec4<u32>' })).source;
    assert.match(
      source,
      /@group\(0\) @binding\(1\) var<storage, read> src: array<u32>;\n@group\(0\) @binding\(1\) var<storage, read> src_v: array<vec4<u32>>;/,
    );
    assert.match(source, /@group\(0\) @binding\(2\) var<storage, read_write> out_v: array<vec4<f32>>;/);
  });

  test('views are part of the cache key', () => {
    assert.notEqual(cacheKey(copy({ src_v: 'vec4<u32>' })), cacheKey(copy({ src_v: 'vec2<u32>' })));
    assert.notEqual(cacheKey(copy({ src_v: 'vec4<u32>' })), cacheKey(copy()));
  });

  test('a sized uniform array holds the size class of its value (powers of two from 8 vec4s, at most its length); equal classes share one program', () => {
    const p: ProgramInfo = {
      ...copy(),
      uniforms: [
        { name: 'n', type: 'u32' },
        { name: 'ps', type: { array: 'vec4f', length: 2048, sized: true } },
      ],
    };
    const held = (rows: number) => {
      const v = sizedProgram(p, { n: 1, ps: new Array<number>(rows * 4).fill(1) });
      const arrays = buildSource(v).source.match(/ps: array<vec4<f32>, (\d+)>/);
      return { program: v, vec4s: Number(arrays![1]), bytes: uniformLayout(v.uniforms).size };
    };
    assert.deepEqual(
      [1, 8, 9, 32, 33, 1000, 2048].map((r) => held(r).vec4s),
      [8, 8, 16, 32, 64, 1024, 2048],
    );
    // a batch of 32 one-vec4 rows uploads 32 rows and the header, not room for 2048
    assert.equal(held(32).bytes, 16 + 32 * 16);
    assert.equal(held(20).program, held(32).program);
    assert.notEqual(cacheKey(held(20).program), cacheKey(held(33).program));
    // more than the length is refused when packed, as for any array
    const over = held(2049);
    assert.equal(over.vec4s, 2048);
    const values = { n: 1, ps: new Array<number>(2049 * 4).fill(1) };
    assert.throws(
      () => uniformLayout(over.program.uniforms).pack(values, new DataView(new ArrayBuffer(over.bytes)), 0),
      /Uniform ps takes at most 8192 values but received 8196/,
    );
    const plain = copy();
    assert.equal(sizedProgram(plain, { n: 1 }), plain);
  });
});
