/**
 * Softmax and log-softmax along one axis, forward and backward. The tensor is seen as
 * [outer, n, inner] (the axis in the middle); a thread owns one row (o, i) and walks its n
 * elements, so rows along the channel axis of N×C×H×W maps read coalesced across threads.
 *   softmax      y = exp(x − max) / Σ exp(x − max)        dx = y · (g − Σ g·y)
 *   log-softmax  y = x − max − log Σ exp(x − max)          dx = g − exp(y) · Σ g
 */
import { KensaError } from '../errors.js';
import type { ProgramInfo } from '../gpu/program.js';
import type { Tensor } from '../tensor.js';
import { cpuStorage, emptyOn, gpuOf, launchCpu, launchGpu } from './launch.js';

export const SOFTMAX_KINDS = ['softmax', 'log_softmax', 'softmax_grad', 'log_softmax_grad'] as const;
export type SoftmaxKind = (typeof SOFTMAX_KINDS)[number];

const WG = 64;
const programs = new Map<SoftmaxKind, ProgramInfo>();

const BODIES: Record<SoftmaxKind, string> = {
  softmax: `var m = -0x1.fffffep+127f;
  for (var j = 0u; j < u.n; j++) { m = max(m, x[base + j * u.inner]); }
  var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += exp(x[base + j * u.inner] - m); }
  for (var j = 0u; j < u.n; j++) { out[base + j * u.inner] = exp(x[base + j * u.inner] - m) / s; }`,
  log_softmax: `var m = -0x1.fffffep+127f;
  for (var j = 0u; j < u.n; j++) { m = max(m, x[base + j * u.inner]); }
  var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += exp(x[base + j * u.inner] - m); }
  let l = m + log(s);
  for (var j = 0u; j < u.n; j++) { out[base + j * u.inner] = x[base + j * u.inner] - l; }`,
  softmax_grad: `var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += g[base + j * u.inner] * x[base + j * u.inner]; }
  for (var j = 0u; j < u.n; j++) { let y = x[base + j * u.inner]; out[base + j * u.inner] = y * (g[base + j * u.inner] - s); }`,
  log_softmax_grad: `var s = 0.0;
  for (var j = 0u; j < u.n; j++) { s += g[base + j * u.inner]; }
  for (var j = 0u; j < u.n; j++) { out[base + j * u.inner] = g[base + j * u.inner] - exp(x[base + j * u.inner]) * s; }`,
};

/** The program of `kind`; the gradients read the upstream gradient `g` and the forward's output as `x`. */
export function softmaxProgram(kind: SoftmaxKind): ProgramInfo {
  let p = programs.get(kind);
  if (!p) {
    const grad = kind.endsWith('_grad');
    p = {
      name: `nn_${kind}`,
      key: '',
      inputs: [{ name: 'x', dtype: 'f32' }, ...(grad ? [{ name: 'g', dtype: 'f32' as const }] : [])],
      outputs: [{ name: 'out', dtype: 'f32' }],
      uniforms: [
        { name: 'rows', type: 'u32' },
        { name: 'n', type: 'u32' },
        { name: 'inner', type: 'u32' },
      ],
      workgroupSize: WG,
      body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r = linear_workgroup(wid, nwg) * WG + li;
  if (r >= u.rows) { return; }
  let o = r / u.inner;
  let base = o * u.n * u.inner + (r - o * u.inner);
  ${BODIES[kind]}
}`,
    };
    programs.set(kind, p);
  }
  return p;
}

/** The CPU reference over numeric arrays of [outer, n, inner] (x: the input, or the forward's output for gradients). */
export function cpuSoftmax(
  kind: SoftmaxKind,
  x: ArrayLike<number>,
  g: ArrayLike<number> | null,
  out: { [i: number]: number },
  dims: { outer: number; n: number; inner: number },
): void {
  const { outer, n, inner } = dims;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      const at = (j: number) => base + j * inner;
      if (kind === 'softmax' || kind === 'log_softmax') {
        let m = -Infinity;
        for (let j = 0; j < n; j++) m = Math.max(m, x[at(j)]!);
        let s = 0;
        for (let j = 0; j < n; j++) s += Math.exp(x[at(j)]! - m);
        const l = m + Math.log(s);
        for (let j = 0; j < n; j++) out[at(j)] = kind === 'softmax' ? Math.exp(x[at(j)]! - m) / s : x[at(j)]! - l;
      } else {
        let s = 0;
        for (let j = 0; j < n; j++) s += kind === 'softmax_grad' ? g![at(j)]! * x[at(j)]! : g![at(j)]!;
        for (let j = 0; j < n; j++) out[at(j)] = kind === 'softmax_grad' ? x[at(j)]! * (g![at(j)]! - s) : g![at(j)]! - Math.exp(x[at(j)]!) * s;
      }
    }
  }
}

/** Runs `kind` along `axis` of contiguous f32 `x` (and `g` for gradients, of x's shape). */
export function runSoftmax(kind: SoftmaxKind, x: Tensor, axis: number, g?: Tensor): Tensor {
  const n = x.shape[axis]!;
  const outer = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const out = emptyOn(x, x.shape);
  const gpu = gpuOf(x);
  if (!gpu) {
    launchCpu();
    cpuSoftmax(kind, cpuStorage(x), g ? cpuStorage(g) : null, cpuStorage(out), { outer, n, inner });
    return out;
  }
  if (kind.endsWith('_grad') && !g) throw new KensaError('KENSA_ERR_INTERNAL', `${kind}: no gradient given`);
  launchGpu(gpu, {
    program: softmaxProgram(kind),
    inputs: g ? [x.gpu.ref, g.gpu.ref] : [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: { rows: outer * inner, n, inner },
    workgroups: Math.ceil((outer * inner) / WG),
  });
  return out;
}

export function softmaxPrograms(): ProgramInfo[] {
  return SOFTMAX_KINDS.map(softmaxProgram);
}
