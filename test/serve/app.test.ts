import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { buildServer, type ServeOptions } from '../../src/serve/app.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { spotPng as png } from './_images.js';
import { form } from './_multipart.js';

const backend = await openBackend({ device: 'cpu' });
const dir = tempDir('kensa-serve-');

async function server(o: Partial<ServeOptions> = {}) {
  const app = await buildServer({ backend, store: null, batch: { maxQueueDelayUs: 1000 }, ...o });
  after(() => app.close());
  return app;
}

test('POST /v1/inspect: a PNG body gives its verdict and defects; mask=png adds the mask as a base64 PNG of the image size', async () => {
  const app = await server();
  const ok = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: await png(false) });
  assert.equal(ok.statusCode, 200, ok.body);
  assert.equal(ok.json().verdict, 'OK');
  assert.deepEqual(ok.json().defects, []);
  const ng = await app.inject({ method: 'POST', url: '/v1/inspect?mask=png', headers: { 'content-type': 'image/png' }, payload: await png(true) });
  const body = ng.json();
  assert.equal(body.verdict, 'NG');
  assert.equal(body.defects.length, 1);
  const d = body.defects[0];
  assert.ok(d.x <= 30 && d.x + d.w >= 36 && d.y <= 20 && d.y + d.h >= 26, JSON.stringify(d));
  const mask = await sharp(Buffer.from(body.mask, 'base64')).toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual([mask.info.width, mask.info.height, mask.info.channels], [64, 64, 1]);
  // the mask marks the spot (at least its edges)
  let marked = 0;
  for (let y = 20; y < 26; y++) for (let x = 30; x < 36; x++) if (mask.data[y * 64 + x] === 255) marked++;
  assert.ok(marked > 0, 'the spot is in the mask');
  assert.equal(body.timings.batchSize >= 1, true);
  // the server's own time covers the stages it reports (a load generator takes the rest as overhead)
  const { serverMs, decodeMs, queueMs, computeMs } = body.timings;
  assert.ok(serverMs >= decodeMs + queueMs + computeMs, JSON.stringify(body.timings));
});

test('POST /v1/inspect/batch: base64 images in JSON, one result per image in order; a bad image answers its error in its place', async () => {
  const app = await server();
  const images = [
    { key: 'a', data: (await png(true)).toString('base64') },
    { key: 'b', data: Buffer.from('not an image').toString('base64') },
    { key: 'c', data: (await png(false)).toString('base64') },
  ];
  const res = await app.inject({ method: 'POST', url: '/v1/inspect/batch', payload: { recipe: 'classic', images } });
  assert.equal(res.statusCode, 200, res.body);
  const { results } = res.json();
  assert.deepEqual(
    results.map((r: { key: string; verdict?: string; error?: { code: string } }) => [r.key, r.verdict ?? r.error?.code]),
    [
      ['a', 'NG'],
      ['b', 'KENSA_ERR_DECODE'],
      ['c', 'OK'],
    ],
  );
});

test('recipe params are merged into the recipe: a threshold no spot reaches gives OK; an unknown recipe or field is a 400', async () => {
  const app = await server();
  const params = encodeURIComponent(JSON.stringify({ verdict: { minScore: 1000 } }));
  const lenient = await app.inject({ method: 'POST', url: `/v1/inspect?params=${params}`, headers: { 'content-type': 'image/png' }, payload: await png(true) });
  assert.equal(lenient.statusCode, 200, lenient.body);
  assert.equal(lenient.json().verdict, 'OK');
  const unknown = await app.inject({ method: 'POST', url: '/v1/inspect?recipe=nope', headers: { 'content-type': 'image/png' }, payload: await png(true) });
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.json().error.code, 'KENSA_ERR_BAD_REQUEST');
  const badField = await app.inject({
    method: 'POST',
    url: `/v1/inspect?params=${encodeURIComponent('{"threshold":"high"}')}`,
    headers: { 'content-type': 'image/png' },
    payload: await png(true),
  });
  assert.equal(badField.statusCode, 400);
  assert.equal(badField.json().error.code, 'KENSA_ERR_RECIPE');
});

test('hardening: a bad image is a 400 KENSA_ERR_DECODE, an image over the pixel limit a 422, a body over the limit a 413, another content type a 415', async () => {
  const app = await server({ maxImagePixels: 1000, bodyLimit: 4096 });
  const bad = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: Buffer.from('garbage') });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().error.code, 'KENSA_ERR_DECODE');
  const huge = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: await png(false) });
  assert.equal(huge.statusCode, 422);
  assert.match(huge.json().error.message, /64×64 = 4096 pixels exceeds the limit of 1000/);
  const big = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: Buffer.alloc(5000) });
  assert.equal(big.statusCode, 413);
  const text = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
  assert.equal(text.statusCode, 415);
  assert.equal(text.json().error.code, 'KENSA_ERR_BAD_REQUEST');
});

