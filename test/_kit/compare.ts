/**
 * Comparing a GPU result with the CPU reference. Tolerances (docs/semantics.md):
 *  - integer outputs: |gpu − cpu| ≤ `int` (default 1: f32 sums summed in another order can land
 *    on the other side of a .5 tie); exact ops pass int: 0.
 *  - f32: |gpu − cpu| ≤ atol + rtol·|cpu| (1e-4, 1e-4 by default)
 *  - f16: one half-precision ulp: rtol 1e-3, atol 1e-3.
 */
import assert from 'node:assert/strict';
import { isIntegerDType, readElement } from '../../src/dtype.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import type { Tensor } from '../../src/tensor.js';

export interface Tolerance {
  int?: number;
  atol?: number;
  rtol?: number;
  /** Fraction of elements allowed outside the tolerance (default 0). */
  outliers?: number;
}

export function assertClose(actual: Tensor, expected: Tensor, tol: Tolerance = {}, what = ''): void {
  assert.deepEqual([...actual.shape], [...expected.shape], `${what} shape`);
  assert.equal(actual.dtype, expected.dtype, `${what} dtype`);
  const integer = isIntegerDType(expected.dtype);
  const f16 = expected.dtype === 'f16';
  const atol = integer ? (tol.int ?? 1) : (tol.atol ?? (f16 ? 1e-3 : 1e-4));
  const rtol = integer ? 0 : (tol.rtol ?? (f16 ? 1e-3 : 1e-4));
  let bad = 0;
  let worst = { i: -1, a: 0, e: 0, d: 0 };
  for (let i = 0; i < expected.size; i++) {
    const a = readElement(actual.dtype, actual.data, i);
    const e = readElement(expected.dtype, expected.data, i);
    const d = Math.abs(a - e);
    const ok = d <= atol + rtol * Math.abs(e) || (Number.isNaN(a) && Number.isNaN(e)) || a === e;
    if (!ok) {
      bad++;
      if (!(d <= worst.d)) worst = { i, a, e, d };
    }
  }
  const allowed = Math.floor((tol.outliers ?? 0) * expected.size);
  assert.ok(
    bad <= allowed,
    `${what}: ${bad} of ${expected.size} elements differ beyond tolerance (allowed ${allowed}); worst at ${worst.i}: got ${worst.a}, expected ${worst.e}`,
  );
}

/** Bit for bit. */
export const EXACT: Tolerance = { int: 0, atol: 0, rtol: 0 };

/**
 * GPU = CPU for arithmetic (not exact maps): bit for bit on software adapters (lavapipe, CI), whose
 * compiler keeps f32 operations as written. A hardware GPU's compiler may fuse a·b + c into one
 * multiply-add (WGSL allows it; NVIDIA's does), so there f32 results differ in the last bits and an
 * integer by one where the value lies within such a rounding of a .5 tie.
 */
export function arithmeticExact(gpu: Gpu): Tolerance {
  return gpu.info.isCpu ? EXACT : { int: 1, atol: 1e-6, rtol: 1e-6 };
}

/** `actual` with each number that lies within rtol of its counterpart in `expected` replaced by it (typed arrays compared as they are). */
function closeTo(actual: unknown, expected: unknown, rtol: number): unknown {
  if (typeof actual === 'number' && typeof expected === 'number') return Math.abs(actual - expected) <= rtol * Math.abs(expected) ? expected : actual;
  if (Array.isArray(actual) && Array.isArray(expected)) return actual.map((v, i) => closeTo(v, expected[i], rtol));
  if (actual && expected && typeof actual === 'object' && typeof expected === 'object' && !ArrayBuffer.isView(actual)) {
    const e = expected as Record<string, unknown>;
    return Object.fromEntries(Object.entries(actual).map(([k, v]) => [k, closeTo(v, e[k], rtol)]));
  }
  return actual;
}

/** deepEqual, except that numbers need only agree within `rtol`: results holding f32 sums a GPU adds in no fixed order (region means). */
export function assertDeepClose(actual: unknown, expected: unknown, rtol: number, what = ''): void {
  assert.deepEqual(closeTo(actual, expected, rtol), expected, what);
}
