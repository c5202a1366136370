import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { mulberry32 } from '../../src/rng.js';
import { SURFACE_KINDS, addValueNoise, develop, surface } from '../../src/samples/surface.js';

/** Mean |difference| between neighbours along x and along y. */
function roughness(img: Float32Array | Uint8Array | Uint16Array, w: number, h: number): { x: number; y: number } {
  let sx = 0;
  let sy = 0;
  for (let y = 0; y < h - 1; y++)
    for (let x = 0; x < w - 1; x++) {
      const v = img[y * w + x]!;
      sx += Math.abs(img[y * w + x + 1]! - v);
      sy += Math.abs(img[(y + 1) * w + x]! - v);
    }
  const n = (w - 1) * (h - 1);
  return { x: sx / n, y: sy / n };
}

describe('samples/surface', () => {
  test('addValueNoise adds smooth noise bounded by amp, the same for the same stream', () => {
    const w = 97;
    const h = 61;
    const a = new Float32Array(w * h);
    const b = new Float32Array(w * h);
    addValueNoise(a, w, h, 16, 16, 0.1, mulberry32(4));
    addValueNoise(b, w, h, 16, 16, 0.1, mulberry32(4));
    assert.deepEqual(a, b);
    assert.ok(a.every((v) => Math.abs(v) <= 0.1 + 1e-6));
    assert.ok(
      a.some((v) => Math.abs(v) > 0.03),
      'not flat',
    );
    // smooth: a step between neighbours is at most the grid slope (amp·2 over a cell, ×1.5 for smoothstep)
    const r = roughness(a, w, h);
    assert.ok(r.x < 0.2 / 16 && r.y < 0.2 / 16, JSON.stringify(r));
  });

  test('brushed metal streaks along one axis: neighbours along the streaks differ far less than across', () => {
    for (let seed = 1; seed <= 6; seed++) {
      const img = surface('brushed', 160, 120, mulberry32(seed));
      const r = roughness(img, 160, 120);
      const along = Math.min(r.x, r.y);
      const across = Math.max(r.x, r.y);
      assert.ok(across > 4 * along, `seed ${seed}: ${JSON.stringify(r)}`);
    }
  });

  test('every surface is mid-grey reflectance, deterministic from its stream', () => {
    for (const kind of SURFACE_KINDS) {
      for (let seed = 1; seed <= 4; seed++) {
        const img = surface(kind, 64, 48, mulberry32(seed));
        assert.deepEqual(img, surface(kind, 64, 48, mulberry32(seed)));
        let min = Infinity;
        let max = -Infinity;
        let sum = 0;
        for (const v of img) {
          min = Math.min(min, v);
          max = Math.max(max, v);
          sum += v;
        }
        assert.ok(min > 0.1 && max < 0.9 && max - min > 0.02, `${kind} ${seed}: ${min}..${max}`);
        assert.ok(Math.abs(sum / img.length - 0.5) < 0.15, `${kind} mean ${sum / img.length}`);
      }
    }
  });

  test('develop: 8-bit rounds and saturates, 16-bit uses the whole range, the noisy camera is noisier', () => {
    const w = 128;
    const h = 96;
    const flat = () => new Float32Array(w * h).fill(0.5);
    const u8 = develop(flat(), w, h, 'brushed', 8, mulberry32(3));
    const u16 = develop(flat(), w, h, 'brushed', 16, mulberry32(3));
    assert.ok(u8 instanceof Uint8Array && u16 instanceof Uint16Array);
    // same stream: the 8-bit image is the 16-bit one at 8 bits (both rounded from one value)
    for (let i = 0; i < u8.length; i++) assert.ok(Math.abs(u8[i]! - u16[i]! / 257) <= 0.51, `pixel ${i}: ${u8[i]} vs ${u16[i]}`);
    assert.ok(
      u16.some((v) => v % 257 !== 0),
      '16-bit values are not 8-bit values scaled',
    );
    const sat = develop(new Float32Array(w * h).fill(3), w, h, 'textured', 8, mulberry32(1));
    assert.ok(sat.every((v) => v === 255));
    const black = develop(new Float32Array(w * h).fill(-1), w, h, 'textured', 16, mulberry32(1));
    assert.ok(black.every((v) => v === 0));
    const quiet = roughness(develop(flat(), w, h, 'brushed', 8, mulberry32(5)), w, h);
    const loud = roughness(develop(flat(), w, h, 'noisy', 8, mulberry32(5)), w, h);
    assert.ok(loud.x > 2 * quiet.x, `${loud.x} vs ${quiet.x}`);
  });
});
