import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { detect } from '../../src/detect/detector.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { isKensaError } from '../../src/errors.js';
import { onnxProviders } from '../../src/models/providers.js';
import { thresholdModel, tinyClassifier } from '../../src/models/tiny.js';
import { buildServer, type ServeOptions } from '../../src/serve/app.js';
import { InspectionEngine } from '../../src/serve/engine.js';
import { openStore } from '../../src/store/store.js';
import { Tensor } from '../../src/tensor.js';
import { tempDir } from '../_kit/tmp.js';
import { form } from './_multipart.js';

const backend = await openBackend({ device: 'cpu' });
const dir = tempDir('kensa-serve-models-');
// a pixel is a defect where it is brighter than `level` (of 1): two models that disagree on a gray square
const bright = join(dir, 'bright.onnx');
const dim = join(dir, 'dim.onnx');
writeFileSync(bright, thresholdModel({ level: 0.8, gain: 40 }));
writeFileSync(dim, thresholdModel({ level: 0.3, gain: 40 }));

/** 32×32 dark frame with a mid-gray 8×8 square: above the dim model's level, below the bright one's. */
async function png(): Promise<Buffer> {
  const img = new Uint8Array(32 * 32).fill(20);
  for (let y = 8; y < 16; y++) for (let x = 8; x < 16; x++) img[y * 32 + x] = 150;
  return sharp(img, { raw: { width: 32, height: 32, channels: 1 } })
    .png()
    .toBuffer();
}

async function server(o: Partial<ServeOptions> = {}) {
  const app = await buildServer({
    backend,
    store: null,
    postWorkers: 1,
    models: [
      { name: 'bright', path: bright },
      { name: 'dim', path: dim },
    ],
    modelSession: { providers: ['cuda', 'cpu'], intraOpThreads: 1 },
    batch: { maxBatch: 2, maxQueueDelayUs: 1000 },
    ...o,
  });
  after(() => app.close());
  return app;
}

test('--model NAME=PATH: a request names its model (query or JSON body); an unknown name is a 404 listing the names', async () => {
  const app = await server();
  const image = await png();
  const inspect = (url: string) => app.inject({ method: 'POST', url, headers: { 'content-type': 'image/png' }, payload: image });
  const [b, d] = [await inspect('/v1/inspect?model=bright'), await inspect('/v1/inspect?model=dim')];
  assert.equal(b.statusCode, 200, b.body);
  assert.deepEqual([b.json().recipe, b.json().verdict], ['bright', 'OK']);
  assert.deepEqual([d.json().recipe, d.json().verdict], ['dim', 'NG']);
  assert.deepEqual(
    d.json().defects.map((x: { x: number; y: number; w: number; h: number }) => [x.x, x.y, x.w, x.h]),
    [[8, 8, 8, 8]],
  );
  const batch = await app.inject({ method: 'POST', url: '/v1/inspect/batch', payload: { model: 'dim', images: [{ data: image.toString('base64') }] } });
  assert.equal(batch.json().results[0].verdict, 'NG');
  // a multipart upload names it in its `model` field
  const multipart = await app.inject({
    method: 'POST',
    url: '/v1/inspect',
    ...(await form([
      ['model', 'dim'],
      ['image', image, 'image/png', 'a.png'],
    ])),
  });
  assert.equal(multipart.statusCode, 200, multipart.body);
  assert.deepEqual([multipart.json().recipe, multipart.json().verdict], ['dim', 'NG']);
  const unknownField = await app.inject({
    method: 'POST',
    url: '/v1/inspect',
    ...(await form([
      ['model', 'unet'],
      ['image', image, 'image/png', 'a.png'],
    ])),
  });
  assert.equal(unknownField.statusCode, 404);
  const unknown = await inspect('/v1/inspect?model=unet');
  assert.equal(unknown.statusCode, 404);
  assert.deepEqual(unknown.json().error, { code: 'KENSA_ERR_NOT_FOUND', message: 'Expected one of bright, dim for model but received "unet"' });
  const both = await inspect('/v1/inspect?model=dim&recipe=classic');
  assert.equal(both.statusCode, 400);
  // a server without models says how to serve one
  const plain = await buildServer({ backend, store: null, postWorkers: 0 });
  const none = await plain.inject({ method: 'POST', url: '/v1/inspect?model=dim', headers: { 'content-type': 'image/png' }, payload: image });
  await plain.close();
  assert.equal(none.statusCode, 404);
  assert.match(none.json().error.message, /this server serves none: start it with --model NAME=PATH/);
});

