import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { run } from '../../src/cli/inspect.js';
import { onnxProviders } from '../../src/models/providers.js';
import { encodeOnnxModel, OnnxGraphBuilder } from '../../src/models/onnx-writer.js';
import { thresholdModel } from '../../src/models/tiny.js';
import { openStore } from '../../src/store/store.js';
import { tempDir } from '../_kit/tmp.js';
import { drawnUNet } from '../_kit/unet.js';
import type { UNet } from '../../src/models/unet.js';
import { Var } from '../../src/nn/autograd.js';
import { Tensor } from '../../src/tensor.js';

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

/** Six 40×32 PNGs of gray 30; images 1 and 4 carry a 5×5 square of 220 (bright: the model's defect). */
async function writeImages(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < 6; i++) {
    const data = new Uint8Array(40 * 32).fill(30);
    if (i % 3 === 1) for (let y = 20; y < 25; y++) data.fill(220, y * 40 + 3 * i, y * 40 + 3 * i + 5);
    await sharp(data, { raw: { width: 40, height: 32, channels: 1 } })
      .png()
      .toFile(join(dir, `img${i}.png`));
  }
}

/** A net's logits over images/img1.png of `dir` (pixel / 255), a copy. */
async function image1Logits(net: UNet, dir: string): Promise<Float32Array> {
  const pixels = Float32Array.from(
    await sharp(join(dir, 'images', 'img1.png'))
      .greyscale()
      .raw()
      .toBuffer(),
    (v) => v / 255,
  );
  return Float32Array.from(net.predict(Var.constant(Tensor.fromArray(pixels, [1, 1, 32, 40], 'f32'))).value.data as Float32Array);
}

interface Summary {
  run: string;
  counts: { total: number; ok: number; ng: number; error: number };
  device: string;
  processed: number;
  skipped: number;
}

test('kensa inspect --model: a segmentation model end to end, stored, resumable; tiled judges alike', async () => {
  const dir = tempDir('kensa-cli-model-');
  await writeImages(join(dir, 'images'));
  const model = join(dir, 'bright.onnx');
  writeFileSync(model, thresholdModel({ level: 0.5, gain: 20 }));
  const db = join(dir, 'runs.db');
  const cudaInstalled = (await onnxProviders()).providers.some((p) => p.name === 'cuda' && p.installed);
  const argv = [join(dir, 'images'), '--model', model, '--ep', 'cuda,cpu', '--db', db, '--device', 'cpu', '--progress', 'none', '--json'];
  const { buf, io } = capture();
  assert.equal(await run(argv, io), 0, buf.err);
  const summary = JSON.parse(buf.out) as Summary;
  assert.deepEqual(summary.counts, { total: 6, ok: 4, ng: 2, error: 0 });
  assert.match(summary.device, cudaInstalled ? / · model on onnxruntime cuda$/ : / · model on onnxruntime cpu \(fell back from cuda\)$/);

  const store = await openStore(db);
  try {
    const stored = await store.getRun(summary.run);
    assert.equal(stored!.device, summary.device);
    const recipe = stored!.recipe as { kind: string; model: { path: string; sha256: string; task: string } };
    assert.equal(recipe.kind, 'model');
    assert.deepEqual(recipe.model, { path: model, sha256: recipe.model.sha256, task: 'segmentation' });
    assert.match(recipe.model.sha256, /^[0-9a-f]{64}$/);
  } finally {
    await store.close();
  }

  // resuming the finished run with the same model skips every image
  const again = capture();
  assert.equal(await run([...argv, '--resume', summary.run], again.io), 0, again.buf.err);
  assert.deepEqual((JSON.parse(again.buf.out) as Summary).skipped, 6);

  // tile by tile (the model reads no context: any overlap judges alike)
  const tiled = capture();
  assert.equal(await run([...argv, '--tile', '16', '--overlap', '4'], tiled.io), 0, tiled.buf.err);
  assert.deepEqual((JSON.parse(tiled.buf.out) as Summary).counts, summary.counts);
});

