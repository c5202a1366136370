/**
 * A 16000² line-scan frame through the real `kensa inspect` (a child process, so its peak memory
 * is its own) on the GPU: the image runs tile by tile, the drawn defects are found where they are
 * — two of them across tile borders — and the child's peak RSS stays under the bound that
 * docs/tiling.md states. The recipe is the default less its local contrast: the same tiler, both
 * passes and the same host planes, at under half the default recipe's CPU time on lavapipe (its
 * whole-level contrast step is tested on small forced tiles in test/detect/classic-tiled.test.ts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { detectorFor } from '../../src/detect/detector.js';
import { loadRecipe } from '../../src/detect/recipe.js';
import { bytesPerPixelOf, tilingFor } from '../../src/pipeline/inspect.js';
import { openStore } from '../../src/store/store.js';
import { tileGrid } from '../../src/tiling/grid.js';
import { adapterSkip } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';

const SIDE = 16000;
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const PEAK_RSS = fileURLToPath(new URL('../_kit/peak-rss.mjs', import.meta.url));

/**
 * Host memory (docs/tiling.md): 10 B per pixel (the decoded frame 1, the fused map 4, the mask 1,
 * the labels 4) plus 1.5 GiB: Node, Dawn and lavapipe (0.4 GB on a 256² image) and the tiles'
 * device buffers, host memory on lavapipe, which the pools keep per size class (about 0.8 GB here).
 */
const PEAK_BOUND = 10 * SIDE * SIDE + 1.5 * 2 ** 30;

interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** A flat grey 16000² PNG with a crack, a scratch and a spot; returns their bounding boxes. */
async function writeStrip(path: string): Promise<Rect[]> {
  const img = new Uint8Array(SIDE * SIDE).fill(120);
  const fill = (r: Rect, v: number) => {
    for (let y = r.y; y < r.y + r.h; y++) img.fill(v, y * SIDE + r.x, y * SIDE + r.x + r.w);
    return r;
  };
  // a dark wavy crack, 3 px thick, across the border of the first two tile columns (x = 4096)
  let top = SIDE;
  let bottom = 0;
  for (let x = 3000; x < 5200; x++) {
    const y = 700 + Math.round(6 * Math.sin(x / 40));
    fill({ x, y, w: 1, h: 3 }, 30);
    top = Math.min(top, y);
    bottom = Math.max(bottom, y + 3);
  }
  const drawn = [{ x: 3000, y: top, w: 2200, h: bottom - top }];
  // a dark scratch across the border of the second and third tile rows (y = 8192); a bright spot in the last tile
  drawn.push(fill({ x: 10000, y: 7900, w: 3, h: 600 }, 30), fill({ x: 15000, y: 15000, w: 24, h: 24 }, 240));
  // b-w: without it sharp writes one raw channel as an RGB PNG
  await sharp(img, { raw: { width: SIDE, height: SIDE, channels: 1 } })
    .toColourspace('b-w')
    .png()
    .toFile(path);
  return drawn;
}

/** `kensa inspect` in a child process; its peak RSS from the preload. */
function inspectChild(args: string[]): Promise<{ code: number | null; out: string; err: string; peak: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', PEAK_RSS, MAIN, 'inspect', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err, peak: Number(/^peak-rss-bytes (\d+)$/m.exec(err)?.[1] ?? Number.NaN) }));
  });
}

test(`a ${SIDE}² image runs tile by tile through kensa inspect, its defects found, within the stated host memory`, { skip: await adapterSkip() }, async (t) => {
  const dir = tempDir('kensa-cli-large-');
  const image = join(dir, 'strip.png');
  const drawn = await writeStrip(image);
  const recipeFile = join(dir, 'recipe.json');
  writeFileSync(recipeFile, JSON.stringify({ contrast: { background: 0 } }));
  const { recipe } = await loadRecipe(recipeFile);

  // how it runs on this adapter: a batch of one passes the largest storage binding, so the batch
  // path would fail the item; only the tiled path can judge it, each tile's f32 crop in one binding
  const backend = await openBackend({ device: 'gpu' });
  const binding = backend.gpu?.info.limits.maxStorageBufferBindingSize;
  const tiling = tilingFor(backend, recipe, { width: SIDE, height: SIDE, channels: 1, dtype: 'u8' });
  backend.close();
  assert.ok(binding);
  assert.ok(SIDE * SIDE * bytesPerPixelOf(recipe) > binding);
  assert.ok(tiling, 'the image is tiled');
  const { halo, align, bytesPerPixel } = detectorFor(recipe).tiled!.geometry(recipe);
  const crop = tiling.tile + 2 * halo;
  assert.ok(crop * crop * bytesPerPixel <= binding, `a tile's crop (${crop}²) fits one storage binding (${binding} bytes)`);
  const tiles = tileGrid(SIDE, SIDE, { tile: tiling.tile, halo, align }).length;
  assert.ok(tiles > 1);

  const db = join(dir, 'k.db');
  const r = await inspectChild([image, '--db', db, '--device', 'gpu', '--recipe', recipeFile, '--progress', 'none', '--json']);
  assert.equal(r.code, 0, r.err);
  const summary = JSON.parse(r.out) as { run: string; status: string; counts: unknown };
  assert.equal(summary.status, 'done');
  t.diagnostic(`${tiles} tiles of ${tiling.tile} px (${crop}² crops, binding ${binding} bytes); peak RSS ${r.peak} bytes, bound ${PEAK_BOUND}`);
  assert.ok(r.peak <= PEAK_BOUND, `peak RSS ${r.peak} bytes is within 10 B/px + 1.5 GiB = ${PEAK_BOUND}`);

  const store = await openStore(db);
  try {
    const [item] = await store.items(summary.run);
    assert.deepEqual([item?.width, item?.height, item?.status], [SIDE, SIDE, 'ng'], item?.error ?? undefined);
    assert.deepEqual(summary.counts, { total: 1, ok: 0, ng: 1, error: 0 });
    // one defect per drawn one, the two across tile borders each one component: each box holds its
    // drawn defect and reaches no farther than the recipe's stencils do (the halo)
    const found = (await store.defects(summary.run)).map(({ x, y, w, h }) => ({ x, y, w, h })).sort((a, b) => a.x - b.x);
    assert.equal(found.length, drawn.length, JSON.stringify(found));
    for (const [i, d] of drawn.entries()) {
      const f = found[i]!;
      const margins = [d.x - f.x, d.y - f.y, f.x + f.w - (d.x + d.w), f.y + f.h - (d.y + d.h)];
      assert.ok(
        margins.every((m) => m >= 0 && m <= halo),
        `defect ${JSON.stringify(f)} holds ${JSON.stringify(d)} within ${halo} px`,
      );
    }
  } finally {
    await store.close();
  }
});
