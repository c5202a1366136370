/**
 * The elementwise engine of the nn primitives: out[i] = f(a, b, c) over an output shape that each
 * input broadcasts to (stride 0 along broadcast axes) or reads as a view (permute, slice), and an
 * output that may itself be a view (concatenation writes into a slice). One program per op and mode: 'flat' when every operand is contiguous over
 * the output's shape (no index arithmetic), 'strided' otherwise (axes collapsed first, so most
 * views index one or two axes). Math in f32 on the GPU; the CPU reference computes in f64 and
 * rounds once on store (within a few f32 ulps of the GPU).
 */
import { KensaError } from '../errors.js';
import type { DType } from '../dtype.js';
import type { ProgramInfo } from '../gpu/program.js';
import { numel, type Shape, type Tensor } from '../tensor.js';
import { broadcastStrides, collapse, cpuStorage, emptyOn, gpuOf, lanes8, launchCpu, launchGpu } from './launch.js';

type Fn = (a: number, b: number, c: number, p: number, i: number, seed: number) => number;

interface MapOpDef {
  readonly arity: 0 | 1 | 2 | 3;
  /** WGSL expression over a, b, c (f32 inputs), p (the op's scalar), i (output element) and seed. */
  readonly wgsl: string;
  readonly cpu: Fn;
}

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const softplusNeg = (x: number): number => Math.log(1 + Math.exp(-Math.abs(x))) + Math.max(-x, 0);

/** x^p for a scalar p: exact squares, odd integer powers of negatives negative, 0^0 = 1. */
export function powScalar(x: number, p: number): number {
  if (p === 2) return x * x;
  return x < 0 && Number.isInteger(p) ? (p % 2 === 0 ? 1 : -1) * Math.abs(x) ** p : x ** p;
}

/** pcg hash (O'Neill), the same bits in WGSL and TypeScript. */
export function pcgHash(v: number): number {
  const s = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const w = Math.imul(((s >>> ((s >>> 28) + 4)) ^ s) >>> 0, 277803737) >>> 0;
  return ((w >>> 22) ^ w) >>> 0;
}

/** The dropout factor of element i: 0 with probability p, else 1 / (1 − p). */
export function dropoutKeep(i: number, seed: number, p: number): number {
  const r = (pcgHash((i ^ pcgHash(seed)) >>> 0) >>> 8) / 16777216;
  return r < p ? 0 : 1 / (1 - p);
}

const WGSL_HELPERS = /* wgsl */ `
fn pow_s(x: f32, p: f32) -> f32 {
  if (p == 2.0) { return x * x; }
  if (p == 0.0) { return 1.0; }
  let m = pow(abs(x), p);
  if (x < 0.0 && fract(p) == 0.0) { return select(m, -m, fract(p * 0.5) != 0.0); }
  if (x < 0.0) { return sqrt(x); } // NaN, as a negative base to a fractional power
  return m;
}
fn sigmoid_f(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn pcg_hash(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn dropout_keep(i: u32, seed: u32, p: f32) -> f32 {
  let r = f32(pcg_hash(i ^ pcg_hash(seed)) >> 8u) / 16777216.0;
  return select(1.0 / (1.0 - p), 0.0, r < p);
}
`;

