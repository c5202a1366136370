/** Helpers of the nn tests: spread random values, parameters from them, and a finite-difference check. */
import assert from 'node:assert/strict';
import { Var, backward, noGrad } from '../../src/nn/autograd.js';
import { mul, sum } from '../../src/nn/ops.js';
import { mulberry32 } from '../../src/rng.js';
import { type Shape, Tensor, numel, tidy } from '../../src/tensor.js';

/**
 * n values in (−scale, scale) at least 2·scale/n apart and never within scale/n of 0, shuffled:
 * kinks (relu at 0, ties of max) stay farther than a finite-difference step.
 */
export function spread(n: number, seed: number, scale = 1, offset = 0): Float32Array {
  const next = mulberry32(seed);
  const v = Array.from({ length: n }, (_, i) => (((i + 0.5) / n) * 2 - 1) * scale + offset);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [v[i], v[j]] = [v[j]!, v[i]!];
  }
  return Float32Array.from(v);
}

export interface Input {
  shape: Shape;
  /** Values: (−1, 1) by default; 'positive' puts them in (0.5, 1.5). */
  range?: 'positive';
}

function valuesFor(input: Input, seed: number): Float32Array {
  const n = numel(input.shape);
  return input.range === 'positive' ? spread(n, seed, 0.5, 1) : spread(n, seed);
}

/**
 * Checks the gradients autograd gives `f` (through Σ w·f(x) with fixed weights w) against central
 * differences. The engine computes in f32; the differences are taken between the f32 inputs
 * actually used and the weighted sums accumulated in f64, so the step (1e-2) dominates the error.
 */
export function gradcheck(name: string, inputs: readonly Input[], f: (xs: Var[]) => Var, tol = 2e-3, step = 1e-2): void {
  const values = inputs.map((input, k) => valuesFor(input, 17 + k));
  const run = (vals: readonly Float32Array[]): Float64Array =>
    tidy(() => {
      const y = noGrad(() => f(vals.map((v, k) => Var.constant(Tensor.fromArray(v, inputs[k]!.shape, 'f32')))));
      return Float64Array.from(y.value.data as Float32Array);
    });
  const y0 = run(values);
  const weights = spread(y0.length, 5, 1, 0.25);
  const weighted = (vals: readonly Float32Array[]) => run(vals).reduce((s, v, i) => s + v * weights[i]!, 0);
  const params = values.map((v, k) => Var.parameter(Tensor.fromArray(v.slice(), inputs[k]!.shape, 'f32')));
  tidy(() => {
    const y = f(params);
    const loss = sum(mul(y, Var.constant(Tensor.fromArray(weights, y.shape, 'f32'))));
    backward(loss);
  });
  params.forEach((p, k) => {
    const analytic = p.grad!.data as Float32Array;
    const v = values[k]!;
    for (let i = 0; i < v.length; i++) {
      const x = v[i]!;
      const hi = Math.fround(x + step);
      const lo = Math.fround(x - step);
      v[i] = hi;
      const fHi = weighted(values);
      v[i] = lo;
      const fLo = weighted(values);
      v[i] = x;
      const numeric = (fHi - fLo) / (hi - lo);
      assert.ok(
        Math.abs(analytic[i]! - numeric) <= tol * (1 + Math.abs(numeric)),
        `${name}: d/dx${k}[${i}] autograd ${analytic[i]} vs finite difference ${numeric}`,
      );
    }
    p.value.dispose();
    p.grad!.dispose();
  });
}
