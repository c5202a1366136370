/**
 * A kensa UNet as an ONNX graph for deployment: every batch norm folded into the convolution
 * before it (eval mode: w' = w · γ/√(var + ε) per output channel, b' = β − mean · γ/√(var + ε)),
 * so the graph is Conv, Relu, MaxPool, ConvTranspose and Concat only, and the export matches
 * `UNet.predict`. Input `image` [batch, C, height, width] (dynamic batch and size; height and width
 * multiples of 2^(levels−1)), output `logits` [batch, classes, height, width]; the preprocessing
 * and the head's activation are in metadata_props.
 */
import { BATCH_NORM_EPS } from '../nn/ops/batch-norm.js';
import { encodeOnnxModel, OnnxGraphBuilder } from './onnx-writer.js';
import type { NamedTensor } from './safetensors.js';
import type { UNet } from './unet.js';

export interface UNetOnnxOptions {
  /** The default domain's opset (ONNX_OPSETS: 13 … 21); default 17. */
  opset?: number;
}

/** The ONNX model of `net` (its eval-mode forward, batch norms folded) as file bytes. */
export async function unetToOnnx(net: UNet, options: UNetOnnxOptions = {}): Promise<Uint8Array> {
  const state = await net.stateDict();
  const t = (name: string): NamedTensor => state.get(name)!;
  const { inChannels, classes, widths } = net.config;
  const g = new OnnxGraphBuilder('f32');
  const dims = ['batch', inChannels, 'height', 'width'];
  /** Conv 3×3 (no bias) then its batch norm, folded; then Relu. */
  const convBn = (x: string, conv: string, bn: string): string => {
    const w = t(`${conv}.weight`);
    const [out, cin] = w.shape as [number, number];
    const gamma = t(`${bn}.weight`).data;
    const beta = t(`${bn}.bias`).data;
    const mean = t(`${bn}.running_mean`).data;
    const variance = t(`${bn}.running_var`).data;
    const per = cin * 9;
    const weight = new Float32Array(w.data.length);
    const bias = new Float32Array(out);
    for (let o = 0; o < out; o++) {
      const s = gamma[o]! / Math.sqrt(variance[o]! + BATCH_NORM_EPS);
      for (let k = 0; k < per; k++) weight[o * per + k] = w.data[o * per + k]! * s;
      bias[o] = beta[o]! - mean[o]! * s;
    }
    return g.node('Relu', [g.conv(x, weight, bias, out, cin, 3)]);
  };
  const double = (x: string, name: string) => convBn(convBn(x, `${name}.conv1`, `${name}.bn1`), `${name}.conv2`, `${name}.bn2`);
  const skips: string[] = [];
  let h = g.input('image', dims);
  for (let i = 0; i < widths.length; i++) {
    h = double(h, `enc.${i}`);
    if (i + 1 < widths.length) {
      skips.push(h);
      h = g.node('MaxPool', [h], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } });
    }
  }
  for (let i = widths.length - 2; i >= 0; i--) {
    const w = t(`up.${i}.weight`);
    const up = g.node('ConvTranspose', [h, g.constant(w.shape, w.data), g.constant([widths[i]!], t(`up.${i}.bias`).data)], {
      kernel_shape: { ints: [2, 2] },
      strides: { ints: [2, 2] },
    });
    h = double(g.node('Concat', [skips[i]!, up], { axis: { int: 1 } }), `dec.${i}`);
  }
  const head = t('head.weight');
  const logits = g.node(
    'Conv',
    [h, g.constant(head.shape, head.data), g.constant([classes], t('head.bias').data)],
    { kernel_shape: { ints: [1, 1] } },
    'logits',
  );
  g.output(logits, ['batch', classes, 'height', 'width']);
  const factor = 2 ** (widths.length - 1);
  const { mean, std } = net.config.preprocessing;
  return encodeOnnxModel(g.graph('kensa-unet'), {
    ...(options.opset !== undefined ? { opset: options.opset } : {}),
    metadata: {
      'kensa.model': 'unet',
      'kensa.config': JSON.stringify({ ...net.config, head: classes === 1 ? 'sigmoid' : 'softmax' }),
      'kensa.input': `image: float32 [N, ${inChannels}, H, W], H and W multiples of ${factor}; x[c] = (pixel / 255 - mean[c]) / std[c] with mean ${JSON.stringify(mean)} and std ${JSON.stringify(std)} (pixel / 65535 for 16-bit images)`,
      'kensa.output': `logits: float32 [N, ${classes}, H, W]; ${classes === 1 ? 'sigmoid gives the defect probability' : 'softmax over the classes, channel 0 the background'}`,
      'kensa.batch_norm': 'folded into the convolutions',
    },
  });
}