test('kensa inspect --model --model-kind classification: the top class judges each image; the summary counts each label, NG lines name it', async () => {
  const dir = tempDir('kensa-cli-cls-');
  await writeImages(join(dir, 'images'));
  // class 1 when the image's largest 2×2 mean is bright: AveragePool 2 → GlobalMaxPool → Gemm → Softmax
  const g = new OnnxGraphBuilder();
  const x = g.input('image', ['batch', 1, 'height', 'width']);
  const peak = g.node('Flatten', [g.node('GlobalMaxPool', [g.node('AveragePool', [x], { kernel_shape: { ints: [2, 2] } })])], { axis: { int: 1 } });
  const logits = g.node('Gemm', [peak, g.constant([1, 2], [-10, 10]), g.constant([2], [5, -5])]);
  g.output(g.node('Softmax', [logits], { axis: { int: 1 } }), ['batch', 2]);
  const model = join(dir, 'peak.onnx');
  writeFileSync(model, encodeOnnxModel(g.graph('peak')));
  const argv = [
    join(dir, 'images'),
    '--model',
    model,
    '--model-kind',
    'classification',
    '--ep',
    'cpu,strict',
    '--db',
    join(dir, 'runs.db'),
    '--device',
    'cpu',
    '--progress',
    'none',
  ];
  const { buf, io } = capture();
  assert.equal(await run(argv, io), 0, buf.err);
  // the summary counts the images of each top class
  assert.match(buf.out, /\nOK 4 · NG 2 · errors 0 · total 6\nlabels: 4 × class 0 · 2 × class 1\n/);
  assert.match(buf.out, /\n {2}NG {2}img1\.png {2}score 1\.00 {2}class 1 1\.00\n/);
  assert.match(buf.out, / · model on onnxruntime cpu\n/);
  // every item keeps its top class and score in the store
  const store = await openStore(join(dir, 'runs.db'));
  try {
    const [stored] = await store.listRuns();
    const items = await store.items(stored!.id);
    assert.equal(items.length, 6);
    const img1 = items.find((i) => i.itemKey === 'img1.png')!;
    assert.equal(img1.label?.name, 'class 1');
    assert.ok(img1.label!.score > 0.99);
    assert.ok(items.every((i) => i.label !== null && (i.label.name === 'class 0' || i.label.name === 'class 1')));
    assert.equal(items.filter((i) => i.label!.name === 'class 1').length, 2);
  } finally {
    await store.close();
  }
});

test('kensa inspect --model: a missing model file fails in one line before any run; flags are checked', async () => {
  const dir = tempDir('kensa-cli-model-bad-');
  await writeImages(join(dir, 'images'));
  const db = join(dir, 'runs.db');
  const missing = capture();
  assert.equal(await run([join(dir, 'images'), '--model', join(dir, 'none.onnx'), '--db', db, '--device', 'cpu', '--progress', 'none'], missing.io), 1);
  assert.equal(missing.buf.err, `kensa inspect: Cannot read model ${join(dir, 'none.onnx')}: no such file [KENSA_ERR_MODEL]\n`);
  const store = await openStore(db);
  try {
    assert.deepEqual(await store.listRuns(), []);
  } finally {
    await store.close();
  }
  const ep = capture();
  assert.equal(await run([join(dir, 'images'), '--model', 'm.onnx', '--ep', 'cpu,tpu'], ep.io), 2);
  assert.match(ep.buf.err, /^kensa inspect: --ep expects providers among cuda, webgpu, cpu and 'strict', comma-separated, but received 'tpu'\n/);
  const both = capture();
  assert.equal(await run([join(dir, 'images'), '--model', 'm.onnx', '--recipe', 'classic'], both.io), 2);
  assert.match(both.buf.err, /^kensa inspect: --model and --recipe exclude each other/);
});

test('kensa inspect --recipe cascade.yaml: both models open, the device names both, the summary counts the early exits', async () => {
  const dir = tempDir('kensa-cli-cascade-');
  await writeImages(join(dir, 'images'));
  writeFileSync(join(dir, 'cheap.onnx'), thresholdModel({ level: 0.5, gain: 20 }));
  writeFileSync(join(dir, 'full.onnx'), thresholdModel({ level: 0.6, gain: 20 }));
  // every image scores 0 (no defect) or about 2 (the 220 squares) on the cheap model: a band around 0 sends the clean ones on
  const recipe = join(dir, 'cascade.yaml');
  writeFileSync(
    recipe,
    `kind: cascade\nfirst: { kind: model, model: { path: ${join(dir, 'cheap.onnx')} } }\nfull: { kind: model, model: { path: ${join(dir, 'full.onnx')} } }\nband: { low: 0, high: 0.5 }\n`,
  );
  const { buf, io } = capture();
  assert.equal(
    await run([join(dir, 'images'), '--recipe', recipe, '--ep', 'cpu', '--db', join(dir, 'runs.db'), '--device', 'cpu', '--progress', 'none'], io),
    0,
    buf.err,
  );
  assert.match(buf.out, / · model on onnxruntime cpu · model on onnxruntime cpu\n/);
  assert.match(buf.out, /\nOK 4 · NG 2 · errors 0 · total 6\ncascade: 2 of 6 exited after the first stage, 4 went on to the full model\n/);
});

