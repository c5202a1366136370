import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { run as inspectCli } from '../../src/cli/inspect.js';
import type { ImageDetection } from '../../src/detect/classic.js';
import { decoupledDetector } from '../../src/detect/decoupled.js';
import { detect } from '../../src/detect/detector.js';
import { builtinRecipe, parseRecipe, type DecoupledRecipe } from '../../src/detect/recipe.js';
import { runInspection } from '../../src/pipeline/run.js';
import { mulberry32 } from '../../src/rng.js';
import { openStore } from '../../src/store/store.js';
import { Tensor } from '../../src/tensor.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';

const gpu = await testGpu();

function decoupled(fields: Record<string, unknown> = {}): DecoupledRecipe {
  const r = parseRecipe({ kind: 'decoupled', ...fields }).recipe;
  assert.equal(r.kind, 'decoupled');
  return r;
}

const H = 96;
const W = 128;

/** Random 4×4 blocks of four grey levels over [y0, y1) × [x0, x1): a patch full of class boundaries. */
function texture(img: Uint8Array | Uint16Array, off: number, y0: number, y1: number, x0: number, x1: number, seed: number, scale = 1): void {
  const rnd = mulberry32(seed);
  const levels = [40, 100, 160, 220];
  for (let by = y0; by < y1; by += 4) {
    for (let bx = x0; bx < x1; bx += 4) {
      const v = levels[Math.floor(rnd() * 4)]! * scale;
      for (let y = by; y < Math.min(by + 4, y1); y++) for (let x = bx; x < Math.min(bx + 4, x1); x++) img[off + y * W + x] = v;
    }
  }
}

/** Four frames: flat; textured all over; flat with a textured patch; flat with a dark wavy line. */
function frames(dtype: 'u8' | 'u16' = 'u8'): Tensor {
  const scale = dtype === 'u16' ? 257 : 1;
  const P = H * W;
  const img = dtype === 'u16' ? new Uint16Array(4 * P) : new Uint8Array(4 * P);
  img.fill(128 * scale);
  texture(img, P, 0, H, 0, W, 1, scale);
  texture(img, 2 * P, 24, 56, 64, 104, 2, scale);
  for (let x = 10; x < W - 10; x++) img[3 * P + (48 + Math.round(6 * Math.sin(x / 9))) * W + x] = 30 * scale;
  return Tensor.fromArray(img, [4, 1, H, W], dtype);
}

function summary(found: ImageDetection[]) {
  return found.map((f) => ({ verdict: f.verdict, defects: f.defects.map((d) => [d.x, d.y, d.w, d.h, d.class]) }));
}

test('decoupled: a flat frame scores 0, a textured one far higher; the patch is the defect (CPU)', async () => {
  const r = decoupled();
  const found = await detect(frames(), r, true);
  const [flat, busy, patch, line] = found as [ImageDetection, ImageDetection, ImageDetection, ImageDetection];
  assert.deepEqual([flat.score, flat.verdict, flat.defects.length], [0, 'OK', 0]);
  assert.ok(flat.mask!.every((v) => v === 0));
  assert.ok(busy.score > 0.2, `textured score ${busy.score}`);
  assert.equal(busy.verdict, 'NG');
  assert.ok(patch.score > 0 && patch.score < busy.score, `patch score ${patch.score}`);
  assert.equal(patch.defects.length, 1);
  const d = patch.defects[0]!;
  assert.ok(d.x <= 64 && d.x + d.w >= 104 && d.y <= 24 && d.y + d.h >= 56, `the region ${JSON.stringify(d)} covers the patch`);
  assert.ok(d.score > 1 && Math.abs(d.score - d.meanGradient / r.congestion.level) < 1e-12, 'score = mean congestion / level');
  assert.equal(d.area, patch.mask!.filter((v) => v === 255).length);
  assert.ok(line.score > 0 && line.score < r.verdict.minScore, `a single line is not congestion: ${line.score}`);
  assert.equal(line.verdict, 'OK');
  // the score is a mean of the congestion map: in [0, 1], and the verdict follows minScore
  for (const f of found) assert.ok(f.score >= 0 && f.score <= 1);
  const strict = await detect(frames(), decoupled({ verdict: { minScore: 0 } }), false);
  assert.deepEqual(
    strict.map((f) => f.verdict),
    ['NG', 'NG', 'NG', 'NG'],
  );
  assert.equal(strict[0]!.mask, undefined, 'no masks unless asked for');
});

test('decoupled: u16 frames score as their u8 twins (CPU)', async () => {
  const r = decoupled();
  const a = await detect(frames('u8'), r, false);
  const b = await detect(frames('u16'), r, false);
  assert.deepEqual(summary(b), summary(a));
  for (const [i, f] of b.entries()) assert.ok(Math.abs(f.score - a[i]!.score) < 1e-9);
});

test('detect dispatches by recipe kind', async () => {
  const x = frames();
  const viaKind = await detect(x, decoupled(), false);
  const stages = (await decoupledDetector.device(x, decoupled(), false)).map((p) => decoupledDetector.post(p, decoupled()));
  assert.deepEqual(viaKind, stages);
  const classic = await detect(x, parseRecipe({}).recipe, false);
  assert.equal(classic[0]!.score, 0);
  assert.notDeepEqual(summary(classic), summary(viaKind));
});

