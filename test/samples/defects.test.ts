import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { components } from '../../src/eval/metrics.js';
import { mulberry32 } from '../../src/rng.js';
import {
  DEFECT_CLASSES,
  type DefectCanvas,
  drawDefect,
  footprint,
  markMask,
  patchFootprint,
  type SampleDefect,
  sampleDefect,
  shadePlane,
} from '../../src/samples/defects.js';

function canvas(width: number, height: number): DefectCanvas {
  return { width, height, img: new Float32Array(width * height).fill(0.5), mask: new Uint8Array(width * height) };
}

/** The defect's bbox is tight around mask pixels; area counts them; the image changed in the stated direction. */
function checkDefect(c: DefectCanvas, d: SampleDefect, what: string) {
  const { x, y, width, height } = d.bbox;
  assert.ok(x >= 0 && y >= 0 && x + width <= c.width && y + height <= c.height, `${what}: bbox inside the image`);
  let area = 0;
  let top = false;
  let bottom = false;
  let left = false;
  let right = false;
  let inside = 0;
  for (let yy = 0; yy < c.height; yy++)
    for (let xx = 0; xx < c.width; xx++) {
      const p = yy * c.width + xx;
      if (!c.mask[p]) continue;
      assert.equal(c.mask[p], 255);
      assert.ok(xx >= x && xx < x + width && yy >= y && yy < y + height, `${what}: mask pixel ${xx},${yy} outside the bbox`);
      area++;
      inside += c.img[p]!;
      top ||= yy === y;
      bottom ||= yy === y + height - 1;
      left ||= xx === x;
      right ||= xx === x + width - 1;
    }
  assert.equal(area, d.area, `${what}: area`);
  assert.ok(top && bottom && left && right, `${what}: the bbox touches mask pixels on all four sides`);
  const mean = inside / area;
  if (d.polarity === 'dark') assert.ok(mean < 0.5 - 0.03, `${what}: dark defect mean ${mean}`);
  else assert.ok(mean > 0.5 + 0.03, `${what}: bright defect mean ${mean}`);
}

