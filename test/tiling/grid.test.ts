import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cropPlane, levelSide, pasteInterior, scaleRect, tileGrid } from '../../src/tiling/grid.js';
import { afterPyrDown, afterStencil, afterUpsample } from '../../src/tiling/halo.js';

test('tile interiors partition the plane; crops add the halo, clamped to the plane', () => {
  const tiles = tileGrid(600, 700, { tile: 256, halo: 20, align: 8 });
  assert.equal(tiles.length, 3 * 3);
  const seen = new Uint8Array(600 * 700);
  for (const { interior: i, crop: c } of tiles) {
    assert.equal(i.x % 8, 0);
    assert.equal(c.x % 8, 0, 'the halo is rounded up to the alignment');
    assert.ok(c.x <= i.x && c.y <= i.y && c.x + c.w >= i.x + i.w && c.y + c.h >= i.y + i.h);
    assert.ok(c.x + c.w <= 600 && c.y + c.h <= 700 && c.x >= 0 && c.y >= 0);
    for (let y = i.y; y < i.y + i.h; y++) for (let x = i.x; x < i.x + i.w; x++) seen[y * 600 + x]!++;
  }
  assert.ok(seen.every((v) => v === 1));
  assert.deepEqual(tiles[4], { interior: { x: 256, y: 256, w: 256, h: 256 }, crop: { x: 232, y: 232, w: 304, h: 304 } });
  assert.deepEqual(tiles[8], { interior: { x: 512, y: 512, w: 88, h: 188 }, crop: { x: 488, y: 488, w: 112, h: 212 } });
  assert.deepEqual(tileGrid(10, 10, { tile: 100, halo: 3 }), [{ interior: { x: 0, y: 0, w: 10, h: 10 }, crop: { x: 0, y: 0, w: 10, h: 10 } }]);
});

test('window crops keep the full window size, moved inside the plane, and still contain their interior', () => {
  const tiles = tileGrid(600, 700, { tile: 256, halo: 20, align: 8, window: true });
  const seen = new Uint8Array(600 * 700);
  for (const { interior: i, crop: c } of tiles) {
    assert.deepEqual([c.w, c.h], [304, 304], 'tile + 2 · the halo rounded up to the alignment');
    assert.ok(c.x <= i.x && c.y <= i.y && c.x + c.w >= i.x + i.w && c.y + c.h >= i.y + i.h);
    assert.ok(c.x + c.w <= 600 && c.y + c.h <= 700 && c.x >= 0 && c.y >= 0);
    for (let y = i.y; y < i.y + i.h; y++) for (let x = i.x; x < i.x + i.w; x++) seen[y * 600 + x]!++;
  }
  assert.ok(seen.every((v) => v === 1));
  // the first is the halo crop grown past the plane's start, the last moved back from its end
  assert.deepEqual(tiles[0]!.crop, { x: 0, y: 0, w: 304, h: 304 });
  assert.deepEqual(tiles[8], { interior: { x: 512, y: 512, w: 88, h: 188 }, crop: { x: 296, y: 396, w: 304, h: 304 } });
  // a plane smaller than the window: crops of the plane's side
  assert.deepEqual(tileGrid(100, 50, { tile: 64, halo: 8, window: true })[1]!.crop, { x: 20, y: 0, w: 80, h: 50 });
});

test('a tile side is rounded down to the alignment; bad sizes are refused', () => {
  assert.equal(tileGrid(100, 10, { tile: 30, halo: 0, align: 16 })[1]!.interior.x, 16);
  assert.throws(() => tileGrid(10, 10, { tile: 0, halo: 0 }), /^KensaError: Expected integer between 1 and 65535 for tile but received 0 of type number$/);
});

test('crop then paste the interior rebuilds the plane', () => {
  const W = 37;
  const H = 23;
  const src = { data: Float32Array.from({ length: W * H }, (_, i) => i), width: W, height: H };
  const dst = { data: new Float32Array(W * H), width: W, height: H };
  for (const t of tileGrid(W, H, { tile: 8, halo: 3 })) pasteInterior(dst, cropPlane(src, t.crop), t.crop, t.interior);
  assert.deepEqual(dst.data, src.data);
});

test('levels: sides halve rounding up, as pyrDown; rects scale with them', () => {
  assert.equal(levelSide(601, 8), 76);
  assert.equal(levelSide(601, 1), 601);
  assert.deepEqual(scaleRect({ x: 512, y: 0, w: 89, h: 64 }, 8, 601, 64), { x: 64, y: 0, w: 12, h: 8 });
});

test('halo arithmetic', () => {
  assert.equal(afterStencil(3, 1), 4);
  assert.equal(afterPyrDown(3), 3);
  assert.equal(afterPyrDown(0), 1);
  assert.equal(afterUpsample(2, 4), 12);
});
