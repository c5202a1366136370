/**
 * The differentiable primitives: each computes its value with the nn programs (map, reduce,
 * matmul, softmax) and records a backward made of the same programs. Values are f32 and
 * contiguous; inputs of one op share a device. Binary ops broadcast NumPy-style, their gradients
 * summed back over the broadcast axes.
 */
import { KensaError } from '../errors.js';
import type { Shape, Tensor } from '../tensor.js';
import { integerInRange, invalidParameter, numberInRange } from '../validate.js';
import { Var } from './autograd.js';
import { broadcastShape, emptyOn } from './launch.js';
import { type MapOp, runMap } from './map.js';
import { runMatmul } from './matmul.js';
import { runReduce } from './reduce.js';
import { runSoftmax } from './softmax.js';

/** The gradient `g` summed down to `shape` (the shape an operand had before broadcasting). */
function sumTo(g: Tensor, shape: Shape): Tensor {
  const lead = g.shape.length - shape.length;
  const axes = g.shape.map((_, i) => i).filter((i) => i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1));
  if (axes.length === 0) return g;
  const summed = runReduce('sum', g, axes);
  const out = summed.reshape(shape);
  summed.dispose();
  return out;
}

function checkF32(name: string, v: Var): void {
  if (v.value.dtype !== 'f32') throw new KensaError('KENSA_ERR_DTYPE', `Expected an f32 tensor for ${name} but received ${v.value.dtype}`);
}

function binary(op: MapOp, a: Var, b: Var, backward: (g: Tensor, out: Tensor) => [Tensor | null, Tensor | null]): Var {
  checkF32('a', a);
  checkF32('b', b);
  const shape = broadcastShape('a', a.shape, 'b', b.shape);
  const out = runMap(op, [a.value, b.value], shape);
  return Var.fromOp(out, [a, b], (g) => {
    const [ga, gb] = backward(g, out);
    const ra = ga && a.requiresGrad ? sumTo(ga, a.shape) : null;
    const rb = gb && b.requiresGrad ? sumTo(gb, b.shape) : null;
    if (ga && ga !== ra && ga !== g) ga.dispose();
    if (gb && gb !== rb && gb !== g) gb.dispose();
    return [ra, rb];
  });
}

export function add(a: Var, b: Var): Var {
  return binary('add', a, b, (g) => [g, g]);
}

export function sub(a: Var, b: Var): Var {
  return binary('sub', a, b, (g) => [g, b.requiresGrad ? runMap('neg', [g], g.shape) : null]);
}

export function mul(a: Var, b: Var): Var {
  return binary('mul', a, b, (g) => [
    a.requiresGrad ? runMap('mul', [g, b.value], g.shape) : null,
    b.requiresGrad ? runMap('mul', [g, a.value], g.shape) : null,
  ]);
}

export function div(a: Var, b: Var): Var {
  return binary('div', a, b, (g, out) => [
    a.requiresGrad ? runMap('div', [g, b.value], g.shape) : null,
    b.requiresGrad ? runMap('div_grad', [g, b.value, out], g.shape) : null,
  ]);
}

/** An elementwise op whose gradient is one map over (g, x) or (g, its output). */
function unary(op: MapOp, x: Var, p: number, gradOp: MapOp | null, gradOf: 'input' | 'output'): Var {
  checkF32('x', x);
  const out = runMap(op, [x.value], x.shape, { p });
  return Var.fromOp(out, [x], (g) => [gradOp ? runMap(gradOp, [g, gradOf === 'input' ? x.value : out], g.shape, { p }) : runMap('neg', [g], g.shape)]);
}

export function neg(x: Var): Var {
  return unary('neg', x, 0, null, 'input');
}

export function exp(x: Var): Var {
  return unary('exp', x, 0, 'mul', 'output');
}

export function log(x: Var): Var {
  return unary('log', x, 0, 'div', 'input');
}

export function sqrt(x: Var): Var {
  return unary('sqrt', x, 0, 'sqrt_grad', 'output');
}

/** x^p for a scalar p (negative x only for integer p). */
export function pow(x: Var, p: number): Var {
  return unary('pow', x, numberInRange('p', p, -64, 64), 'pow_grad', 'input');
}

export function relu(x: Var): Var {
  return unary('relu', x, 0, 'relu_grad', 'input');
}

