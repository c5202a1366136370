/**
 * The f32 SIMT implicit-GEMM engine the convolutions share: C[g][m][n] = Σ_k A[g][m][k] · B[g][k][n]
 * for each group g, where the op supplies A, B and C as WGSL functions of their indices
 * (`load_a(g, m, k)`, `load_b(g, k, n)`, `store_c(g, m, n, v, split)`) instead of matrices, so a
 * convolution gathers its im2col operand on the fly and never materialises it.
 *
 * A workgroup computes one BM×BN tile of C: each step stages a BK-deep slice of A and B in
 * workgroup memory (each thread loads BM·BK/WG and BN·BK/WG elements, along whichever index is
 * contiguous in global memory, so neighbouring threads read neighbouring words), then every thread
 * accumulates TM×TN outputs in registers from TM + TN shared reads per k (register blocking).
 * A thread's rows and columns are strided by the thread grid, so a warp's shared reads hit distinct
 * banks and its stores to C are contiguous along n.
 *
 * Split-K: with `splits` > 1 the K range is cut into chunks of `kChunk`, one per slice of the
 * grid; `store_c` receives the slice so the op can write partial sums, reduced by `sumSplits`.
 */
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import type { OutputBinding, ProgramInfo, TensorBinding } from '../../gpu/program.js';
import type { UniformField, UniformValues } from '../../gpu/uniforms.js';
import { overriding } from '../../kernels/tuning.js';

/** Output-tile shapes: BM×BN outputs per workgroup of 256 threads, TM×TN per thread. */
export const GEMM_TILES = {
  32: { bm: 32, bn: 32, tm: 2, tn: 2 },
  64: { bm: 64, bn: 64, tm: 4, tn: 4 },
  128: { bm: 128, bn: 128, tm: 8, tn: 8 },
} as const;
export type GemmTile = keyof typeof GEMM_TILES;
export const GEMM_TILE_SIZES: readonly GemmTile[] = [32, 64, 128];

const BK = 16;
const WG = 256;

export interface GemmSpec {
  readonly name: string;
  /** Variant key of the op's own text (flags); the tile is appended. */
  readonly key: string;
  readonly inputs: readonly TensorBinding[];
  readonly outputs: readonly OutputBinding[];
  /** The op's uniforms; the engine adds m, n, k, groups, splits and k_chunk. */
  readonly uniforms: readonly UniformField[];
  /** WGSL defining load_a(g, m, k) -> f32, load_b(g, k, n) -> f32 and store_c(g, m, n, v, split). */
  readonly functions: string;
  /** Contiguous index of A ('m' or 'k') and of B ('k' or 'n'). */
  readonly aAlong: 'm' | 'k';
  readonly bAlong: 'k' | 'n';
}

/** The GEMM's sizes: `groups` independent M×K by K×N products. */
export interface GemmSize {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly groups: number;
}

/** Kernel choices (frozen; tests and benches reach the others through withGemmTuning). */
export interface GemmTuning {
  /** Output tile; 'auto' picks by the problem's size. */
  readonly tile: GemmTile | 'auto';
}
let gemmTuning: GemmTuning = Object.freeze({ tile: 'auto' });

/** Runs `fn` with other GEMM kernel choices (see kernels/tuning.ts). */
export function withGemmTuning<R>(overrides: Partial<GemmTuning>, fn: () => R): R {
  return overriding(gemmTuning, (t) => (gemmTuning = t), overrides, fn);
}

/** The tile for a problem: the largest whose grid still gives a few waves of workgroups on a large GPU. */
export function pickTile(size: GemmSize): GemmTile {
  if (gemmTuning.tile !== 'auto') return gemmTuning.tile;
  const tiles = (t: GemmTile) => Math.ceil(size.m / GEMM_TILES[t].bm) * Math.ceil(size.n / GEMM_TILES[t].bn) * size.groups;
  if (size.m >= 128 && size.n >= 128 && tiles(128) >= 256) return 128;
  if (size.m >= 48 && size.n >= 48 && tiles(64) >= 64) return 64;
  return 32;
}

const GEMM_UNIFORMS: readonly UniformField[] = [
  { name: 'm', type: 'u32' },
  { name: 'n', type: 'u32' },
  { name: 'k', type: 'u32' },
  { name: 'groups', type: 'u32' },
  { name: 'splits', type: 'u32' },
  { name: 'k_chunk', type: 'u32' },
];

/** Staging of one operand: each thread loads `per` elements of a `rows`(k)×`cols` tile along `along`. */
function stageLoop(tile: 'a' | 'b', cols: number, kAlong: boolean): string {
  const per = (cols * BK) / WG;
  const [r, c] = kAlong ? [`e % ${BK}u`, `e / ${BK}u`] : [`e / ${cols}u`, `e % ${cols}u`];
  const [lo, hi] = tile === 'a' ? ['m0 + c', 'u.m'] : ['n0 + c', 'u.n'];
  const load = tile === 'a' ? 'load_a(g, mn, kk)' : 'load_b(g, kk, mn)';
  return `
    for (var i = 0u; i < ${per}u; i++) {
      let e = li + i * WG;
      let r = ${r};
      let c = ${c};
      let mn = ${lo};
      let kk = k0 + r;
      var v = 0.0;
      if (mn < ${hi} && kk < k_end) { v = ${load}; }
      tile_${tile}[r * ${cols}u + c] = v;
    }`;
}

