import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { buildServer } from '../../src/serve/app.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing on CI: .ci/install-chromium.sh should have installed it`);
const noBrowser = haveChromium ? false : `${CHROMIUM} is missing (install it with: bash .ci/install-chromium.sh)`;

const W = 160;
const H = 120;
/** The bright spot of the NG images: x 100…111, y 40…51. */
const SPOT = { x: 100, y: 40, size: 12 };

async function frame(spot: boolean, level: number): Promise<Buffer> {
  const img = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) img[y * W + x] = level + ((x * 7 + y * 3) % 5);
  if (spot) for (let y = SPOT.y; y < SPOT.y + SPOT.size; y++) for (let x = SPOT.x; x < SPOT.x + SPOT.size; x++) img[y * W + x] = 245;
  return sharp(img, { raw: { width: W, height: H, channels: 1 } })
    .png()
    .toBuffer();
}

test('dashboard in Chromium: counters, the service run, the NG gallery with the defect box where the spot is, item detail with original and mask', {
  skip: noBrowser,
  timeout: 120_000,
}, async () => {
  const dir = tempDir('kensa-dashboard-');
  const store = await openStore(join(dir, 'kensa.db'));
  const backend = await openBackend({ device: 'cpu' });
  const app = await buildServer({ backend, store, token: 'tok', imagesDir: join(dir, 'images'), batch: { maxQueueDelayUs: 1000 } });
  const headers = { 'content-type': 'image/png', authorization: 'Bearer tok' };
  for (let i = 0; i < 5; i++) {
    const res = await app.inject({ method: 'POST', url: `/v1/inspect?key=cam1/${i}.png`, headers, payload: await frame(i % 2 === 0, 100 + i) });
    assert.equal(res.statusCode, 200, res.body);
  }
  const cut = await app.inject({ method: 'POST', url: '/v1/inspect?key=cam1/cut.png', headers, payload: (await frame(true, 99)).subarray(0, 60) });
  assert.equal(cut.statusCode, 400, cut.body);
  await app.kensa.recorder!.flush();
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  const profile = await mkdtemp(join(dir, 'chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 1000 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(e.message));
    await page.goto(`${base}/#token=tok`);
    await page.locator('#gallery figure').first().waitFor();
    assert.equal(await page.locator('[data-k="images"]').textContent(), '6');
    assert.equal(await page.locator('[data-k="ng"]').textContent(), '3');
    assert.equal(await page.locator('[data-k="ok"]').textContent(), '2');
    assert.equal(await page.locator('[data-k="errors"]').textContent(), '1');
    // the cut upload is a bar of its own colour, not part of the OK height
    const errorBars = await page.locator('#chart rect.errbar').evaluateAll((bars) => bars.map((b) => Number(b.getAttribute('height'))));
    assert.ok(
      errorBars.some((h) => h > 0),
      `error bar heights ${errorBars}`,
    );
    assert.equal(await page.locator('tr.run').count(), 1);
    assert.match((await page.locator('tr.run').textContent()) ?? '', /service/);
    assert.equal(await page.locator('#gallery figure').count(), 3);
    assert.equal(await page.locator('#stagechart polyline').count(), 3, 'decode, queue and detect times');
    // the box of the first NG image lies over the spot, in the image's own proportions
    const shot = await page.locator('#gallery figure .shot').first().boundingBox();
    const box = await page.locator('#gallery figure .shot rect.box').first().boundingBox();
    assert.ok(shot && box);
    const cx = ((box.x + box.width / 2 - shot.x) / shot.width) * W;
    const cy = ((box.y + box.height / 2 - shot.y) / shot.height) * H;
    assert.ok(Math.abs(cx - (SPOT.x + SPOT.size / 2)) < 3 && Math.abs(cy - (SPOT.y + SPOT.size / 2)) < 3, `box centre (${cx}, ${cy})`);
    assert.ok(
      await page
        .locator('#gallery figure img')
        .first()
        .evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth === 160),
    );
    await page.locator('#gallery figure').first().click();
    await page.locator('#detail img[alt="mask"]').waitFor();
    assert.ok(
      await page.locator('#detail img[alt="mask"]').evaluate((img) => (img as unknown as { complete: boolean; naturalWidth: number }).naturalWidth === 160),
    );
    assert.match((await page.locator('#detail table').textContent()) ?? '', /spot/);
    await page.screenshot({ path: join(process.env.KENSA_SCREENSHOT_DIR ?? dir, 'dashboard.png'), fullPage: true });
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
    await app.close();
    await store.close();
  }
});
