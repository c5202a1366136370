import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { runInspection } from '../../src/pipeline/run.js';
import { buildServer } from '../../src/serve/app.js';
import { openStore } from '../../src/store/store.js';
import { writeFrames } from '../pipeline/_images.js';
import { tempDir } from '../_kit/tmp.js';

test('over a store kensa inspect wrote (no backend): runs, items, defects, originals and masks are served; /v1/inspect is not', async () => {
  const dir = tempDir('kensa-store-only-');
  const { defective } = await writeFrames(join(dir, 'images'), 6, 48);
  const db = join(dir, 'kensa.db');
  const summary = await runInspection([join(dir, 'images')], { db, device: 'cpu', postWorkers: 0, masksDir: join(dir, 'masks') });
  const store = await openStore(db);
  const app = await buildServer({ backend: null, store });
  try {
    const { runs } = (await app.inject({ method: 'GET', url: '/v1/runs' })).json();
    assert.equal(runs.length, 1);
    assert.equal(runs[0].id, summary.run.id);
    assert.equal(runs[0].service, false);
    const ng = (await app.inject({ method: 'GET', url: `/v1/items?run=${summary.run.id}&status=ng&order=score&limit=10&offset=0` })).json();
    assert.deepEqual(new Set(ng.items.map((i: { itemKey: string }) => i.itemKey)), defective);
    const key = ng.items[0].itemKey;
    const original = await app.inject({ method: 'GET', url: `/v1/items/original?run=${summary.run.id}&key=${encodeURIComponent(key)}` });
    assert.equal(original.statusCode, 200);
    assert.equal(original.headers['content-type'], 'image/png');
    assert.equal((await sharp(original.rawPayload).metadata()).width, 48);
    const mask = await app.inject({ method: 'GET', url: `/v1/items/mask?run=${summary.run.id}&key=${encodeURIComponent(key)}` });
    assert.equal(mask.statusCode, 200);
    const page = await app.inject({ method: 'GET', url: '/' });
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.body, /NG gallery/);
    const inspect = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: original.rawPayload });
    assert.equal(inspect.statusCode, 404);
    assert.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
    // a classification model's label travels with its item (an item without one reads null)
    const cls = await store.createRun({ recipeName: 'peak', recipe: {}, device: 'cpu', options: {} });
    const item = { path: '/x', contentHash: null, sizeBytes: 1, width: 2, height: 2, status: 'ng' as const, verdict: 'NG' };
    await store.writeResults(cls.id, [
      { ...item, itemKey: 'a.png', label: { name: 'stain', score: 0.75 } },
      { ...item, itemKey: 'b.png' },
    ]);
    // the throughput chart: errors counted apart, and left out of the stage means (they ran only the stages before their failure)
    const timed = await store.createRun({ recipeName: 'classic', recipe: {}, device: 'cpu', options: {} });
    await store.writeResults(timed.id, [
      { ...item, itemKey: 'ok.png', status: 'ok', verdict: 'OK', stageTimings: { decode: 2, detect: 10 } },
      { ...item, itemKey: 'ng.png', stageTimings: { decode: 4, detect: 20 } },
      { ...item, itemKey: 'cut.png', status: 'error', verdict: null, error: 'Cannot decode cut.png: truncated', stageTimings: { decode: 1 } },
    ]);
    const { points } = (await app.inject({ method: 'GET', url: `/v1/runs/${timed.id}/throughput?bucketS=60` })).json();
    assert.equal(points.length, 1);
    assert.deepEqual({ ...points[0], t: undefined }, { t: undefined, images: 3, ng: 1, error: 1, stages: { decode: 3, detect: 15 } });
    const labelled = (await app.inject({ method: 'GET', url: `/v1/items?run=${cls.id}` })).json();
    assert.deepEqual(
      labelled.items.map((i: { itemKey: string; label: unknown }) => [i.itemKey, i.label]),
      [
        ['a.png', { name: 'stain', score: 0.75 }],
        ['b.png', null],
      ],
    );
  } finally {
    await app.close();
    await store.close();
  }
});
