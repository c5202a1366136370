/**
 * What the network-op tests share: seeded random f32 tensors and a central-difference gradient
 * check of a CPU reference in f64.
 */
import assert from 'node:assert/strict';
import { mulberry32 } from '../../src/rng.js';
import { Tensor } from '../../src/tensor.js';

/** Uniform values in [-1, 1) from `seed`, as an f64 array of `count`. */
export function randomValues(count: number, seed: number): Float64Array {
  const r = mulberry32(seed);
  return Float64Array.from({ length: count }, () => 2 * r() - 1);
}

/** An f32 CPU tensor of uniform values in [-1, 1). */
export function randomTensor(shape: readonly number[], seed: number): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(Float32Array.from(randomValues(count, seed)), shape, 'f32');
}

/**
 * Checks `grad` (the analytic gradient of `loss` at `at`) against central differences
 * (loss(at + h·e_i) − loss(at − h·e_i)) / 2h on up to `samples` coordinates, all in f64.
 * `at` is changed and restored in place.
 */
export function assertGradient(what: string, loss: () => number, at: Float64Array, grad: ArrayLike<number>, samples = 24, h = 1e-5, tol = 1e-6): void {
  assert.equal(grad.length, at.length, `${what}: gradient length`);
  const step = Math.max(1, Math.floor(at.length / samples));
  for (let i = 0; i < at.length; i += step) {
    const keep = at[i]!;
    at[i] = keep + h;
    const up = loss();
    at[i] = keep - h;
    const down = loss();
    at[i] = keep;
    const numeric = (up - down) / (2 * h);
    const err = Math.abs(numeric - grad[i]!);
    assert.ok(err <= tol * Math.max(1, Math.abs(numeric)), `${what}[${i}]: analytic ${grad[i]} vs central difference ${numeric}`);
  }
}

/** Σ r·y in f64: the loss whose gradient with respect to y is r. */
export function dot(r: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += r[i]! * y[i]!;
  return s;
}