export const MAP_OPS = {
  fill: { arity: 0, wgsl: 'p', cpu: (_a, _b, _c, p) => p },
  // the output element's linear index (class indices, positions)
  index: { arity: 0, wgsl: 'f32(i)', cpu: (_a, _b, _c, _p, i) => i },
  copy: { arity: 1, wgsl: 'a', cpu: (a) => a },
  neg: { arity: 1, wgsl: '-a', cpu: (a) => -a },
  scale: { arity: 1, wgsl: 'a * p', cpu: (a, _b, _c, p) => a * p },
  add_scalar: { arity: 1, wgsl: 'a + p', cpu: (a, _b, _c, p) => a + p },
  exp: { arity: 1, wgsl: 'exp(a)', cpu: (a) => Math.exp(a) },
  log: { arity: 1, wgsl: 'log(a)', cpu: (a) => Math.log(a) },
  sqrt: { arity: 1, wgsl: 'sqrt(a)', cpu: (a) => Math.sqrt(a) },
  pow: { arity: 1, wgsl: 'pow_s(a, p)', cpu: (a, _b, _c, p) => powScalar(a, p) },
  relu: { arity: 1, wgsl: 'max(a, 0.0)', cpu: (a) => Math.max(a, 0) },
  leaky_relu: { arity: 1, wgsl: 'select(a * p, a, a > 0.0)', cpu: (a, _b, _c, p) => (a > 0 ? a : a * p) },
  sigmoid: { arity: 1, wgsl: 'sigmoid_f(a)', cpu: (a) => sigmoid(a) },
  silu: { arity: 1, wgsl: 'a * sigmoid_f(a)', cpu: (a) => a * sigmoid(a) },
  dropout: { arity: 1, wgsl: 'a * dropout_keep(i, seed, p)', cpu: (a, _b, _c, p, i, seed) => a * dropoutKeep(i, seed, p) },
  add: { arity: 2, wgsl: 'a + b', cpu: (a, b) => a + b },
  sub: { arity: 2, wgsl: 'a - b', cpu: (a, b) => a - b },
  mul: { arity: 2, wgsl: 'a * b', cpu: (a, b) => a * b },
  div: { arity: 2, wgsl: 'a / b', cpu: (a, b) => a / b },
  eq: { arity: 2, wgsl: 'select(0.0, 1.0, a == b)', cpu: (a, b) => (a === b ? 1 : 0) },
  // gradients: a is the upstream gradient, b the saved input or output
  relu_grad: { arity: 2, wgsl: 'select(0.0, a, b > 0.0)', cpu: (a, b) => (b > 0 ? a : 0) },
  leaky_relu_grad: { arity: 2, wgsl: 'select(a * p, a, b > 0.0)', cpu: (a, b, _c, p) => (b > 0 ? a : a * p) },
  sigmoid_grad: { arity: 2, wgsl: 'a * b * (1.0 - b)', cpu: (a, b) => a * b * (1 - b) },
  silu_grad: {
    arity: 2,
    wgsl: 'a * sigmoid_f(b) * (1.0 + b * (1.0 - sigmoid_f(b)))',
    cpu: (a, b) => a * sigmoid(b) * (1 + b * (1 - sigmoid(b))),
  },
  sqrt_grad: { arity: 2, wgsl: 'a * 0.5 / b', cpu: (a, b) => (a * 0.5) / b },
  pow_grad: { arity: 2, wgsl: 'a * p * pow_s(b, p - 1.0)', cpu: (a, b, _c, p) => a * p * powScalar(b, p - 1) },
  // a: logits x, b: targets y, p: pos_weight
  bce_logits: {
    arity: 2,
    wgsl: '(1.0 - b) * a + (1.0 + (p - 1.0) * b) * (log(1.0 + exp(-abs(a))) + max(-a, 0.0))',
    cpu: (a, b, _c, p) => (1 - b) * a + (1 + (p - 1) * b) * softplusNeg(a),
  },
  // a batch norm folded into the convolution before it: a: γ, b: running variance, p: ε → the scale s
  bn_scale: { arity: 2, wgsl: 'a / sqrt(b + p)', cpu: (a, b, _c, p) => a / Math.sqrt(b + p) },
  // a: β, b: running mean (less the conv's bias), c: s → the folded bias
  bn_shift: { arity: 3, wgsl: 'a - b * c', cpu: (a, b, c) => a - b * c },
  // a: gradient, b: divisor, c: the quotient (the gradient of a / b with respect to b)
  div_grad: { arity: 3, wgsl: '-a * c / b', cpu: (a, b, c) => (-a * c) / b },
  // a: gradient, b: logits, c: targets
  bce_logits_grad: {
    arity: 3,
    wgsl: 'a * ((1.0 - c) - (1.0 + (p - 1.0) * c) * (1.0 - sigmoid_f(b)))',
    cpu: (a, b, c, p) => a * (1 - c - (1 + (p - 1) * c) * (1 - sigmoid(b))),
  },
  // a: gradient, b: input, c: its maximum; only the maxima pass the gradient
  max_grad: { arity: 3, wgsl: 'select(0.0, a, b == c)', cpu: (a, b, c) => (b === c ? a : 0) },
} as const satisfies Record<string, MapOpDef>;

export type MapOp = keyof typeof MAP_OPS;
export type MapMode = 'flat' | 'strided';

const NAMES = ['a', 'b', 'c'] as const;
const WG = 256;
const programs = new Map<string, ProgramInfo>();

/** The program of `op` in `mode`; `dtypes` are its inputs' (f32, or i32 labels). */
export function mapProgram(op: MapOp, mode: MapMode, dtypes: readonly DType[]): ProgramInfo {
  const def: MapOpDef = MAP_OPS[op];
  const id = `${op}|${mode}|${dtypes.join(',')}`;
  let p = programs.get(id);
  if (p) return p;
  const names = NAMES.slice(0, def.arity);
  const strided = mode === 'strided';
  const index = strided
    ? `var rem = i;
  var o = u.o_offset;
  ${names.map((n) => `var o_${n} = u.${n}_offset;`).join('\n  ')}
  for (var d = 7i; d >= i32(8u - u.rank); d--) {
    let s = u.shape[d / 4][d % 4];
    let k = rem % s;
    rem = rem / s;
    o += k * u.o_strides[d / 4][d % 4];
    ${names.map((n) => `o_${n} += k * u.${n}_strides[d / 4][d % 4];`).join('\n    ')}
  }`
    : `let o = i;\n  ${names.map((n) => `let o_${n} = i;`).join('\n  ')}`;
  const loads = names.map((n) => `let ${n} = ${n}_load(o_${n});`).join('\n  ');
  const axes = (n: string) =>
    strided
      ? [
          { name: `${n}_strides`, type: { array: 'vec4u', length: 2 } as const },
          { name: `${n}_offset`, type: 'u32' as const },
        ]
      : [];
  p = {
    name: `nn_${op}`,
    key: mode,
    inputs: names.map((n, k) => ({ name: n, dtype: dtypes[k] ?? 'f32' })),
    outputs: [{ name: 'out', dtype: 'f32' }],
    uniforms: [
      { name: 'numel', type: 'u32' },
      { name: 'p', type: 'f32' },
      { name: 'seed', type: 'u32' },
      { name: 'rank', type: 'u32' },
      ...(strided ? [{ name: 'shape', type: { array: 'vec4u', length: 2 } as const }] : []),
      ...axes('o'),
      ...names.flatMap(axes),
    ],
    workgroupSize: WG,
    body: /* wgsl */ `
${WGSL_HELPERS}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.numel) { return; }
  let p = u.p;
  let seed = u.seed;
  ${index}
  ${loads}
  out[o] = ${def.wgsl};
}`,
  };
  programs.set(id, p);
  return p;
}

