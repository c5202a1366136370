import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { openBackend } from '../../src/backend.js';
import { buildServer, type ServeOptions } from '../../src/serve/app.js';
import { spotPng as png } from './_images.js';
import { form, type Part } from './_multipart.js';

const backend = await openBackend({ device: 'cpu' });

async function server(o: Partial<ServeOptions> = {}) {
  const app = await buildServer({ backend, store: null, postWorkers: 1, batch: { maxQueueDelayUs: 1000 }, ...o });
  after(() => app.close());
  return app;
}

test('POST /v1/inspect multipart: one image file with the recipe, params, mask and key fields answers as the raw body does', async () => {
  const app = await server();
  const image = await png(true);
  const raw = await app.inject({ method: 'POST', url: '/v1/inspect?mask=png&key=raw', headers: { 'content-type': 'image/png' }, payload: image });
  const multi = await app.inject({
    method: 'POST',
    url: '/v1/inspect',
    ...(await form([
      ['recipe', 'classic'],
      ['mask', 'png'],
      ['key', 'multi'],
      ['image', image, 'image/png', 'a.png'],
    ])),
  });
  assert.equal(multi.statusCode, 200, multi.body);
  const [a, b] = [raw.json(), multi.json()];
  assert.equal(b.key, 'multi');
  assert.equal(b.verdict, 'NG');
  assert.deepEqual([b.defects, b.mask], [a.defects, a.mask]);
  // params as a field: a score no spot reaches turns the verdict to OK
  const lenient = await app.inject({
    method: 'POST',
    url: '/v1/inspect',
    ...(await form([
      ['params', JSON.stringify({ verdict: { minScore: 1000 } })],
      ['image', image, 'image/png', 'a.png'],
    ])),
  });
  assert.equal(lenient.json().verdict, 'OK');
});

test('POST /v1/inspect/batch multipart: many files, one result per file in order, batched together', async () => {
  const app = await server({ batch: { maxBatch: 3, maxQueueDelayUs: 10_000_000, instances: 1 } });
  const res = await app.inject({
    method: 'POST',
    url: '/v1/inspect/batch',
    ...(await form([
      ['recipe', 'classic'],
      ['images', await png(true), 'image/png', 'a.png'],
      ['images', await png(false), 'image/png', 'b.png'],
      ['images', await png(true), 'image/png', 'c.png'],
    ])),
  });
  assert.equal(res.statusCode, 200, res.body);
  const { results } = res.json();
  assert.deepEqual(
    results.map((r: { verdict: string; timings: { batchSize: number } }) => [r.verdict, r.timings.batchSize]),
    [
      ['NG', 3],
      ['OK', 3],
      ['NG', 3],
    ],
  );
});

test('multipart limits: a file over the body limit is a 413, over the pixel limit a 422, another file type a 415; two files, none, or an unknown field a 400', async () => {
  const app = await server({ maxImagePixels: 1000, bodyLimit: 4096 });
  const post = async (url: string, parts: Part[]) => {
    const r = await app.inject({ method: 'POST', url, ...(await form(parts)) });
    return [r.statusCode, r.json().error?.code, r.json().error?.message ?? r.json().results?.[0]?.error?.message];
  };
  const small = await png(false, 16);
  assert.equal((await post('/v1/inspect', [['image', Buffer.alloc(5000, 1), 'image/png', 'big.png']]))[0], 413);
  assert.equal(
    (
      await post('/v1/inspect/batch', [
        ['images', Buffer.alloc(3000, 1), 'image/png', 'a.png'],
        ['images', Buffer.alloc(3000, 1), 'image/png', 'b.png'],
      ])
    )[0],
    413,
  );
  const huge = await post('/v1/inspect', [['image', await png(false), 'image/png', 'a.png']]);
  assert.deepEqual(huge.slice(0, 2), [422, 'KENSA_ERR_DECODE']);
  assert.match(String(huge[2]), /64×64 = 4096 pixels exceeds the limit of 1000/);
  assert.deepEqual(await post('/v1/inspect', [['image', Buffer.from('hello'), 'text/plain', 'a.txt']]), [
    415,
    'KENSA_ERR_BAD_REQUEST',
    `Expected one of image/png, image/jpeg, image/tiff, image/webp, image/bmp, application/x-npy, application/octet-stream for the Content-Type of the file "a.txt" but received "text/plain"`,
  ]);
  assert.deepEqual(
    await post('/v1/inspect', [
      ['image', small, 'image/png', 'a.png'],
      ['image', small, 'image/png', 'b.png'],
    ]),
    [400, 'KENSA_ERR_BAD_REQUEST', 'Expected at most 1 image files but received more'],
  );
  assert.deepEqual(await post('/v1/inspect', [['recipe', 'classic']]), [
    400,
    'KENSA_ERR_BAD_REQUEST',
    'Expected at least one image file in the multipart/form-data body but received none',
  ]);
  assert.deepEqual(
    await post('/v1/inspect', [
      ['colour', 'red'],
      ['image', small, 'image/png', 'a.png'],
    ]),
    [400, 'KENSA_ERR_BAD_REQUEST', 'Expected form fields among recipe, model, params, mask, key and image files but received the field "colour"'],
  );
  const ok = await post('/v1/inspect/batch', [['images', small, 'image/png', 'a.png']]);
  assert.equal(ok[0], 200);
});
