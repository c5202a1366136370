/** 3×3 matrices of pixel-edge coordinates (transform.ts), row-major, computed in double on the host. */
import type { Matrix3, Size } from './transform.js';

export const IDENTITY: Matrix3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** a·b: first b, then a. */
export function multiply(a: Matrix3, b: Matrix3): Matrix3 {
  const m = new Array<number>(9);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 3; c++) m[r * 3 + c] = a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!;
  }
  return m as unknown as Matrix3;
}

export function translation(tx: number, ty: number): Matrix3 {
  return [1, 0, tx, 0, 1, ty, 0, 0, 1];
}

export function scaling(sx: number, sy: number): Matrix3 {
  return [sx, 0, 0, 0, sy, 0, 0, 0, 1];
}

/**
 * Rotation by `degrees` counter-clockwise as seen on screen (y down), scaling by `scale`, shearing
 * by `shearX`/`shearY` degrees and translating by (tx, ty) pixels, all about the centre of a
 * `size` image: Albumentations' Affine (and cv.getRotationMatrix2D's sense of angle).
 */
export function affineAboutCentre(size: Size, degrees: number, scale: number, shearX: number, shearY: number, tx: number, ty: number): Matrix3 {
  const cx = size.width / 2;
  const cy = size.height / 2;
  const a = (degrees * Math.PI) / 180;
  const cos = Math.cos(a);
  const sin = Math.sin(a);
  const rotate: Matrix3 = [cos * scale, sin * scale, 0, -sin * scale, cos * scale, 0, 0, 0, 1];
  const shear: Matrix3 = [1, Math.tan((shearX * Math.PI) / 180), 0, Math.tan((shearY * Math.PI) / 180), 1, 0, 0, 0, 1];
  return multiply(translation(cx + tx, cy + ty), multiply(rotate, multiply(shear, translation(-cx, -cy))));
}

/** Whether the matrix is affine (last row 0, 0, 1). */
export function isAffine(m: Matrix3): boolean {
  return m[6] === 0 && m[7] === 0 && m[8] === 1;
}

/** Where (x, y) goes. */
export function mapPoint(m: Matrix3, x: number, y: number): [number, number] {
  const w = m[6] * x + m[7] * y + m[8];
  return [(m[0] * x + m[1] * y + m[2]) / w, (m[3] * x + m[4] * y + m[5]) / w];
}

/**
 * The same map in pixel-centre coordinates (pixel (i, j) at (j, i)), which the warp ops take:
 * T(−½)·M·T(½).
 */
export function toCentreCoordinates(m: Matrix3): Matrix3 {
  return multiply(translation(-0.5, -0.5), multiply(m, translation(0.5, 0.5)));
}

/**
 * The projective map taking the four points `from` to `to` (each [x, y] × 4), as
 * cv.getPerspectiveTransform: solves the 8×8 system by Gaussian elimination with partial pivoting.
 */
export function perspectiveFromPoints(from: readonly (readonly [number, number])[], to: readonly (readonly [number, number])[]): Matrix3 {
  const a: number[][] = [];
  for (let i = 0; i < 4; i++) {
    const [x, y] = from[i]!;
    const [u, v] = to[i]!;
    a.push([x, y, 1, 0, 0, 0, -x * u, -y * u, u]);
    a.push([0, 0, 0, x, y, 1, -x * v, -y * v, v]);
  }
  for (let c = 0; c < 8; c++) {
    let pivot = c;
    for (let r = c + 1; r < 8; r++) if (Math.abs(a[r]![c]!) > Math.abs(a[pivot]![c]!)) pivot = r;
    [a[c], a[pivot]] = [a[pivot]!, a[c]!];
    for (let r = 0; r < 8; r++) {
      if (r === c) continue;
      const f = a[r]![c]! / a[c]![c]!;
      for (let k = c; k < 9; k++) a[r]![k]! -= f * a[c]![k]!;
    }
  }
  const h = a.map((row, i) => row[8]! / row[i]!);
  return [h[0]!, h[1]!, h[2]!, h[3]!, h[4]!, h[5]!, h[6]!, h[7]!, 1];
}
