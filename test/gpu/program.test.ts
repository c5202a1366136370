import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildSource, cacheKey, type ProgramInfo } from '../../src/gpu/program.js';

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
});
