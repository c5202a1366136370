/**
 * The f32 SIMT implicit-GEMM engine the convolutions share: C[g][m][n] = Σ_k A[g][m][k] · B[g][k][n]
 * for each group g, where the op supplies A, B and C as WGSL functions of their indices instead
 * of matrices, so a convolution gathers its im2col operand on the fly and never materialises it.
 * An element is read from two decoded indices, so staging divides only where an op must: `a_col(g, m)` /
 * `b_col(g, n)` decode a row of A or column of B into a vec4<i32> once per workgroup tile (a thread
 * stages the same rows and columns at every K step), `k_info(k)` decodes index k once per K step
 * into a table in workgroup memory, and `load_a(g, k, row, kinfo)` / `load_b(g, k, col, kinfo)`
 * read the element; `store_c(g, m, n, v, split)` writes a result.
 *
 * A workgroup computes one BM×BN tile of C: each step stages a BK-deep slice of A and B in
 * workgroup memory (each thread loads BM·BK/WG and BN·BK/WG elements, along whichever index is
 * contiguous in global memory, so neighbouring threads read neighbouring words), then every thread
 * accumulates TM×TN outputs in registers from TM + TN shared reads per k (register blocking).
 * A thread's rows and columns are strided by the thread grid, so a warp's shared reads hit distinct
 * banks and its stores to C are contiguous along n. The next step's global loads go into registers
 * before this step's arithmetic, so their latency overlaps it.
 *
 * Tensor cores (precision 'f16', once enableTensorCores found f16→f32 16×16×16 subgroup matrices,
 * 32-lane subgroups and a WGSL spelling the compiler takes): the same specs run on a second kernel
 * that stages f16 tiles (128×128×32, the same register prefetch) and
 * has each of its 8 subgroups multiply-accumulate a 64×32 block as 4×2 subgroup matrices in f32;
 * the results pass through workgroup memory to the op's `store_c`, so every epilogue works as is.
 *
 * Split-K: with `splits` > 1 the K range is cut into chunks of `kChunk`, one per slice of the
 * grid; `store_c` receives the slice so the op can write partial sums, reduced by `sumSplits`.
 */
import type { BufferRef, Gpu, GpuInfo } from '../../gpu/gpu.js';
import { textHash, type OutputBinding, type ProgramInfo, type TensorBinding } from '../../gpu/program.js';
import type { UniformField, UniformValues } from '../../gpu/uniforms.js';
import { overriding } from '../../kernels/tuning.js';
import { loadGemmChoices, saveGemmChoices, type StoredGemmChoice } from './gemm-store.js';

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
  /**
   * WGSL defining a_col(g, m) -> vec4<i32>, b_col(g, n) -> vec4<i32>, k_info(k) -> vec4<i32>,
   * load_a(g, k, row, kinfo: vec4<i32>) -> f32, load_b(g, k, col, kinfo: vec4<i32>) -> f32 and store_c(g, m, n, v, split).
   */
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
  /** Measure each problem's candidates (runMeasuredGemm); 'auto': on GPUs with timestamps, not on software adapters, whose timings say nothing of a GPU's. */
  readonly measure: boolean | 'auto';
}
let gemmTuning: GemmTuning = Object.freeze({ tile: 'auto', measure: 'auto' });

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

/**
 * Staging of one operand into `tile_<a|b>` ([k][m] or [k][n], `cols` wide, `depth` deep), split so
 * the next K step's global loads overlap this step's arithmetic: each thread loads cols·depth/WG
 * elements, neighbouring threads along k (`kAlong`) or along m/n. `fetchStep` loads this thread's
 * share of step `step` into registers `<tile>_next` (its k_info at `k_table[tableBase + r]`),
 * `storeStep` writes them to the workgroup tile (through `convert`: the tensor-core kernel stages f16).
 * The rows (columns) a thread loads are the same at every K step: `stageColumns` decodes them once
 * before the K loop (one along m/n, since WG is a multiple of `cols`; `per` along k).
 */
