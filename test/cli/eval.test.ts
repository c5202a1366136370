import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { EVAL_HELP, recipeComponents, run } from '../../src/cli/eval.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import type { Evaluation } from '../../src/eval/evaluate.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-cli-eval-'));
after(() => rmSync(root, { recursive: true, force: true }));
const T = join(root, 'truth');
const P = join(root, 'pred');
const Q = join(root, 'pred-bad');

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

async function save(dir: string, name: string, w: number, h: number, px: [number, number][]) {
  mkdirSync(dir, { recursive: true });
  const data = new Uint8Array(w * h);
  for (const [x, y] of px) data[y * w + x] = 255;
  await sharp(data, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(join(dir, `${name}.png`));
}

before(async () => {
  // img1: a 4 px vertical line; predicted one pixel to the right. img2: clean, predicted clean. img3: no prediction.
  await save(T, 'img1', 10, 8, [
    [3, 2],
    [3, 3],
    [3, 4],
    [3, 5],
  ]);
  await save(T, 'img2', 10, 8, []);
  await save(T, 'img3', 10, 8, [[7, 7]]);
  await save(P, 'img1', 10, 8, [
    [4, 2],
    [4, 3],
    [4, 4],
    [4, 5],
  ]);
  await save(P, 'img2', 10, 8, []);
  await save(Q, 'img1', 9, 8, []);
});

async function usage(argv: string[], message: string) {
  const { buf, io } = capture();
  assert.equal(await run(argv, io), 2, argv.join(' '));
  assert.equal(buf.err, `kensa eval: ${message}\nRun 'kensa eval --help' for usage.\n`);
  assert.equal(buf.out, '');
}

describe('kensa eval', () => {
  test('prints a table per image and the micro-averaged overall row', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--tolerance', '1'], io), 0, buf.err);
    const lines = buf.out.split('\n');
    assert.equal(lines[0], 'kensa eval: 3 images (2 with a prediction, 1 without (scored as empty), 0 errors), tolerance 1 px (Euclidean)');
    assert.deepEqual(lines[1]!.split(/ {2,}/), ['image', 'status', 'truth px', 'pred px', 'precision', 'recall', 'F1', 'IoU', 'objects', 'obj recall']);
    assert.deepEqual(lines[2]!.split(/ +/), ['img1', 'scored', '4', '4', '1.000', '1.000', '1.000', '0.000', '1/1', '1.000']);
    assert.deepEqual(lines[3]!.split(/ +/), ['img2', 'scored', '0', '0', '-', '-', '-', '-', '0/0', '-']);
    assert.deepEqual(lines[4]!.split(/ +/), ['img3', 'missing', '1', '0', '-', '0.000', '0.000', '0.000', '0/1', '0.000']);
    // overall: 4 of 4 predicted pixels matched; 4 of 5 truth pixels recalled; F1 = 2·1·0.8/1.8
    assert.deepEqual(lines[5]!.split(/ {2,}/), ['overall (micro)', '3 images', '5', '4', '1.000', '0.800', '0.889', '0.000', '1/2', '0.500']);
    assert.equal(lines[6], 'missing predictions (1, scored as empty): img3');
    assert.equal(lines[7], '');
  });

  test('--json prints the evaluation; tolerance 0 counts the shifted line as wrong', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--tolerance', '0', '--json'], io), 0, buf.err);
    const e = JSON.parse(buf.out) as Evaluation;
    assert.equal(e.tolerance, 0);
    assert.equal(e.overall.scores.precision, 0);
    assert.equal(e.overall.scores.recall, 0);
    assert.deepEqual(e.missing, ['img3']);
  });

  test('an image that cannot be scored is listed and the exit code is 1', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--pred', Q, '--truth', T], io), 1);
    assert.match(buf.out, /\nerrors \(1, not scored\):\n {2}img1: size mismatch: prediction 9×8, truth 10×8\n$/);
    assert.match(buf.out, /^kensa eval: 3 images \(0 with a prediction, 2 without \(scored as empty\), 1 error\), tolerance 2 px \(Euclidean\)\n/);
  });

  test('--help prints the options', async () => {
    const { buf, io } = capture();
    assert.equal(await run(['-h'], io), 0);
    assert.equal(buf.out, EVAL_HELP);
  });

  test('bad flags exit 2 with a pinned message', async () => {
    writeFileSync(join(root, 'file.txt'), 'x');
    await usage([], '--pred is required (the folder of predicted masks, or --run)');
    await usage(['--pred', P], '--truth is required (the folder of ground-truth masks, or a kensa samples folder)');
    await usage(['--pred', join(root, 'nope'), '--truth', T], `--pred expects a folder of masks but received '${join(root, 'nope')}' (not a folder)`);
    await usage(['--pred', P, '--truth', join(root, 'file.txt')], `--truth expects a folder of masks but received '${join(root, 'file.txt')}' (not a folder)`);
    await usage(['--pred', P, '--truth', T, '--tolerance', 'wide'], "--tolerance expects a number between 0 and 100 but received 'wide'");
    await usage(['--pred', P, '--truth', T, '--tolerance', '101'], "--tolerance expects a number between 0 and 100 but received '101'");
    await usage(['--pred', P, '--truth', T, '--threshold', '255'], "--threshold expects an integer between 0 and 254 but received '255'");
    mkdirSync(join(root, 'empty'), { recursive: true });
    await usage(['--pred', P, '--truth', join(root, 'empty')], `--truth expects a folder of masks but '${join(root, 'empty')}' holds none`);
    await usage(['--pred', P, '--truth', T, 'extra'], "Unexpected argument 'extra'. This command does not take positional arguments");
  });
});

