import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFECT_CLASSES } from '../../src/samples/defects.js';
import { generateSample, mixSeed, resolveSampleOptions, type Sample } from '../../src/samples/generate.js';

const sameSample = (a: Sample, b: Sample) => {
  assert.deepEqual(a.image, b.image);
  assert.deepEqual(a.mask, b.mask);
  assert.deepEqual(a.defects, b.defects);
  assert.equal(a.surface, b.surface);
};

describe('samples/generate', () => {
  test('an image depends only on (options, index): same seed, same pixels, in any order', () => {
    const o = { width: 96, height: 80, seed: 42 };
    const late = [0, 1, 2, 3].map((i) => generateSample(o, i))[3]!;
    const first = generateSample(o, 3);
    sameSample(first, late);
    assert.notDeepEqual(generateSample(o, 2).image, first.image);
    assert.notDeepEqual(generateSample({ ...o, seed: 43 }, 3).image, first.image);
    assert.equal(first.image.length, 96 * 80);
    assert.equal(first.mask.length, 96 * 80);
  });

  test("the mask is 0/255, every mask pixel lies in a labelled defect's bbox, each bbox tight, every class appears", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) {
      const s = generateSample({ width: 120, height: 90, seed: 5, okFraction: 0.2, maxDefects: 5 }, i);
      const covered = new Uint8Array(s.mask.length);
      for (const d of s.defects) {
        seen.add(d.class);
        const { x, y, width, height } = d.bbox;
        let inBox = 0;
        const edges = [false, false, false, false];
        for (let yy = y; yy < y + height; yy++)
          for (let xx = x; xx < x + width; xx++) {
            covered[yy * 120 + xx] = 1;
            if (!s.mask[yy * 120 + xx]) continue;
            inBox++;
            if (yy === y) edges[0] = true;
            if (yy === y + height - 1) edges[1] = true;
            if (xx === x) edges[2] = true;
            if (xx === x + width - 1) edges[3] = true;
          }
        assert.ok(inBox >= d.area, `image ${i} ${d.class}: ${d.area} px inside its bbox`);
        assert.deepEqual(edges, [true, true, true, true], `image ${i} ${d.class}: tight bbox`);
      }
      let px = 0;
      for (let p = 0; p < s.mask.length; p++) {
        assert.ok(s.mask[p] === 0 || s.mask[p] === 255);
        if (s.mask[p]) {
          px++;
          assert.equal(covered[p], 1, `image ${i}: mask pixel ${p} in no defect's bbox`);
        }
      }
      assert.ok(px <= s.defects.reduce((n, d) => n + d.area, 0));
      if (s.defects.length === 0) assert.equal(px, 0, 'a clean image has an empty mask');
    }
    assert.deepEqual([...seen].sort(), [...DEFECT_CLASSES].sort());
  });

  test('okFraction 1 gives clean images, 0 defective ones with at most maxDefects defects; mixed uses every surface', () => {
    const surfaces = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const ok = generateSample({ width: 40, height: 30, okFraction: 1 }, i);
      assert.equal(ok.defects.length, 0);
      assert.ok(ok.mask.every((v) => v === 0));
      const ng = generateSample({ width: 40, height: 30, okFraction: 0, maxDefects: 2 }, i);
      assert.ok(ng.defects.length >= 1 && ng.defects.length <= 2);
      surfaces.add(ng.surface);
    }
    assert.deepEqual([...surfaces].sort(), ['brushed', 'noisy', 'textured']);
    let clean = 0;
    for (let i = 0; i < 200; i++) if (generateSample({ width: 24, height: 24, seed: 2, okFraction: 0.5 }, i).defects.length === 0) clean++;
    assert.ok(clean > 70 && clean < 130, `${clean} of 200 clean at okFraction 0.5`);
    assert.equal(generateSample({ width: 40, height: 30, kind: 'textured' }, 3).surface, 'textured');
  });

  test("depth 16 is a Uint16Array using all 16 bits; its defects are the 8-bit image's", () => {
    const o = { width: 64, height: 64, seed: 9, okFraction: 0 };
    const a = generateSample(o, 1);
    const b = generateSample({ ...o, depth: 16 }, 1);
    assert.ok(a.image instanceof Uint8Array && b.image instanceof Uint16Array);
    assert.equal(b.depth, 16);
    assert.deepEqual(b.defects, a.defects);
    assert.deepEqual(b.mask, a.mask);
    assert.ok(b.image.some((v) => v % 257 !== 0));
    for (let i = 0; i < a.image.length; i++) assert.ok(Math.abs(a.image[i]! - b.image[i]! / 257) <= 0.51);
  });

  test('options are validated with one sentence naming the option, the range and the value', () => {
    assert.throws(() => generateSample({ width: 0, height: 10 }, 0), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: 'Expected integer between 1 and 16384 for width but received 0 of type number',
    });
    assert.throws(() => generateSample({ width: 10, height: 10.5 }, 0), {
      message: 'Expected integer between 1 and 16384 for height but received 10.5 of type number',
    });
    assert.throws(() => generateSample({ width: 10, height: 10, seed: -1 }, 0), {
      message: 'Expected integer between 0 and 4294967295 for seed but received -1 of type number',
    });
    assert.throws(() => generateSample({ width: 10, height: 10, kind: 'rusty' as never }, 0), {
      message: 'Expected one of "brushed", "textured", "noisy", "mixed" for kind but received "rusty" of type string',
    });
    assert.throws(() => generateSample({ width: 10, height: 10, depth: 12 as never }, 0), {
      message: 'Expected 8 or 16 for depth but received 12 of type number',
    });
    assert.throws(() => generateSample({ width: 10, height: 10, okFraction: 2 }, 0), {
      message: 'Expected number between 0 and 1 for okFraction but received 2 of type number',
    });
    assert.throws(() => generateSample({ width: 10, height: 10, maxDefects: 0 }, 0), {
      message: 'Expected integer between 1 and 50 for maxDefects but received 0 of type number',
    });
    assert.throws(() => generateSample({ width: 10, height: 10 }, -1), {
      message: 'Expected integer between 0 and 2147483647 for index but received -1 of type number',
    });
    assert.deepEqual(resolveSampleOptions({ width: 3, height: 4 }), { width: 3, height: 4, seed: 1, kind: 'mixed', depth: 8, okFraction: 0.25, maxDefects: 4 });
  });

  test('seeds of neighbouring images are unrelated words', () => {
    const seeds = new Set<number>();
    for (let s = 0; s < 4; s++) for (let i = 0; i < 256; i++) seeds.add(mixSeed(s, i));
    assert.equal(seeds.size, 1024);
  });

  test('a 1024×1024 image takes well under a second of CPU', () => {
    generateSample({ width: 256, height: 256 }, 0); // warm-up (shared noise table)
    const c0 = process.cpuUsage();
    generateSample({ width: 1024, height: 1024, seed: 3, okFraction: 0, maxDefects: 8 }, 0);
    const c = process.cpuUsage(c0);
    const ms = (c.user + c.system) / 1000;
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms of CPU`);
  });
});