/** max(x, 0) + slope · min(x, 0); slope between 0 and 1 (default 0.01, PyTorch's). */
export function leakyRelu(x: Var, slope = 0.01): Var {
  return unary('leaky_relu', x, numberInRange('slope', slope, 0, 1), 'leaky_relu_grad', 'input');
}

export function sigmoid(x: Var): Var {
  return unary('sigmoid', x, 0, 'sigmoid_grad', 'output');
}

export function silu(x: Var): Var {
  return unary('silu', x, 0, 'silu_grad', 'input');
}

/** x · s for a number s. */
export function mulScalar(x: Var, s: number): Var {
  checkF32('x', x);
  const k = numberInRange('s', s, -3.4e38, 3.4e38);
  return Var.fromOp(runMap('scale', [x.value], x.shape, { p: k }), [x], (g) => [runMap('scale', [g], g.shape, { p: k })]);
}

/** x + s for a number s. */
export function addScalar(x: Var, s: number): Var {
  checkF32('x', x);
  const k = numberInRange('s', s, -3.4e38, 3.4e38);
  return Var.fromOp(runMap('add_scalar', [x.value], x.shape, { p: k }), [x], (g) => [g]);
}

/** Axes in [−rank, rank), distinct, as non-negative indices (all axes when omitted). */
function resolveAxes(x: Var, axes: number | readonly number[] | undefined): number[] {
  const r = x.shape.length;
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  if (!Array.isArray(list) || list.length === 0) throw invalidParameter('axes', `an axis or a non-empty list of axes between ${-r} and ${r - 1}`, axes);
  const out = list.map((a, i) => {
    const v = integerInRange(`axes[${i}]`, a, -r, r - 1);
    return v < 0 ? v + r : v;
  });
  if (new Set(out).size !== out.length) throw invalidParameter('axes', 'distinct axes', axes);
  return out.sort((a, b) => a - b);
}

export interface ReduceAxesOptions {
  /** Axes to reduce (negative from the end); default all. */
  axes?: number | readonly number[];
  /** Keep reduced axes as size 1 (default false; reducing every axis gives shape [1]). */
  keepDims?: boolean;
}

function reducedShape(x: Var, axes: readonly number[], keepDims: boolean): number[] {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  if (keepDims) return kept;
  const dropped = x.shape.filter((_, i) => !axes.includes(i));
  return dropped.length > 0 ? dropped : [1];
}

function reduceVar(x: Var, options: ReduceAxesOptions, mean: boolean): Var {
  checkF32('x', x);
  const axes = resolveAxes(x, options.axes);
  const count = axes.reduce((p, a) => p * x.shape[a]!, 1);
  const keep = runReduce('sum', x.value, axes, { scale: mean ? 1 / count : 1 });
  const shape = reducedShape(x, axes, options.keepDims === true);
  const out = keep.reshape(shape);
  keep.dispose();
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return Var.fromOp(out, [x], (g) => {
    const gk = g.reshape(keptShape);
    const gx = runMap('scale', [gk], x.shape, { p: mean ? 1 / count : 1 });
    gk.dispose();
    return [gx];
  });
}

/** Σ over axes. */
export function sum(x: Var, options: ReduceAxesOptions = {}): Var {
  return reduceVar(x, options, false);
}

/** Mean over axes. */
export function mean(x: Var, options: ReduceAxesOptions = {}): Var {
  return reduceVar(x, options, true);
}

/** Maximum over axes; the gradient is shared evenly by the elements equal to the maximum. */
export function max(x: Var, options: ReduceAxesOptions = {}): Var {
  checkF32('x', x);
  const axes = resolveAxes(x, options.axes);
  const keep = runReduce('max', x.value, axes);
  const out = keep.reshape(reducedShape(x, axes, options.keepDims === true));
  return Var.fromOp(
    out,
    [x],
    (g) => {
      const gk = g.reshape(keep.shape);
      const hits = runMap('eq', [x.value, keep], x.shape);
      const count = runReduce('sum', hits, axes);
      const share = runMap('div', [gk, count], keep.shape);
      const gx = runMap('max_grad', [share, x.value, keep], x.shape);
      for (const t of [gk, hits, count, share]) t.dispose();
      return [gx];
    },
    [keep],
  );
}