describe('kensa eval --run', () => {
  test('scores the masks an inspect run wrote; a run without masks or an unknown run is a usage error', async () => {
    const { runInspection } = await import('../../src/pipeline/run.js');
    const { writeFrames } = await import('../pipeline/_images.js');
    const { tempDir } = await import('../_kit/tmp.js');
    const dir = tempDir('kensa-eval-run-');
    await writeFrames(`${dir}/images`, 3, 48);
    const db = `${dir}/kensa.db`;
    const withMasks = await runInspection([`${dir}/images`], { db, device: 'cpu', masksDir: `${dir}/masks` });
    const { buf, io } = capture();
    assert.equal(await run(['--run', withMasks.run.id, '--db', db, '--truth', `${dir}/masks`, '--json'], io), 0, buf.err);
    const e = JSON.parse(buf.out) as { overall: { images: number; scores: { f1: number | null } } };
    assert.equal(e.overall.images, 3);
    assert.equal(e.overall.scores.f1, 1, 'a run scored against its own masks is perfect');
    const without = await runInspection([`${dir}/images`], { db, device: 'cpu' });
    await usage(
      ['--run', without.run.id, '--db', db, '--truth', `${dir}/masks`],
      `run ${without.run.id} was made without --masks: inspect again with --masks DIR, or pass --pred`,
    );
    await usage(['--run', 'nope', '--db', db, '--truth', `${dir}/masks`], `--run expects the id of a run in ${db} but received 'nope'`);
  });
});