function fetchStep(tile: 'a' | 'b', cols: number, depth: number, kAlong: boolean, step: string, tableBase: string): string {
  const per = (cols * depth) / WG;
  const [r, c] = kAlong ? [`e % ${depth}u`, `e / ${depth}u`] : [`e / ${cols}u`, `e % ${cols}u`];
  const [lo, hi] = tile === 'a' ? ['m0 + c', 'u.m'] : ['n0 + c', 'u.n'];
  return `
    for (var i = 0u; i < ${per}u; i++) {
      let e = li + i * WG;
      let r = ${r};
      let c = ${c};
      let kk = ${step} + r;
      var v = 0.0;
      if (${lo} < ${hi} && kk < k_end) { v = load_${tile}(g, kk, ${kAlong ? `${tile}_lines[i]` : `${tile}_line`}, k_table[${tableBase} + r]); }
      ${tile}_next[i] = v;
    }`;
}

function storeStep(tile: 'a' | 'b', cols: number, depth: number, kAlong: boolean, convert = (v: string) => v): string {
  const per = (cols * depth) / WG;
  const [r, c] = kAlong ? [`e % ${depth}u`, `e / ${depth}u`] : [`e / ${cols}u`, `e % ${cols}u`];
  return `
    for (var i = 0u; i < ${per}u; i++) {
      let e = li + i * WG;
      tile_${tile}[(${r}) * ${cols}u + ${c}] = ${convert(`${tile}_next[i]`)};
    }`;
}

/**
 * The K loop both kernels share: the first step's k_info and loads before it; then per step, the
 * registers stored to the tiles, the next step's k_info (two tables alternate: one may still be
 * read) and loads issued, and `compute` on the tiles while those loads are in flight.
 */
function kLoop(bm: number, bn: number, depth: number, aK: boolean, bK: boolean, compute: string, convert?: (v: string) => string): string {
  return `
  var a_next: array<f32, ${(bm * depth) / WG}>;
  var b_next: array<f32, ${(bn * depth) / WG}>;
  if (li < ${depth}u) { k_table[li] = k_info(min(k_begin + li, u.k - 1u)); }
  workgroupBarrier();${fetchStep('a', bm, depth, aK, 'k_begin', '0u')}${fetchStep('b', bn, depth, bK, 'k_begin', '0u')}
  var slot = 0u;
  for (var k0 = k_begin; k0 < k_end; k0 += ${depth}u) {${storeStep('a', bm, depth, aK, convert)}${storeStep('b', bn, depth, bK, convert)}
    let next = k0 + ${depth}u;
    let next_slot = (1u - slot) * ${depth}u;
    if (li < ${depth}u) { k_table[next_slot + li] = k_info(min(next + li, u.k - 1u)); }
    workgroupBarrier();
    if (next < k_end) {${fetchStep('a', bm, depth, aK, 'next', 'next_slot')}${fetchStep('b', bn, depth, bK, 'next', 'next_slot')}
    }
${compute}
    workgroupBarrier();
    slot = 1u - slot;
  }`;
}

function stageColumns(tile: 'a' | 'b', cols: number, depth: number, kAlong: boolean): string {
  const [origin, size] = tile === 'a' ? ['m0', 'u.m'] : ['n0', 'u.n'];
  if (!kAlong) return `\n  let ${tile}_line = ${tile}_col(g, min(${origin} + li % ${cols}u, ${size} - 1u));`;
  const per = (cols * depth) / WG;
  return `
  var ${tile}_lines: array<vec4<i32>, ${per}>;
  for (var i = 0u; i < ${per}u; i++) { ${tile}_lines[i] = ${tile}_col(g, min(${origin} + (li + i * WG) / ${depth}u, ${size} - 1u)); }`;
}