test('a declared size over the pixel limit is refused from the header: a 20000×20000 PNG of a few hundred bytes gives 422', async () => {
  const app = await server();
  const bomb = await sharp({ create: { width: 20000, height: 20000, channels: 3, background: '#000' }, limitInputPixels: false })
    .png({ compressionLevel: 9 })
    .toBuffer();
  const res = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: bomb });
  assert.equal(res.statusCode, 422);
  assert.equal(res.json().error.code, 'KENSA_ERR_DECODE');
});

test('bearer token: a request without it is a 401 KENSA_ERR_UNAUTHORIZED, with it a 200; /health stays open', async () => {
  const app = await server({ token: 's3cret' });
  const none = await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: await png(false) });
  assert.equal(none.statusCode, 401);
  assert.equal(none.json().error.code, 'KENSA_ERR_UNAUTHORIZED');
  const wrong = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: 'Bearer s3cre' } });
  assert.equal(wrong.statusCode, 401);
  const good = await app.inject({
    method: 'POST',
    url: '/v1/inspect',
    headers: { 'content-type': 'image/png', authorization: 'Bearer s3cret' },
    payload: await png(false),
  });
  assert.equal(good.statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
});

test('rate limit: past max requests in the window a client gets 429 KENSA_ERR_RATE_LIMITED with Retry-After', async () => {
  const app = await server({ rateLimit: { max: 2, windowMs: 60_000 } });
  const codes: number[] = [];
  let last = null;
  for (let i = 0; i < 3; i++) {
    last = await app.inject({ method: 'GET', url: '/metrics' });
    codes.push(last.statusCode);
  }
  assert.deepEqual(codes, [200, 200, 429]);
  assert.equal(last!.json().error.code, 'KENSA_ERR_RATE_LIMITED');
  assert.ok(Number(last!.headers['retry-after']) >= 1);
});