describe("kensa eval --run --images: the run's verdicts", () => {
  test('the image level counts what inspect judged (its minScore), not the predicted area; the curve sweeps the image score', async () => {
    const { runInspection } = await import('../../src/pipeline/run.js');
    const { writeFrames } = await import('../pipeline/_images.js');
    const { tempDir } = await import('../_kit/tmp.js');
    const dir = tempDir('kensa-eval-run-verdicts-');
    const { defective } = await writeFrames(`${dir}/images`, 6, 48);
    const db = `${dir}/kensa.db`;
    const { openStore } = await import('../../src/store/store.js');
    const judged = async (id: string) => {
      const store = await openStore(db);
      const items = await store.items(id);
      await store.close();
      return items;
    };
    // the default run's masks stand for the truth: its NG frames are the defective ones
    const truthRun = await runInspection([`${dir}/images`], { db, device: 'cpu', masksDir: `${dir}/truth` });
    assert.deepEqual(new Set((await judged(truthRun.run.id)).filter((i) => i.verdict === 'NG').map((i) => i.itemKey)), defective);
    // the same masks, but a minScore no defect reaches: every image judged OK
    const strict = await runInspection([`${dir}/images`], {
      db,
      device: 'cpu',
      masksDir: `${dir}/strict`,
      recipe: parseRecipe({ verdict: { minScore: 1000 } }),
    });
    const strictItems = await judged(strict.run.id);
    assert.ok(strictItems.every((i) => i.verdict === 'OK'));
    const byArea = capture();
    assert.equal(await run(['--pred', `${dir}/strict`, '--truth', `${dir}/truth`, '--images', '--json'], byArea.io), 0, byArea.buf.err);
    const area = (JSON.parse(byArea.buf.out) as { imageLevel: { source: string; atZero: { missed: number } } }).imageLevel;
    assert.deepEqual([area.source, area.atZero.missed], ['area', 0]);
    const a = capture();
    assert.equal(await run(['--run', strict.run.id, '--db', db, '--truth', `${dir}/truth`, '--images', '--json'], a.io), 0, a.buf.err);
    const level = (
      JSON.parse(a.buf.out) as {
        imageLevel: {
          source: string;
          atZero: { missed: number; falseNg: number; defectiveImages: number };
          curve: { threshold: number; recall: number }[];
          withoutVerdict: string[];
        };
      }
    ).imageLevel;
    assert.equal(level.source, 'verdicts');
    assert.deepEqual([level.atZero.missed, level.atZero.falseNg, level.atZero.defectiveImages], [defective.size, 0, defective.size]);
    assert.deepEqual(level.withoutVerdict, []);
    // the curve's thresholds are the stored scores' midpoints: each defective image is NG below its score
    const scores = strictItems.flatMap((i) => (defective.has(i.itemKey) ? [i.score!] : []));
    const full = level.curve.find((p) => p.recall === 1)!;
    assert.ok(full.threshold < Math.min(...scores) && full.threshold > 0, `first threshold with every defective image NG: ${full.threshold}, scores ${scores}`);
    const t = capture();
    assert.equal(await run(['--run', strict.run.id, '--db', db, '--truth', `${dir}/truth`, '--images'], t.io), 0, t.buf.err);
    assert.match(
      t.buf.out,
      new RegExp(`image level \\(the run's verdicts\\): false-NG 0/${6 - defective.size} \\(0\\.000\\), missed ${defective.size}/${defective.size}`),
    );
    assert.match(t.buf.out, /score threshold/);
  });
});

describe('kensa eval --run: the minimum area', () => {
  test("the recipe's components.minArea and connectivity are read from the run; --min-area overrides them", async () => {
    assert.deepEqual(recipeComponents({ components: { connectivity: 4, minArea: 24 } }), { minArea: 24, connectivity: 4 });
    assert.deepEqual(recipeComponents({ components: { minArea: 9 } }), { minArea: 9, connectivity: 8 });
    assert.equal(recipeComponents({ kind: 'other' }), null);
    assert.equal(recipeComponents(null), null);
    const { runInspection } = await import('../../src/pipeline/run.js');
    const { writeFrames } = await import('../pipeline/_images.js');
    const { tempDir } = await import('../_kit/tmp.js');
    const dir = tempDir('kensa-eval-run-area-');
    await writeFrames(`${dir}/images`, 2, 48);
    const db = `${dir}/kensa.db`;
    const r = await runInspection([`${dir}/images`], { db, device: 'cpu', masksDir: `${dir}/masks`, recipe: parseRecipe({ components: { minArea: 7 } }) });
    const a = capture();
    assert.equal(await run(['--run', r.run.id, '--db', db, '--truth', `${dir}/masks`, '--json'], a.io), 0, a.buf.err);
    assert.equal((JSON.parse(a.buf.out) as { minArea: number }).minArea, 7);
    const b = capture();
    assert.equal(await run(['--run', r.run.id, '--db', db, '--truth', `${dir}/masks`, '--json', '--min-area', '2'], b.io), 0, b.buf.err);
    assert.equal((JSON.parse(b.buf.out) as { minArea: number }).minArea, 2);
  });
});