export interface MatmulOptions {
  /** Read a transposed (its last two axes swapped), as a [·, K, M] tensor. */
  transA?: boolean;
  transB?: boolean;
}

function as3d(name: string, v: Var): Tensor {
  const s = v.shape;
  if (s.length === 2) return v.value.reshape([1, s[0]!, s[1]!]);
  if (s.length === 3) return v.value.reshape(s);
  throw new KensaError('KENSA_ERR_SHAPE', `Expected a 2-D or 3-D tensor for ${name} but received shape [${s.join(', ')}]`);
}

/**
 * op(a) · op(b): 2-D [M, K] · [K, N], or batched [B, M, K] · [B, K, N] where a batch of 1 (or a
 * 2-D operand) is shared by the other's batches. Returns [M, N] for two 2-D operands, else [B, M, N].
 */
export function matmul(a: Var, b: Var, options: MatmulOptions = {}): Var {
  checkF32('a', a);
  checkF32('b', b);
  const transA = options.transA === true;
  const transB = options.transB === true;
  const a3 = as3d('a', a);
  const b3 = as3d('b', b);
  const k1 = transA ? a3.shape[1]! : a3.shape[2]!;
  const k2 = transB ? b3.shape[2]! : b3.shape[1]!;
  const batchOk = a3.shape[0] === b3.shape[0] || a3.shape[0] === 1 || b3.shape[0] === 1;
  if (k1 !== k2 || !batchOk) {
    a3.dispose();
    b3.dispose();
    throw new KensaError(
      'KENSA_ERR_SHAPE',
      `Expected matching inner sizes and batches for matmul's a and b but received [${a.shape.join(', ')}]${transA ? 'ᵀ' : ''} and [${b.shape.join(', ')}]${transB ? 'ᵀ' : ''}`,
    );
  }
  const c3 = runMatmul(a3, b3, transA, transB);
  const twoD = a.shape.length === 2 && b.shape.length === 2;
  const out = twoD ? c3.reshape([c3.shape[1]!, c3.shape[2]!]) : c3;
  if (twoD) c3.dispose();
  return Var.fromOp(
    out,
    [a, b],
    (g) => {
      const g3 = g.reshape([out.size / (c3.shape[1]! * c3.shape[2]!), c3.shape[1]!, c3.shape[2]!]);
      const back = (grad: Tensor | null, like: Tensor, v: Var): Tensor | null => {
        if (!grad) return null;
        // a shared operand (batch 1) gathers its gradient over the other's batches
        const summed = grad.shape[0] !== like.shape[0] ? runReduce('sum', grad, [0]) : grad;
        if (summed !== grad) grad.dispose();
        const r = summed.reshape(v.shape);
        summed.dispose();
        return r;
      };
      const ga = a.requiresGrad ? (transA ? runMatmul(b3, g3, transB, true) : runMatmul(g3, b3, false, !transB)) : null;
      const gb = b.requiresGrad ? (transB ? runMatmul(g3, a3, true, transA) : runMatmul(a3, g3, !transA, false)) : null;
      g3.dispose();
      return [back(ga, a3, a), back(gb, b3, b)];
    },
    [a3, b3],
  );
}

/** x · wᵀ + bias for x [N, in], w [out, in], bias [out] (PyTorch's Linear). */
export function linear(x: Var, w: Var, bias?: Var): Var {
  const y = matmul(x, w, { transB: true });
  return bias ? add(y, bias) : y;
}

/** The same values in another shape of the same element count (no copy). */
export function reshape(x: Var, shape: Shape): Var {
  const out = x.value.reshape(shape);
  return Var.fromOp(out, [x], (g) => [g.reshape(x.shape)]);
}

/** The axes in another order (a contiguous copy). */
export function permute(x: Var, order: readonly number[]): Var {
  checkF32('x', x);
  const view = x.value.permute(order);
  const out = runMap('copy', [view], view.shape);
  view.dispose();
  const inverse = order.map((_, i) => order.indexOf(i));
  return Var.fromOp(out, [x], (g) => {
    const back = g.permute(inverse);
    const gx = runMap('copy', [back], x.shape);
    back.dispose();
    return [gx];
  });
}

