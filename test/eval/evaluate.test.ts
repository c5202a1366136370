import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { evaluateMasks, type Evaluation } from '../../src/eval/evaluate.js';
import { readMask, type Mask, type NamedMask } from '../../src/eval/masks.js';
import { addCounts, compareMasks, scores } from '../../src/eval/metrics.js';
import { writeSamples } from '../../src/samples/write.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-eval-'));
after(() => rmSync(root, { recursive: true, force: true }));

function mask(w: number, h: number, px: readonly (readonly [number, number])[]): Mask {
  const data = new Uint8Array(w * h);
  for (const [x, y] of px) data[y * w + x] = 255;
  return { width: w, height: h, data };
}
const line = (x: number, y0: number, y1: number) => Array.from({ length: y1 - y0 + 1 }, (_, i) => [x, y0 + i] as const);
async function save(dir: string, name: string, m: Mask) {
  mkdirSync(dir, { recursive: true });
  await sharp(m.data, { raw: { width: m.width, height: m.height, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(join(dir, `${name}.png`));
}

const T = join(root, 'truth');
const P = join(root, 'pred');
const truth: Record<string, Mask> = {
  a: mask(16, 12, line(5, 1, 10)),
  b: mask(16, 12, []),
  c: mask(16, 12, [
    [2, 2],
    [3, 2],
    [2, 3],
    [3, 3],
    [12, 8],
  ]),
  d: mask(8, 8, [[1, 1]]),
  e: mask(16, 12, line(9, 0, 5)),
};
const pred: Record<string, Mask> = {
  a: mask(16, 12, line(6, 1, 10)), // shifted one pixel
  c: mask(16, 12, [
    [2, 2],
    [3, 2],
    [2, 3],
    [3, 3],
    [14, 1],
  ]), // the blob, not the speck; a false alarm
  d: mask(6, 6, [[1, 1]]), // wrong size
  x: mask(16, 12, [[0, 0]]), // no truth
};

before(async () => {
  for (const [n, m] of Object.entries(truth)) await save(T, n, m);
  for (const [n, m] of Object.entries(pred)) await save(P, n, m);
  writeFileSync(join(P, 'e.png'), 'truncated'); // unreadable
});

function expectedOverall(tolerance: number) {
  const a = compareMasks(pred.a!.data, truth.a!.data, 16, 12, tolerance);
  const b = compareMasks(new Uint8Array(192), truth.b!.data, 16, 12, tolerance);
  const c = compareMasks(pred.c!.data, truth.c!.data, 16, 12, tolerance);
  return { a, b, c, all: addCounts(addCounts(a, b), c) };
}

describe('eval/evaluate', () => {
  test('folders: scored, missing (as empty), size mismatch and unreadable files as errors, unmatched listed', async () => {
    const e = await evaluateMasks(P, T, { tolerance: 1 });
    assert.equal(e.tolerance, 1);
    assert.equal(e.distance, 'euclidean');
    assert.deepEqual(
      e.images.map((i) => [i.name, i.status]),
      [
        ['a', 'scored'],
        ['b', 'missing'],
        ['c', 'scored'],
        ['d', 'error'],
        ['e', 'error'],
      ],
    );
    assert.deepEqual(e.missing, ['b']);
    assert.deepEqual(e.unmatched, ['x']);
    assert.equal(e.errors.length, 2);
    assert.deepEqual(e.errors[0], { name: 'd', error: 'size mismatch: prediction 6×6, truth 8×8' });
    assert.equal(e.errors[1]!.name, 'e');
    assert.match(e.errors[1]!.error, /^prediction: /);
    const x = expectedOverall(1);
    assert.equal(e.overall.images, 3);
    assert.deepEqual(e.overall.counts, x.all);
    // by hand: a: 10 px each side all within 1 px; c: 4 of 5 predicted near truth, 4 of 5 truth recalled
    assert.deepEqual(e.overall.scores, {
      precision: (10 + 4) / (10 + 5),
      recall: (10 + 4) / (10 + 5),
      f1: (10 + 4) / (10 + 5),
      iou: (0 + 4) / (20 + 6),
      objectRecall: (1 + 1) / (1 + 2),
      objectPrecision: (1 + 1) / (1 + 2),
    });
    const a = e.images[0]!;
    assert.ok(a.status === 'scored');
    assert.deepEqual(a.scores, { precision: 1, recall: 1, f1: 1, iou: 0, objectRecall: 1, objectPrecision: 1 });
    // tolerance 0: the shifted line is wrong twice over
    const strict = await evaluateMasks(P, T, { tolerance: 0 });
    assert.deepEqual(strict.overall.counts, expectedOverall(0).all);
    assert.equal(strict.overall.scores.precision, 4 / 15);
  });

  test('a producer of (name, mask) pairs as prediction gives the folder result', async () => {
    async function* fromRun(): AsyncGenerator<NamedMask> {
      for (const name of ['c', 'a', 'x', 'd']) yield { name, mask: await readMask(join(P, `${name}.png`)) };
      yield { name: 'e', mask: { width: 16, height: 12, data: new Uint8Array(5) } };
    }
    const e = await evaluateMasks(fromRun, T, { tolerance: 1 });
    const f = await evaluateMasks(P, T, { tolerance: 1 });
    assert.deepEqual(e.overall, f.overall);
    assert.deepEqual(e.missing, ['b']);
    assert.deepEqual(e.unmatched, ['x']);
    assert.deepEqual(
      e.images.filter((i) => i.status !== 'error'),
      f.images.filter((i) => i.status !== 'error'),
    );
    assert.deepEqual(e.errors, [
      { name: 'd', error: 'size mismatch: prediction 6×6, truth 8×8' },
      { name: 'e', error: 'prediction: mask data holds 5 bytes, not width × height = 192' },
    ]);
  });

  test('producers on both sides (sync iterables too); a name yielded twice is an error item', async () => {
    const t = () => Object.entries(truth).map(([name, m]) => ({ name, mask: m }));
    const p = () => [
      { name: 'a', mask: pred.a! },
      { name: 'a', mask: pred.a! },
      { name: 'c', mask: pred.c! },
    ];
    const e = await evaluateMasks(p, t, { tolerance: 1 });
    assert.deepEqual(
      e.images.map((i) => [i.name, i.status]),
      [
        ['a', 'scored'],
        ['a', 'error'],
        ['b', 'missing'],
        ['c', 'scored'],
        ['d', 'missing'],
        ['e', 'missing'],
      ],
    );
    assert.deepEqual(e.errors, [{ name: 'a', error: 'prediction yielded twice' }]);
    assert.equal(e.overall.images, 5);
  });

  test('bad options and sources are refused with one sentence', async () => {
    await assert.rejects(evaluateMasks(P, T, { tolerance: -1 }), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: 'Expected number between 0 and 100 for tolerance but received -1 of type number',
    });
    await assert.rejects(evaluateMasks(P, T, { threshold: 255 }), {
      message: 'Expected integer between 0 and 254 for threshold but received 255 of type number',
    });
    await assert.rejects(evaluateMasks(42 as never, T), {
      message: 'Expected a folder path or a function yielding { name, mask } for pred but received 42 of type number',
    });
    await assert.rejects(evaluateMasks(P, join(root, 'none')), {
      message: `Expected a folder of masks for truth but received ${JSON.stringify(join(root, 'none'))} of type string`,
    });
  });

  test('on kensa samples: truth against itself is perfect; a one-pixel shift is forgiven by tolerance 1 only', async () => {
    const S = join(root, 'set');
    await writeSamples({ out: S, count: 6, width: 64, height: 48, seed: 21, okFraction: 0.2, jobs: 1 });
    const self = await evaluateMasks(S, S);
    assert.equal(self.overall.images, 6);
    assert.deepEqual(self.overall.scores, { precision: 1, recall: 1, f1: 1, iou: 1, objectRecall: 1, objectPrecision: 1 });
    // predictions shifted one pixel right (the rightmost column falls off)
    const shifted = join(root, 'shifted');
    for (const f of readdirSync(join(S, 'masks'))) {
      const m = await readMask(join(S, 'masks', f));
      const out = new Uint8Array(m.data.length);
      for (let y = 0; y < m.height; y++) for (let x = 0; x + 1 < m.width; x++) out[y * m.width + x + 1] = m.data[y * m.width + x]!;
      await save(shifted, f.replace(/\.png$/, ''), { ...m, data: out });
    }
    const one: Evaluation = await evaluateMasks(shifted, S, { tolerance: 1 });
    assert.equal(one.overall.scores.precision, 1);
    assert.ok(one.overall.scores.recall! > 0.98, String(one.overall.scores.recall));
    const zero = await evaluateMasks(shifted, S, { tolerance: 0 });
    assert.ok(zero.overall.scores.iou! < 0.9 && zero.overall.scores.precision! < 1);
    assert.equal(zero.overall.scores.precision, zero.overall.counts.intersection / zero.overall.counts.predicted);
    assert.deepEqual(scores(zero.overall.counts), zero.overall.scores);
  });
});
