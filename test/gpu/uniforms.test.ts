import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniformLayout } from '../../src/gpu/uniforms.js';

test('uniform layout follows WGSL alignment: scalars 4, vec4 and arrays 16, size multiple of 16', () => {
  const l = uniformLayout([
    { name: 'a', type: 'u32' },
    { name: 'b', type: 'vec4u' },
    { name: 'c', type: 'f32' },
    { name: 'w', type: { array: 'vec4f', length: 2 } },
    { name: 'd', type: 'i32' },
  ]);
  assert.equal(l.size, 96); // a@0 b@16 c@32 w@48..80 d@80, rounded to 16
  const view = new DataView(new ArrayBuffer(l.size));
  l.pack({ a: 7, b: [1, 2, 3, 4], c: 0.5, w: [1, 2, 3, 4, 5, 6, 7, 8], d: -3 }, view, 0);
  assert.equal(view.getUint32(0, true), 7);
  assert.equal(view.getUint32(16, true), 1);
  assert.equal(view.getUint32(28, true), 4);
  assert.equal(view.getFloat32(32, true), 0.5);
  assert.equal(view.getFloat32(48, true), 1);
  assert.equal(view.getFloat32(76, true), 8);
  assert.equal(view.getInt32(80, true), -3);
  assert.match(l.wgsl, /w: array<vec4<f32>, 2>,/);
  assert.throws(() => l.pack({ a: 1, b: [1], w: [], d: 1 } as never, view, 0), /Uniform c was not given a value/);
  assert.throws(() => l.pack({ a: 1, b: [1, 2, 3, 4, 5], c: 1, w: [], d: 1 }, view, 0), /Uniform b takes at most 4 values but received 5/);
});
