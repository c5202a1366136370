/**
 * The convolution family in the graph: conv2d, transposed convolution, max-pool, upsampling and
 * batch norm, each the forward and backward ops of src/nn/ops wired into autograd. Gradients are
 * computed only for the inputs that need them (a first layer's input gets none). Their launches
 * count as the GPU dispatches they record (one per op on the CPU).
 */
import { noteParameterWrite, Var } from './autograd.js';
import { countedOp } from './launch.js';
import { runMap } from './map.js';
import { batchNormBackward, batchNormForward } from './ops/batch-norm.js';
import { type Conv2dForwardOptions, type Conv2dOptions, conv2dBackwardBias, conv2dBackwardInput, conv2dBackwardWeight, conv2dForward } from './ops/conv2d.js';
import {
  type ConvTranspose2dForwardOptions,
  convTranspose2dBackwardBias,
  convTranspose2dBackwardInput,
  convTranspose2dBackwardWeight,
  convTranspose2dForward,
} from './ops/conv-transpose2d.js';
import { type MaxPool2dOptions, maxPool2dBackward, maxPool2dForward } from './ops/max-pool2d.js';
import {
  UPSAMPLE_MODES,
  type UpsampleMode,
  type UpsampleOptions,
  upsampleBilinear2dBackward,
  upsampleBilinear2dForward,
  upsampleNearest2dBackward,
  upsampleNearest2dForward,
} from './ops/upsample.js';
import type { Tensor } from '../tensor.js';
import { invalidParameter, oneOf } from '../validate.js';

export type { Conv2dOptions, Conv2dForwardOptions, ConvTranspose2dForwardOptions, MaxPool2dOptions, UpsampleOptions, UpsampleMode };

function inputSize(x: Var): [number, number] {
  return [x.shape[2]!, x.shape[3]!];
}

function kernelSize(w: Var): [number, number] {
  return [w.shape[2]!, w.shape[3]!];
}

/** The gradient before a fused ReLU: zero where the output was clamped. */
function throughActivation(g: Tensor, out: Tensor, activation: string | undefined): Tensor {
  return activation === 'relu' ? runMap('relu_grad', [g, out], g.shape) : g;
}

/**
 * conv2d(x, weight) + bias (PyTorch's conv2d: stride, padding, dilation, groups), with an
 * optional ReLU fused into the output store; `precision: 'f16'` runs forward and backward GEMMs
 * on tensor cores where the GPU has them. x [N, Cin, H, W], weight [Cout, Cin/groups, KH, KW], bias [Cout].
 */
export function conv2d(x: Var, weight: Var, bias: Var | null = null, options: Conv2dForwardOptions = {}): Var {
  const out = countedOp(x.value, () => conv2dForward(x.value, weight.value, bias?.value ?? null, options));
  const geometry: Conv2dOptions = {
    stride: options.stride,
    padding: options.padding,
    dilation: options.dilation,
    groups: options.groups,
    precision: options.precision,
  };
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return Var.fromOp(out, inputs, (g) => {
    const dy = throughActivation(g, out, options.activation);
    const grads = [
      x.requiresGrad ? countedOp(dy, () => conv2dBackwardInput(dy, weight.value, { ...geometry, inputSize: inputSize(x) })) : null,
      weight.requiresGrad ? countedOp(dy, () => conv2dBackwardWeight(dy, x.value, { ...geometry, kernelSize: kernelSize(weight) })) : null,
      bias?.requiresGrad ? countedOp(dy, () => conv2dBackwardBias(dy)) : null,
    ];
    if (dy !== g) dy.dispose();
    return grads;
  });
}

/**
 * The transposed convolution (PyTorch's conv_transpose2d), the upsampling of a UNet's decoder:
 * x [N, Cin, H, W], weight [Cin, Cout/groups, KH, KW], bias [Cout].
 */
export function convTranspose2d(x: Var, weight: Var, bias: Var | null = null, options: ConvTranspose2dForwardOptions = {}): Var {
  const out = countedOp(x.value, () => convTranspose2dForward(x.value, weight.value, bias?.value ?? null, options));
  const geometry = {
    stride: options.stride,
    padding: options.padding,
    dilation: options.dilation,
    groups: options.groups,
    outputPadding: options.outputPadding,
  };
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return Var.fromOp(out, inputs, (g) => {
    const dy = throughActivation(g, out, options.activation);
    const grads = [
      x.requiresGrad ? countedOp(dy, () => convTranspose2dBackwardInput(dy, weight.value, geometry)) : null,
      weight.requiresGrad ? countedOp(dy, () => convTranspose2dBackwardWeight(dy, x.value, { ...geometry, kernelSize: kernelSize(weight) })) : null,
      bias?.requiresGrad ? countedOp(dy, () => convTranspose2dBackwardBias(dy)) : null,
    ];
    if (dy !== g) dy.dispose();
    return grads;
  });
}

/** 2-D max pooling; the gradient goes to the chosen input of each window (indices kept for the backward). */
export function maxPool2d(x: Var, options: MaxPool2dOptions): Var {
  const { y, indices } = countedOp(x.value, () => maxPool2dForward(x.value, options));
  return Var.fromOp(y, [x], (g) => [countedOp(g, () => maxPool2dBackward(g, indices, { ...options, inputSize: inputSize(x) }))], [indices]);
}

export interface Upsample2dOptions extends UpsampleOptions {
  /** 'bilinear' (align_corners false, PyTorch's default) or 'nearest'; default 'bilinear'. */
  mode?: UpsampleMode;
}

/** Bilinear or nearest upsampling of N×C×H×W to `size` or by an integer `scaleFactor`. */
export function upsample2d(x: Var, options: Upsample2dOptions): Var {
  const mode = options.mode === undefined ? 'bilinear' : oneOf('mode', options.mode, UPSAMPLE_MODES);
  const resize = { size: options.size, scaleFactor: options.scaleFactor };
  const forward = mode === 'bilinear' ? upsampleBilinear2dForward : upsampleNearest2dForward;
  const backward = mode === 'bilinear' ? upsampleBilinear2dBackward : upsampleNearest2dBackward;
  const out = countedOp(x.value, () => forward(x.value, resize));
  return Var.fromOp(out, [x], (g) => [countedOp(g, () => backward(g, { ...resize, inputSize: inputSize(x) }))]);
}

export interface BatchNorm2dOptions {
  /** Normalise by the batch's statistics and update the running ones (true), or by the running ones (false). */
  training: boolean;
  /** Default 0.1. */
  momentum?: number;
  /** Default 1e-5. */
  eps?: number;
}

/**
 * Batch norm over the channels of N×C×H×W (PyTorch's batch_norm): gamma and beta [C] are
 * parameters; runningMean and runningVar [C] (plain tensors) move in place in training and
 * normalise in eval.
 */
export function batchNorm2d(x: Var, gamma: Var, beta: Var, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNorm2dOptions): Var {
  if (typeof options !== 'object' || options === null) throw invalidParameter('options', 'an object with training', options);
  if (options.training && runningMean) noteParameterWrite();
  const { y, mean, invstd } = countedOp(x.value, () => batchNormForward(x.value, gamma.value, beta.value, runningMean, runningVar, options));
  return Var.fromOp(
    y,
    [x, gamma, beta],
    (g) => {
      const { dx, dgamma, dbeta } = countedOp(g, () => batchNormBackward(g, x.value, mean, invstd, gamma.value, { training: options.training }));
      return [dx, dgamma, dbeta];
    },
    [mean, invstd],
  );
}