export function gemmProgram(spec: GemmSpec, tile: GemmTile): ProgramInfo {
  const { bm, bn, tm, tn } = GEMM_TILES[tile];
  const threadsN = bn / tn;
  return {
    name: spec.name,
    key: `${spec.key}${spec.key ? ',' : ''}tile${tile}`,
    inputs: spec.inputs,
    outputs: spec.outputs,
    uniforms: [...GEMM_UNIFORMS, ...spec.uniforms],
    workgroupSize: WG,
    body: /* wgsl */ `
const BM: u32 = ${bm}u;
const BN: u32 = ${bn}u;
const BK: u32 = ${BK}u;
var<workgroup> tile_a: array<f32, ${bm * BK}>;
var<workgroup> tile_b: array<f32, ${bn * BK}>;
${spec.functions}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let tiles_n = (u.n + BN - 1u) / BN;
  let per_group = ((u.m + BM - 1u) / BM) * tiles_n;
  let t = linear_workgroup(wid, nwg);
  if (t >= per_group * u.groups * u.splits) { return; }
  let split = t / (per_group * u.groups);
  let g = (t / per_group) % u.groups;
  let m0 = ((t % per_group) / tiles_n) * BM;
  let n0 = (t % tiles_n) * BN;
  let k_begin = split * u.k_chunk;
  let k_end = min(u.k, k_begin + u.k_chunk);
  let tx = li % ${threadsN}u;
  let ty = li / ${threadsN}u;
  var acc: array<array<f32, ${tn}>, ${tm}>;
  var a: array<f32, ${tm}>;
  var b: array<f32, ${tn}>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {${stageLoop('a', bm, spec.aAlong === 'k')}${stageLoop('b', bn, spec.bAlong === 'k')}
    workgroupBarrier();
    for (var r = 0u; r < BK; r++) {
      for (var i = 0u; i < ${tm}u; i++) { a[i] = tile_a[r * BM + ty + i * ${bm / tm}u]; }
      for (var j = 0u; j < ${tn}u; j++) { b[j] = tile_b[r * BN + tx + j * ${threadsN}u]; }
      for (var i = 0u; i < ${tm}u; i++) {
        for (var j = 0u; j < ${tn}u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < ${tm}u; i++) {
    let m = m0 + ty + i * ${bm / tm}u;
    for (var j = 0u; j < ${tn}u; j++) {
      let n = n0 + tx + j * ${threadsN}u;
      if (m < u.m && n < u.n) { store_c(g, m, n, acc[i][j], split); }
    }
  }
}`,
  };
}

/** Records one GEMM: the grid covers every tile of every group and K slice. */
export function runGemm(
  gpu: Gpu,
  program: (tile: GemmTile) => ProgramInfo,
  size: GemmSize,
  inputs: readonly BufferRef[],
  outputs: readonly BufferRef[],
  uniforms: UniformValues,
  splits = 1,
): void {
  const tile = pickTile(size);
  const { bm, bn } = GEMM_TILES[tile];
  const kChunk = Math.ceil(size.k / splits / BK) * BK;
  gpu.dispatch({
    program: program(tile),
    inputs,
    outputs,
    uniforms: { ...uniforms, m: size.m, n: size.n, k: size.k, groups: size.groups, splits, k_chunk: kChunk },
    workgroups: Math.ceil(size.m / bm) * Math.ceil(size.n / bn) * size.groups * splits,
  });
}

/**
 * K slices for a GEMM whose output grid is too small to fill the GPU (a weight gradient sums over
 * every output pixel of the batch): enough slices for ~512 workgroups, each at least 1024 deep.
 */
export function splitsFor(size: GemmSize): number {
  const { bm, bn } = GEMM_TILES[pickTile(size)];
  const tiles = Math.ceil(size.m / bm) * Math.ceil(size.n / bn) * size.groups;
  return Math.max(1, Math.min(Math.ceil(512 / tiles), Math.floor(size.k / 1024)));
}

const SUM_WG = 256;
const sumSplitsInfo: ProgramInfo = {
  name: 'gemm_sum_splits',
  key: '',
  inputs: [{ name: 'part', dtype: 'f32' }],
  outputs: [{ name: 'y', dtype: 'f32' }],
  uniforms: [
    { name: 'count', type: 'u32' },
    { name: 'splits', type: 'u32' },
  ],
  workgroupSize: SUM_WG,
  body: /* wgsl */ `
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.count) { return; }
  var s = 0.0;
  for (var p = 0u; p < u.splits; p++) { s += part[p * u.count + i]; }
  y[i] = s;
}`,
};

/** Sums `splits` partial results of `count` elements each (slice-major in `part`) into `out`. */
export function sumSplits(gpu: Gpu, part: BufferRef, out: BufferRef, count: number, splits: number): void {
  gpu.dispatch({ program: sumSplitsInfo, inputs: [part], outputs: [out], uniforms: { count, splits }, workgroups: Math.ceil(count / SUM_WG) });
}

/** The engine's own programs, for compile-all tests. */
export function gemmEnginePrograms(): ProgramInfo[] {
  return [sumSplitsInfo];
}
