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
