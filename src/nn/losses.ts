/**
 * Losses for segmentation and classification, composed of the primitives (their gradients come
 * from autograd). Each returns a scalar Var of shape [1]. Targets are constant tensors on the
 * logits' device: f32 in [0, 1] for the binary losses, i32 class indices for cross-entropy.
 */
import { KensaError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { integerInRange, numberInRange } from '../validate.js';
import { Var } from './autograd.js';
import { runMap } from './map.js';
import * as F from './ops.js';

function checkTarget(logits: Var, target: Tensor, dtype: 'f32' | 'i32'): void {
  if (target.dtype !== dtype) throw new KensaError('KENSA_ERR_DTYPE', `Expected an ${dtype} tensor for target but received ${target.dtype}`);
  if (dtype === 'f32' && target.shape.join() !== logits.shape.join())
    throw new KensaError('KENSA_ERR_SHAPE', `Expected target of the logits' shape [${logits.shape.join(', ')}] but received [${target.shape.join(', ')}]`);
}

export interface BceOptions {
  /** Weight of the positive term (PyTorch's pos_weight), > 0; default 1. */
  posWeight?: number;
}

/** Mean binary cross-entropy of logits against targets in [0, 1] (PyTorch's BCEWithLogitsLoss). */
export function bceWithLogits(logits: Var, target: Tensor, options: BceOptions = {}): Var {
  checkTarget(logits, target, 'f32');
  const posWeight = options.posWeight === undefined ? 1 : numberInRange('posWeight', options.posWeight, 1e-6, 1e6);
  return F.mean(F.bceWithLogitsElementwise(logits, Var.constant(target), posWeight));
}

export interface DiceOptions {
  /** Added to numerator and denominator (default 1): an empty mask predicted empty scores 0. */
  smooth?: number;
}

/**
 * Soft Dice loss on sigmoid(logits) per sample, averaged over the batch (axis 0):
 * 1 − (2 Σ p·y + smooth) / (Σ p + Σ y + smooth).
 */
export function diceLoss(logits: Var, target: Tensor, options: DiceOptions = {}): Var {
  checkTarget(logits, target, 'f32');
  const smooth = options.smooth === undefined ? 1 : numberInRange('smooth', options.smooth, 0, 1e6);
  if (logits.shape.length < 2)
    throw new KensaError('KENSA_ERR_SHAPE', `Expected logits of at least 2 axes (a batch first) but received [${logits.shape.join(', ')}]`);
  const axes = logits.shape.slice(1).map((_, i) => i + 1);
  const y = Var.constant(target);
  const p = F.sigmoid(logits);
  const intersection = F.sum(F.mul(p, y), { axes });
  const total = F.add(F.sum(p, { axes }), F.sum(y, { axes }));
  const ratio = F.div(F.addScalar(F.mulScalar(intersection, 2), smooth), F.addScalar(total, smooth));
  return F.addScalar(F.neg(F.mean(ratio)), 1);
}

export interface BceDiceOptions extends BceOptions, DiceOptions {
  /** Weights of the two terms (default 1 each). */
  bceWeight?: number;
  diceWeight?: number;
}

/** bceWeight · BCE-with-logits + diceWeight · Dice, the usual segmentation loss. */
export function bceDiceLoss(logits: Var, target: Tensor, options: BceDiceOptions = {}): Var {
  const wb = options.bceWeight === undefined ? 1 : numberInRange('bceWeight', options.bceWeight, 0, 1e6);
  const wd = options.diceWeight === undefined ? 1 : numberInRange('diceWeight', options.diceWeight, 0, 1e6);
  return F.add(F.mulScalar(bceWithLogits(logits, target, options), wb), F.mulScalar(diceLoss(logits, target, options), wd));
}

export interface FocalOptions {
  /** Weight of positives in [0, 1] (negatives 1 − alpha); default 0.25; −1 for none. */
  alpha?: number;
  /** Focusing exponent ≥ 0; default 2. */
  gamma?: number;
}

/**
 * Mean sigmoid focal loss (torchvision's sigmoid_focal_loss): BCE · (1 − p_t)^gamma · alpha_t,
 * p_t = p·y + (1 − p)(1 − y).
 */
export function focalLoss(logits: Var, target: Tensor, options: FocalOptions = {}): Var {
  checkTarget(logits, target, 'f32');
  const alpha = options.alpha === undefined ? 0.25 : options.alpha === -1 ? -1 : numberInRange('alpha', options.alpha, 0, 1);
  const gamma = options.gamma === undefined ? 2 : numberInRange('gamma', options.gamma, 0, 16);
  const y = Var.constant(target);
  const ce = F.bceWithLogitsElementwise(logits, y);
  // 1 − p_t = y + p·(1 − 2y)
  const k = affine(target, -2, 1);
  const miss = F.add(F.mul(F.sigmoid(logits), k), y);
  let loss = F.mul(ce, F.pow(miss, gamma));
  if (alpha >= 0) {
    // alpha_t = (1 − alpha) + (2·alpha − 1)·y
    const at = affine(target, 2 * alpha - 1, 1 - alpha);
    loss = F.mul(loss, at);
  }
  return F.mean(loss);
}

/**
 * Mean multi-class cross-entropy of logits [N, C, …] against i32 class indices [N, …] in 0 … C − 1
 * (PyTorch's CrossEntropyLoss): −log softmax(logits)[label], averaged over N and the other axes.
 */
export function crossEntropy(logits: Var, labels: Tensor): Var {
  checkTarget(logits, labels, 'i32');
  const s = logits.shape;
  const expected = [s[0]!, ...s.slice(2)];
  if (s.length < 2 || labels.shape.join() !== expected.join())
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected labels of shape [${expected.join(', ')}] for logits [${s.join(', ')}] but received [${labels.shape.join(', ')}]`,
    );
  const classes = integerInRange('classes', s[1], 2, 65536);
  const keep = labels.reshape([s[0]!, 1, ...s.slice(2)]);
  // [1, C, 1, …] holding c at class c
  const index = runMap('index', [labels], [1, classes, ...new Array<number>(s.length - 2).fill(1)]);
  const oneHot = Var.constant(runMap('eq', [keep, index], s));
  keep.dispose();
  index.dispose();
  const count = s.reduce((p, d) => p * d, 1) / classes;
  return F.mulScalar(F.sum(F.mul(oneHot, F.logSoftmax(logits, 1))), -1 / count);
}

/** t · scale + offset, a constant (the target's per-element weights). */
function affine(t: Tensor, scale: number, offset: number): Var {
  const scaled = runMap('scale', [t], t.shape, { p: scale });
  const out = runMap('add_scalar', [scaled], t.shape, { p: offset });
  scaled.dispose();
  return Var.constant(out);
}
