import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { run } from '../../src/cli/eval.js';

const root = mkdtempSync(join(tmpdir(), 'kensa-cli-eval-images-'));
after(() => rmSync(root, { recursive: true, force: true }));
const T = join(root, 'truth');
const P = join(root, 'pred');

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

async function save(dir: string, name: string, px: number) {
  mkdirSync(dir, { recursive: true });
  const data = new Uint8Array(64);
  data.fill(255, 0, px);
  await sharp(data, { raw: { width: 8, height: 8, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(join(dir, `${name}.png`));
}

before(async () => {
  // good1 clean and predicted clean, good2 clean but 3 px predicted, bad1 found (5 px), bad2 missed
  for (const [name, truth, pred] of [
    ['good1', 0, 0],
    ['good2', 0, 3],
    ['bad1', 4, 5],
    ['bad2', 2, 0],
  ] as const) {
    await save(T, name, truth);
    await save(P, name, pred);
  }
});

describe('kensa eval --images', () => {
  test('prints the false-NG and miss rates and the curve, and writes the PNG', async () => {
    const { buf, io } = capture();
    const plot = join(root, 'curve.png');
    assert.equal(await run(['--pred', P, '--truth', T, '--plot', plot], io), 0, buf.err);
    assert.match(buf.out, /\nimage level \(NG = predicted area > 0 px\): false-NG 1\/2 \(0\.500\), missed 1\/2 \(0\.500\)\n/);
    assert.match(buf.out, /\ncurve written to .*curve\.png\n$/);
    const meta = await sharp(plot).metadata();
    assert.equal(meta.format, 'png');
    assert.equal(meta.width, 720);
  });

  test('the loosest row says every image is NG; without defect-free images the table says so', async () => {
    const a = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--images'], a.io), 0, a.buf.err);
    assert.match(a.buf.out, /\n\s*none \(all NG\)\s+0\.500\s+1\.000\s+1\.000\s+0\.000\s*\n/);
    assert.doesNotMatch(a.buf.out, /< 0|no defect-free images/);
    const t = join(root, 'truth-bad'),
      p = join(root, 'pred-bad');
    await save(t, 'bad1', 4);
    await save(p, 'bad1', 5);
    const b = capture();
    assert.equal(await run(['--pred', p, '--truth', t, '--images'], b.io), 0, b.buf.err);
    assert.match(b.buf.out, /false-NG 0\/0 \(-\)/);
    assert.match(b.buf.out, /\nno defect-free images \(every truth mask has a defect\): the false-NG rate is undefined; add truth masks of good images\n/);
  });

  test("--min-area: predicted components under it do not make an image NG, as in inspect's verdict", async () => {
    const { buf, io } = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--images', '--min-area', '4'], io), 0, buf.err);
    // good2's 3 px no longer count; bad1's 5 px do
    assert.match(
      buf.out,
      /\nimage level \(NG = predicted area > 0 px, counting components of at least 4 px\): false-NG 0\/2 \(0\.000\), missed 1\/2 \(0\.500\)\n/,
    );
    const j = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--images', '--min-area', '6', '--json'], j.io), 0, j.buf.err);
    const e = JSON.parse(j.buf.out) as {
      minArea: number;
      overall: { counts: { predicted: number } };
      imageLevel: { atZero: { falseNg: number; missed: number } };
    };
    assert.equal(e.minArea, 6);
    assert.equal(e.overall.counts.predicted, 8, 'the pixel metrics still score every predicted pixel');
    assert.deepEqual([e.imageLevel.atZero.falseNg, e.imageLevel.atZero.missed], [0, 2]);
    const bad = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--min-area', '0'], bad.io), 2);
    assert.equal(bad.buf.err, "kensa eval: --min-area expects an integer between 1 and 100000000 but received '0'\nRun 'kensa eval --help' for usage.\n");
  });

  test('--json carries the image level; without --images the output is unchanged', async () => {
    const a = capture();
    assert.equal(await run(['--pred', P, '--truth', T, '--images', '--json'], a.io), 0, a.buf.err);
    const e = JSON.parse(a.buf.out) as { imageLevel: { atZero: { falseNgRate: number; missRate: number }; curve: unknown[] } };
    assert.equal(e.imageLevel.atZero.falseNgRate, 0.5);
    assert.equal(e.imageLevel.curve.length, 4); // all OK, below 5, below 3, below 0
    const b = capture();
    assert.equal(await run(['--pred', P, '--truth', T], b.io), 0);
    assert.doesNotMatch(b.buf.out, /image level/);
  });
});
