import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { openBackend } from '../../src/backend.js';
import { parseRecipe } from '../../src/detect/recipe.js';
import { buildServer } from '../../src/serve/app.js';
import { adapterSkip, dispatchedProgramsWhile } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';
import { drawnUNet } from '../_kit/unet.js';

const noGpu = await adapterSkip();
const gpu = noGpu ? null : await openBackend({ device: 'gpu' });
after(() => gpu?.close());

interface Answer {
  verdict: string;
  mask: string;
  defects: { score: number; meanGradient: number; x: number; y: number; w: number; h: number; area: number; class: string }[];
}

async function png(spot: boolean): Promise<Buffer> {
  const img = new Uint8Array(48 * 48).fill(116);
  if (spot) for (let y = 10; y < 16; y++) for (let x = 20; x < 26; x++) img[y * 48 + x] = 240;
  return sharp(img, { raw: { width: 48, height: 48, channels: 1 } })
    .png()
    .toBuffer();
}

test('on the GPU, one batch of three concurrent requests (post stage on a worker) answers as the CPU backend does', { skip: noGpu }, async () => {
  const bodies = [await png(true), await png(false), await png(true)];
  const answers: Answer[][] = [];
  for (const backend of [gpu!, await openBackend({ device: 'cpu' })]) {
    const app = await buildServer({ backend, store: null, postWorkers: 1, batch: { maxBatch: 3, maxQueueDelayUs: 10_000_000, instances: 1 } });
    const res = await Promise.all(
      bodies.map((payload) => app.inject({ method: 'POST', url: '/v1/inspect?mask=png', headers: { 'content-type': 'image/png' }, payload })),
    );
    await app.close();
    assert.deepEqual(
      res.map((r) => r.json().timings.batchSize),
      [3, 3, 3],
    );
    answers.push(res.map((r) => r.json()));
  }
  // boxes, classes, masks and verdicts exact; scores are f32 on the GPU
  const exact = (a: Answer[]) => a.map((r) => ({ verdict: r.verdict, mask: r.mask, defects: r.defects.map(({ score: _s, meanGradient: _m, ...box }) => box) }));
  assert.deepEqual(exact(answers[0]!), exact(answers[1]!));
  for (const [i, r] of answers[0]!.entries()) {
    for (const [k, d] of r.defects.entries()) assert.ok(Math.abs(d.score - answers[1]![i]!.defects[k]!.score) < 1e-5 * d.score, `score ${d.score}`);
  }
  assert.deepEqual(
    answers[0]!.map((a) => a.verdict),
    ['NG', 'OK', 'NG'],
  );
});

test('a kensa UNet recipe served on the GPU backend runs on the GPU (it ran in JavaScript on the CPU: a 960×540 frame took minutes)', {
  skip: noGpu,
}, async () => {
  const net = await drawnUNet([4, 8], 1, 1, 3);
  const path = join(tempDir('kensa-serve-unet-'), 'unet.safetensors');
  writeFileSync(path, await net.toSafetensors());
  net.dispose();
  const recipe = parseRecipe({ kind: 'model', name: 'unet', model: { path, task: 'segmentation' } }, 'test recipe');
  const app = await buildServer({ backend: gpu!, store: null, postWorkers: 0, recipes: [recipe], batch: { instances: 1 } });
  try {
    const res = await app.inject({ method: 'POST', url: '/v1/inspect?recipe=unet', headers: { 'content-type': 'image/png' }, payload: await png(true) });
    assert.equal(res.statusCode, 200, res.body);
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.match(metrics, /kensa_model_provider\{model="unet",provider="kensa-webgpu"\} 1/);
  } finally {
    await app.close();
  }
});

test('JPEG uploads decode on the GPU (jpegDecode gpu) and answer as sharp-decoded ones; one whose scan data is cut short falls back to sharp', async (t) => {
  if (noGpu) return t.skip(noGpu);
  const jpeg = async (spot: boolean, channels: 1 | 3) => {
    const img = new Uint8Array(48 * 48 * channels).map((_, i) => 110 + (i % 13));
    if (spot) for (let y = 10; y < 16; y++) for (let x = 20; x < 26; x++) for (let c = 0; c < channels; c++) img[(y * 48 + x) * channels + c] = 240;
    return sharp(img, { raw: { width: 48, height: 48, channels } })
      .jpeg({ quality: 92 })
      .toBuffer();
  };
  const whole = await jpeg(true, 3);
  const cut = Buffer.concat([whole.subarray(0, Math.floor(whole.length * 0.7)), Buffer.from([0xff, 0xd9])]);
  const bodies = [await jpeg(true, 1), await jpeg(false, 3), whole, cut];
  const answers: unknown[][] = [];
  for (const jpegDecode of ['gpu', 'cpu'] as const) {
    const app = await buildServer({
      backend: gpu!,
      store: null,
      postWorkers: 1,
      jpegDecode,
      batch: { maxBatch: 4, maxQueueDelayUs: 10_000_000, instances: 1 },
    });
    const { result: res, names } = await dispatchedProgramsWhile(gpu!.gpu!, () =>
      Promise.all(bodies.map((payload) => app.inject({ method: 'POST', url: '/v1/inspect?mask=png', headers: { 'content-type': 'image/jpeg' }, payload }))),
    );
    await app.close();
    assert.deepEqual(
      res.map((r) => [r.statusCode, r.json().timings?.batchSize]),
      [
        [200, 4],
        [200, 4],
        [200, 4],
        [200, 4],
      ],
    );
    assert.equal(names.has('jpeg_decode'), jpegDecode === 'gpu');
    answers.push(
      res.map((r) => ({
        verdict: r.json().verdict,
        mask: r.json().mask,
        boxes: r.json().defects.map((d: Answer['defects'][number]) => [d.x, d.y, d.w, d.h, d.area]),
      })),
    );
  }
  assert.deepEqual(answers[0], answers[1]);
});

test("warm-up on the GPU runs the JPEG decoder's programs too (and at input.scale ½ the reduce's), so /ready means the first JPEG compiles nothing", {
  skip: noGpu,
}, async () => {
  for (const jpegDecode of ['cpu', 'gpu'] as const) {
    const { result: app, names } = await dispatchedProgramsWhile(gpu!.gpu!, async () => {
      const server = await buildServer({
        backend: gpu!,
        store: null,
        postWorkers: 0,
        jpegDecode,
        warmShapes: [{ width: 40, height: 24 }],
        batch: { instances: 1 },
      });
      await server.kensa.warmed;
      return server;
    });
    assert.equal(app.kensa.ready, true);
    await app.close();
    assert.equal(names.has('jpeg_decode'), jpegDecode === 'gpu', [...names].join(', '));
  }
  // a recipe at input.scale ½: uploads decode at full size and are reduced on the GPU, both warmed
  const { result: app, names } = await dispatchedProgramsWhile(gpu!.gpu!, async () => {
    const server = await buildServer({
      backend: gpu!,
      store: null,
      postWorkers: 0,
      recipes: [parseRecipe({ kind: 'classic', name: 'half', input: { scale: 0.5 } }, 'half')],
      warmShapes: [{ width: 40, height: 24 }],
      batch: { instances: 1 },
    });
    await server.kensa.warmed;
    return server;
  });
  await app.close();
  assert.ok(names.has('jpeg_decode') && names.has('jpeg_reduce'), [...names].join(', '));
});
