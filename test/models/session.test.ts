import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { encodeOnnxModel, OnnxGraphBuilder } from '../../src/models/onnx-writer.js';
import { onnxProviders } from '../../src/models/providers.js';
import { ModelSession } from '../../src/models/session.js';
import { thresholdModel, tinyUnet } from '../../src/models/tiny.js';

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));

test('a session on the CPU provider reads the input and outputs, runs any batch and size', async () => {
  const s = await ModelSession.load(thresholdModel({ level: 0.5, gain: 8 }), 'threshold.onnx', { providers: ['cpu'], warmUp: [[2, 1, 4, 4]] });
  try {
    assert.equal(s.provider, 'cpu');
    assert.deepEqual(s.fallbacks, []);
    assert.deepEqual(s.input, { name: 'image', type: 'float32', shape: ['batch', 1, 'height', 'width'] });
    assert.deepEqual(
      s.outputs.map((o) => o.name),
      ['probability'],
    );
    const x = Float32Array.of(0, 0.25, 0.5, 0.75, 1, 0.6);
    const [out] = await s.run(x.slice(), [2, 1, 1, 3]);
    assert.deepEqual(out!.dims, [2, 1, 1, 3]);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(out!.data[i]! - sigmoid(8 * (x[i]! - 0.5))) < 1e-6);
  } finally {
    await s.close();
  }
});

test('a provider that fails is reported with its reason and the next one runs; strict fails instead', async () => {
  const model = thresholdModel({ level: 0.5, gain: 8 });
  const cudaInstalled = (await onnxProviders()).providers.some((p) => p.name === 'cuda' && p.installed);
  const s = await ModelSession.load(model, 'm.onnx', { providers: ['cuda', 'cpu'] });
  try {
    if (cudaInstalled) {
      assert.equal(s.provider, 'cuda');
      assert.deepEqual(s.fallbacks, []);
    } else {
      // without its libraries cuda fails to open: counted, with the runtime's reason, and cpu runs
      assert.equal(s.provider, 'cpu');
      assert.equal(s.fallbacks.length, 1);
      assert.equal(s.fallbacks[0]!.provider, 'cuda');
      assert.match(s.fallbacks[0]!.reason, /\S/);
    }
  } finally {
    await s.close();
  }
  if (cudaInstalled) return;
  await assert.rejects(
    ModelSession.load(model, 'm.onnx', { providers: ['cuda', 'cpu'], strict: true }),
    (e) => isKensaError(e, 'KENSA_ERR_MODEL') && /^Model m\.onnx could not run on cuda \(strict: no fallback\): cuda: /.test(e.message),
  );
});

test('inference runs off the main thread: a timer keeps firing while a batch is inferred', async () => {
  const s = await ModelSession.load(tinyUnet({ width: 8 }), 'unet.onnx', { providers: ['cpu'], intraOpThreads: 1 });
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const pending = s.run(new Float32Array(4 * 256 * 256).fill(0.5), [4, 1, 256, 256]);
    let settled = false;
    void pending.then(() => {
      settled = true;
    });
    // the event loop turns while the session's thread computes
    await new Promise((r) => setTimeout(r, 5));
    const ticksBefore = ticks;
    const wasSettled = settled;
    await pending;
    clearInterval(timer);
    assert.ok(ticksBefore > 0, 'the timer fired while the inference ran');
    assert.equal(wasSettled, false, 'the inference was still running after the timer fired');
  } finally {
    await s.close();
  }
});

test('a pool of sessions runs batches at once, each on its own thread, with the same results', async () => {
  const s = await ModelSession.load(tinyUnet({ width: 4 }), 'unet.onnx', { providers: ['cpu'], sessions: 2, intraOpThreads: 1, warmUp: [[1, 1, 16, 16]] });
  try {
    const x = Float32Array.from({ length: 16 * 16 }, (_, i) => (i % 13) / 13);
    const [a, b] = await Promise.all([s.run(x.slice(), [1, 1, 16, 16]), s.run(x.slice(), [1, 1, 16, 16])]);
    assert.deepEqual(a![0]!.data, b![0]!.data);
  } finally {
    await s.close();
  }
});

test('a model kensa cannot feed is refused at load, naming what does not fit', async () => {
  const g = new OnnxGraphBuilder();
  const x = g.input('features', ['batch', 8]);
  g.output(g.node('Relu', [x]), ['batch', 8]);
  await assert.rejects(
    ModelSession.load(encodeOnnxModel(g.graph('flat')), 'flat.onnx', { providers: ['cpu'] }),
    (e) =>
      isKensaError(e, 'KENSA_ERR_MODEL') && e.message === 'Model flat.onnx: expected an input of rank 4 (N×C×H×W) but input features has rank 2 [batch, 8]',
  );
  await assert.rejects(
    ModelSession.load(new Uint8Array([1, 2, 3]), 'junk.onnx', { providers: ['cpu'] }),
    (e) => isKensaError(e, 'KENSA_ERR_MODEL') && /^Model junk\.onnx could not run on any of cpu: cpu: /.test(e.message),
  );
  await assert.rejects(
    ModelSession.load(thresholdModel({ level: 0, gain: 1 }), 'm.onnx', { providers: ['tpu' as 'cpu'] }),
    (e) =>
      isKensaError(e, 'KENSA_ERR_INVALID_ARGUMENT') && e.message === 'Expected one of "cuda", "webgpu", "cpu" for providers but received "tpu" of type string',
  );
});

test('an input of the wrong size fails that run with a KensaError naming the dims; the session goes on', async () => {
  const g = new OnnxGraphBuilder();
  const x = g.input('image', [1, 1, 4, 4]);
  g.output(g.node('Relu', [x]), [1, 1, 4, 4]);
  const s = await ModelSession.load(encodeOnnxModel(g.graph('fixed')), 'fixed.onnx', { providers: ['cpu'] });
  try {
    await assert.rejects(
      s.run(new Float32Array(9), [1, 1, 3, 3]),
      (e) => isKensaError(e, 'KENSA_ERR_MODEL') && e.message.startsWith('Model fixed.onnx failed on an input of dims [1, 1, 3, 3]: '),
    );
    const [out] = await s.run(
      Float32Array.from({ length: 16 }, (_, i) => i - 8),
      [1, 1, 4, 4],
    );
    assert.equal(out!.data[0], 0);
    assert.equal(out!.data[15], 7);
  } finally {
    await s.close();
  }
});

test('a model of a fixed batch takes any number of inputs in chunks of its batch, the last one padded', async () => {
  const g = new OnnxGraphBuilder();
  const x = g.input('image', [2, 1, 'height', 'width']);
  g.output(g.node('Mul', [x, g.constant([1], [3])]), [2, 1, 'height', 'width']);
  const s = await ModelSession.load(encodeOnnxModel(g.graph('two')), 'two.onnx', { providers: ['cpu'], sessions: 2, warmUp: [[2, 1, 1, 2]] });
  try {
    const x5 = Float32Array.from({ length: 5 * 2 }, (_, i) => i);
    const [out] = await s.runBatch(x5, [5, 1, 1, 2]);
    assert.deepEqual(out!.dims, [5, 1, 1, 2]);
    assert.deepEqual(
      [...out!.data],
      [...x5].map((v) => 3 * v),
    );
  } finally {
    await s.close();
  }
});
