import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { calibrationLine, heldOutWarning, run, TUNE_HELP } from '../../src/cli/tune.js';
import { DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import { loadRecipe } from '../../src/detect/recipe.js';
import { writeSamples } from '../../src/samples/index.js';
import { decodeFile, DEFAULT_MAX_PIXELS } from '../../src/pipeline/decode.js';
import { mulberry32 } from '../../src/rng.js';
import { loadLabelled, type Frame } from '../../src/tune/data.js';
import { holdoutSplit } from '../../src/tune/split.js';
import { medianTemplate } from '../../src/tune/template.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-cli-tune-'));
after(() => rmSync(root, { recursive: true, force: true }));
const S = join(root, 'samples');
const G = join(root, 'good');

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

before(async () => {
  await writeSamples({ out: S, count: 10, width: 64, height: 64, seed: 4, okFraction: 0.2, jobs: 1 });
  await writeSamples({ out: G, count: 10, width: 64, height: 64, seed: 5, okFraction: 1, jobs: 1 });
});

describe('kensa tune', () => {
  test('tunes, calibrates and writes the recipe with its provenance; the state file is gone', async () => {
    const out = join(root, 'tuned.yaml');
    const { buf, io } = capture();
    const code = await run(['--images', S, '--truth', S, '--good', G, '--budget', '3', '--holdout', '0.3', '--device', 'cpu', '--out', out], io);
    assert.equal(code, 0, buf.err);
    assert.match(
      buf.out,
      /^tuned on \d+ images, 3 candidates, 4 evaluations over 2 rungs: f1 \d\.\d{3} on them \(\d\.\d{3} cross-validated\)\nheld out \d+ images?: f1 \d\.\d{3} \(base recipe \d\.\d{3}\)\ncalibrated on good images: verdict\.minScore .*\nwrote .*tuned\.yaml\n$/,
    );
    assert.match(buf.err, /tune: rung 2\/2 · 4\/4 evaluations · best f1 \d\.\d{3} · ETA 0s\n/);
    const r = await loadRecipe(out);
    assert.equal(r.recipe.kind, 'classic');
    const p = r.recipe.kind === 'classic' ? r.recipe.provenance! : {};
    assert.equal(p.tool, 'kensa tune');
    assert.equal(p.budget, 3);
    assert.equal(p.calibratedBy, 'kensa tune --good');
    assert.equal(typeof p.heldOutScore, 'number');
    assert.ok(!existsSync(`${out}.state.json`));
  });

  test('six labelled images and --budget 6: one held out, five tuned on, 6 candidates in 6 evaluations over 1 rung', async () => {
    const six = join(root, 'six');
    await writeSamples({ out: six, count: 6, width: 64, height: 64, seed: 4, okFraction: 0.2, jobs: 1 });
    const out = join(root, 'six.yaml');
    const { buf, io } = capture();
    assert.equal(await run(['--images', six, '--truth', six, '--budget', '6', '--device', 'cpu', '--out', out], io), 0, buf.err);
    assert.match(
      buf.out,
      /^tuned on 5 images, 6 candidates, 6 evaluations over 1 rung: f1 \d\.\d{3} on them \(\d\.\d{3} cross-validated\)\nheld out 1 image: /,
    );
    const r = await loadRecipe(out);
    const p = r.recipe.kind === 'classic' ? r.recipe.provenance! : {};
    assert.deepEqual([p.images, p.heldOut], [6, 1]);
    assert.match(TUNE_HELP, /--budget <n> +candidate recipes \(not evaluations\)/);
    assert.match(TUNE_HELP, /--budget 60 on 60\s+images runs 60 \+ 20 \+ 7 = 87 evaluations/);
  });

  test('--folds 3: every image held out once, the fold scores printed, the recipe from a search on every image; the state files are gone', async () => {
    const out = join(root, 'folds.yaml');
    const { buf, io } = capture();
    assert.equal(await run(['--images', S, '--truth', S, '--budget', '3', '--folds', '3', '--device', 'cpu', '--out', out], io), 0, buf.err);
    assert.match(
      buf.out,
      /^tuned on 10 images, 3 candidates, \d+ evaluations over \d rungs? \(with the 3 searches without a fold\): f1 \d\.\d{3} on them \(\d\.\d{3} cross-validated\)\n3-fold, each fold scored by a search that never saw it: f1 \d\.\d{3} \(base recipe \d\.\d{3}; by fold \d\.\d{3}, \d\.\d{3}, \d\.\d{3}\)\nwrote /,
    );
    assert.match(buf.err, /tune: fold 1\/3 · rung 1\/\d · /);
    assert.match(buf.err, /tune: every image · rung /);
    const p = (await loadRecipe(out)).recipe;
    assert.deepEqual(p.kind === 'classic' ? [p.provenance?.folds, p.provenance?.images, p.provenance?.heldOut] : [], [3, 10, 10]);
    for (const f of ['state.json', 'state.fold-1.json', 'state.fold-3.json']) assert.ok(!existsSync(`${out}.${f}`), f);

    const bad = capture();
    assert.equal(await run(['--images', S, '--truth', S, '--folds', '1', '--out', out], bad.io), 2);
    assert.match(bad.buf.err, /^kensa tune: --folds expects an integer between 2 and 20 but received '1'/);
    const alone = capture();
    assert.equal(await run(['--good', G, '--folds', '3', '--out', out], alone.io), 2);
    assert.match(alone.buf.err, /--folds needs --images and --truth/);
    const many = capture();
    assert.equal(await run(['--images', S, '--truth', S, '--folds', '12', '--device', 'cpu', '--out', out], many.io), 1);
    assert.match(many.buf.err, /\nkensa tune: 12-fold cross-validation needs at least 12 labelled images \(one in each fold\) but received 10/);
  });

  test('a tuned recipe below the base recipe on the held-out images gets a warning; equal or above, none', () => {
    assert.equal(
      heldOutWarning('f1', 0.037, 0.068),
      'warning: on the held-out images the tuned recipe scores below the base recipe (f1 0.037 against 0.068); its pick may not carry over to new images: try a larger --budget or more images, or keep the base recipe',
    );
    assert.equal(heldOutWarning('f1', 0.068, 0.068), null);
    assert.equal(heldOutWarning('f1', 0.9, 0.5), null);
  });

  test('the calibration line says why minScore stays at 0 when no good image had a defect', () => {
    const c = { recipe: DEFAULT_RECIPE, trainFalseNg: 0, heldOutFalseNg: 0, baseHeldOutFalseNg: 0, trainImages: 7, heldOutImages: 3 };
    assert.equal(
      calibrationLine({ ...c, minScore: 0, flagged: 0 }, 0.05),
      "calibrated on good images: verdict.minScore stays at 0 (the base recipe's): none of the 7 defect-free images calibrated on had a defect, false-NG 0/7 there; false-NG on 3 held-out good images 0/3 (target 0.05; before 0/3)",
    );
    assert.equal(
      calibrationLine({ ...c, minScore: 0.25, flagged: 4, trainFalseNg: 1 / 7, baseHeldOutFalseNg: 2 / 3 }, 0.2),
      'calibrated on good images: verdict.minScore 0.2500 (4 of the 7 defect-free images calibrated on had defects; false-NG 1/7 there); false-NG on 3 held-out good images 0/3 (target 0.2; before 2/3)',
    );
  });

  test('bad inputs: errors name the images, the folder or the flag', async () => {
    const missing = join(root, 'missing');
    cpSync(S, missing, { recursive: true });
    rmSync(join(missing, 'masks', 'sample-0003.png'));
    rmSync(join(missing, 'masks', 'sample-0007.png'));
    await assert.rejects(loadLabelled(missing, missing), {
      code: 'KENSA_ERR_TUNE_DATA',
      message: `Truth masks are missing for 2 of the 10 images in ${missing}: sample-0003, sample-0007 (looked in ${join(missing, 'masks')})`,
    });

    const sized = join(root, 'sized');
    cpSync(S, sized, { recursive: true });
    await sharp(new Uint8Array(32 * 64), { raw: { width: 32, height: 64, channels: 1 } })
      .png()
      .toFile(join(sized, 'masks', 'sample-0005.png'));
    await assert.rejects(loadLabelled(sized, sized), {
      code: 'KENSA_ERR_TUNE_DATA',
      message: 'Truth masks differ in size from their images for 1 of the 10 images: sample-0005 (image 64×64, mask 32×64)',
    });

    const empty = join(root, 'empty');
    mkdirSync(empty);
    const e = capture();
    assert.equal(await run(['--good', empty, '--device', 'cpu', '--out', join(root, 'x.yaml')], e.io), 1);
    assert.equal(e.buf.err, `kensa tune: --good folder ${empty} holds no images (.jpg, .jpeg, .png, .tif, .tiff, .webp, .bmp, .npy) (KENSA_ERR_TUNE_DATA)\n`);

    const m = capture();
    assert.equal(await run(['--images', missing, '--truth', missing, '--device', 'cpu', '--out', join(root, 'x.yaml')], m.io), 1);
    assert.match(m.buf.err, /^kensa tune: Truth masks are missing for 2 of the 10 images/);

    const z = capture();
    assert.equal(await run(['--images', S, '--truth', S, '--budget', '0', '--out', join(root, 'x.yaml')], z.io), 2);
    assert.equal(z.buf.err, "kensa tune: --budget expects an integer between 1 and 100000 but received '0'\nRun 'kensa tune --help' for usage.\n");
    assert.ok(!existsSync(join(root, 'x.yaml')));
  });

  test('--good with --template: the median of the good images calibrated on is written, and the calibrated recipe names it with its sha256', async () => {
    const aligned = join(root, 'aligned');
    mkdirSync(aligned);
    const frames: Frame[] = [];
    for (let i = 0; i < 8; i++) {
      const rng = mulberry32(i + 1);
      const data = Uint8Array.from({ length: 64 * 64 }, (_, p) =>
        Math.round(120 + 30 * Math.sin((p % 64) / 5) * Math.cos(Math.floor(p / 64) / 7) + (rng() - 0.5) * 6),
      );
      frames.push({ name: `good-${i}`, width: 64, height: 64, dtype: 'u8', data });
      await sharp(data, { raw: { width: 64, height: 64, channels: 1 } })
        .png()
        .toFile(join(aligned, `good-${i}.png`));
    }
    const out = join(root, 'templated.yaml');
    const template = join(root, 'golden.png');
    const { buf, io } = capture();
    assert.equal(await run(['--good', aligned, '--template', template, '--device', 'cpu', '--out', out], io), 0, buf.err);
    const { train } = holdoutSplit(frames, 0.3, 'good images');
    assert.match(
      buf.out,
      new RegExp(`^template: the median of ${train.length} good images calibrated on, written to ${template}\ncalibrated on good images: `),
    );
    const written = await decodeFile(template, { channels: 'gray', maxPixels: DEFAULT_MAX_PIXELS });
    assert.deepEqual(written.data, medianTemplate(train).data);
    const r = await loadRecipe(out);
    assert.ok(r.recipe.kind === 'classic' && r.recipe.template);
    assert.deepEqual(r.recipe.template, { path: template, sha256: createHash('sha256').update(readFileSync(template)).digest('hex'), weight: 1 });
    assert.equal(r.recipe.provenance?.calibratedBy, 'kensa tune --good');

    // an image of another size is named; --template needs --good and a .png
    await sharp(new Uint8Array(32 * 64), { raw: { width: 32, height: 64, channels: 1 } })
      .png()
      .toFile(join(aligned, 'good-5b.png'));
    const odd = capture();
    assert.equal(await run(['--good', aligned, '--template', template, '--device', 'cpu', '--out', out], odd.io), 1);
    assert.equal(
      odd.buf.err,
      'kensa tune: Good image good-5b is 32×64 8-bit but good-0 is 64×64 8-bit: a template needs aligned images of one size and bit depth (KENSA_ERR_TUNE_DATA)\n',
    );
    const alone = capture();
    assert.equal(await run(['--images', S, '--truth', S, '--template', template, '--out', out], alone.io), 2);
    assert.match(alone.buf.err, /^kensa tune: --template needs --good \(the images the template is the median of\)\n/);
    const jpeg = capture();
    assert.equal(await run(['--good', aligned, '--template', join(root, 'golden.jpg'), '--out', out], jpeg.io), 2);
    assert.match(jpeg.buf.err, /^kensa tune: --template expects a \.png file \(lossless, 8 or 16 bits\) but received '.*golden\.jpg'\n/);
  });

  test('usage', async () => {
    const h = capture();
    assert.equal(await run(['--help'], h.io), 0);
    assert.equal(h.buf.out, TUNE_HELP);
    const u = capture();
    assert.equal(await run(['--out', 'x.yaml'], u.io), 2);
    assert.match(u.buf.err, /needs --images with --truth \(tuning\), --good \(calibration\), or both/);
  });
});
