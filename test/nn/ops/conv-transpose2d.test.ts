import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conv2dBackwardInputReference, conv2dBackwardWeightReference, conv2dReference, convGeometry, convParams } from '../../../src/nn/ops/conv2d.js';
import {
  type ConvTranspose2dOptions,
  convTranspose2dBackwardBias,
  convTranspose2dBackwardInput,
  convTranspose2dBackwardWeight,
  convTranspose2dForward,
  convTransposeOutputLength,
} from '../../../src/nn/ops/conv-transpose2d.js';
import { Tensor } from '../../../src/tensor.js';
import { assertClose } from '../../_kit/compare.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';
import { assertGradient, dot, randomTensor, randomValues } from '../_kit.js';

const gpu = await testGpu();

interface Case {
  x: [number, number, number, number];
  cout: number;
  k: number;
  opts: ConvTranspose2dOptions;
}
const CASES: Case[] = [
  { x: [2, 3, 5, 5], cout: 2, k: 2, opts: { stride: 2 } },
  { x: [1, 4, 4, 5], cout: 6, k: 3, opts: { stride: 2, padding: 1, outputPadding: 1, groups: 2 } },
  { x: [2, 2, 4, 4], cout: 3, k: 3, opts: { padding: 2, dilation: 2 } },
];

test('conv_transpose2d: output sizes and a hand-computed value follow PyTorch', () => {
  assert.equal(convTransposeOutputLength(4, 2, 2, 0, 1, 0), 8);
  assert.equal(convTransposeOutputLength(4, 3, 2, 1, 1, 1), 8);
  const x = Tensor.fromArray(new Float32Array([1, 2, 3, 4]), [1, 1, 2, 2], 'f32');
  const w = Tensor.fromArray(new Float32Array([1, 1, 1, 1]), [1, 1, 2, 2], 'f32');
  const y = convTranspose2dForward(x, w, Tensor.fromArray(new Float32Array([-2.5]), [1], 'f32'), { stride: 2, activation: 'relu' });
  assert.deepEqual([...y.shape], [1, 1, 4, 4]);
  assert.deepEqual([...y.data], [0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.5, 1.5, 1.5, 0.5, 0.5, 1.5, 1.5]);
});

test('conv_transpose2d: the backward functions are the gradients of the forward (CPU, central differences in f64)', () => {
  for (const [i, c] of CASES.entries()) {
    const p = convParams(c.opts);
    const [, cin, h, w] = c.x;
    const oph = c.opts.outputPadding === undefined ? 0 : (c.opts.outputPadding as number);
    const oh = convTransposeOutputLength(h, c.k, p.sh, p.ph, p.dh, oph);
    const ow = convTransposeOutputLength(w, c.k, p.sw, p.pw, p.dw, oph);
    const g = convGeometry(p, c.x[0], c.cout, oh, ow, cin, c.k, c.k, 'x');
    const x = randomValues(
      c.x.reduce((a, b) => a * b),
      10 + i,
    );
    const weight = randomValues(cin * (c.cout / p.groups) * c.k * c.k, 20 + i);
    const r = randomValues(c.x[0] * c.cout * oh * ow, 30 + i);
    const loss = () => dot(r, conv2dBackwardInputReference(g, x, weight));
    assertGradient(`case ${i} dx`, loss, x, conv2dReference(g, r, weight, null));
    assertGradient(`case ${i} dw`, loss, weight, conv2dBackwardWeightReference(g, x, r));
  }
});

test('conv_transpose2d: GPU forward and backward = CPU', { skip: gpuSkip(gpu) }, async () => {
  for (const [i, c] of CASES.entries()) {
    const groups = c.opts.groups ?? 1;
    const x = randomTensor(c.x, 40 + i);
    const w = randomTensor([c.x[1], c.cout / groups, c.k, c.k], 50 + i);
    const b = randomTensor([c.cout], 60 + i);
    const y = convTranspose2dForward(x, w, b, c.opts);
    const dy = randomTensor(y.shape, 70 + i);
    const [gx, gw, gb, gdy] = await Promise.all([x, w, b, dy].map((t) => t.toGpu(gpu!)));
    const pairs: [Tensor, Tensor, string][] = [
      [convTranspose2dForward(gx!, gw!, gb!, c.opts), y, 'y'],
      [convTranspose2dBackwardInput(gdy!, gw!, c.opts), convTranspose2dBackwardInput(dy, w, c.opts), 'dx'],
      [convTranspose2dBackwardWeight(gdy!, gx!, { ...c.opts, kernelSize: c.k }), convTranspose2dBackwardWeight(dy, x, { ...c.opts, kernelSize: c.k }), 'dw'],
      [convTranspose2dBackwardBias(gdy!), convTranspose2dBackwardBias(dy), 'db'],
    ];
    assert.deepEqual([...pairs[1]![1].shape], c.x);
    for (const [actual, expected, name] of pairs) {
      assertClose(await actual.toCpu(), expected, { atol: 1e-4, rtol: 1e-4 }, `case ${i} ${name}`);
      actual.dispose();
    }
    for (const t of [gx, gw, gb, gdy]) t!.dispose();
  }
});

test('conv_transpose2d: bad shapes and options get errors naming them', () => {
  const x = Tensor.zeros([1, 4, 4, 4], 'f32');
  const w = Tensor.zeros([4, 3, 3, 3], 'f32');
  assert.throws(
    () => convTranspose2dForward(x, Tensor.zeros([3, 3, 3, 3], 'f32')),
    /Expected weight of shape \[Cin = 4, Cout \/ groups, KH, KW\] but received \[3, 3, 3, 3\]/,
  );
  assert.throws(
    () => convTranspose2dForward(x, w, null, { stride: 2, outputPadding: 2 }),
    /Expected integers below the stride \[2, 2\] for outputPadding but received 2/,
  );
  assert.throws(() => convTranspose2dForward(x, w, Tensor.zeros([4], 'f32')), /Expected bias of shape \[Cout\] = \[3\] but received \[4\]/);
  assert.throws(() => convTranspose2dBackwardInput(Tensor.zeros([1, 2, 6, 6], 'f32'), w), /Expected weight of shape \[Cin, Cout \/ groups = 2, KH, KW\]/);
  assert.throws(
    () => convTranspose2dBackwardWeight(Tensor.zeros([1, 3, 5, 5], 'f32'), x, { kernelSize: 3 }),
    /Expected dy of shape \[N, Cout, OH, OW\] = \[1, 3, 6, 6\]/,
  );
});