test('/ready is 503 until every model has run every warm-up size at every batch size; /metrics shows each model provider and its fallbacks, and the device time', async () => {
  // every warm-up batch, recorded as it runs
  const ran: [string, number, number][] = [];
  const warm = InspectionEngine.prototype.warm;
  InspectionEngine.prototype.warm = async function (this: InspectionEngine, loaded, image, count) {
    const n = await warm.call(this, loaded, image, count);
    ran.push([loaded.recipe.name, image.width, n]);
    return n;
  };
  let app: Awaited<ReturnType<typeof server>>;
  try {
    app = await server({ warmShapes: [{ width: 32, height: 32 }] });
    assert.equal((await app.inject('/ready')).statusCode, 503);
    await app.kensa.warmed;
  } finally {
    InspectionEngine.prototype.warm = warm;
  }
  assert.equal((await app.inject('/ready')).statusCode, 200);
  // the default recipe and both models, at the warm-up size, in batches of 1 and maxBatch
  assert.deepEqual(ran, [
    ['classic', 32, 1],
    ['classic', 32, 2],
    ['bright', 32, 1],
    ['bright', 32, 2],
    ['dim', 32, 1],
    ['dim', 32, 2],
  ]);
  const metrics = (await app.inject('/metrics')).body;
  const cuda = (await onnxProviders()).providers.some((p) => p.name === 'cuda' && p.installed);
  for (const model of ['bright', 'dim']) {
    assert.match(metrics, new RegExp(`kensa_model_provider\\{model="${model}",provider="${cuda ? 'cuda' : 'cpu'}"\\} 1`));
    if (!cuda) assert.match(metrics, new RegExp(`kensa_model_provider_fallbacks_total\\{model="${model}",provider="cuda"\\} 1`));
  }
  await app.inject({ method: 'POST', url: '/v1/inspect?model=dim', headers: { 'content-type': 'image/png' }, payload: await png() });
  assert.match((await app.inject('/metrics')).body, /kensa_device_seconds_count\{recipe="dim"\} 1/);
  assert.ok(isKensaError(await buildServer({ backend, store: null, models: [{ name: 'x', path: join(dir, 'missing.onnx') }] }).catch((e: unknown) => e)));
});

test('a classification model answers its top class and score as label (/v1/inspect, the batch, the stored item, OpenAPI); a segmentation model answers null', async () => {
  // this seed's classifier takes a black frame for "good" and a white one for "stain"
  const path = join(dir, 'classifier.onnx');
  writeFileSync(path, tinyClassifier({ classes: 3, width: 4, seed: 4 }));
  const cls = parseRecipe({ kind: 'model', name: 'cls', model: { path, task: 'classification' }, classes: { ok: 0, labels: ['good', 'stain', 'scratch'] } });
  const store = await openStore(join(tempDir('kensa-serve-cls-'), 'kensa.db'));
  const app = await server({ recipes: [cls], store });
  try {
    const frames = [0, 255].map((v) => new Uint8Array(32 * 32).fill(v));
    const pngs = await Promise.all(
      frames.map((f) =>
        sharp(f, { raw: { width: 32, height: 32, channels: 1 } })
          .png()
          .toBuffer(),
      ),
    );
    // what the served recipe (its model opened by the server) detects on each frame, run directly
    const served = app.kensa.recipes.get('cls')!.recipe;
    const expected = await Promise.all(frames.map(async (f) => (await detect(Tensor.fromArray(f, [1, 1, 32, 32], 'u8'), served, false))[0]!));
    assert.notEqual(expected[0]!.label!.name, expected[1]!.label!.name, 'the two frames fall in different classes');
    const same = (answer: { verdict: string; label: { name: string; score: number } | null }, i: number) => {
      const want = expected[i]!;
      assert.equal(answer.verdict, want.verdict);
      assert.equal(answer.label?.name, want.label!.name);
      assert.ok(Math.abs(answer.label!.score - want.label!.score) < 1e-6, `${answer.label!.score} against ${want.label!.score}`);
    };
    const single = await Promise.all(
      pngs.map((p, i) => app.inject({ method: 'POST', url: `/v1/inspect?recipe=cls&key=one${i}`, headers: { 'content-type': 'image/png' }, payload: p })),
    );
    for (const [i, r] of single.entries()) {
      assert.equal(r.statusCode, 200, r.body);
      same(r.json(), i);
    }
    const batch = await app.inject({
      method: 'POST',
      url: '/v1/inspect/batch',
      payload: { recipe: 'cls', images: pngs.map((p, i) => ({ key: `batch${i}`, data: p.toString('base64') })) },
    });
    assert.equal(batch.statusCode, 200, batch.body);
    for (const [i, r] of batch.json().results.entries()) same(r, i);
    // the service run keeps each label with its item, as kensa inspect does
    await app.kensa.recorder!.flush();
    const run = single[0]!.json().run as string;
    const items = (await app.inject({ method: 'GET', url: `/v1/items?run=${run}` })).json().items as { itemKey: string; label: unknown }[];
    const answers = [...single.map((r) => r.json()), ...batch.json().results] as { key: string; label: unknown }[];
    const byKey = new Map(answers.map((a) => [a.key, a.label]));
    assert.equal(items.length, 4);
    for (const item of items) assert.deepEqual(item.label, byKey.get(item.itemKey));
    // a segmentation model has no label
    const seg = await app.inject({ method: 'POST', url: '/v1/inspect?model=dim', headers: { 'content-type': 'image/png' }, payload: await png() });
    assert.equal(seg.json().verdict, 'NG');
    assert.equal(seg.json().label, null);
    const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
    const schema = doc.paths['/v1/inspect'].post.responses['200'].content['application/json'].schema;
    assert.deepEqual(Object.keys(schema.properties.label.properties), ['name', 'score']);
  } finally {
    await app.close();
    await store.close();
  }
});
