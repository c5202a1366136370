/**
 * Transposed 2-D convolution (PyTorch's conv_transpose2d: weight [Cin, Cout/groups, KH, KW],
 * OH = (H − 1)·stride − 2·padding + dilation·(KH − 1) + outputPadding + 1) is the gradient of a
 * convolution with respect to its input, so it runs conv2d's programs with the roles swapped:
 * its forward is conv2d's backward-input (with the bias and activation fused into the store), its
 * input gradient conv2d's forward and its weight gradient conv2d's weight gradient of (x, dy).
 */
import { KensaError } from '../../errors.js';
import { checkDType } from '../../ops/image.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, oneOf } from '../../validate.js';
import { checkNchw, checkShapeIs, intPair, type Nchw, type Pair } from './args.js';
import {
  type Conv2dOptions,
  CONV_ACTIVATIONS,
  type ConvActivation,
  type ConvGeometry,
  type ConvParams,
  channelSumOp,
  checkGroups,
  convBackwardInputOp,
  convBackwardWeightOp,
  convForwardOp,
  convGeometry,
  convParams,
} from './conv2d.js';

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows and columns on the bottom and right of the output, below the stride: [0, stride). Default 0. */
  outputPadding?: Pair;
}

export interface ConvTranspose2dForwardOptions extends ConvTranspose2dOptions {
  /** Activation fused into the output store, after the bias. Default 'none'. */
  activation?: ConvActivation;
}

/** Output length of one axis: (in − 1)·s − 2p + d·(k − 1) + outputPadding + 1. */
export function convTransposeOutputLength(input: number, k: number, s: number, p: number, d: number, outputPadding: number): number {
  return (input - 1) * s - 2 * p + d * (k - 1) + outputPadding + 1;
}

function outputPaddingOf(o: ConvTranspose2dOptions, p: ConvParams): [number, number] {
  const [oph, opw] = intPair('outputPadding', o.outputPadding, 0, 63, 0);
  if (oph >= p.sh || opw >= p.sw) throw invalidParameter('outputPadding', `integers below the stride [${p.sh}, ${p.sw}]`, o.outputPadding);
  return [oph, opw];
}

/** Checks a weight of [cin, cout/groups, kh, kw] against x's cin; returns [cout, kh, kw]. */
function checkTransposedWeight(weight: Tensor, cin: number, p: ConvParams): [number, number, number] {
  checkDType('weight', weight, ['f32']);
  if (weight.shape.length !== 4 || weight.shape[0] !== cin) {
    throw new KensaError('KENSA_ERR_SHAPE', `Expected weight of shape [Cin = ${cin}, Cout / groups, KH, KW] but received [${weight.shape.join(', ')}]`);
  }
  const [, coutG, kh, kw] = weight.shape as [number, number, number, number];
  checkGroups(p, cin, coutG * p.groups);
  return [coutG * p.groups, kh, kw];
}

/**
 * The geometry of the convolution whose input gradient this transposed convolution is: that
 * convolution maps the transposed one's output (cout channels, oh×ow) back to x's size.
 */
function transposedGeometry(o: ConvTranspose2dOptions, p: ConvParams, x: Nchw, cout: number, kh: number, kw: number): ConvGeometry {
  const [oph, opw] = outputPaddingOf(o, p);
  const oh = convTransposeOutputLength(x.h, kh, p.sh, p.ph, p.dh, oph);
  const ow = convTransposeOutputLength(x.w, kw, p.sw, p.pw, p.dw, opw);
  if (oh < 1 || ow < 1) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected x of at least one output pixel but received ${x.h}×${x.w} for a ${kh}×${kw} kernel and padding [${p.ph}, ${p.pw}]`,
    );
  }
  return convGeometry(p, x.n, cout, oh, ow, x.c, kh, kw, 'x');
}

/**
 * y = conv_transpose2d(x, weight) + bias, with an optional fused ReLU: x [N, Cin, H, W], weight
 * [Cin, Cout/groups, KH, KW], bias [Cout] or null; y [N, Cout, OH, OW].
 * @example const up = convTranspose2dForward(x, w, b, { stride: 2 });   // a 2×2 kernel doubles H and W
 */
export function convTranspose2dForward(x: Tensor, weight: Tensor, bias?: Tensor | null, options: ConvTranspose2dForwardOptions = {}): Tensor {
  const p = convParams(options);
  const activation = options.activation === undefined ? 'none' : oneOf('activation', options.activation, CONV_ACTIVATIONS);
  const d = checkNchw('x', x);
  const [cout, kh, kw] = checkTransposedWeight(weight, d.c, p);
  if (bias) checkShapeIs('bias', bias, [cout], '[Cout]');
  const g = transposedGeometry(options, p, d, cout, kh, kw);
  return convBackwardInputOp(bias ? [x, weight, bias] : [x, weight], g, !!bias, activation);
}

/** The gradient with respect to x: conv2d of dy [N, Cout, OH, OW] by the weight, as [N, Cin, H, W]. */
export function convTranspose2dBackwardInput(dy: Tensor, weight: Tensor, options: ConvTranspose2dOptions = {}): Tensor {
  const p = convParams(options);
  outputPaddingOf(options, p);
  const dd = checkNchw('dy', dy);
  checkDType('weight', weight, ['f32']);
  if (weight.shape.length !== 4 || weight.shape[1]! * p.groups !== dd.c) {
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected weight of shape [Cin, Cout / groups = ${dd.c / p.groups}, KH, KW] but received [${weight.shape.join(', ')}]`,
    );
  }
  const [cin, , kh, kw] = weight.shape as [number, number, number, number];
  checkGroups(p, cin, dd.c);
  return convForwardOp([dy, weight], convGeometry(p, dd.n, dd.c, dd.h, dd.w, cin, kh, kw, 'dy'), false, 'none');
}

/** The gradient with respect to the weight, from dy [N, Cout, OH, OW] and the forward's x [N, Cin, H, W], as [Cin, Cout/groups, KH, KW]. */
export function convTranspose2dBackwardWeight(dy: Tensor, x: Tensor, options: ConvTranspose2dOptions & { kernelSize: Pair }): Tensor {
  const p = convParams(options);
  const [kh, kw] = intPair('kernelSize', options.kernelSize, 1, 1024);
  const d = checkNchw('x', x);
  const dd = checkNchw('dy', dy);
  checkGroups(p, d.c, dd.c);
  const g = transposedGeometry(options, p, d, dd.c, kh, kw);
  checkShapeIs('dy', dy, [g.n, g.cin, g.h, g.w], '[N, Cout, OH, OW]');
  return convBackwardWeightOp([x, dy], g);
}

/** The gradient of the bias: dy summed over N, H and W, as [Cout]. */
export function convTranspose2dBackwardBias(dy: Tensor): Tensor {
  checkNchw('dy', dy);
  return channelSumOp(dy);
}
