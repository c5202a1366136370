/**
 * Reverse-mode autograd over kensa's tensors (tinygrad's spirit: a few primitives, each a forward
 * and a backward made of the same GPU programs). A `Var` holds a value tensor and, when it was
 * computed from a parameter while recording, the node that made it: its inputs and the function
 * from its gradient to theirs. `backward(loss)` walks the nodes in reverse topological order,
 * accumulates each parameter's gradient in place (y += x, one read-write program) and releases
 * what a node kept for its backward, and its own value, as soon as that node's backward has run.
 */
import { axpy } from '../ops/arith/axpy.js';
import { KensaError } from '../errors.js';
import type { Shape, Tensor } from '../tensor.js';
import { invalidParameter } from '../validate.js';
import { launchCpu, zerosOn } from './launch.js';
import { runMap } from './map.js';

/** From the gradient of a node's value to its inputs' gradients (null: no gradient for that input). */
export type BackwardFn = (grad: Tensor) => readonly (Tensor | null)[];

export interface GraphNode {
  readonly inputs: readonly Var[];
  readonly backward: BackwardFn;
  /** Tensors made for the backward alone (masks, statistics), released after it ran. */
  readonly saved: readonly Tensor[];
}

let paused = 0;
let parameterWrites = 0;

/**
 * How many in-place writes into parameters and running statistics this process made (optimizer
 * steps, training batch norms, loaded weights): what was derived from them is stale once it moved.
 */
export function parameterWriteCount(): number {
  return parameterWrites;
}

/** Counts an in-place write into parameters or running statistics (see parameterWriteCount). */
export function noteParameterWrite(): void {
  parameterWrites++;
}

/** Whether ops record the graph now (false inside noGrad). */
export function isRecording(): boolean {
  return paused === 0;
}

/**
 * Runs `fn` without recording the graph (validation, inference, metrics): ops compute their
 * values only, keep nothing for a backward and their results have no gradient.
 */
export function noGrad<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/** A value in the graph: a parameter (has `grad`), a constant, or an op's result. */
export class Var {
  readonly value: Tensor;
  /** Whether a gradient flows to this Var (it is a parameter or depends on one). */
  readonly requiresGrad: boolean;
  /** The accumulated gradient of a parameter (f32, its value's shape); null for other Vars. */
  readonly grad: Tensor | null;
  #node: GraphNode | null;
  #retained = false;

  private constructor(value: Tensor, requiresGrad: boolean, grad: Tensor | null, node: GraphNode | null) {
    this.value = value;
    this.requiresGrad = requiresGrad;
    this.grad = grad;
    this.#node = node;
  }

  get shape(): Shape {
    return this.value.shape;
  }

  /** The node that made this Var (null for leaves and after its backward ran). */
  get node(): GraphNode | null {
    return this.#node;
  }

  /** Keeps this Var's value through backward (by default an op's value is released once its backward ran). */
  retain(): this {
    this.#retained = true;
    return this;
  }

  get retained(): boolean {
    return this.#retained;
  }

  /** Drops the node after its backward: the graph cannot be walked twice. */
  detachNode(): void {
    this.#node = null;
  }

  /** A trainable leaf: `value` (f32, contiguous) and a gradient of zeros beside it on its device. */
  static parameter(value: Tensor): Var {
    checkValue('value', value);
    return new Var(value, true, zerosOn(value, value.shape), null);
  }

  /** A leaf without gradient (inputs, targets). */
  static constant(value: Tensor): Var {
    checkValue('value', value);
    return new Var(value, false, null, null);
  }

  /**
   * An op's result: recorded with its inputs and backward when recording and any input needs a
   * gradient; otherwise a constant, and `saved` is released at once.
   */
  static fromOp(value: Tensor, inputs: readonly Var[], backward: BackwardFn, saved: readonly Tensor[] = []): Var {
    if (isRecording() && inputs.some((v) => v.requiresGrad)) return new Var(value, true, null, { inputs, backward, saved });
    for (const t of saved) t.dispose();
    return new Var(value, false, null, null);
  }
}

