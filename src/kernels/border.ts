/**
 * Border modes, as OpenCV's borderInterpolate defines them (BORDER_DEFAULT = reflect101):
 *   reflect101  gfedcb|abcdefgh|gfedcba
 *   replicate   aaaaaa|abcdefgh|hhhhhhh
 *   constant    vvvvvv|abcdefgh|vvvvvvv   (v = borderValue, default 0)
 * The TypeScript and WGSL versions below are the one definition both backends use.
 */
import { oneOf } from '../validate.js';

export const BORDER_MODES = ['reflect101', 'replicate', 'constant'] as const;
export type BorderMode = (typeof BORDER_MODES)[number];

export function checkBorder(name: string, v: unknown): BorderMode {
  return v === undefined ? 'reflect101' : oneOf(name, v, BORDER_MODES);
}

/** Source index for index p of an axis of length n, or -1 for the constant border. */
export function borderIndex(p: number, n: number, mode: BorderMode): number {
  if (p >= 0 && p < n) return p;
  switch (mode) {
    case 'replicate':
      return p < 0 ? 0 : n - 1;
    case 'constant':
      return -1;
    case 'reflect101': {
      if (n === 1) return 0;
      let q = p;
      while (q < 0 || q >= n) q = q < 0 ? -q : 2 * n - 2 - q;
      return q;
    }
  }
}

/** WGSL `fn border(p: i32, n: i32) -> i32` for one mode (part of a program's variant key). */
export function wgslBorder(mode: BorderMode): string {
  switch (mode) {
    case 'replicate':
      return 'fn border(p: i32, n: i32) -> i32 { return clamp(p, 0, n - 1); }';
    case 'constant':
      return 'fn border(p: i32, n: i32) -> i32 { return select(-1, p, p >= 0 && p < n); }';
    case 'reflect101':
      return `fn border(p: i32, n: i32) -> i32 {
  if (n == 1) { return 0; }
  var q = p;
  loop {
    if (q < 0) { q = -q; } else if (q >= n) { q = 2 * n - 2 - q; } else { break; }
  }
  return q;
}`;
  }
}
