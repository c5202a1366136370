import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/train.js';
import { writeSamples } from '../../src/samples/index.js';
import { openStore } from '../../src/store/store.js';
import type { TrainLog } from '../../src/train/index.js';
import { tempDir } from '../_kit/tmp.js';
import { capture } from './_data.js';

const root = tempDir('kensa-train-resume-');

const readLog = (dir: string) => JSON.parse(readFileSync(join(dir, 'train-log.json'), 'utf8')) as TrainLog;

test('kensa train --resume after an interruption gives the losses and weights of an uninterrupted run (CPU, --amp said once and f32)', async () => {
  const data = join(root, 'samples');
  await writeSamples({ out: data, count: 7, width: 40, height: 40, seed: 11, jobs: 1 });
  const db = join(root, 'kensa.db');
  // 6 training images in batches of 3 → 2 steps an epoch; random 16×16 crops with flips
  const pipeline = join(root, 'flips.yaml');
  writeFileSync(pipeline, 'version: 1\ntransform: { name: Compose, transforms: [{ name: HorizontalFlip }, { name: RandomRotate90 }] }\n');
  const args = [
    '--data',
    data,
    '--epochs',
    '3',
    '--batch',
    '3',
    '--crop',
    '16',
    '--widths',
    '4-8',
    '--val-fraction',
    '0.15',
    '--augment',
    pipeline,
    '--amp',
    '--seed',
    '5',
  ];
  const common = ['--device', 'cpu', '--db', db, '--progress', 'json'];

  const whole = join(root, 'whole');
  const a = capture();
  assert.equal(await run([...args, ...common, '--out', whole], a.io), 0, a.buf.err);
  assert.equal(a.buf.err.match(/--amp: the CPU reference has no f16 tensor cores; training in f32 without loss scaling/g)?.length, 1);

  // interrupted at the first step of epoch 2 (as Ctrl-C does): the run stops there and continues from epoch 1's checkpoint
  const stopped = join(root, 'stopped');
  const abort = new AbortController();
  const b = capture((s) => {
    if (s.includes('"type":"train-progress","epoch":2,')) abort.abort();
  });
  assert.equal(await run([...args, ...common, '--out', stopped], b.io, abort.signal), 1);
  assert.match(b.buf.err, /kensa train: interrupted; continue with: kensa train --resume .*stopped\n/);
  assert.equal(readLog(stopped).epochs.length, 1);

  const c = capture();
  assert.equal(await run(['--resume', stopped, ...common], c.io), 0, c.buf.err);
  const [x, y] = [readLog(whole), readLog(stopped)];
  assert.equal(x.steps.loss.length, 6);
  assert.deepEqual(y.steps, x.steps);
  assert.deepEqual(
    y.epochs.map((e) => [e.trainLoss, e.validationLoss, e.iou]),
    x.epochs.map((e) => [e.trainLoss, e.validationLoss, e.iou]),
  );
  assert.deepEqual(readFileSync(join(stopped, 'last.safetensors')), readFileSync(join(whole, 'last.safetensors')));
  assert.deepEqual(readFileSync(join(stopped, 'checkpoint.safetensors')), readFileSync(join(whole, 'checkpoint.safetensors')));

  const store = await openStore(db);
  try {
    const runs = await store.listRuns();
    assert.equal(runs.length, 2);
    const resumed = runs.find((r) => r.options.out === stopped)!;
    assert.equal(resumed.status, 'done');
    assert.equal((await store.sessions(resumed.id)).length, 2);
  } finally {
    await store.close();
  }

  const d = capture();
  assert.equal(await run(['--resume', stopped, '--epochs', '5', ...common], d.io), 2);
  assert.match(d.buf.err, /--resume continues a run with its own options but received --epochs/);
});
