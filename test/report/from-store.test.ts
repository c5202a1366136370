import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../_kit/tmp.js';
import { runInspection } from '../../src/pipeline/run.js';
import { writeRunReport } from '../../src/report/from-store.js';
import { openStore } from '../../src/store/store.js';
import { writeFrames } from '../pipeline/_images.js';

test('a stored run becomes a report: counts, NG item pages with defects, mask overlays', async () => {
  const dir = tempDir('kensa-report-run-');
  const { defective } = await writeFrames(join(dir, 'images'), 9, 48);
  const db = join(dir, 'kensa.db');
  const s = await runInspection([join(dir, 'images')], { db, device: 'cpu', masksDir: join(dir, 'masks') });
  const store = await openStore(db);
  try {
    const r = await writeRunReport(store, s.run.id, join(dir, 'report'), join(dir, 'masks'));
    assert.equal(r.counts.ng, defective.size);
    assert.equal(r.counts.ok, 9 - defective.size);
    const html = readFileSync(r.index, 'utf8');
    assert.match(html, new RegExp(s.run.id));
    const pages = readdirSync(join(dir, 'report', 'items'));
    assert.ok(pages.length >= defective.size);
    const spotPage = pages.find((p) => p.includes('frame002'));
    assert.ok(spotPage && /spot/.test(readFileSync(join(dir, 'report', 'items', spotPage), 'utf8')));
    assert.ok(existsSync(join(dir, 'report', 'thumbs')));
  } finally {
    await store.close();
  }
});

test('the NG gallery lists by score, highest first, as the CLI does; a resumed run lists its sessions', async () => {
  const dir = tempDir('kensa-report-order-');
  const db = join(dir, 'kensa.db');
  const store = await openStore(db);
  try {
    const run = await store.createRun({ recipeName: 'classic', recipe: {}, device: 'gpu A' });
    const defect = { x: 1, y: 1, w: 2, h: 2, area: 4, score: 0.5, meanGradient: 1, class: 'spot' as const };
    const item = (key: string, status: 'ok' | 'ng', score: number | null) => ({
      itemKey: key,
      path: join(dir, key),
      contentHash: null,
      sizeBytes: null,
      width: 8,
      height: 8,
      status,
      score,
      defects: status === 'ng' ? [defect] : [],
    });
    await store.writeResults(run.id, [
      item('a.png', 'ng', 0.2),
      item('b.png', 'ng', 0.9),
      item('c.png', 'ok', 0),
      item('d.png', 'ng', null),
      item('e.png', 'ng', 0.5),
    ]);
    await store.finishRun(run.id, 'interrupted');
    await store.resumeRun(run.id, { device: 'cpu B' });
    await store.finishRun(run.id, 'done');
    const r = await writeRunReport(store, run.id, join(dir, 'report'));
    const index = readFileSync(r.index, 'utf8');
    const gallery = index.slice(index.indexOf('id="gallery"'), index.indexOf('id="ok"'));
    const order = [...gallery.matchAll(/<figcaption><a href="[^"]+">([^<]+)<\/a>/g)].map((m) => m[1]);
    assert.deepEqual(order, ['b.png', 'e.png', 'a.png', 'd.png']);
    assert.match(index, /<li>started [^<]+ on gpu A<\/li><li>resumed [^<]+ on cpu B<\/li>/);
    assert.deepEqual(
      (await store.items(run.id, { status: 'ng', order: 'score', limit: 2, offset: 1 })).map((i) => i.itemKey),
      ['e.png', 'a.png'],
    );
    await assert.rejects(writeRunReport(store, 'no-such-run', join(dir, 'r2')), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: /Expected the id of a run in the store .* for runId but received "no-such-run"/,
    });
  } finally {
    await store.close();
  }
});
