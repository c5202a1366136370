import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { KensaError } from '../../src/errors.js';
import { buildServer } from '../../src/serve/app.js';
import { ServiceRecorder } from '../../src/serve/recorder.js';
import { openStore, type Store } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';

const backend = await openBackend({ device: 'cpu' });

test("a server's service runs left running by a crash are marked interrupted when it starts again; other servers' and batch runs are left alone", async () => {
  const store = await openStore(join(tempDir('kensa-serve-recorder-'), 'kensa.db'));
  const recipe = { kind: 'classic' };
  const item = { itemKey: 'a', path: 'http:a', contentHash: null, sizeBytes: 10, width: 8, height: 8, status: 'ng' as const, verdict: 'NG', score: 2 };
  // what a killed server of each name left behind: a running service run with one stored item
  const crashed = await store.createRun({ recipeName: 'classic', recipe, device: 'cpu', options: { service: true, server: 'line-3' } });
  await store.writeResults(crashed.id, [item]);
  const other = await store.createRun({ recipeName: 'classic', recipe, device: 'cpu', options: { service: true, server: 'line-4' } });
  const batch = await store.createRun({ recipeName: 'classic', recipe, device: 'cpu', options: { server: 'line-3' } });

  const app = await buildServer({ backend, store, name: 'line-3', postWorkers: 0, batch: { maxQueueDelayUs: 1000 } });
  const before = await store.getRun(crashed.id);
  assert.equal(before?.status, 'interrupted');
  assert.deepEqual(before?.counts, { total: 1, ok: 0, ng: 1, error: 0 });
  assert.equal((await store.getRun(other.id))?.status, 'running');
  assert.equal((await store.getRun(batch.id))?.status, 'running');

  // the new session's run carries the name, so the next start finds it in turn
  const png = await sharp(new Uint8Array(32 * 32).fill(100), { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toBuffer();
  const res = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: png });
  assert.equal(res.statusCode, 200, res.body);
  const run = await store.getRun(res.json().run);
  assert.deepEqual([run?.status, run?.options.server, run?.options.service], ['running', 'line-3', true]);
  await app.close();
  assert.equal((await store.getRun(run!.id))?.status, 'done');
  await store.close();
});

test('an item the store refuses is logged and dropped, the rest of its batch written; a failed database keeps the batch for the next write', async () => {
  const store = await openStore(join(tempDir('kensa-serve-recorder-refused-'), 'kensa.db'));
  const run = await store.createRun({ recipeName: 'classic', recipe: { kind: 'classic' }, device: 'cpu', options: { service: true } });
  const item = (itemKey: string) => ({
    itemKey,
    path: `http:${itemKey}`,
    contentHash: null,
    sizeBytes: 10,
    width: 8,
    height: 8,
    status: 'ok' as const,
    verdict: 'OK',
  });
  let down = false;
  const flaky = {
    writeResults: (id: string, items: Parameters<Store['writeResults']>[1]) => {
      if (down) return Promise.reject(new KensaError('KENSA_ERR_STORE', 'sqlite store: writeResults failed: database is locked'));
      return store.writeResults(id, items);
    },
  } as unknown as Store;
  const errors: string[] = [];
  const recorder = new ServiceRecorder({ store: flaky, device: 'cpu', server: 's', imagesDir: null, onError: (e) => errors.push((e as Error).message) });
  recorder.record(run.id, item('a'));
  recorder.record(run.id, item('x'.repeat(800)));
  recorder.record(run.id, item('b'));
  await recorder.flush();
  const keys = async () => (await store.items(run.id)).map((i) => i.itemKey);
  assert.deepEqual(await keys(), ['a', 'b']);
  assert.equal(errors.length, 2, errors.join('\n'));
  assert.match(errors[1]!, /itemKey/);
  // the refused item is not tried again: the next write goes through
  down = true;
  recorder.record(run.id, item('c'));
  await recorder.flush();
  assert.deepEqual(await keys(), ['a', 'b']);
  down = false;
  recorder.record(run.id, item('d'));
  await recorder.flush();
  assert.deepEqual(await keys(), ['a', 'b', 'c', 'd']);
  await store.close();
});