/** The workgroup's place in the grid: group g, K slice `split`, output tile origin (m0, n0), K range. */
function tileOrigin(bm: number, bn: number): string {
  return `
  let tiles_n = (u.n + ${bn}u - 1u) / ${bn}u;
  let per_group = ((u.m + ${bm}u - 1u) / ${bm}u) * tiles_n;
  let t = linear_workgroup(wid, nwg);
  if (t >= per_group * u.groups * u.splits) { return; }
  let split = t / (per_group * u.groups);
  let g = (t / per_group) % u.groups;
  let m0 = ((t % per_group) / tiles_n) * ${bm}u;
  let n0 = (t % tiles_n) * ${bn}u;
  let k_begin = split * u.k_chunk;
  let k_end = min(u.k, k_begin + u.k_chunk);`;
}

export function gemmProgram(spec: GemmSpec, tile: GemmTile): ProgramInfo {
  const { bm, bn, tm, tn } = GEMM_TILES[tile];
  const threadsN = bn / tn;
  const aK = spec.aAlong === 'k';
  const bK = spec.bAlong === 'k';
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
// k_info of two K steps, alternating: a step's table is written while the previous one may still be read
var<workgroup> k_table: array<vec4<i32>, ${2 * BK}>;
${spec.functions}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
${tileOrigin(bm, bn)}
${stageColumns('a', bm, BK, aK)}${stageColumns('b', bn, BK, bK)}
  let tx = li % ${threadsN}u;
  let ty = li / ${threadsN}u;
  var acc: array<array<f32, ${tn}>, ${tm}>;
  var a: array<f32, ${tm}>;
  var b: array<f32, ${tn}>;
${kLoop(
  bm,
  bn,
  BK,
  aK,
  bK,
  `    for (var r = 0u; r < BK; r++) {
      for (var i = 0u; i < ${tm}u; i++) { a[i] = tile_a[r * BM + ty + i * ${bm / tm}u]; }
      for (var j = 0u; j < ${tn}u; j++) { b[j] = tile_b[r * BN + tx + j * ${threadsN}u]; }
      for (var i = 0u; i < ${tm}u; i++) {
        for (var j = 0u; j < ${tn}u; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }`,
)}
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

/** Products in f32 (SIMT) or f16 inputs with f32 accumulation on the tensor cores where the adapter has them (else f32). */
export const GEMM_PRECISIONS = ['f32', 'f16'] as const;
export type GemmPrecision = (typeof GEMM_PRECISIONS)[number];

const MMA = { bm: 128, bn: 128, bk: 32, lanes: 32 } as const;
/** f16 A and B tiles, two k tables, and one f32 16×16 block per subgroup for the epilogue. */
const MMA_SHARED_BYTES = 2 * MMA.bk * MMA.bm * 2 + 2 * MMA.bk * 16 + (WG / MMA.lanes) * 256 * 4;

/** Whether the tensor-core kernel can run on this adapter: f16→f32 16×16×16 matrices, 32-lane subgroups, its workgroup memory. */
export function tensorCoresFit(info: GpuInfo): boolean {
  const config = info.subgroupMatrixConfigs.some((c) => c.M === 16 && c.N === 16 && c.K === 16 && c.componentType === 'f16' && c.resultComponentType === 'f32');
  const lanes = info.limits.subgroupMinSize === MMA.lanes && info.limits.subgroupMaxSize === MMA.lanes;
  return info.f16 && config && lanes && (info.limits.maxComputeWorkgroupStorageSize ?? 0) >= MMA_SHARED_BYTES;
}

/**
 * How the WGSL spells the matrices' layout: current Dawn as a template argument
 * (`subgroupMatrixLoad<T, col_major>(p, offset, stride)`), its first releases as a bool argument.
 */
export const MATRIX_SPELLINGS = ['template', 'argument'] as const;
export type MatrixSpelling = (typeof MATRIX_SPELLINGS)[number];

const enabled = new WeakMap<Gpu, MatrixSpelling>();

/** The matrix spelling the tensor-core kernels use on `gpu`, or undefined while they are off. */
export function tensorCoreSpelling(gpu: Gpu): MatrixSpelling | undefined {
  return enabled.get(gpu);
}

/**
 * Turns the tensor-core kernel on for `gpu` where it fits: compiles it in the spelling the
 * device's WGSL compiler takes. Returns null once on, else why not; until then, precision 'f16'
 * runs in f32.
 */
export async function enableTensorCores(gpu: Gpu, spec: GemmSpec): Promise<string | null> {
  if (!tensorCoresFit(gpu.info)) return `${gpu.info.name} has no f16→f32 16×16×16 subgroup matrices with 32-lane subgroups`;
  const errors: string[] = [];
  for (const spelling of MATRIX_SPELLINGS) {
    try {
      await gpu.compile(mmaGemmProgram(spec, spelling));
      enabled.set(gpu, spelling);
      return null;
    } catch (e) {
      errors.push(`${spelling}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return `the tensor-core kernel did not compile: ${errors.join('; ')}`;
}

/** The tensor-core kernel of a spec: 8 subgroups of 32 lanes, 2 along m × 4 along n, each 4×2 blocks of 16×16. */
export function mmaGemmProgram(spec: GemmSpec, spelling: MatrixSpelling): ProgramInfo {
  const { bm, bn, bk } = MMA;
  const blocks = [0, 1, 2, 3].flatMap((i) => [0, 1].map((j) => ({ i, j, b: i * 2 + j })));
  const load = (type: string, ptr: string, offset: string, colMajor: boolean, stride: string) =>
    spelling === 'template'
      ? `subgroupMatrixLoad<${type}, ${colMajor ? 'col_major' : 'row_major'}>(${ptr}, ${offset}, ${stride})`
      : `subgroupMatrixLoad<${type}>(${ptr}, ${offset}, ${colMajor}, ${stride})`;
  const store = (value: string) =>
    spelling === 'template'
      ? `subgroupMatrixStore<row_major>(&tile_c, sg * 256u, ${value}, 16u)`
      : `subgroupMatrixStore(&tile_c, sg * 256u, ${value}, false, 16u)`;
  const left = (i: number) => `let a${i} = ${load('subgroup_matrix_left<f16, 16, 16>', '&tile_a', `kk * BM + sm + ${16 * i}u`, true, 'BM')};`;
  const right = (j: number) => `let b${j} = ${load('subgroup_matrix_right<f16, 16, 16>', '&tile_b', `kk * BN + sn + ${16 * j}u`, false, 'BN')};`;
  return {
    name: spec.name,
    key: `${spec.key}${spec.key ? ',' : ''}mma16x16x16,${spelling}`,
    inputs: spec.inputs,
    outputs: spec.outputs,
    uniforms: [...GEMM_UNIFORMS, ...spec.uniforms],
    workgroupSize: WG,
    extensions: ['subgroups', 'chromium_experimental_subgroup_matrix'],
    body: /* wgsl */ `
const BM: u32 = ${bm}u;
const BN: u32 = ${bn}u;
const BK: u32 = ${bk}u;
var<workgroup> tile_a: array<f16, ${bm * bk}>;
var<workgroup> tile_b: array<f16, ${bn * bk}>;
var<workgroup> k_table: array<vec4<i32>, ${2 * bk}>;
var<workgroup> tile_c: array<f32, ${(WG / MMA.lanes) * 256}>;
${spec.functions}
// The matrix offsets must be subgroup-uniform: Tint accepts them from the subgroup_id builtin, never from li / 32.
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(subgroup_id) sg: u32, @builtin(subgroup_invocation_id) lane: u32) {${tileOrigin(bm, bn)}
${stageColumns('a', bm, bk, spec.aAlong === 'k')}${stageColumns('b', bn, bk, spec.bAlong === 'k')}
  let sm = (sg / 4u) * 64u;
  let sn = (sg % 4u) * 32u;
  ${blocks.map(({ b }) => `var acc${b} = subgroup_matrix_result<f32, 16, 16>();`).join('\n  ')}
${kLoop(
  bm,
  bn,
  bk,
  spec.aAlong === 'k',
  spec.bAlong === 'k',
  `    for (var kk = 0u; kk < BK; kk += 16u) {
      ${[0, 1, 2, 3].map(left).join('\n      ')}
      ${[0, 1].map(right).join('\n      ')}
      ${blocks.map(({ i, j, b }) => `acc${b} = subgroupMatrixMultiplyAccumulate(a${i}, b${j}, acc${b});`).join('\n      ')}
    }`,
  (v) => `f16(${v})`,
)}
  ${blocks
    .map(
      ({ i, j, b }) => `${store(`acc${b}`)};
  workgroupBarrier();
  for (var e = 0u; e < 8u; e++) {
    let at = lane + e * ${MMA.lanes}u;
    let m = m0 + sm + ${16 * i}u + at / 16u;
    let n = n0 + sn + ${16 * j}u + at % 16u;
    if (m < u.m && n < u.n) { store_c(g, m, n, tile_c[sg * 256u + at], split); }
  }
  workgroupBarrier();`,
    )
    .join('\n  ')}
}`,
  };
}

/** The kernel a GEMM of `precision` runs on `gpu`: the tensor-core one for f16 where enableTensorCores turned it on, else the SIMT tile for its size. */
export interface GemmKernel {
  readonly program: ProgramInfo;
  readonly bm: number;
  readonly bn: number;
}

export function gemmKernel(gpu: Gpu, spec: (tile: GemmTile | MatrixSpelling) => ProgramInfo, size: GemmSize, precision: GemmPrecision): GemmKernel {
  const spelling = enabled.get(gpu);
  if (precision === 'f16' && spelling) return { program: spec(spelling), bm: MMA.bm, bn: MMA.bn };
  const tile = pickTile(size);
  return { program: spec(tile), ...GEMM_TILES[tile] };
}

/** Records one GEMM: the grid covers every tile of every group and K slice. */
export function runGemm(
  gpu: Gpu,
  kernel: GemmKernel,
  size: GemmSize,
  inputs: readonly BufferRef[],
  outputs: readonly BufferRef[],
  uniforms: UniformValues,
  splits = 1,
): void {
  const kChunk = Math.ceil(size.k / splits / MMA.bk) * MMA.bk;
  gpu.dispatch({
    program: kernel.program,
    inputs,
    outputs,
    uniforms: { ...uniforms, m: size.m, n: size.n, k: size.k, groups: size.groups, splits, k_chunk: kChunk },
    workgroups: Math.ceil(size.m / kernel.bm) * Math.ceil(size.n / kernel.bn) * size.groups * splits,
  });
}

/** One way to run a GEMM problem: a kernel and its K slices. */
export interface GemmChoice {
  readonly kernel: GemmKernel;
  readonly splits: number;
}

/** A measured problem's timings, fastest first (what benches report). */
export interface GemmMeasurement {
  readonly problem: string;
  readonly candidates: readonly { label: string; gpuMs: number }[];
}

/** Per device: each problem's measured choice, or null while its timings are on their way. */
const measuredChoices = new WeakMap<Gpu, Map<string, GemmChoice | null>>();
const measurements = new WeakMap<Gpu, GemmMeasurement[]>();
/** Per device: the choices earlier processes measured on its adapter (gemm-store.ts), read on first use. */
const storedChoices = new WeakMap<Gpu, Map<string, StoredGemmChoice>>();

function stored(gpu: Gpu): Map<string, StoredGemmChoice> {
  let s = storedChoices.get(gpu);
  if (!s) storedChoices.set(gpu, (s = loadGemmChoices(gpu.info)));
  return s;
}

/** The timings behind every choice measured on `gpu` so far. */
export function gemmMeasurements(gpu: Gpu): readonly GemmMeasurement[] {
  return measurements.get(gpu) ?? [];
}

const choiceLabel = (c: GemmChoice) =>
  `${c.kernel.program.key.includes('mma') ? 'tensor cores' : `SIMT ${c.kernel.bm}`}${c.splits > 1 ? `, K in ${c.splits}` : ''}`;

/**
 * Runs a GEMM problem the fastest way measured on `gpu` (`record` records it with a kernel and
 * its K slices; with `splitK`, slices are worth trying). The first time a problem (the op's text,
 * sizes, precision) is met on a device with timestamp queries, every candidate — the tensor-core
 * kernel where it is on, each SIMT tile, with and without the size rule's K slices — runs in a
 * timed pass of its own, the size rule's choice last (each writes the whole output, so the last
 * one's result stands and the call's result is the untuned one); the fastest is used from then on,
 * once its timings are back, and kept on disk for the adapter (gemm-store.ts), so that later
 * processes take it without measuring. Without timestamps, on software adapters, until then and
 * with a tile forced (withGemmTuning), the size rule decides (gemmKernel, splitsFor).
 */
export function runMeasuredGemm(
  gpu: Gpu,
  spec: (tile: GemmTile | MatrixSpelling) => ProgramInfo,
  size: GemmSize,
  precision: GemmPrecision,
  splitK: boolean,
  record: (choice: GemmChoice) => void,
): void {
  const kernel = gemmKernel(gpu, spec, size, precision);
  const rule: GemmChoice = { kernel, splits: splitK ? splitsFor(kernel, size) : 1 };
  const measure = gemmTuning.measure === 'auto' ? !gpu.info.isCpu : gemmTuning.measure;
  if (gemmTuning.tile !== 'auto' || !measure || !gpu.hasTimestamps) {
    record(rule);
    return;
  }
  let choices = measuredChoices.get(gpu);
  if (!choices) measuredChoices.set(gpu, (choices = new Map()));
  const first = spec(GEMM_TILE_SIZES[0]!);
  const problem = `${first.name}[${first.key}] ${size.groups}×${size.m}×${size.n}×${size.k} ${precision}`;
  const known = choices.get(problem);
  if (known !== undefined) {
    record(known ?? rule);
    return;
  }
  const spelling = precision === 'f16' ? enabled.get(gpu) : undefined;
  const kernels: GemmKernel[] = [
    ...(spelling ? [{ program: spec(spelling), bm: MMA.bm, bn: MMA.bn }] : []),
    ...GEMM_TILE_SIZES.map((t) => ({ program: spec(t), ...GEMM_TILES[t] })),
  ];
  const candidates = kernels
    .flatMap((k) => [...new Set([1, splitK ? splitsFor(k, size) : 1])].map((splits) => ({ kernel: k, splits })))
    .filter((c) => c.kernel.program.key !== rule.kernel.program.key || c.splits !== rule.splits);
  candidates.push(rule);
  // stored with its kernels' text: a kernel changed since is measured again
  const storeKey = `${problem} ${textHash(kernels.map((k) => k.program.body).join('\n'))}`;
  const saved = stored(gpu).get(storeKey);
  const earlier = saved && candidates.find((c) => c.kernel.program.key === saved.kernel && c.splits === saved.splits);
  if (earlier) {
    choices.set(problem, earlier);
    record(earlier);
    return;
  }
  choices.set(problem, null);
  const timings = candidates.map((c) => gpu.timePass(() => record(c))!);
  void Promise.all(timings).then(
    (ms) => {
      const ranked = candidates.map((c, i) => ({ choice: c, gpuMs: ms[i]! })).filter((r) => Number.isFinite(r.gpuMs));
      ranked.sort((a, b) => a.gpuMs - b.gpuMs);
      // a timing lost (a flush midway) leaves its candidate out
      const best = ranked[0]?.choice ?? rule;
      choices.set(problem, best);
      if (ranked[0]) {
        stored(gpu).set(storeKey, { kernel: best.kernel.program.key, splits: best.splits });
        saveGemmChoices(gpu.info, stored(gpu));
      }
      const list = measurements.get(gpu) ?? [];
      list.push({ problem, candidates: ranked.map((r) => ({ label: choiceLabel(r.choice), gpuMs: r.gpuMs })) });
      measurements.set(gpu, list);
    },
    () => choices.delete(problem),
  );
}

/**
 * K slices for a GEMM whose output grid is too small to fill the GPU (a weight gradient sums over
 * every output pixel of the batch): enough slices for ~512 workgroups, each at least 1024 deep.
 */
export function splitsFor(kernel: GemmKernel, size: GemmSize): number {
  const tiles = Math.ceil(size.m / kernel.bm) * Math.ceil(size.n / kernel.bn) * size.groups;
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
