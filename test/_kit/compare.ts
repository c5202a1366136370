/**
 * Comparing a GPU result with the CPU reference. Tolerances (docs/semantics.md):
 *  - integer outputs: |gpu − cpu| ≤ `int` (default 1: f32 sums summed in another order can land
 *    on the other side of a .5 tie); exact ops pass int: 0.
 *  - f32: |gpu − cpu| ≤ atol + rtol·|cpu| (1e-4, 1e-4 by default)
 *  - f16: one half-precision ulp: rtol 1e-3, atol 1e-3.
 */
import assert from 'node:assert/strict';
import { isIntegerDType, readElement } from '../../src/dtype.js';
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
