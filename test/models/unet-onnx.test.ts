/**
 * The UNet's ONNX export runs in onnxruntime-node (CPU) and gives kensa's own eval-mode logits
 * (`predict`, CPU path) within 1e-4 (batch norm folded into the convolutions changes the float
 * rounding only), for a two- and a three-level net with batch norms away from identity, at two
 * input sizes (dynamic batch, height and width).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isKensaError } from '../../src/errors.js';
import { Var } from '../../src/nn/autograd.js';
import { ModelSession } from '../../src/models/session.js';
import { unetToOnnx } from '../../src/models/unet-onnx.js';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';
import { drawnUNet } from '../_kit/unet.js';

function drawnInput(shape: number[], seed: number): Float32Array {
  const next = mulberry32(seed);
  return Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => next() * 2 - 1);
}

for (const [widths, inChannels, classes] of [
  [[4, 8], 1, 1],
  [[4, 8, 16], 3, 2],
] as const) {
  test(`the ONNX export of a UNet ${widths.join('-')} (${inChannels} in, ${classes} out) matches predict in onnxruntime within 1e-4`, async () => {
    const net = await drawnUNet([...widths], inChannels, classes, 3);
    const model = await unetToOnnx(net);
    const session = await ModelSession.load(model, 'unet.onnx', { providers: ['cpu'], intraOpThreads: 1 });
    try {
      assert.deepEqual(session.input.shape, ['batch', inChannels, 'height', 'width']);
      assert.deepEqual(session.outputs[0]!.shape, ['batch', classes, 'height', 'width']);
      for (const dims of [
        [2, inChannels, 16, 24],
        [1, inChannels, 32, 8],
      ]) {
        const x = drawnInput(dims, dims[3]!);
        const want = net.predict(Var.constant(Tensor.fromArray(x, dims, 'f32'))).value.data as Float32Array;
        const [out] = await session.run(x.slice(), dims);
        assert.deepEqual(out!.dims, [dims[0], classes, dims[2], dims[3]]);
        let worst = 0;
        for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(out!.data[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
        assert.ok(worst < 1e-4, `largest difference ${worst} at dims ${dims}`);
      }
    } finally {
      await session.close();
    }
  });
}

test('the export records the preprocessing and the head in metadata_props and takes opsets 13 to 21', async () => {
  const net = await drawnUNet([4, 8], 1, 1, 5);
  const text = new TextDecoder('latin1').decode(await unetToOnnx(net));
  assert.match(text, /kensa\.config/);
  assert.match(text, /"preprocessing":\{"mean":\[0\.5\],"std":\[0\.25\]\}/);
  assert.match(text, /"head":"sigmoid"/);
  assert.match(text, /folded into the convolutions/);
  const s13 = await ModelSession.load(await unetToOnnx(net, { opset: 13 }), 'unet13.onnx', { providers: ['cpu'], intraOpThreads: 1 });
  await s13.close();
  await assert.rejects(unetToOnnx(net, { opset: 12 }), (e: unknown) => isKensaError(e) && /opset/.test(e.message) && /13/.test(e.message));
});