test('/docs/json is an OpenAPI document listing the routes; /ready turns 200 once warmed for the configured shapes', async () => {
  const app = await server({ warmShapes: [{ width: 32, height: 32 }] });
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  assert.match(doc.openapi, /^3\./);
  assert.ok(doc.paths['/v1/inspect'].post);
  assert.ok(doc.paths['/v1/inspect/batch'].post);
  await app.kensa.warmed;
  assert.equal((await app.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  // warm-up batches run outside the queue: the metrics count client batches only
  assert.doesNotMatch((await app.inject({ method: 'GET', url: '/metrics' })).body, /kensa_batch_size_count/);
  await app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png' }, payload: await png(true, 32) });
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  for (const line of [
    'kensa_batch_size_count{recipe="classic"} 1',
    'kensa_queue_wait_seconds_count 1',
    'kensa_compute_seconds_count{recipe="classic"} 1',
    'kensa_device_seconds_count{recipe="classic"} 1',
    'kensa_decode_seconds_count 1',
  ])
    assert.ok(metrics.includes(line), line);
});

test('an item key the store cannot take (empty, over 700 characters) is a 400 on every route, and the results after it are stored', async () => {
  const store = await openStore(join(dir, 'keys.db'));
  const app = await buildServer({ backend, store, batch: { maxQueueDelayUs: 1000 } });
  const image = await png(true);
  const long = 'k'.repeat(701);
  for (const key of ['', long]) {
    const raw = await app.inject({ method: 'POST', url: `/v1/inspect?key=${key}`, headers: { 'content-type': 'image/png' }, payload: image });
    assert.equal(raw.statusCode, 400, raw.body);
    assert.equal(raw.json().error.code, 'KENSA_ERR_BAD_REQUEST');
    const multi = await app.inject({
      method: 'POST',
      url: '/v1/inspect',
      ...(await form([
        ['key', key],
        ['image', image, 'image/png', 'a.png'],
      ])),
    });
    assert.equal(multi.statusCode, 400, multi.body);
    assert.equal(multi.json().error.message, `Expected 1 to 700 characters for the field key but received ${key.length} characters`);
    const batch = await app.inject({ method: 'POST', url: '/v1/inspect/batch', payload: { images: [{ key, data: image.toString('base64') }] } });
    assert.equal(batch.statusCode, 400, batch.body);
  }
  const ok = await app.inject({ method: 'POST', url: '/v1/inspect?key=after', headers: { 'content-type': 'image/png' }, payload: image });
  assert.equal(ok.statusCode, 200, ok.body);
  await app.kensa.recorder!.flush();
  const { runs } = (await app.inject({ method: 'GET', url: '/v1/runs' })).json();
  assert.deepEqual(
    (await store.items(runs[0].id)).map((i) => i.itemKey),
    ['after'],
  );
  await app.close();
  await store.close();
});

test('results are stored as a service run, an undecodable upload as an error item; /v1/runs, /v1/items (keyset pages) and /v1/defects read them back', async () => {
  const store = await openStore(join(dir, 'service.db'));
  const app = await buildServer({ backend, store, batch: { maxQueueDelayUs: 1000 } });
  for (const [key, spot] of [
    ['k1', true],
    ['k2', false],
    ['k3', true],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: `/v1/inspect?key=${key}`, headers: { 'content-type': 'image/png' }, payload: await png(spot) });
    assert.equal(res.statusCode, 200, res.body);
  }
  const cut = (await png(true)).subarray(0, 60);
  const bad = await app.inject({ method: 'POST', url: '/v1/inspect?key=k4', headers: { 'content-type': 'image/png' }, payload: cut });
  assert.equal(bad.statusCode, 400);
  await app.kensa.recorder!.flush();
  const { runs } = (await app.inject({ method: 'GET', url: '/v1/runs' })).json();
  assert.equal(runs.length, 1);
  assert.equal(runs[0].service, true);
  assert.equal(runs[0].status, 'running');
  assert.deepEqual(runs[0].counts, { total: 4, ok: 1, ng: 2, error: 1 });
  const id = runs[0].id;
  const first = (await app.inject({ method: 'GET', url: `/v1/items?run=${id}&limit=2` })).json();
  assert.deepEqual(
    first.items.map((i: { itemKey: string }) => i.itemKey),
    ['k1', 'k2'],
  );
  const second = (await app.inject({ method: 'GET', url: `/v1/items?run=${id}&limit=3&after=${first.next}` })).json();
  assert.deepEqual(
    second.items.map((i: { itemKey: string }) => i.itemKey),
    ['k3', 'k4'],
  );
  assert.equal(second.next, null);
  const ng = (await app.inject({ method: 'GET', url: `/v1/items?run=${id}&status=ng` })).json();
  assert.equal(ng.items.length, 2);
  // the failed upload is kept with the error its request was answered with
  const [k4] = (await app.inject({ method: 'GET', url: `/v1/items?run=${id}&status=error` })).json().items;
  assert.deepEqual([k4.itemKey, k4.status, k4.error], ['k4', 'error', bad.json().error.message]);
  assert.equal((await store.items(id, { status: 'error' }))[0]?.sizeBytes, cut.length);
  const [k1] = await store.items(id, { limit: 1 });
  assert.equal(
    k1?.contentHash,
    createHash('sha256')
      .update(await png(true))
      .digest('hex'),
    'the sha256 of the posted bytes, as inspect stores it',
  );
  const defects = (await app.inject({ method: 'GET', url: `/v1/defects?run=${id}&item=k3` })).json();
  assert.equal(defects.total, 1);
  assert.equal(defects.defects[0].itemKey, 'k3');
  const missing = await app.inject({ method: 'GET', url: '/v1/items?run=nope' });
  assert.equal(missing.statusCode, 404);
  await app.close();
  // closing finished the run
  const stored = await store.getRun(id);
  assert.equal(stored?.status, 'done');
  assert.equal(stored?.counts.total, 4);
  await store.close();
});

test('a golden-template recipe: the server (and its worker threads) open its template, warm it at its size; an image of another size answers the sizes as a 400', async () => {
  const path = join(dir, 'golden.png');
  await sharp(new Uint8Array(64 * 64).fill(112), { raw: { width: 64, height: 64, channels: 1 } })
    .png()
    .toFile(path);
  const golden = parseRecipe({ name: 'golden', gradient: { weight: 0 }, contrast: { background: 0 }, template: { path } });
  for (const postWorkers of [1, 0]) {
    const app = await server({ recipes: [golden], postWorkers });
    const inspect = async (body: Buffer) =>
      app.inject({ method: 'POST', url: '/v1/inspect?recipe=golden', headers: { 'content-type': 'image/png' }, payload: body });
    assert.equal((await inspect(await png(true))).json().verdict, 'NG', `${postWorkers} workers`);
    assert.equal((await inspect(await png(false))).json().verdict, 'OK', `${postWorkers} workers`);
  }
  // warm-up shapes of another size than the template's: the recipe warms at the template's size, and /ready turns 200
  const warmed = await server({ recipes: [golden], postWorkers: 0, warmShapes: [{ width: 32, height: 32 }] });
  await warmed.kensa.warmed;
  assert.equal((await warmed.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  // on this thread (a worker's error reaches the client as KENSA_ERR_WORKER, with the same sentence)
  const app = await server({ recipes: [golden], postWorkers: 0 });
  const other = await app.inject({ method: 'POST', url: '/v1/inspect?recipe=golden', headers: { 'content-type': 'image/png' }, payload: await png(false, 48) });
  assert.equal(other.statusCode, 400, other.body);
  assert.equal(other.json().error.code, 'KENSA_ERR_RECIPE');
  assert.match(other.json().error.message, /^template\.path: the template .*golden\.png is 64×64 but the image is 48×48/);
});