test('kensa inspect --model best.safetensors: a kensa UNet end to end, tiled as whole, its head and stride in the stored recipe', async () => {
  const dir = tempDir('kensa-cli-unet-');
  await writeImages(join(dir, 'images'));
  const model = join(dir, 'best.safetensors');
  // a drawn net's logits sit anywhere: shift its head so the top tenth of image 1's pixels are above ½
  const net = await drawnUNet([4, 8], 1, 1, 3);
  const logits = (await image1Logits(net, dir)).sort();
  const state = await net.stateDict();
  state.get('head.bias')!.data[0]! -= logits[Math.floor(0.9 * logits.length)]!;
  await net.loadStateDict({ tensors: state, metadata: {} }, 'shifted');
  writeFileSync(model, await net.toSafetensors());
  const db = join(dir, 'runs.db');
  const base = [join(dir, 'images'), '--model', model, '--db', db, '--device', 'cpu', '--progress', 'none', '--json'];
  const whole = capture();
  assert.equal(await run(base, whole.io), 0, whole.buf.err);
  const tiled = capture();
  assert.equal(await run([...base, '--tile', '16', '--overlap', '16'], tiled.io), 0, tiled.buf.err);
  const [a, b] = [JSON.parse(whole.buf.out) as Summary, JSON.parse(tiled.buf.out) as Summary];
  assert.match(b.device, / · model on kensa nn UNet 4-8 on cpu$/);
  assert.equal(b.counts.error, 0);
  const store = await openStore(db);
  try {
    const [ra, rb] = [await store.getRun(a.run), await store.getRun(b.run)];
    const recipe = rb!.recipe as { activation: string; tiling: { tile: number; overlap: number; align: number } };
    assert.equal(recipe.activation, 'sigmoid');
    assert.deepEqual(recipe.tiling, { tile: 16, overlap: 16, align: 2 });
    const defects = async (run: string) => (await store.defects(run)).map((d) => [d.itemKey, d.x, d.y, d.w, d.h, d.area]).sort();
    assert.ok((await defects(ra!.id)).length > 0, 'the drawn net finds regions to compare');
    assert.deepEqual(await defects(rb!.id), await defects(ra!.id));
    assert.equal(b.counts.ng, a.counts.ng);
  } finally {
    await store.close();
  }
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'not weights');
  const failed = capture();
  assert.equal(await run([join(dir, 'images'), '--model', bad, '--db', db, '--device', 'cpu', '--progress', 'none'], failed.io), 1);
  assert.ok(failed.buf.err.includes(bad) && failed.buf.err.includes('KENSA_ERR_WEIGHTS'), failed.buf.err);
});

test("kensa inspect --model best.safetensors judges at the file's threshold (kensa train's choice); a recipe's own threshold wins", async () => {
  const dir = tempDir('kensa-cli-unet-threshold-');
  await writeImages(join(dir, 'images'));
  const net = await drawnUNet([4, 8], 1, 1, 3);
  const model = join(dir, 'best.safetensors');
  const db = join(dir, 'runs.db');
  const inspect = async (args: string[]) => {
    const c = capture();
    assert.equal(await run([join(dir, 'images'), ...args, '--db', db, '--device', 'cpu', '--progress', 'none', '--json'], c.io), 0, c.buf.err);
    return (JSON.parse(c.buf.out) as Summary).run;
  };
  const recipeFile = (name: string, value: number) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify({ kind: 'model', model: { path: model }, threshold: { value } }));
    return path;
  };
  // the drawn net's probabilities over image 1: thresholds at their 30th and 95th percentiles find different regions
  const p = (await image1Logits(net, dir)).map((v) => 1 / (1 + Math.exp(-v))).sort();
  const [low, high] = [p[Math.floor(0.3 * p.length)]!, p[Math.floor(0.95 * p.length)]!].map((v) => Math.round(v * 1e4) / 1e4) as [number, number];
  net.threshold = low;
  writeFileSync(model, await net.toSafetensors());
  const runs = {
    file: await inspect(['--model', model]),
    sameExplicit: await inspect(['--recipe', recipeFile('low.json', low)]),
    explicit: await inspect(['--recipe', recipeFile('high.json', high)]),
  };
  const store = await openStore(db);
  try {
    const threshold = async (id: string) => ((await store.getRun(id))!.recipe as { threshold: { value: number } }).threshold.value;
    assert.equal(await threshold(runs.file), low, "the stored recipe states the file's threshold");
    assert.equal(await threshold(runs.explicit), high, "an explicit recipe threshold wins over the file's");
    const defects = async (id: string) => (await store.defects(id)).map((d) => [d.itemKey, d.x, d.y, d.w, d.h, d.area]).sort();
    assert.ok((await defects(runs.file)).length > 0);
    assert.deepEqual(await defects(runs.file), await defects(runs.sameExplicit), "the file's threshold judges as the same value in a recipe");
    assert.notDeepEqual(await defects(runs.explicit), await defects(runs.file));
  } finally {
    await store.close();
  }
  // without a threshold in the file: 0.5
  net.threshold = null;
  writeFileSync(model, await net.toSafetensors());
  const plain = await inspect(['--model', model]);
  const again = await openStore(db);
  try {
    assert.equal(((await again.getRun(plain))!.recipe as { threshold: { value: number } }).threshold.value, 0.5);
  } finally {
    await again.close();
  }
});