describe('samples/defects', () => {
  test('each class draws a visible defect whose bbox and area describe its mask pixels', () => {
    for (const cls of DEFECT_CLASSES) {
      for (let seed = 1; seed <= 12; seed++) {
        const c = canvas(200, 150);
        const d = drawDefect(c, cls, mulberry32(seed));
        assert.ok(d, `${cls} ${seed} drew something`);
        assert.equal(d.class, cls);
        checkDefect(c, d, `${cls} seed ${seed}`);
      }
    }
  });

  test('cracks are dark, connected (8-neighbours) and thin; they branch', () => {
    let branched = 0;
    for (let seed = 1; seed <= 20; seed++) {
      const c = canvas(256, 256);
      const d = drawDefect(c, 'crack', mulberry32(seed))!;
      assert.equal(d.polarity, 'dark');
      assert.equal(components(c.mask, 256, 256).count, 1, `seed ${seed}: one piece`);
      // at most 3 px wide: no 4×4 block is all mask
      for (let y = 0; y + 4 <= 256; y++)
        for (let x = 0; x + 4 <= 256; x++) {
          let all = true;
          for (let k = 0; k < 16 && all; k++) all = c.mask[(y + (k >> 2)) * 256 + x + (k & 3)] === 255;
          assert.ok(!all, `seed ${seed}: a 4×4 block at ${x},${y}`);
        }
      // a branch point: a mask pixel with mask pixels in three separate directions is hard to test;
      // count endpoints instead (pixels with one 8-neighbour): a plain walk has two
      let ends = 0;
      for (let y = 1; y < 255; y++)
        for (let x = 1; x < 255; x++) {
          if (!c.mask[y * 256 + x]) continue;
          let n = 0;
          for (let k = 0; k < 9; k++) if (k !== 4 && c.mask[(y + Math.floor(k / 3) - 1) * 256 + x + (k % 3) - 1]) n++;
          if (n === 1) ends++;
        }
      if (ends > 2) branched++;
    }
    assert.ok(branched >= 3, `${branched} of 20 cracks branch`);
  });

  test('scratches are long lines; spots are compact blobs', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const s = canvas(300, 300);
      const scratch = drawDefect(s, 'scratch', mulberry32(seed))!;
      const extent = Math.hypot(scratch.bbox.width, scratch.bbox.height);
      assert.ok(scratch.area <= 3 * extent + 10, `seed ${seed}: a thin line (${scratch.area} px over ${extent})`);
      const p = canvas(300, 300);
      const spot = drawDefect(p, 'spot', mulberry32(seed))!;
      const box = spot.bbox.width * spot.bbox.height;
      assert.ok(spot.area >= 0.4 * box, `seed ${seed}: a blob fills its box (${spot.area} of ${box})`);
      assert.ok(spot.bbox.width <= 60 && spot.bbox.height <= 60);
    }
  });

  test('a defect drawn over another keeps both masks; defects at the border are clipped', () => {
    const c = canvas(8, 6);
    const r = mulberry32(9);
    const drawn = [drawDefect(c, 'scratch', r), drawDefect(c, 'spot', r), drawDefect(c, 'crack', r)].filter((d): d is SampleDefect => d !== null);
    assert.ok(drawn.length >= 2);
    let union = 0;
    for (const v of c.mask) if (v) union++;
    assert.ok(union <= drawn.reduce((s, d) => s + d.area, 0));
    for (const d of drawn) assert.ok(d.bbox.x + d.bbox.width <= 8 && d.bbox.y + d.bbox.height <= 6);
  });

  test('a shape is plain JSON: drawn again from its parsed copy it gives the same pixels', () => {
    for (const cls of ['crack', 'scratch', 'spot', 'pit', 'stain'] as const) {
      const shape = sampleDefect(cls, mulberry32(5), 96, 64);
      const a = footprint(shape, 96, 64)!;
      const b = footprint(JSON.parse(JSON.stringify(shape)), 96, 64)!;
      assert.deepEqual([b.x0, b.y0, b.x1, b.y1], [a.x0, a.y0, a.x1, a.y1], cls);
      assert.deepEqual(b.shade, a.shade, cls);
      assert.deepEqual(b.mask, a.mask, cls);
    }
  });

  test('pits are dark craters with a bright rim; stains are soft blotches with a mask inside their shade', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const pit = footprint(sampleDefect('pit', mulberry32(seed), 128, 128), 128, 128)!;
      let darkMask = 0;
      let bright = 0;
      let masked = 0;
      pit.mask.forEach((m, i) => {
        masked += m;
        if (m && pit.shade[i]! < 0) darkMask++;
        if (!m && pit.shade[i]! > 0) bright++;
      });
      assert.ok(masked > 0 && darkMask === masked, `pit ${seed}: every mask pixel is darkened`);
      assert.ok(bright > 0, `pit ${seed}: a lit rim`);
      const stain = footprint(sampleDefect('stain', mulberry32(seed), 128, 128), 128, 128)!;
      let inside = 0;
      stain.mask.forEach((m, i) => {
        if (m) {
          inside++;
          assert.notEqual(stain.shade[i], 0);
        }
      });
      assert.ok(inside >= 9, `stain ${seed}: ${inside} mask pixels`);
    }
  });

  test('shading moves reflectance towards 0 or 1; a patch footprint is its destination rectangle', () => {
    const W = 40;
    const img = new Float32Array(W * 30).fill(0.6);
    const spot = sampleDefect('spot', mulberry32(3), W, 30, { contrast: [0.9, 0.9] });
    const fp = footprint({ ...spot, polarity: 'bright' }, W, 30)!;
    shadePlane(img, W, fp);
    assert.ok(img.some((v) => v > 0.6) && img.every((v) => v >= 0.6 && v <= 1));
    const mask = new Uint8Array(W * 30);
    const drawn = markMask(mask, W, fp, 7)!;
    assert.equal(mask.filter((v) => v === 7).length, drawn.area);

    const patch = sampleDefect('cutpaste', mulberry32(4), W, 30);
    const pf = patchFootprint(patch);
    assert.deepEqual([pf.x0, pf.y0, pf.x1, pf.y1], [patch.dx, patch.dy, patch.dx + patch.width - 1, patch.dy + patch.height - 1]);
    assert.ok(pf.mask.every((m) => m === 1) && pf.shade.every((k) => k === 0));
    assert.ok(patch.sx + patch.width <= W && patch.sy + patch.height <= 30 && patch.gain !== 1);
  });
});
