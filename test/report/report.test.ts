import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import sharp from 'sharp';
import { isKensaError } from '../../src/errors.js';
import { CLASS_COLORS, escapeHtml, num, safeName } from '../../src/report/html.js';
import { writeReport, type ReportData, type ReportDefect, type ReportItem, type ReportRun } from '../../src/report/report.js';

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing on CI: .ci/install-chromium.sh should have installed it`);
const noBrowser = haveChromium ? false : `${CHROMIUM} is missing (install it with: bash .ci/install-chromium.sh)`;

const HOSTILE_FILE = `<img src=x onerror=alert(1)>&"'.png`;
const HOSTILE_ERROR = `<script>document.title = 'pwned'</script> & "quoted" <b>bold</b> 'single'`;

let tmp = '';
before(async () => {
  tmp = await mkdtemp(join(os.tmpdir(), 'kensa-report-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A textured gray surface with dark marks where the defects are (what an inspected image looks like). */
async function surface(file: string, w: number, h: number, defects: readonly ReportDefect[], opts: { gray16?: boolean } = {}): Promise<void> {
  const marks = defects.map((d) =>
    d.class === 'spot'
      ? `<ellipse cx="${d.x + d.w / 2}" cy="${d.y + d.h / 2}" rx="${d.w / 2}" ry="${d.h / 2}" fill="#303030"/>`
      : `<line x1="${d.x}" y1="${d.y}" x2="${d.x + d.w}" y2="${d.y + d.h}" stroke="#282828" stroke-width="${d.class === 'crack' ? 3 : 2}"/>`,
  );
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${marks.join('')}</svg>`;
  let img = sharp({
    create: { width: w, height: h, channels: 3, background: { r: 140, g: 142, b: 145 }, noise: { type: 'gaussian', mean: 140, sigma: 12 } },
  }).composite([{ input: Buffer.from(svg) }]);
  if (opts.gray16) img = sharp(await img.png().toBuffer()).toColourspace('grey16');
  await (file.endsWith('.jpg') ? img.jpeg({ quality: 90 }) : img.png()).toFile(file);
}

const defect = (cls: ReportDefect['class'], x: number, y: number, w: number, h: number): ReportDefect => ({
  x,
  y,
  w,
  h,
  area: Math.max(1, Math.round(w * h * 0.2)),
  score: 0.5 + (x % 40) / 100,
  class: cls,
  meanGradient: 30 + (y % 20),
});

const RUN: ReportRun = {
  id: 'run-20260101-120000-abc123',
  recipe: { name: 'classic & <fast>', hash: '9f2c4e1b0d7a6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c' },
  device: 'NVIDIA H100 80GB HBM3 (vulkan)',
  totalMs: 4321,
  startedAt: '2026-01-01T12:00:00.000Z',
  source: './images',
  stages: [
    { name: 'decode', ms: 3100 },
    { name: 'gpu', ms: 640 },
    { name: 'post', ms: 410 },
    { name: 'store', ms: 95, count: 11 },
  ],
};

/**
 * Six NG items (PNG, JPEG, 16-bit gray, one with a mask, one with a hostile file name), one NG item
 * whose file has gone, three OK items and two errors (one with a hostile message).
 */
async function fixture(): Promise<{ src: string; items: ReportItem[]; ng: ReportItem[] }> {
  const src = join(tmp, 'src');
  await mkdir(join(src, 'line1'), { recursive: true });
  const items: ReportItem[] = [];
  const ng: ReportItem[] = [];
  const specs: { name: string; defects: ReportDefect[]; gray16?: boolean; mask?: boolean }[] = [
    { name: 'line1/0001.png', defects: [defect('crack', 40, 30, 90, 120), defect('spot', 220, 60, 18, 18)] },
    { name: 'line1/0002.jpg', defects: [defect('scratch', 20, 180, 200, 8)] },
    { name: 'line1/0003.png', defects: [defect('crack', 150, 40, 40, 150), defect('scratch', 30, 40, 100, 6), defect('spot', 260, 200, 12, 12)], gray16: true },
    { name: 'line1/0004.png', defects: [defect('crack', 60, 60, 160, 100)], mask: true },
    { name: HOSTILE_FILE, defects: [defect('spot', 100, 100, 30, 30)] },
    { name: 'line1/0005.png', defects: [defect('spot', 10, 10, 6, 6), defect('spot', 290, 220, 6, 6)] },
  ];
  for (const [i, s] of specs.entries()) {
    const path = join(src, s.name);
    await surface(path, 320, 240, s.defects, s.gray16 ? { gray16: true } : {});
    let maskPath: string | undefined;
    if (s.mask) {
      maskPath = join(src, 'mask-0004.png');
      const d = s.defects[0]!;
      const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect width="320" height="240" fill="#000"/><line x1="${d.x}" y1="${d.y}" x2="${d.x + d.w}" y2="${d.y + d.h}" stroke="#fff" stroke-width="5"/></svg>`;
      await sharp(Buffer.from(svg)).greyscale().png().toFile(maskPath);
    }
    const item: ReportItem = {
      path,
      status: 'ng',
      verdict: 'NG',
      score: 0.61 + i / 10,
      width: 320,
      height: 240,
      defects: s.defects,
      stageTimings: { decode: 2.5 + i, gpu: 0.4, post: 0.3 },
      ...(maskPath ? { maskPath } : {}),
    };
    items.push(item);
    ng.push(item);
  }
  const moved: ReportItem = {
    path: join(src, 'line1/moved-away.png'),
    status: 'ng',
    verdict: 'NG',
    score: 0.9,
    width: 320,
    height: 240,
    defects: [defect('crack', 1, 1, 5, 5)],
  };
  items.push(moved);
  ng.push(moved);
  for (let i = 0; i < 3; i++) {
    const path = join(src, `line1/ok-${i}.png`);
    await surface(path, 320, 240, []);
    items.push({ path, status: 'ok', verdict: 'OK', score: 0.01 * i, width: 320, height: 240, defects: [] });
  }
  items.push({ path: join(src, 'line1/empty.png'), status: 'error', error: 'empty file (0 bytes)' });
  items.push({ path: join(src, 'line1/bomb.png'), status: 'error', error: HOSTILE_ERROR });
  return { src, items, ng };
}

/** Every href/src of every page is relative, stays inside the report and names a file that exists. */
async function assertSelfContained(root: string): Promise<number> {
  const pages = (await readdir(root, { recursive: true })).filter((f) => f.endsWith('.html'));
  let refs = 0;
  for (const p of pages) {
    const html = await readFile(join(root, p), 'utf8');
    assert.ok(!/<script|<link|<iframe|@import|url\(/i.test(html), `${p} has no scripts or external resources`);
    for (const m of html.matchAll(/\b(?:href|src)="([^"]*)"/g)) {
      const ref = m[1]!.replace(/&amp;/g, '&');
      assert.ok(!/^[a-z][a-z0-9+.-]*:/i.test(ref) && !ref.startsWith('/'), `${p}: ${ref} is relative`);
      const target = resolve(root, dirname(p), ref.split('#')[0]!);
      assert.ok(!relative(root, target).startsWith('..'), `${p}: ${ref} stays inside`);
      assert.ok(existsSync(target), `${p}: ${ref} exists`);
      refs++;
    }
  }
  return refs;
}

describe('writeReport', () => {
  test('writes index, thumbnails, item pages; counts from the items; self-contained; hostile text escaped; a missing image is a note', async () => {
    const { items, ng } = await fixture();
    const dir = join(tmp, 'report-1');
    const t0 = performance.now();
    const r = await writeReport(dir, { run: RUN, items });
    const ms = performance.now() - t0;
    assert.deepEqual(r.counts, { ok: 3, ng: 7, error: 2 });
    assert.equal(r.index, join(dir, 'index.html'));
    assert.equal(r.thumbnails, 6 + 3); // NG images that exist + OK samples (okItemPages default 20)
    assert.equal(r.notes, 1);
    const itemPages = await readdir(join(dir, 'items'));
    assert.equal(itemPages.length, 7 + 3 + 2);
    assert.equal(r.pages, 1 + itemPages.length);
    assert.deepEqual((await readdir(join(dir, 'thumbs'))).length, 9);
    for (const it of items) assert.ok(itemPages.includes(`${safeName(it.path)}.html`), it.path);
    const refs = await assertSelfContained(dir);
    assert.ok(refs > 40, `${refs} references checked`);

    const index = await readFile(r.index, 'utf8');
    assert.ok(!index.includes(HOSTILE_FILE) && index.includes(escapeHtml('<img src=x onerror=alert(1)>&"\'.png')));
    assert.ok(!index.includes('<script>') && index.includes(escapeHtml(HOSTILE_ERROR)));
    assert.ok(index.includes('classic &amp; &lt;fast&gt;'));
    assert.match(index, /Report notes<\/h2><p>1 image could not be fully rendered/);
    assert.ok(index.includes(`moved-away.png</code></td><td class="msg">image could not be rendered: `));
    const movedPage = await readFile(join(dir, 'items', `${safeName(ng[6]!.path)}.html`), 'utf8');
    assert.ok(movedPage.includes('<div class="placeholder" style="max-width:320px">image unavailable</div>'));
    const errorPage = await readFile(join(dir, 'items', `${safeName(items[items.length - 1]!.path)}.html`), 'utf8');
    assert.ok(errorPage.includes(`<p class="msg" id="error-message">${escapeHtml(HOSTILE_ERROR)}</p>`));
    assert.ok(errorPage.includes('<a id="back" href="../index.html#errors">'));
    console.log(`# report of ${items.length} items (9 thumbnails) in ${ms.toFixed(0)} ms`);
  });

  test('large runs: gallery and error tables paginate, OK item pages are capped, items stream from an async iterable', async () => {
    const src = join(tmp, 'src-pages');
    await mkdir(src, { recursive: true });
    const file = join(src, 'tiny.png');
    await surface(file, 64, 48, [defect('spot', 20, 20, 8, 8)]);
    async function* items(): AsyncGenerator<ReportItem> {
      for (let i = 0; i < 4000; i++) {
        const k = i % 400;
        if (k < 7 && i < 400)
          yield { path: `${file}?ng${i}`, status: 'ng', verdict: 'NG', score: 0.8, width: 64, height: 48, defects: [defect('spot', 20, 20, 8, 8)] };
        else if (k < 12 && i < 400) yield { path: `${src}/bad-${i}.png`, status: 'error', error: `truncated file ${i}` };
        else yield { path: `${src}/ok-${i}.png`, status: 'ok', verdict: 'OK', score: 0 };
      }
    }
    const dir = join(tmp, 'report-pages');
    const t0 = performance.now();
    const r = await writeReport(
      dir,
      { run: RUN, items: items() },
      {
        galleryPageSize: 3,
        errorPageSize: 2,
        okItemPages: 1,
        readImage: async (item) => item.path.replace(/\?ng\d+$/, ''),
      },
    );
    const ms = performance.now() - t0;
    assert.deepEqual(r.counts, { ok: 4000 - 12, ng: 7, error: 5 });
    const files = (await readdir(dir)).filter((f) => f.endsWith('.html')).sort();
    assert.deepEqual(files, ['errors-2.html', 'errors-3.html', 'gallery-2.html', 'gallery-3.html', 'index.html']);
    assert.equal((await readdir(join(dir, 'items'))).length, 7 + 5 + 1);
    assert.equal(r.pages, 5 + 13);
    assert.equal(r.thumbnails, 7); // the one OK sample's file does not exist: a note, not a thumbnail
    assert.equal(r.notes, 1);
    await assertSelfContained(dir);

    const index = await readFile(join(dir, 'index.html'), 'utf8');
    assert.match(index, /<p>7 NG images on 3 pages of 3\.<\/p>/);
    assert.equal(index.match(/<figure data-item=/g)?.length, 3 + 1); // gallery page 1 + one OK sample
    assert.ok(index.includes('<a href="gallery-2.html">2</a><a href="gallery-3.html">3</a>'));
    assert.ok(index.includes('<a href="errors-2.html">2</a><a href="errors-3.html">3</a>'));
    assert.ok(index.includes('The first 1 of 3988 OK images.'));
    const g2 = await readFile(join(dir, 'gallery-2.html'), 'utf8');
    assert.equal(g2.match(/<figure data-item=/g)?.length, 3);
    assert.ok(g2.includes('<a rel="prev" href="index.html#gallery">') && g2.includes('<a rel="next" href="gallery-3.html">'));
    const g3 = await readFile(join(dir, 'gallery-3.html'), 'utf8');
    assert.equal(g3.match(/<figure data-item=/g)?.length, 1);
    assert.ok(g3.includes('<a rel="prev" href="gallery-2.html">') && !g3.includes('rel="next"'));
    const e3 = await readFile(join(dir, 'errors-3.html'), 'utf8');
    assert.match(e3, /<td class="n">5<\/td><td><a href="items\/[^"]+"><code>[^<]*bad-11\.png<\/code><\/a><\/td><td class="msg">truncated file 11<\/td>/);
    // each item page links back to the page that lists it
    const seventh = await readFile(join(dir, 'items', `${safeName(`${file}?ng6`)}.html`), 'utf8');
    assert.ok(seventh.includes('<a id="back" href="../gallery-3.html">'));
    console.log(`# 4000 streamed items (7 thumbnails, 18 pages) in ${ms.toFixed(0)} ms`);
    assert.ok(ms < 20_000);
  });

  test('bad arguments: one sentence naming the field, the allowed values and what was received; nothing written for a bad run or options', async () => {
    const items: ReportItem[] = [{ path: 'a.png', status: 'ok', verdict: 'OK' }];
    const dir = join(tmp, 'never');
    const cases: [unknown, unknown, unknown, RegExp][] = [
      ['', { run: RUN, items }, {}, /^Expected a non-empty path for dir but received "" of type string$/],
      [dir, { run: RUN, items }, { galleryPageSize: 0 }, /^Expected integer between 1 and 10000 for options\.galleryPageSize but received 0 of type number$/],
      [dir, { run: RUN, items }, { okItemPages: 1.5 }, /^Expected integer between 0 and 100000 for options\.okItemPages but received 1\.5 of type number$/],
      [dir, { run: RUN, items }, { thumbSize: 4096 }, /^Expected integer between 32 and 1024 for options\.thumbSize but received 4096 of type number$/],
      [dir, { run: { ...RUN, totalMs: -1 }, items }, {}, /^Expected a finite number ≥ 0 for data\.run\.totalMs but received -1 of type number$/],
      [
        dir,
        { run: { ...RUN, recipe: { name: 'x' } }, items },
        {},
        /^Expected a non-empty string for data\.run\.recipe\.hash but received undefined of type undefined$/,
      ],
      [
        dir,
        { run: { ...RUN, stages: [{ name: 'gpu', ms: Number.NaN }] }, items },
        {},
        /^Expected a finite number ≥ 0 for data\.run\.stages\[0\]\.ms but received NaN of type number$/,
      ],
      [dir, { run: RUN, items: 42 }, {}, /^Expected an array or \(async\) iterable of items for data\.items but received 42 of type number$/],
      [dir, null, {}, /^Expected an object with run and items for data but received null of type object$/],
    ];
    for (const [d, data, options, message] of cases) {
      await assert.rejects(
        writeReport(d as string, data as ReportData, options as object),
        (e: unknown) => isKensaError(e, 'KENSA_ERR_INVALID_ARGUMENT') && message.test((e as Error).message),
        String(message),
      );
    }
    assert.equal(existsSync(dir), false);

    const itemCases: [unknown, RegExp][] = [
      [{ path: 'b.png', status: 'done' }, /^Expected one of "ok", "ng", "error" for data\.items\[1\]\.status but received "done" of type string$/],
      [{ path: '', status: 'ok' }, /^Expected a non-empty string for data\.items\[1\]\.path but received "" of type string$/],
      [
        { path: 'b.png', status: 'ng', defects: [{ ...defect('crack', 1, 1, 2, 2), class: 'dent' }] },
        /^Expected one of "crack", "scratch", "spot" for data\.items\[1\]\.defects\[0\]\.class but received "dent" of type string$/,
      ],
      [
        { path: 'b.png', status: 'ng', defects: [{ ...defect('crack', 1, 1, 2, 2), w: Infinity }] },
        /^Expected a finite number ≥ 0 for data\.items\[1\]\.defects\[0\]\.w but received Infinity of type number$/,
      ],
      [{ path: 'b.png', status: 'ng', width: 0 }, /^Expected integer between 1 and 1073741824 for data\.items\[1\]\.width but received 0 of type number$/],
    ];
    for (const [bad, message] of itemCases) {
      await assert.rejects(
        writeReport(join(tmp, 'bad-item'), { run: RUN, items: [items[0]!, bad as ReportItem] }, { okItemPages: 0 }),
        (e: unknown) => isKensaError(e, 'KENSA_ERR_INVALID_ARGUMENT') && message.test((e as Error).message),
        String(message),
      );
    }
  });

  test('in Chromium: summary numbers, every thumbnail loads, overlays visible, hostile text stays text, item page and back, no network', {
    skip: noBrowser,
    timeout: 60_000,
  }, async () => {
    const { items, ng } = await fixture();
    const dir = join(tmp, 'report-browser');
    const r = await writeReport(dir, { run: RUN, items }, { okItemPages: 2 });
    const profile = await mkdtemp(join(tmp, 'chromium-profile-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      viewport: { width: 1280, height: 900 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
      });
      page.on('dialog', (d) => {
        problems.push(`dialog: ${d.message()}`);
        void d.dismiss();
      });
      page.on('request', (q) => requests.push(q.url()));
      const indexUrl = pathToFileURL(r.index).href;
      await page.goto(indexUrl, { waitUntil: 'load' });

      // summary
      const value = (id: string) => page.locator(`#${id} .v`).innerText();
      assert.equal(await value('count-total'), '12');
      assert.equal(await value('count-ok'), '3');
      assert.equal(await value('count-ng'), '7');
      assert.equal(await value('count-error'), '2');
      assert.equal(await value('throughput'), num(12 / (RUN.totalMs / 1000), 1));
      assert.equal(await value('total-time'), '4.32 s');
      assert.equal(await page.locator('#run-id').innerText(), RUN.id);
      assert.equal(await page.locator('#recipe-name').innerText(), RUN.recipe.name);
      assert.equal(await page.locator('#recipe-hash').innerText(), RUN.recipe.hash);
      assert.equal(await page.locator('#device').innerText(), RUN.device);
      const stageRows = await page.locator('table.stages tbody tr').allInnerTexts();
      assert.deepEqual(
        stageRows.map((t) => t.split('\t')),
        [
          ['decode', '3.10 s', num(3100 / 12), num(12 / 3.1, 1), num((100 * 3100) / 4321, 1)],
          ['gpu', '640 ms', num(640 / 12), num(12 / 0.64, 1), num((100 * 640) / 4321, 1)],
          ['post', '410 ms', num(410 / 12), num(12 / 0.41, 1), num((100 * 410) / 4321, 1)],
          ['store', '95 ms', num(95 / 11), num(11 / 0.095, 1), num((100 * 95) / 4321, 1)],
        ],
      );

      // gallery: one figure per NG item, every thumbnail decoded by the browser
      const gallery = page.locator('h2#gallery ~ .gallery').first();
      assert.equal(await gallery.locator('figure').count(), 7);
      const thumbs = await page
        .locator('.gallery img')
        .evaluateAll((els) =>
          els.map(
            (e) => [e.getAttribute('src'), (e as unknown as { naturalWidth: number }).naturalWidth, (e as unknown as { complete: boolean }).complete] as const,
          ),
        );
      assert.equal(thumbs.length, 6 + 2);
      for (const [src, w, complete] of thumbs) assert.ok(complete && w > 0, `${src} loaded (naturalWidth ${w})`);
      assert.equal(await gallery.locator('.placeholder').count(), 1);

      // overlays as the browser shows them: class-coloured box pixels on NG thumbnails, none on OK ones
      const colored = async (name: string, color: string) => {
        const png = await page.locator(`figure[data-item="${name}"] img`).screenshot();
        const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
        const [r0, g0, b0] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)) as [number, number, number];
        let n = 0;
        for (let p = 0; p < data.length; p += info.channels)
          if (Math.abs(data[p]! - r0) < 45 && Math.abs(data[p + 1]! - g0) < 45 && Math.abs(data[p + 2]! - b0) < 45) n++;
        return n;
      };
      const first = safeName(ng[0]!.path);
      assert.ok((await colored(first, CLASS_COLORS.crack)) > 100, 'crack box on the first NG thumbnail');
      assert.ok((await colored(first, CLASS_COLORS.spot)) > 20, 'spot box on the first NG thumbnail');
      assert.ok((await colored(safeName(ng[1]!.path), CLASS_COLORS.scratch)) > 100, 'scratch box on the second');
      const okName = safeName(items.find((i) => i.status === 'ok')!.path);
      for (const c of Object.values(CLASS_COLORS)) assert.equal(await colored(okName, c), 0, `no ${c} on an OK thumbnail`);

      // hostile file name and error message render as text
      assert.equal(await page.locator('script').count(), 0);
      assert.equal(await page.locator('img[src="x"]').count(), 0);
      assert.equal(await page.locator('main b').count(), 0);
      assert.equal(await page.title(), `Inspection report · run ${RUN.id}`);
      const hostile = page.locator(`figure[data-item="${safeName(ng[4]!.path)}"] figcaption a`);
      assert.equal(await hostile.innerText(), HOSTILE_FILE);
      assert.equal(await page.locator('table.errors td.msg').nth(1).innerText(), HOSTILE_ERROR);
      assert.equal(await page.locator('table.errors code').nth(1).innerText(), items[items.length - 1]!.path);

      // follow a gallery link to the item page and back
      const target = safeName(ng[2]!.path);
      await page.locator(`figure[data-item="${target}"] figcaption a`).click();
      await page.waitForURL(/\/items\/[A-Za-z0-9_-]+\.html$/);
      assert.ok(page.url().endsWith(`/items/${target}.html`));
      await page.waitForLoadState('load');
      assert.equal(await page.locator('#item-path').innerText(), ng[2]!.path);
      assert.ok((await page.locator('figure.big img').evaluate((e) => (e as unknown as { naturalWidth: number }).naturalWidth)) > 0);
      const rows = await page.locator('table.defects tbody tr').allInnerTexts();
      assert.equal(rows.length, ng[2]!.defects!.length);
      const d0 = ng[2]!.defects![0]!;
      assert.deepEqual(
        rows[0]!.split('\t').map((s) => s.trim()),
        ['1', 'crack', num(d0.x), num(d0.y), num(d0.w), num(d0.h), num(d0.area), num(d0.score), num(d0.meanGradient)],
      );
      const shots = process.env.KENSA_REPORT_SCREENSHOTS ?? join(tmp, 'screens');
      await mkdir(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'item.png'), fullPage: true });
      await page.locator('#back').click();
      await page.waitForURL(`${indexUrl}#gallery`);
      assert.equal(await value('count-ng'), '7');
      await page.screenshot({ path: join(shots, 'index.png'), fullPage: true });
      const shot = await sharp(join(shots, 'index.png')).metadata();
      assert.equal(shot.width, 1280);
      assert.ok((shot.height ?? 0) > 900);

      // the error item page shows the hostile message as text
      await page.locator('table.errors a').nth(1).click();
      await page.waitForURL(/\/items\//);
      assert.equal(await page.locator('#error-message').innerText(), HOSTILE_ERROR);
      assert.equal(await page.locator('main b').count(), 0);

      assert.deepEqual(problems, []);
      const foreign = requests.filter((u) => !u.startsWith(`${pathToFileURL(dir).href}/`));
      assert.deepEqual(foreign, [], 'every request stays inside the report folder');
      assert.ok(requests.length >= 3 + 8);
    } finally {
      await context.close();
    }
  });

  test('the summary keeps inspection time and report writing apart, labels busy time as summed over threads, lists resumes, pluralises', async () => {
    const { items } = await fixture();
    const dir = join(tmp, 'report-labels');
    const sessions = [
      { startedAt: '2026-12-01T10:00:00.000Z', device: 'NVIDIA H100 (webgpu)' },
      { startedAt: '2026-12-01T11:00:00.000Z', device: 'cpu (cpu)' },
    ];
    const many: ReportItem[] = [
      ...items,
      {
        path: 'x/many.png',
        status: 'ng',
        score: 0.5,
        width: 8,
        height: 8,
        defects: [0, 1].map((i) => ({ x: i, y: 0, w: 1, h: 1, area: 1, score: 0.5, meanGradient: 1, class: 'scratch' as const })),
      },
    ];
    const r = await writeReport(dir, { run: { ...RUN, sessions }, items: many });
    const index = await readFile(r.index, 'utf8');
    assert.match(index, /<div class="v">[^<]+<\/div><div class="k">images\/s \(inspection\)<\/div>/);
    assert.match(index, /id="total-time"><div class="v">4\.32 s<\/div><div class="k">inspection time<\/div>/);
    const reportTime = /id="report-time"><div class="v">([^<]+)<\/div><div class="k">report writing<\/div>/.exec(index);
    assert.ok(reportTime, 'report writing time shown');
    assert.match(index, /id="wall-time"><div class="v">[^<]+<\/div><div class="k">wall time with report<\/div>/);
    assert.match(index, /<th class="n">busy time as % of inspection time<\/th>/);
    assert.match(
      index,
      /id="stages-note">Busy time is summed over every thread and worker that ran the stage, so a stage that runs on several at once can exceed 100 % of the inspection time/,
    );
    assert.match(
      index,
      /<ol id="sessions"><li>started 2026-12-01T10:00:00\.000Z on NVIDIA H100 \(webgpu\)<\/li><li>resumed 2026-12-01T11:00:00\.000Z on cpu \(cpu\)<\/li><\/ol>/,
    );
    assert.match(index, /<span class="cls-scratch">2 scratches<\/span>/);
    assert.doesNotMatch(index, /\b[02-9] (spot|crack|scratch)</);
    await assert.rejects(
      writeReport(join(tmp, 'bad-sessions'), { run: { ...RUN, sessions: [{ startedAt: '', device: 3 as unknown as string }] }, items: [] }),
      /data\.run\.sessions\[0\]\.device/,
    );
  });
});
