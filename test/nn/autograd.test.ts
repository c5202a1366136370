import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KensaError } from '../../src/errors.js';
import { Var, backward, isRecording, noGrad } from '../../src/nn/autograd.js';
import { nnDispatches } from '../../src/nn/launch.js';
import * as F from '../../src/nn/ops.js';
import { Tensor, liveTensors, tidy } from '../../src/tensor.js';

const f32 = (values: number[], shape = [values.length]) => Tensor.fromArray(Float32Array.from(values), shape, 'f32');
const disposed = (e: unknown) => e instanceof KensaError && e.code === 'KENSA_ERR_DISPOSED';

test('backward accumulates into parameter gradients across calls, and walks a graph once', () => {
  const w = Var.parameter(f32([1, 2]));
  const x = Var.constant(f32([3, 4]));
  backward(F.sum(F.mul(w, x)));
  backward(F.sum(F.mul(w, x)));
  assert.deepEqual([...(w.grad!.data as Float32Array)], [6, 8]);
  const y = F.sum(F.mul(w, w));
  backward(y);
  assert.deepEqual([...(w.grad!.data as Float32Array)], [8, 12]);
  assert.throws(() => backward(y), /Expected a Var whose graph was not yet walked by backward for root/);
});

test('backward releases intermediate values once used, keeps retained ones and the root', () => {
  const w = Var.parameter(f32([1, -2, 3]));
  const hidden = F.relu(w);
  const kept = F.exp(hidden).retain();
  const loss = F.sum(F.mul(kept, hidden));
  backward(loss);
  assert.throws(() => hidden.value.data, disposed);
  assert.equal(kept.value.size, 3);
  assert.ok(Math.abs(kept.value.at(2) - Math.exp(3)) < 1e-4);
  assert.equal(loss.value.size, 1);
  assert.equal(w.value.size, 3);
});

test('noGrad records nothing: no node, no gradient, nothing kept for a backward', () => {
  const w = Var.parameter(f32([0.5, 1.5]));
  const start = liveTensors();
  const y = noGrad(() => {
    assert.equal(isRecording(), false);
    return F.max(F.sigmoid(w));
  });
  assert.equal(isRecording(), true);
  assert.equal(y.requiresGrad, false);
  assert.equal(y.node, null);
  // the max's kept statistics are released at once: only the two values remain
  assert.equal(liveTensors() - start, 2);
  assert.throws(() => backward(y), /for root but received "a Var without gradient"/);
});

test("tidy frees a step's graph and gradients; the launch counter counts CPU references as launches", () => {
  const w = Var.parameter(f32([1, 2, 3, 4], [2, 2]));
  const x = Var.constant(f32([1, 0, 0, 1], [2, 2]));
  const start = liveTensors();
  const before = nnDispatches();
  const loss = tidy(() => {
    const l = F.mean(F.matmul(x, w));
    backward(l);
    return l.value;
  });
  // matmul, mean (sum) forward; seed fill; mean backward (scale); matmul dB; w accumulate
  assert.equal(nnDispatches() - before, 6);
  assert.equal(liveTensors() - start, 1);
  assert.equal(loss.at(0), 2.5);
  assert.deepEqual([...(w.grad!.data as Float32Array)], [0.25, 0.25, 0.25, 0.25]);
});
