/**
 * Ops `kensa bench` and `kensa doctor` know, by name: two presets (`gaussian`, `crack`) and every
 * op the families export, called as `op(x, ...args)` with the arguments `--args` gives. Each takes
 * an N×C×H×W batch and returns its result on the batch's device (GPU work is recorded, not waited
 * for); what it returns may be a tensor, a promise, or an object or array holding tensors.
 */
import * as analysis from '../ops/analysis/index.js';
import * as color from '../ops/color/index.js';
import { customKernel } from '../ops/custom/kernel.js';
import * as features from '../ops/features/index.js';
import * as filters from '../ops/filters/index.js';
import { gaussianBlur } from '../ops/filters/gaussian.js';
import * as geometry from '../ops/geometry/index.js';
import * as morphology from '../ops/morphology/index.js';
import * as threshold from '../ops/threshold/index.js';
import { Tensor } from '../tensor.js';

export type BenchOp = (x: Tensor) => Tensor;
/** What `kensa bench` times: a preset or a family op with its arguments bound. */
export type TimedOp = (x: Tensor) => unknown;

/**
 * The crack kernel as a custom kernel: 255 where the central-difference gradient magnitude
 * sqrt(((I[y,x+1] − I[y,x−1]) / 2)² + ((I[y+1,x] − I[y−1,x]) / 2)²) exceeds `threshold`, else 0
 * (border reflect101). Evaluated squared and unhalved, so integer inputs are exact in f32 on both
 * backends.
 */
export const crackKernel = customKernel({
  name: 'crack',
  uniforms: { threshold: 'f32' },
  pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let yi = i32(y);
  let xi = i32(x);
  let gx = x_at(n, c, yi, xi + 1) - x_at(n, c, yi, xi - 1);
  let gy = x_at(n, c, yi + 1, xi) - x_at(n, c, yi - 1, xi);
  let t = 2.0 * u.threshold;
  return select(0.0, 255.0, gx * gx + gy * gy > t * t);
}`,
  cpu: ({ x }, { threshold }, n, c, y, xx) => {
    const gx = Math.fround(x.at(n, c, y, xx + 1) - x.at(n, c, y, xx - 1));
    const gy = Math.fround(x.at(n, c, y + 1, xx) - x.at(n, c, y - 1, xx));
    const t = Math.fround(2 * threshold);
    return Math.fround(Math.fround(gx * gx) + Math.fround(gy * gy)) > Math.fround(t * t) ? 255 : 0;
  },
});

/** Threshold of the crack op in bench: 8 % of the dtype's range (u8 20, floats 0.08). */
function crackThreshold(x: Tensor): number {
  return x.dtype === 'u8' ? 20 : x.dtype === 'u16' ? 5000 : x.dtype === 'i32' ? 80 : 0.08;
}

/** The presets, with their arguments chosen (the names `--op` has always taken). */
export const benchOps: Record<string, BenchOp> = {
  gaussian: (x) => gaussianBlur(x, { sigma: 2 }),
  crack: (x) => crackKernel(x, { uniforms: { threshold: crackThreshold(x) }, dtype: 'u8' }),
};

type AnyOp = (x: Tensor, ...args: unknown[]) => unknown;

/** Functions the families export that compute parameters (kernels, shapes, levels), not images. */
const NOT_OPS = new Set(['defaultMaxval', 'invertAffine', 'pyrDownShape', 'scharrKernels', 'sobelKernel1d', 'sobelKernels', 'structuringElement']);

/** Every op function of the families, by its exported name (program lists and helpers that are not ops are left out). */
export const familyOps: Readonly<Record<string, AnyOp>> = Object.freeze(
  Object.fromEntries(
    [analysis, color, features, filters, geometry, morphology, threshold]
      .flatMap((family) => Object.entries(family as Record<string, unknown>))
      .filter((e): e is [string, AnyOp] => typeof e[1] === 'function' && /^[a-z]/.test(e[0]) && !e[0].endsWith('Programs') && !NOT_OPS.has(e[0]))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  ),
);

/** The names `--op` takes: the presets first, then every family op. */
export const OP_NAMES: readonly string[] = [...Object.keys(benchOps), ...Object.keys(familyOps)];

/** The op `name` applied with `args` (an options object, or an array of the arguments after x); undefined for an unknown name. */
export function benchOp(name: string, args: unknown): TimedOp | undefined {
  if (Object.hasOwn(benchOps, name)) return benchOps[name];
  if (!Object.hasOwn(familyOps, name)) return undefined;
  const op = familyOps[name]!;
  const rest = args === undefined ? [] : Array.isArray(args) ? args : [args];
  return (x) => op(x, ...rest);
}

/** The tensors an op's result holds (a tensor, or tensors inside arrays and plain objects). */
export function tensorsOf(value: unknown, into: Tensor[] = []): Tensor[] {
  if (value instanceof Tensor) into.push(value);
  else if (Array.isArray(value)) for (const v of value) tensorsOf(v, into);
  else if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) tensorsOf(v, into);
  return into;
}