export interface MapOptions {
  /** The op's scalar p (pow's exponent, leaky slope, pos_weight, a fill value). */
  p?: number;
  seed?: number;
  /** Write here (a tensor or a view, apart from the inputs) instead of a new tensor. */
  into?: Tensor;
}

/** Runs `op` over `inputs` broadcast to `shape`; returns the output (new, or `into`). */
export function runMap(op: MapOp, inputs: readonly Tensor[], shape: Shape, options: MapOptions = {}): Tensor {
  const def: MapOpDef = MAP_OPS[op];
  if (inputs.length !== Math.max(def.arity, 1) && !(def.arity === 0 && inputs.length === 1))
    throw new KensaError('KENSA_ERR_INTERNAL', `map ${op}: expected ${def.arity} inputs but received ${inputs.length}`);
  const operands = def.arity === 0 ? [] : inputs;
  const out = options.into ?? emptyOn(inputs[0]!, shape);
  const p = Math.fround(options.p ?? 0);
  const seed = (options.seed ?? 0) >>> 0;
  const { shape: axes, strides } = collapse(shape, [out.strides, ...operands.map((t) => broadcastStrides(t, shape))]);
  const n = numel(shape);
  const gpu = gpuOf(inputs[0]!);
  if (!gpu) {
    launchCpu();
    const o = cpuStorage(out);
    const srcs = operands.map((t) => cpuStorage(t));
    const offsets = [out.offset, ...operands.map((t) => t.offset)];
    const idx = new Array<number>(axes.length).fill(0);
    const at = [...offsets];
    const vals = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < srcs.length; k++) vals[k] = srcs[k]![at[k + 1]!]!;
      o[at[0]!] = def.cpu(vals[0]!, vals[1]!, vals[2]!, p, i, seed);
      for (let d = axes.length - 1; d >= 0; d--) {
        for (let k = 0; k < at.length; k++) at[k]! += strides[k]![d]!;
        if (++idx[d]! < axes[d]!) break;
        for (let k = 0; k < at.length; k++) at[k]! -= strides[k]![d]! * axes[d]!;
        idx[d] = 0;
      }
    }
    return out;
  }
  const contiguous = (s: readonly number[]) => s.length === 1 && s[0] === 1;
  const flat = axes.length === 1 && strides.every(contiguous) && out.offset === 0 && operands.every((t) => t.offset === 0);
  const program = mapProgram(
    op,
    flat ? 'flat' : 'strided',
    operands.map((t) => t.dtype),
  );
  const uniforms: Record<string, number | number[]> = { numel: n, p, seed, rank: axes.length };
  if (!flat) {
    uniforms.shape = lanes8(axes, 1);
    uniforms.o_strides = lanes8(strides[0]!, 0);
    uniforms.o_offset = out.offset;
    operands.forEach((t, k) => {
      uniforms[`${NAMES[k]}_strides`] = lanes8(strides[k + 1]!, 0);
      uniforms[`${NAMES[k]}_offset`] = t.offset;
    });
  }
  const ref = (t: Tensor) => {
    const s = t.storage;
    if (!('ref' in s))
      throw new KensaError('KENSA_ERR_DEVICE_MISMATCH', 'Expected all tensors of an nn operation on one device but received tensors on different devices');
    return s.ref;
  };
  const outRef = ref(out);
  for (const t of operands) {
    if (ref(t).buffer === outRef.buffer)
      throw new KensaError('KENSA_ERR_INTERNAL', `map ${op}: an input shares the output's buffer (WebGPU refuses it in one dispatch)`);
  }
  launchGpu(gpu, { program, inputs: operands.map(ref), outputs: [outRef], uniforms, workgroups: Math.ceil(n / WG) });
  return out;
}

/** Every map program variant (f32 inputs), for compile-all tests. */
export function mapPrograms(): ProgramInfo[] {
  const out: ProgramInfo[] = [];
  for (const op of Object.keys(MAP_OPS) as MapOp[]) {
    const f32 = new Array<DType>(MAP_OPS[op].arity).fill('f32');
    for (const mode of ['flat', 'strided'] as const) out.push(mapProgram(op, mode, f32));
  }
  out.push(mapProgram('eq', 'strided', ['i32', 'f32']));
  return out;
}
