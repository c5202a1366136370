/**
 * `kensa export --onnx` and `kensa slim` on a small trained-like UNet file: the ONNX file loads in
 * onnxruntime with the documented input and output; slim writes a narrower net, reports fewer
 * parameters and MACs and IoU before and after on `kensa samples` data (CPU); bad widths, a bad
 * weights file and missing flags are refused naming them.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { run as exportRun } from '../../src/cli/export.js';
import { run as samplesRun } from '../../src/cli/samples.js';
import { run as slimRun } from '../../src/cli/slim.js';
import { ModelSession } from '../../src/models/session.js';
import { UNet } from '../../src/models/unet.js';
import { tempDir } from '../_kit/tmp.js';
import { drawnUNet } from '../_kit/unet.js';

const dir = tempDir('slim-export');
const weights = join(dir, 'best.safetensors');
writeFileSync(weights, await (await drawnUNet([8, 16], 1, 1, 21)).toSafetensors());

function capture() {
  const buf = { out: '', err: '' };
  return { buf, io: { out: { write: (s: string) => (buf.out += s) }, err: { write: (s: string) => (buf.err += s) } } };
}

test('kensa export --onnx writes a model onnxruntime runs, with the documented input and output', async () => {
  const out = join(dir, 'model.onnx');
  const { buf, io } = capture();
  assert.equal(await exportRun(['--onnx', '--model', weights, '--out', out, '--opset', '17'], io), 0, buf.err);
  assert.match(buf.out, /input {2}image {2}\[batch, 1, height, width\], height and width multiples of 2/);
  const session = await ModelSession.load(new Uint8Array(readFileSync(out)), out, { providers: ['cpu'], intraOpThreads: 1 });
  assert.deepEqual(session.input.shape, ['batch', 1, 'height', 'width']);
  assert.equal(session.outputs[0]!.name, 'logits');
  await session.close();
  const missing = capture();
  assert.equal(await exportRun(['--model', weights, '--out', out], missing.io), 2);
  assert.match(missing.buf.err, /--onnx is required/);
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'not weights');
  const failed = capture();
  assert.equal(await exportRun(['--onnx', '--model', bad, '--out', out], failed.io), 1);
  assert.ok(failed.buf.err.includes(bad) && failed.buf.err.includes('KENSA_ERR_WEIGHTS'), failed.buf.err);
});

test('kensa slim prunes, writes the narrower net and reports parameters, MACs, speed and IoU before and after', async () => {
  const data = join(dir, 'samples');
  assert.equal(await samplesRun(['--out', data, '--count', '3', '--size', '32x32', '--jobs', '1'], capture().io), 0);
  const out = join(dir, 'slim.safetensors');
  const { buf, io } = capture();
  assert.equal(
    await slimRun(['--model', weights, '--widths', '4,12', '--out', out, '--data', data, '--size', '32', '--runs', '1', '--device', 'cpu', '--json'], io),
    0,
    buf.err,
  );
  const r = JSON.parse(buf.out);
  assert.deepEqual(
    [r.before.widths, r.after.widths],
    [
      [8, 16],
      [4, 12],
    ],
  );
  assert.ok(r.after.parameters < r.before.parameters && r.after.macs < r.before.macs);
  assert.ok(r.before.iou !== null && r.after.iou !== null && r.before.iou >= 0 && r.before.iou <= 1);
  assert.equal(r.fineTuned, false);
  const slim = await UNet.fromSafetensors(new Uint8Array(readFileSync(out)), out);
  assert.deepEqual(slim.config.widths, [4, 12]);
  const wide = capture();
  assert.equal(await slimRun(['--model', weights, '--widths', '4,32', '--out', out, '--device', 'cpu'], wide.io), 1);
  assert.match(wide.buf.err, /widths\[1\]/);
  const levels = capture();
  assert.equal(await slimRun(['--model', weights, '--widths', '4,8,8', '--out', out, '--device', 'cpu'], levels.io), 1);
  assert.match(levels.buf.err, /for widths but received \[4, 8, 8\]/);
});

test('kensa slim --epochs fine-tunes the pruned net with kensa train on --data and writes its best checkpoint', async () => {
  const data = join(dir, 'samples-ft');
  assert.equal(await samplesRun(['--out', data, '--count', '4', '--size', '32x32', '--jobs', '1'], capture().io), 0);
  const out = join(dir, 'slim-ft.safetensors');
  const argv = ['--model', weights, '--widths', '4,12', '--out', out, '--data', data, '--size', '32', '--runs', '1', '--device', 'cpu'];
  const { buf, io } = capture();
  assert.equal(await slimRun([...argv, '--epochs', '2', '--batch', '2', '--crop', '32', '--lr', '1e-3', '--json'], io), 0, buf.err);
  const r = JSON.parse(buf.out);
  assert.equal(r.fineTuned, true);
  assert.deepEqual(r.after.widths, [4, 12]);
  // the written net is the fine-tuning run's best checkpoint, not the pruned one
  const best = readFileSync(join(dir, 'slim-ft.train', 'best.safetensors'));
  assert.deepEqual(readFileSync(out), best);
  const pruned = join(dir, 'slim-pruned.safetensors');
  assert.equal(await slimRun(['--model', weights, '--widths', '4,12', '--out', pruned, '--device', 'cpu', '--size', '32', '--runs', '1'], capture().io), 0);
  assert.notDeepEqual(readFileSync(pruned), best);
  const log = JSON.parse(readFileSync(join(dir, 'slim-ft.train', 'train-log.json'), 'utf8'));
  assert.equal(log.epochs.length, 2);
  const noData = capture();
  assert.equal(await slimRun(['--model', weights, '--widths', '4,12', '--out', out, '--epochs', '1', '--device', 'cpu'], noData.io), 2);
  assert.match(noData.buf.err, /--epochs needs --data/);
});
