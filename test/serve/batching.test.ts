import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { type Backend, openBackend } from '../../src/backend.js';
import { DEFAULT_RECIPE } from '../../src/detect/recipe.js';
import type { DecodedImage } from '../../src/pipeline/decode.js';
import { buildServer } from '../../src/serve/app.js';
import { InspectionEngine } from '../../src/serve/engine.js';

const cpu = await openBackend({ device: 'cpu' });
/** Long enough that no group is released by time in these tests: batches form by count, preferred size, or drain. */
const NEVER_US = 10_000_000;

async function png(value: number, size = 32): Promise<Buffer> {
  return sharp(new Uint8Array(size * size).fill(value), { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toBuffer();
}

function post(app: Awaited<ReturnType<typeof buildServer>>, body: Buffer, headers: Record<string, string> = {}) {
  return app.inject({ method: 'POST', url: '/v1/inspect', headers: { 'content-type': 'image/png', ...headers }, payload: body });
}

test('concurrent requests form one batch of maxBatch; a preferred size starts a batch at once', async () => {
  const app = await buildServer({ backend: cpu, store: null, batch: { maxBatch: 4, maxQueueDelayUs: NEVER_US, instances: 1 } });
  const four = await Promise.all([100, 110, 120, 130].map(async (v) => post(app, await png(v))));
  assert.deepEqual(
    four.map((r) => r.json().timings.batchSize),
    [4, 4, 4, 4],
  );
  await app.close();
  const preferred = await buildServer({ backend: cpu, store: null, batch: { maxBatch: 16, preferredBatch: [2], maxQueueDelayUs: NEVER_US, instances: 1 } });
  const two = await Promise.all([100, 110].map(async (v) => post(preferred, await png(v))));
  assert.deepEqual(
    two.map((r) => r.json().timings.batchSize),
    [2, 2],
  );
  await preferred.close();
});

test('a full queue answers 503 KENSA_ERR_OVERLOADED with Retry-After, before decoding; closing the server drains the waiting images (200)', async () => {
  const app = await buildServer({ backend: cpu, store: null, batch: { maxBatch: 16, maxQueueDelayUs: NEVER_US, queueLimit: 2, instances: 1 } });
  const image = await png(100);
  const waiting = [post(app, image), post(app, image)];
  // the two are queued once the engine holds them
  while (app.kensa.engine!.depth < 2) await new Promise((r) => setTimeout(r, 5));
  const refused = await post(app, image);
  assert.equal(refused.statusCode, 503);
  assert.equal(refused.json().error.code, 'KENSA_ERR_OVERLOADED');
  assert.equal(refused.headers['retry-after'], '1');
  // refused before its decode: only the two waiting images were decoded
  assert.ok((await app.inject('/metrics')).body.includes('kensa_decode_seconds_count 2'));
  await app.close();
  const done = await Promise.all(waiting);
  assert.deepEqual(
    done.map((r) => [r.statusCode, r.json().timings.batchSize]),
    [
      [200, 2],
      [200, 2],
    ],
  );
});

test('a request whose deadline passes while it waits is answered 504 and never reaches the device', async () => {
  const app = await buildServer({ backend: cpu, store: null, batch: { maxBatch: 16, maxQueueDelayUs: NEVER_US, instances: 1 } });
  const late = await post(app, await png(100), { 'x-deadline-ms': '30' });
  assert.equal(late.statusCode, 504);
  assert.equal(late.json().error.code, 'KENSA_ERR_DEADLINE');
  assert.equal(app.kensa.engine!.depth, 0, 'the image left the queue');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.doesNotMatch(metrics, /kensa_batch_size_count\{/, 'no batch ran');
  assert.match(metrics, /kensa_errors_total\{code="KENSA_ERR_DEADLINE"\} 1/);
  const bad = await post(app, await png(100), { 'x-deadline-ms': 'soon' });
  assert.equal(bad.statusCode, 400);
  await app.close();
});

/** The CPU backend, each upload held until `open()` is called: batches stay on the "device". */
function gatedBackend(): { backend: Backend; open: () => void } {
  let open!: () => void;
  const gate = new Promise<void>((r) => {
    open = r;
  });
  return {
    backend: { ...cpu, framesToDevice: async (frames, shape, dtype) => gate.then(() => cpu.framesToDevice(frames, shape, dtype)) },
    open,
  };
}

function blank(size: number): DecodedImage {
  return { data: new Uint8Array(size * size), dtype: 'u8', width: size, height: size, channels: 1, bytes: 0, original: { width: size, height: size } };
}

test('instances bounds the batches in flight: with 2, two batches run at once; with 1, the second waits', async () => {
  for (const instances of [1, 2]) {
    const { backend, open } = gatedBackend();
    const engine = new InspectionEngine({ backend, maxBatch: 1, preferredBatch: [], maxQueueDelayUs: NEVER_US, queueLimit: 8, instances });
    const results = [engine.submit(DEFAULT_RECIPE, blank(16), { wantMask: false }), engine.submit(DEFAULT_RECIPE, blank(16), { wantMask: false })];
    assert.equal(engine.inFlight, instances);
    assert.equal(engine.depth, 2 - instances);
    open();
    const done = await Promise.all(results);
    assert.deepEqual(
      done.map((d) => d.detection.verdict),
      ['OK', 'OK'],
    );
    assert.equal(engine.inFlight, 0);
  }
});

test('mixed image sizes are grouped by size, never padded: each batch holds one size, and the pixel budget splits a size into smaller batches', async () => {
  // a pixel budget of two 48² images: four 32² images fit it (maxBatch 4), 48² ones go two by two
  const app = await buildServer({
    backend: cpu,
    store: null,
    postWorkers: 0,
    batch: { maxBatch: 4, maxQueueDelayUs: NEVER_US, instances: 1, maxBatchPixels: 2 * 48 * 48 },
  });
  const sizes = [32, 48, 32, 48, 32, 48, 32, 48];
  const answers = await Promise.all(sizes.map(async (s) => (await post(app, await png(100, s))).json()));
  assert.deepEqual(
    answers.map((a) => [a.width, a.timings.batchSize]),
    sizes.map((s) => [s, s === 32 ? 4 : 2]),
  );
  await app.close();
});
