/**
 * Tiny ONNX models made in code with known weights: `kensa doctor` runs one on each execution
 * provider, the tests check the runner and the model detectors against a CPU computation, and the
 * benchmark times a UNet-like one. Every input is N×1×H×W with a dynamic batch and size.
 */
import { mulberry32 } from '../rng.js';
import { encodeOnnxModel, OnnxGraphBuilder } from './onnx-writer.js';

const DYNAMIC = ['batch', 1, 'height', 'width'] as const;

export interface ThresholdModelOptions {
  /** The intensity (model input units) where the probability is ½. */
  level: number;
  /** The sigmoid's slope: p = σ(gain · (x − level)). */
  gain: number;
  dtype?: 'f32' | 'f16';
}

/** A per-pixel segmentation model, p = σ(gain · (x − level)): a 1×1 convolution and a sigmoid. */
export function thresholdModel(o: ThresholdModelOptions): Uint8Array {
  const g = new OnnxGraphBuilder(o.dtype ?? 'f32');
  const x = g.input('image', DYNAMIC);
  const p = g.node('Sigmoid', [g.conv(x, [o.gain], [-o.gain * o.level], 1, 1, 1)], {}, 'probability');
  g.output(p, DYNAMIC);
  return encodeOnnxModel(g.graph('threshold'));
}

/** Deterministic weights in ±scale. */
function weights(n: number, scale: number, random: () => number): number[] {
  return Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

export interface TinyUnetOptions {
  /** Channels of the first level (the second has twice as many). */
  width: number;
  seed?: number;
  /** Weights and values in f32 or f16, or 'int8': the f32 model (same seed) with QDQ convolutions. */
  dtype?: 'f32' | 'f16' | 'int8';
}

/** The QDQ scales of the UNet's convolution inputs: the image in [0, 1], then ReLU activations up to about 2. */
const IMAGE_SCALE = 1 / 255;
const ACTIVATION_SCALE = 2 / 255;

/**
 * A two-level UNet: conv-relu → maxpool → conv-relu → upsample → concat with the skip →
 * conv → sigmoid: a 1-channel probability map of the input's size (even height and width).
 */
export function tinyUnet(o: TinyUnetOptions): Uint8Array {
  const random = mulberry32(o.seed ?? 1);
  const c = o.width;
  const g = new OnnxGraphBuilder(o.dtype === 'f16' ? 'f16' : 'f32');
  const conv = (x: string, w: number[], b: number[], out: number, inChannels: number, scale: number) =>
    o.dtype === 'int8' ? g.quantizedConv(x, w, b, out, inChannels, 3, scale) : g.conv(x, w, b, out, inChannels, 3);
  const x = g.input('image', DYNAMIC);
  const skip = g.node('Relu', [conv(x, weights(c * 9, 1 / 3, random), weights(c, 0.1, random), c, 1, IMAGE_SCALE)]);
  const down = g.node('MaxPool', [skip], { kernel_shape: { ints: [2, 2] }, strides: { ints: [2, 2] } });
  const deep = g.node('Relu', [conv(down, weights(2 * c * c * 9, 1 / Math.sqrt(c * 9), random), weights(2 * c, 0.1, random), 2 * c, c, ACTIVATION_SCALE)]);
  const joined = g.node('Concat', [skip, g.upsample(deep, 2)], { axis: { int: 1 } });
  const logits = conv(joined, weights(3 * c * 9, 1 / Math.sqrt(3 * c * 9), random), [0], 1, 3 * c, ACTIVATION_SCALE);
  const p = g.node('Sigmoid', [logits], {}, 'probability');
  g.output(p, DYNAMIC);
  return encodeOnnxModel(g.graph('tiny-unet'));
}

/** The tiny UNet's context: a pixel of its output reads this many pixels each side (3×3, pooled 3×3, 3×3). */
export const TINY_UNET_RADIUS = 1 + 3 + 1;

export interface TinyClassifierOptions {
  classes: number;
  /** Channels of its one convolution. */
  width: number;
  seed?: number;
}

/** conv-relu → global average pool → flatten → Gemm → softmax: N×classes scores. */
export function tinyClassifier(o: TinyClassifierOptions): Uint8Array {
  const random = mulberry32(o.seed ?? 1);
  const g = new OnnxGraphBuilder('f32');
  const x = g.input('image', DYNAMIC);
  const features = g.node('Relu', [g.conv(x, weights(o.width * 9, 1, random), weights(o.width, 0.1, random), o.width, 1, 3)]);
  const pooled = g.node('Flatten', [g.node('GlobalAveragePool', [features])], { axis: { int: 1 } });
  const fc = g.constant([o.classes, o.width], weights(o.classes * o.width, 2, random));
  const logits = g.node('Gemm', [pooled, fc, g.constant([o.classes], weights(o.classes, 0.1, random))], { transB: { int: 1 } });
  const scores = g.node('Softmax', [logits], { axis: { int: -1 } }, 'scores');
  g.output(scores, ['batch', o.classes]);
  return encodeOnnxModel(g.graph('tiny-classifier'));
}