function checkValue(name: string, t: Tensor): void {
  if (t.dtype !== 'f32' && t.dtype !== 'i32') throw new KensaError('KENSA_ERR_DTYPE', `Expected an f32 or i32 tensor for ${name} but received ${t.dtype}`);
  if (!t.isContiguous)
    throw new KensaError(
      'KENSA_ERR_NOT_CONTIGUOUS',
      `Expected a contiguous tensor for ${name} but received a view (shape [${t.shape.join(', ')}]): call contiguous() first`,
    );
}

/** y += x in place (one read-write program), counted as the nn launch it is. */
function accumulate(y: Tensor, x: Tensor): void {
  launchCpu();
  axpy(y, x);
}

/** The Vars `root` depends on through recorded nodes, inputs before the Vars made from them. */
function topologicalOrder(root: Var): Var[] {
  const order: Var[] = [];
  const seen = new Set<Var>();
  const stack: [Var, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [v, next] = top;
    const inputs = v.node?.inputs ?? [];
    if (next < inputs.length) {
      top[1]++;
      const input = inputs[next]!;
      if (input.requiresGrad && !seen.has(input)) {
        seen.add(input);
        stack.push([input, 0]);
      }
    } else {
      order.push(v);
      stack.pop();
    }
  }
  return order;
}

/**
 * Adds d root / d p into `p.grad` for every parameter p that `root` depends on. The seed is
 * `grad` (root's shape), or ones. Values of intermediate Vars are released on the way unless
 * retained; root's value stays.
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT when root does not depend on a parameter, or its graph was already walked; KENSA_ERR_SHAPE for a seed of another shape.
 */
export function backward(root: Var, grad?: Tensor): void {
  if (!root.requiresGrad) throw invalidParameter('root', 'a Var computed from a parameter while recording', 'a Var without gradient');
  if (!root.node && !root.grad) throw invalidParameter('root', 'a Var whose graph was not yet walked by backward', 'a Var after its backward');
  if (grad && grad.shape.join() !== root.shape.join())
    throw new KensaError('KENSA_ERR_SHAPE', `Expected a gradient of shape [${root.shape.join(', ')}] for grad but received [${grad.shape.join(', ')}]`);
  const grads = new Map<Var, Tensor>();
  const seed = grad ?? runMap('fill', [root.value], root.shape, { p: 1 });
  const order = topologicalOrder(root);
  grads.set(root, seed);
  for (let k = order.length - 1; k >= 0; k--) {
    const v = order[k]!;
    const g = grads.get(v);
    grads.delete(v);
    const node = v.node;
    if (!node) {
      // a parameter given as root
      if (g && v.grad) accumulate(v.grad, g);
      if (g && g !== grad) g.dispose();
      continue;
    }
    const handed = new Set<Tensor>();
    if (g) {
      const inputGrads = node.backward(g);
      node.inputs.forEach((input, i) => {
        let gi = inputGrads[i] ?? null;
        if (!gi) return;
        if (!input.requiresGrad) {
          if (gi !== g) gi.dispose();
          return;
        }
        // one tensor handed to two inputs (x + x) must not be accumulated into itself
        if (handed.has(gi)) gi = runMap('copy', [gi], gi.shape);
        handed.add(gi);
        if (input.grad) {
          accumulate(input.grad, gi);
          if (gi !== g) gi.dispose();
          handed.delete(gi);
          return;
        }
        const prev = grads.get(input);
        if (prev) {
          accumulate(prev, gi);
          if (gi !== g) gi.dispose();
          handed.delete(gi);
        } else grads.set(input, gi);
      });
      if (!handed.has(g) && g !== grad) g.dispose();
    }
    for (const t of node.saved) t.dispose();
    v.detachNode();
    if (v !== root && !v.retained) v.value.dispose();
  }
}