// GPU vs CPU: k-means (u8: exact histogram sums), the label map and Canny are exact, so the edge maps
// are equal; the Gaussian and the image mean are f32 sums on the GPU (f32 on the CPU too, in another
// order), so scores agree to 1e-5 and only a pixel within rounding of `level` may change sides.
const SCORE_TOL = 1e-5;
for (const dtype of ['u8', 'u16'] as const) {
  for (const fields of [{}, { kmeans: { k: 3, seed: 7 }, congestion: { sigma: 5, level: 0.15 }, components: { connectivity: 4, minArea: 4 } }]) {
    test(`decoupled: GPU equals CPU (${dtype}, ${JSON.stringify(fields)})`, { skip: gpuSkip(gpu) }, async () => {
      const r = decoupled(fields);
      const x = frames(dtype);
      const cpu = await detect(x, r, true);
      const xg = await x.toGpu(gpu!);
      const g = await detect(xg, r, true);
      xg.dispose();
      assert.deepEqual(summary(g), summary(cpu));
      for (let i = 0; i < cpu.length; i++) {
        assert.ok(Math.abs(g[i]!.score - cpu[i]!.score) < SCORE_TOL, `image ${i}: ${g[i]!.score} vs ${cpu[i]!.score}`);
        g[i]!.defects.forEach((d, k) => {
          const c = cpu[i]!.defects[k]!;
          assert.ok(Math.abs(d.area - c.area) <= 2, `image ${i} defect ${k} area ${d.area} vs ${c.area}`);
          assert.ok(Math.abs(d.score - c.score) < 1e-4, `image ${i} defect ${k} score ${d.score} vs ${c.score}`);
        });
        const differ = g[i]!.mask!.filter((v, j) => v !== cpu[i]!.mask![j]).length;
        assert.ok(differ <= 2, `image ${i}: ${differ} mask pixels differ`);
      }
    });
  }
}

const NAMES = ['flat.png', 'busy.png', 'patch.png', 'line.png'];

/** The four frames as PNGs in DIR/images. */
async function writeFrames(): Promise<{ dir: string; images: string }> {
  const dir = tempDir('kensa-decoupled-');
  const images = join(dir, 'images');
  mkdirSync(images);
  const data = frames().data as Uint8Array;
  for (let i = 0; i < NAMES.length; i++) {
    await sharp(data.subarray(i * H * W, (i + 1) * H * W), { raw: { width: W, height: H, channels: 1 } })
      .png()
      .toFile(join(images, NAMES[i]!));
  }
  return { dir, images };
}

test('runInspection with the decoupled recipe stores the recipe, the verdicts, scores and defects', async () => {
  const { dir, images } = await writeFrames();
  const x = frames();
  const loaded = builtinRecipe('decoupled')!;
  const expected = await detect(x, decoupled(), false);
  const db = join(dir, 'kensa.db');
  const backend = await openBackend({ device: 'cpu' });
  const s = await runInspection([images], { db, backend, recipe: loaded, batch: { maxCount: 3 } });
  backend.close();
  assert.equal(s.run.status, 'done');
  const store = await openStore(db);
  try {
    const run = (await store.getRun(s.run.id))!;
    assert.deepEqual([run.recipeName, run.recipeHash], ['decoupled', loaded.hash]);
    assert.deepEqual(run.recipe, JSON.parse(loaded.json));
    assert.deepEqual(run.counts, { total: 4, ok: 3, ng: 1, error: 0 });
    const items = new Map((await store.items(s.run.id)).map((it) => [it.itemKey, it]));
    for (let i = 0; i < NAMES.length; i++) {
      const it = items.get(NAMES[i]!)!;
      assert.equal(it.verdict, expected[i]!.verdict, NAMES[i]);
      assert.ok(Math.abs(it.score! - expected[i]!.score) < 1e-12, `${NAMES[i]}: ${it.score} vs ${expected[i]!.score}`);
      const stored = await store.defects(s.run.id, NAMES[i]);
      assert.deepEqual(
        stored.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]),
        expected[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area, d.class]),
      );
    }
  } finally {
    await store.close();
  }
});

test('kensa inspect --recipe decoupled runs the built-in decoupled recipe', async () => {
  const { dir, images } = await writeFrames();
  const buf = { out: '', err: '' };
  const io = { out: { write: (t: string) => (buf.out += t) }, err: { write: (t: string) => (buf.err += t) } };
  const code = await inspectCli([images, '--recipe', 'decoupled', '--db', join(dir, 'k.db'), '--device', 'cpu', '--progress', 'none', '--json'], io);
  assert.equal(code, 0, buf.err);
  const out = JSON.parse(buf.out) as { recipe: { name: string; hash: string }; counts: { ng: number } };
  assert.deepEqual(out.recipe, { name: 'decoupled', hash: builtinRecipe('decoupled')!.hash });
  assert.equal(out.counts.ng, 1);
});