/** The inputs laid end to end along `axis` (default 1, the channels of N×C×H×W); other sizes equal. */
export function concat(inputs: readonly Var[], axis = 1): Var {
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalidParameter('xs', 'a non-empty array of Vars', inputs);
  const xs: readonly Var[] = inputs;
  const first = xs[0]!;
  const r = first.shape.length;
  const ax = integerInRange('axis', axis, -r, r - 1);
  const a = ax < 0 ? ax + r : ax;
  xs.forEach((x, i) => {
    checkF32(`xs[${i}]`, x);
    if (x.shape.length !== r || x.shape.some((d, k) => k !== a && d !== first.shape[k]))
      throw new KensaError(
        'KENSA_ERR_SHAPE',
        `Expected xs[${i}] of shape [${first.shape.map((d, k) => (k === a ? '·' : d)).join(', ')}] to concatenate along axis ${a} but received [${x.shape.join(', ')}]`,
      );
  });
  const shape = first.shape.map((d, k) => (k === a ? xs.reduce((s, x) => s + x.shape[a]!, 0) : d));
  const out = emptyOn(first.value, shape);
  const ranges: [number, number][] = [];
  let at = 0;
  for (const x of xs) {
    const range: [number, number] = [at, at + x.shape[a]!];
    ranges.push(range);
    const window = out.slice(shape.map((_, k) => (k === a ? range : undefined)));
    runMap('copy', [x.value], x.shape, { into: window });
    window.dispose();
    at = range[1];
  }
  return Var.fromOp(out, xs, (g) =>
    xs.map((x, i) => {
      if (!x.requiresGrad) return null;
      const window = g.slice(shape.map((_, k) => (k === a ? ranges[i] : undefined)));
      const gx = runMap('copy', [window], x.shape);
      window.dispose();
      return gx;
    }),
  );
}

function softmaxAxis(x: Var, axis: number): number {
  const r = x.shape.length;
  const a = integerInRange('axis', axis, -r, r - 1);
  return a < 0 ? a + r : a;
}

/** exp(x) / Σ exp(x) along `axis` (default 1, the channels of N×C×H×W). */
export function softmax(x: Var, axis = 1): Var {
  checkF32('x', x);
  const a = softmaxAxis(x, axis);
  const out = runSoftmax('softmax', x.value, a);
  return Var.fromOp(out, [x], (g) => [runSoftmax('softmax_grad', out, a, g)]);
}

/** x − log Σ exp(x) along `axis` (default 1). */
export function logSoftmax(x: Var, axis = 1): Var {
  checkF32('x', x);
  const a = softmaxAxis(x, axis);
  const out = runSoftmax('log_softmax', x.value, a);
  return Var.fromOp(out, [x], (g) => [runSoftmax('log_softmax_grad', out, a, g)]);
}

export interface DropoutOptions {
  /** Probability of zeroing an element, in [0, 1) (default 0.5); kept elements scale by 1 / (1 − p). */
  p?: number;
  /** The mask's seed: equal seeds drop equal elements on both devices. */
  seed: number;
  /** Off (identity) for evaluation; default true. */
  training?: boolean;
}

/** Zeroes elements at random (a hash of the seed and the element index, no mask stored). */
export function dropout(x: Var, options: DropoutOptions): Var {
  checkF32('x', x);
  const p = options.p === undefined ? 0.5 : numberInRange('p', options.p, 0, 0.999999);
  const seed = integerInRange('seed', options.seed, 0, 0xffffffff);
  if (options.training === false || p === 0) return x;
  const out = runMap('dropout', [x.value], x.shape, { p, seed });
  return Var.fromOp(out, [x], (g) => [runMap('dropout', [g], g.shape, { p, seed })]);
}

/** Elementwise binary cross-entropy of logits x against targets y in [0, 1], positives weighted by posWeight. */
export function bceWithLogitsElementwise(x: Var, target: Var, posWeight = 1): Var {
  checkF32('logits', x);
  checkF32('target', target);
  if (x.shape.join() !== target.shape.join())
    throw new KensaError('KENSA_ERR_SHAPE', `Expected target of the logits' shape [${x.shape.join(', ')}] but received [${target.shape.join(', ')}]`);
  const pw = numberInRange('posWeight', posWeight, 0, 1e6);
  const out = runMap('bce_logits', [x.value, target.value], x.shape, { p: pw });
  return Var.fromOp(out, [x, target], (g) => [runMap('bce_logits_grad', [g, x.value, target.value], g.shape, { p: pw }), null]);
}
