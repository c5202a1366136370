/**
 * Connected-component labelling with per-component statistics, as OpenCV's
 * cv.connectedComponentsWithStats(mask, labels, stats, centroids, connectivity, CV_32S, CCL_DEFAULT).
 *
 * Input: a u8 mask batch N×1×H×W (nonzero = foreground). Output: i32 labels N×1×H×W (0 = background,
 * components 1..count per image) plus, per image, typed arrays of area, bounding box (x, y, w, h),
 * centroid (cx, cy) and, when `values` (an N×1×H×W image) is given, the mean of `values` over the
 * component. Stats arrays are indexed by label − 1 (OpenCV's row 0, the background, is left out).
 *
 * Numbering is OpenCV's, so labels compare one to one:
 *  - connectivity 4 (OpenCV: SAUF): raster order of each component's first pixel;
 *  - connectivity 8 (OpenCV: Spaghetti/BBDT, which scan 2×2 blocks): raster order of each component's
 *    first 2×2 block (block row y>>1, then block column x>>1). This is NOT always the raster order of the
 *    first pixel: a component whose first pixel is (1, 0) comes before one starting at (0, 5). All
 *    foreground pixels of a 2×2 block are 8-connected, so the order is well defined.
 *
 * GPU algorithm (block union-find, after Playne & Hawick 2018 and Allegretti et al.'s BUF): labels live
 * on blocks (2×2 for 8-connectivity, 1×2 for 4-connectivity: all foreground pixels of a block are
 * connected), the block index is the ordering key, so the root of every tree is the component's first
 * block in OpenCV's order. Passes, all recorded in one command stream, a fixed number independent of the
 * image content (no iterate-until-stable loop):
 *   1 init      L[b] = b for blocks with foreground, else BG
 *   2 merge     union with the left / up (/ up-left / up-right) neighbour blocks when pixels connect;
 *               lock-free union with atomicMin on roots, retried until it succeeds (provably complete
 *               in one pass: every edge is united before the pass ends)
 *   3 compress  L[b] = find(b); per 1024-block chunk, the number of roots
 *   4 scan      one workgroup: exclusive prefix of the chunk root counts (over images in order), per-image
 *               first index and end
 *   5 rank      each root gets FLAG | (global component index, in key order) and zeroes its stats slot
 *   6 stats     each thread takes a run of 8 pixels of a row and sums its statistics per component
 *               (area, min/max x and y, 64-bit sums of x and y, sum of values); the runs of a row that
 *               continue one component are merged in workgroup memory and added with one set of atomics
 * (the passes 1–2 run as a tile-local union-find in workgroup memory plus a union of the edges across
 * tile borders; labels are written by a separate coalesced pass, the statistics pass only adds atomics)
 * then a pack pass writes each component's 7 words (9 with values; exact, see cclPackProgram) as
 * columns and ONE readback fetches them (area and bounding box are handed out as views of it); when there are more than 4096 components in the batch the first read is
 * too short and a second read fetches the rest. Labels stay on the GPU. Statistics are exact (integer sums) except the
 * mean of f32/f16 `values`, which is summed in f32 (per run, per workgroup, then with compare-and-swap
 * atomics: order-dependent); u8/u16 values are summed exactly. `stats: false` skips the statistics and
 * reads back only the 2·N-word header (labels and counts).
 *
 * With statistics, the readback and the host's decode of the components dominate the wall time.
 *
 * CPU reference: classic two-pass union-find (raster scan with provisional labels, then resolution),
 * numbering in OpenCV's order as above; statistics in double precision.
 *
 * Limits: N·H·W < 2^31.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { Gpu } from '../../gpu/gpu.js';
import type { ProgramInfo, TensorBinding } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { sharedDevice } from '../../device.js';
import { invalidParameter } from '../../validate.js';
import { checkDType, checkImage, checkSameShape } from '../image.js';

export type Connectivity = 4 | 8;

export interface ConnectedComponentsOptions {
  /** 4 or 8 (default 8), as OpenCV's connectivity. */
  connectivity?: Connectivity;
  /** Optional N×1×H×W image (u8, u16, f32, f16) whose mean over each component is returned. */
  values?: Tensor;
  /**
   * Compute and return per-component statistics (default true). With false only labels and counts
   * are produced (no statistics atomics; the readback is 2·N words) and `stats` is an empty array.
   */
  stats?: boolean;
}

/**
 * Per-image statistics, indexed by label − 1. From the GPU, area and the bounding box are views of
 * one readback buffer shared by the batch's images.
 */
export interface ComponentStats {
  area: Int32Array;
  /** Bounding box: left, top, width, height (OpenCV's CC_STAT_LEFT, TOP, WIDTH, HEIGHT). */
  x: Int32Array;
  y: Int32Array;
  w: Int32Array;
  h: Int32Array;
  /** Centroid (mean x, mean y of the component's pixels). */
  cx: Float64Array;
  cy: Float64Array;
  /** Mean of `values` over the component; present only when `values` was given. */
  mean?: Float64Array;
}

export interface ConnectedComponentsResult {
  /** i32 N×1×H×W, on the mask's device. */
  labels: Tensor;
  /** Components per image (labels 1..count[n]). */
  count: number[];
  stats: ComponentStats[];
}

export const VALUE_DTYPES: readonly DType[] = ['u8', 'u16', 'f32', 'f16'];

const WG = 256;
/** Blocks per thread in the chunked passes; a chunk is WG·PER blocks. */
const PER = 4;
const CHUNK = WG * PER;
/** Pixels per thread in the labelling pass (and in passes that reuse its `dims.w` runs per row). */
export const RUN = 8;
/** Words per component in the result buffer. */
export const STRIDE = 11;
/** Columns (words per component) of the packed readback (without values; 2 more with values). */
export const PACKED = 7;
const FIRST_READ = 4096;

/**
 * WGSL find/unite over an atomic parent array (`find<suffix>`, `unite<suffix>`), one text for the
 * global label buffer (`L`, parents masked by MASK) and the tile's workgroup copy (`Ls`). The union is
 * Playne & Hawick's lock-free one: the larger root is pointed at the smaller with atomicMin; when
 * another thread changed it first, continue from what it now points to.
 */
function unionFind(suffix: string, parents: string, mask: string): string {
  return `fn find${suffix}(x0: u32) -> u32 {
  var x = x0;
  loop {
    let p = atomicLoad(&${parents}[x])${mask};
    if (p == x) { return x; }
    x = p;
  }
}
fn unite${suffix}(a0: u32, b0: u32) {
  var a = a0;
  var b = b0;
  loop {
    a = find${suffix}(a);
    b = find${suffix}(b);
    if (a == b) { return; }
    if (a < b) {
      let old = atomicMin(&${parents}[b], a);
      if (old == b) { return; }
      b = old;
    } else {
      let old = atomicMin(&${parents}[a], b);
      if (old == a) { return; }
      a = old;
    }
  }
}`;
}

// ---------------------------------------------------------------------------------------------
// WGSL shared with canny.ts (hysteresis is a labelling of the candidate pixels)

/**
 * Uniforms of every block union-find program:
 *   dims = (N, H, W, runs per row)   blk = (Hb, Wb, blocks per image, total blocks)
 *   ch   = (chunks per image, total chunks, result header words, total runs)
 */
export const CCL_UNIFORMS = [
  { name: 'dims', type: 'vec4u' },
  { name: 'blk', type: 'vec4u' },
  { name: 'ch', type: 'vec4u' },
] as const;

function cclHeader(conn: Connectivity): string {
  const bh = conn === 8 ? 2 : 1;
  return /* wgsl */ `
const BG: u32 = 0xffffffffu;
const FLAG: u32 = 0x80000000u;
const MASK: u32 = 0x7fffffffu;
const BH: u32 = ${bh}u;
const PER: u32 = ${PER}u;
const CHUNK: u32 = ${CHUNK}u;
// foreground test with bounds (coordinates wrap below 0 to huge u32 values, so one test serves both sides)
fn fgpx(n: u32, y: u32, x: u32) -> bool {
  if (y >= u.dims.y || x >= u.dims.z) { return false; }
  return mask_load((n * u.dims.y + y) * u.dims.z + x) != 0.0;
}
// foreground bits of block (by, bx): 1 = (y0, x0), 2 = (y0, x0 + 1), 4 = (y0 + 1, x0), 8 = (y0 + 1, x0 + 1)
fn block_bits(n: u32, by: u32, bx: u32) -> u32 {
  let y0 = by * BH;
  let x0 = bx * 2u;
  var m = select(0u, 1u, fgpx(n, y0, x0)) | select(0u, 2u, fgpx(n, y0, x0 + 1u));
  ${conn === 8 ? 'm |= select(0u, 4u, fgpx(n, y0 + 1u, x0)) | select(0u, 8u, fgpx(n, y0 + 1u, x0 + 1u));' : ''}
  return m;
}
${unionFind('', 'L', ' & MASK')}
`;
}

const BLOCK_INDEX = /* wgsl */ `
  let g = linear_workgroup(wid, nwg) * WG + li;
  if (g >= u.blk.w) { return; }
  let n = g / u.blk.z;
  let r = g - n * u.blk.z;
  let by = r / u.blk.y;
  let bx = r - by * u.blk.y;`;

const ENTRY =
  '@compute @workgroup_size(WG)\nfn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32)';

function base(
  name: string,
  key: string,
  inputs: TensorBinding[],
  outputs: ProgramInfo['outputs'],
  body: string,
  extra: ProgramInfo['uniforms'] = [],
): ProgramInfo {
  return { name, key, inputs, outputs, uniforms: [...CCL_UNIFORMS, ...extra], workgroupSize: WG, body };
}

/** The label buffer is array<atomic<u32>> (an atomic binding of a non-i32 dtype). */
const L_ATOMIC = { name: 'L', dtype: 'f32' as DType, atomic: true };

/** Tiles of TILE×TILE blocks: the local pass unites inside a tile in workgroup memory. */
const TILE = 32;
const TILE_BLOCKS = TILE * TILE;

/**
 * Local pass (replaces a global init + merge): one workgroup per tile of 32×32 blocks computes the
 * blocks' foreground bits, unites the tile-internal edges with workgroup-memory atomics (the same
 * min-root union, on tile-local indices, which order like the global ones), and writes every block's
 * label as the global index of its local root. Only edges that cross tile borders are left.
 */
export function cclLocalProgram(conn: Connectivity, maskDtype: DType): ProgramInfo {
  const edges =
    conn === 8
      ? `if (tx > 0u && (m & 5u) != 0u && (bits[i - 1u] & 10u) != 0u) { unite_s(i, i - 1u); }
      if (ty > 0u && (m & 3u) != 0u && (bits[i - TILE] & 12u) != 0u) { unite_s(i, i - TILE); }
      if (ty > 0u && tx > 0u && (m & 1u) != 0u && (bits[i - TILE - 1u] & 8u) != 0u) { unite_s(i, i - TILE - 1u); }
      if (ty > 0u && tx + 1u < TILE && (m & 2u) != 0u && (bits[i - TILE + 1u] & 4u) != 0u) { unite_s(i, i - TILE + 1u); }`
      : `if (tx > 0u && (m & 1u) != 0u && (bits[i - 1u] & 2u) != 0u) { unite_s(i, i - 1u); }
      if (ty > 0u && (m & bits[i - TILE] & 3u) != 0u) { unite_s(i, i - TILE); }`;
  return base(
    `ccl_local`,
    `c=${conn}`,
    [{ name: 'mask', dtype: maskDtype }],
    [L_ATOMIC],
    `${cclHeader(conn)}
const TILE: u32 = ${TILE}u;
const TB: u32 = ${TILE_BLOCKS}u;
var<workgroup> bits: array<u32, ${TILE_BLOCKS}>;
var<workgroup> Ls: array<atomic<u32>, ${TILE_BLOCKS}>;
${unionFind('_s', 'Ls', '')}
${ENTRY} {
  let t = linear_workgroup(wid, nwg);
  if (t >= u.tl.w) { return; }
  let n = t / u.tl.z;
  let r = t - n * u.tl.z;
  let tyi = r / u.tl.x;
  let by0 = tyi * TILE;
  let bx0 = (r - tyi * u.tl.x) * TILE;
  for (var i = li; i < TB; i += WG) {
    let by = by0 + i / TILE;
    let bx = bx0 + i % TILE;
    var m = 0u;
    if (by < u.blk.x && bx < u.blk.y) { m = block_bits(n, by, bx); }
    bits[i] = m;
    atomicStore(&Ls[i], select(BG, i, m != 0u));
  }
  workgroupBarrier();
  for (var i = li; i < TB; i += WG) {
    let m = bits[i];
    if (m != 0u) {
      let ty = i / TILE;
      let tx = i % TILE;
      ${edges}
    }
  }
  workgroupBarrier();
  let gbase = n * u.blk.z + by0 * u.blk.y + bx0;
  for (var i = li; i < TB; i += WG) {
    let by = by0 + i / TILE;
    let bx = bx0 + i % TILE;
    if (by < u.blk.x && bx < u.blk.y) {
      var v = BG;
      if (bits[i] != 0u) {
        let root = find_s(i);
        v = gbase + (root / TILE) * u.blk.y + root % TILE;
      }
      atomicStore(&L[gbase + (i / TILE) * u.blk.y + i % TILE], v);
    }
  }
}`,
    [{ name: 'tl', type: 'vec4u' }],
  );
}

/** Border pass: the global union of the edges that cross tile borders (one thread per border block). */
export function cclBorderProgram(conn: Connectivity, maskDtype: DType): ProgramInfo {
  // positions per tile: left column, top row (and, for 8-connectivity, the right column's up-right edge)
  const P = conn === 8 ? 3 * TILE : 2 * TILE;
  const edges =
    conn === 8
      ? `if (tx == 0u && (m & 5u) != 0u && (fgpx(n, y0, x0 - 1u) || fgpx(n, y0 + 1u, x0 - 1u))) { unite(g, g - 1u); }
  if (ty == 0u && (m & 3u) != 0u && (fgpx(n, y0 - 1u, x0) || fgpx(n, y0 - 1u, x0 + 1u))) { unite(g, g - wb); }
  if ((tx == 0u || ty == 0u) && (m & 1u) != 0u && fgpx(n, y0 - 1u, x0 - 1u)) { unite(g, g - wb - 1u); }
  if ((tx == TILE - 1u || ty == 0u) && (m & 2u) != 0u && fgpx(n, y0 - 1u, x0 + 2u)) { unite(g, g - wb + 1u); }`
      : `if (tx == 0u && (m & 1u) != 0u && fgpx(n, y0, x0 - 1u)) { unite(g, g - 1u); }
  if (ty == 0u && (((m & 1u) != 0u && fgpx(n, y0 - 1u, x0)) || ((m & 2u) != 0u && fgpx(n, y0 - 1u, x0 + 1u)))) { unite(g, g - wb); }`;
  return base(
    `ccl_border`,
    `c=${conn}`,
    [{ name: 'mask', dtype: maskDtype }],
    [L_ATOMIC],
    `${cclHeader(conn)}
const TILE: u32 = ${TILE}u;
const P: u32 = ${P}u;
${ENTRY} {
  let q = linear_workgroup(wid, nwg) * WG + li;
  let t = q / P;
  if (t >= u.tl.w) { return; }
  let p = q - t * P;
  var ty = p;
  var tx = 0u;
  if (p >= 2u * TILE) { ty = p - 2u * TILE; tx = TILE - 1u; } else if (p >= TILE) { ty = 0u; tx = p - TILE; }
  let n = t / u.tl.z;
  let r = t - n * u.tl.z;
  let tyi = r / u.tl.x;
  let by = tyi * TILE + ty;
  let bx = (r - tyi * u.tl.x) * TILE + tx;
  if (by >= u.blk.x || bx >= u.blk.y || (by == 0u && bx == 0u)) { return; }
  let m = block_bits(n, by, bx);
  if (m == 0u) { return; }
  let wb = u.blk.y;
  let g = n * u.blk.z + by * wb + bx;
  let y0 = by * BH;
  let x0 = bx * 2u;
  ${edges}
}`,
    [{ name: 'tl', type: 'vec4u' }],
  );
}

export const BORDER_POSITIONS = { 4: 2 * TILE, 8: 3 * TILE } as const;

const CHUNK_RANGE = /* wgsl */ `
  let c = linear_workgroup(wid, nwg);
  if (c >= u.ch.y) { return; }
  let img = c / u.ch.x;
  let start = img * u.blk.z + (c - img * u.ch.x) * CHUNK;
  let end = min(start + CHUNK, (img + 1u) * u.blk.z);
  let b0 = start + li * PER;`;

/**
 * Compress: L[b] = root. `mode` 'count' writes the number of roots per chunk; 'flag' (Canny, fillHoles)
 * sets FLAG on roots of trees holding a strong pixel (mask value 2) of the block (2×2, or 1×2 for
 * 4-connectivity: the row below belongs to another block there).
 */
export function cclCompressProgram(conn: Connectivity, maskDtype: DType, mode: 'count' | 'flag'): ProgramInfo {
  if (mode === 'flag') {
    return base(
      `ccl_compress`,
      `c=${conn};flag`,
      [{ name: 'mask', dtype: maskDtype }],
      [L_ATOMIC],
      `${cclHeader(conn)}
fn strong_px(n: u32, y: u32, x: u32) -> bool {
  if (y >= u.dims.y || x >= u.dims.z) { return false; }
  return mask_load((n * u.dims.y + y) * u.dims.z + x) == 2.0;
}
${ENTRY} {${BLOCK_INDEX}
  if ((atomicLoad(&L[g]) & MASK) == (BG & MASK)) { return; }
  let root = find(g);
  if (root != g) { atomicStore(&L[g], root); }
  let y0 = by * BH;
  let x0 = bx * 2u;
  if (strong_px(n, y0, x0) || strong_px(n, y0, x0 + 1u) || (BH == 2u && (strong_px(n, y0 + 1u, x0) || strong_px(n, y0 + 1u, x0 + 1u)))) {
    atomicOr(&L[root], FLAG);
  }
}`,
    );
  }
  return base(
    `ccl_compress`,
    `c=${conn};count`,
    [{ name: 'mask', dtype: maskDtype }],
    [L_ATOMIC, { name: 'chunks', dtype: 'i32' }],
    `${cclHeader(conn)}
var<workgroup> wcount: atomic<u32>;
${ENTRY} {${CHUNK_RANGE}
  if (li == 0u) { atomicStore(&wcount, 0u); }
  workgroupBarrier();
  var cnt = 0u;
  for (var k = 0u; k < PER; k++) {
    let b = b0 + k;
    if (b < end && atomicLoad(&L[b]) != BG) {
      let r = find(b);
      if (r == b) { cnt++; } else { atomicStore(&L[b], r); }
    }
  }
  atomicAdd(&wcount, cnt);
  workgroupBarrier();
  if (li == 0u) { chunks[c] = i32(atomicLoad(&wcount)); }
}`,
  );
}

const WG_SCAN = /* wgsl */ `
var<workgroup> sh: array<u32, WG>;
// inclusive prefix sum of v over the workgroup (Hillis-Steele)
fn wg_scan(li: u32, v: u32) -> u32 {
  sh[li] = v;
  workgroupBarrier();
  for (var off = 1u; off < WG; off = off * 2u) {
    var t = 0u;
    if (li >= off) { t = sh[li - off]; }
    workgroupBarrier();
    sh[li] = sh[li] + t;
    workgroupBarrier();
  }
  return sh[li];
}`;

/** One workgroup: chunks[i] becomes the exclusive prefix; res[n] = end, res[N + n] = first index of image n. */
export function cclScanProgram(): ProgramInfo {
  return base(
    `ccl_scan`,
    '',
    [],
    [
      { name: 'chunks', dtype: 'i32' },
      { name: 'res', dtype: 'i32' },
    ],
    `
${WG_SCAN}
${ENTRY} {
  let total = u.ch.y;
  let cpi = u.ch.x;
  let nimg = u.dims.x;
  let per = (total + WG - 1u) / WG;
  let s0 = min(li * per, total);
  let s1 = min(s0 + per, total);
  var sum = 0u;
  for (var i = s0; i < s1; i++) { sum += u32(chunks[i]); }
  var run = wg_scan(li, sum) - sum;
  for (var i = s0; i < s1; i++) {
    let v = u32(chunks[i]);
    chunks[i] = i32(run);
    let img = i / cpi;
    let ci = i - img * cpi;
    if (ci == 0u) { res[nimg + img] = i32(run); }
    run += v;
    if (ci == cpi - 1u) { res[img] = i32(run); }
  }
}`,
  );
}

/** Roots get FLAG | global component index (key order) and zero their statistics slot. */
export function cclRankProgram(): ProgramInfo {
  return base(
    `ccl_rank`,
    '',
    [{ name: 'chunks', dtype: 'i32' }],
    [L_ATOMIC, { name: 'res', dtype: 'f32', atomic: true }],
    `
const FLAG: u32 = 0x80000000u;
const PER: u32 = ${PER}u;
const CHUNK: u32 = ${CHUNK}u;
const STRIDE: u32 = ${STRIDE}u;
${WG_SCAN}
${ENTRY} {${CHUNK_RANGE}
  var cnt = 0u;
  for (var k = 0u; k < PER; k++) {
    let b = b0 + k;
    if (b < end && atomicLoad(&L[b]) == b) { cnt++; }
  }
  var off = u32(chunks[c]) + wg_scan(li, cnt) - cnt;
  for (var k = 0u; k < PER; k++) {
    let b = b0 + k;
    if (b < end && atomicLoad(&L[b]) == b) {
      atomicStore(&L[b], FLAG | off);
      let s = u.ch.z + off * STRIDE;
      for (var w = 0u; w < STRIDE; w++) { atomicStore(&res[s + w], 0u); }
      off++;
    }
  }
}`,
  );
}

/**
 * Statistics, one run of RUN pixels of a row per thread. A run's last segment is merged in workgroup
 * memory with the neighbouring runs of the same row and component, and one thread adds the sum: a
 * component as wide as the image costs a few atomics a workgroup, not one per run (the value sum's
 * compare-and-swap loop would otherwise spin on one word with every thread of the GPU).
 */
export function cclStatsProgram(conn: Connectivity, valuesDtype: DType | null): ProgramInfo {
  const floatValues = valuesDtype === 'f32' || valuesDtype === 'f16';
  const svType = floatValues ? 'f32' : 'u32';
  const svZero = floatValues ? '0.0' : '0u';
  const svAdd = valuesDtype === null ? '' : floatValues ? 'sv += vals_load(p);' : 'sv += u32(vals_load(p));';
  const svFlush = valuesDtype === null ? '' : floatValues ? 'add_f32(s + 9u, sv);' : 'add64(s + 9u, sv);';
  const inputs: TensorBinding[] = [
    { name: 'mask', dtype: 'u8' },
    { name: 'L', dtype: 'i32' },
  ];
  if (valuesDtype !== null) inputs.push({ name: 'vals', dtype: valuesDtype });
  return base(
    `ccl_stats`,
    `c=${conn};v=${valuesDtype ?? 'none'}`,
    inputs,
    [{ name: 'res', dtype: 'f32', atomic: true }],
    `
const BG: u32 = 0xffffffffu;
const FLAG: u32 = 0x80000000u;
const MASK: u32 = 0x7fffffffu;
const BH: u32 = ${conn === 8 ? 2 : 1}u;
const RUN: u32 = ${RUN}u;
const STRIDE: u32 = ${STRIDE}u;
// each thread's last segment: component (BG: none), row, area, min x, max x, Σx, Σvalue
var<workgroup> w_lab: array<u32, WG>;
var<workgroup> w_row: array<u32, WG>;
var<workgroup> w_area: array<u32, WG>;
var<workgroup> w_minx: array<u32, WG>;
var<workgroup> w_maxx: array<u32, WG>;
var<workgroup> w_sx: array<u32, WG>;
var<workgroup> w_sv: array<${svType}, WG>;
fn add64(i: u32, v: u32) {
  let old = atomicAdd(&res[i], v);
  if (old + v < old) { atomicAdd(&res[i + 1u], 1u); }
}
fn add_f32(i: u32, v: f32) {
  var old = atomicLoad(&res[i]);
  loop {
    let r = atomicCompareExchangeWeak(&res[i], old, bitcast<u32>(bitcast<f32>(old) + v));
    if (r.exchanged) { break; }
    old = r.old_value;
  }
}
fn flush(g: u32, y: u32, area: u32, minx: u32, maxx: u32, sx: u32, sv: ${svType}) {
  if (g == BG) { return; }
  let s = u.ch.z + g * STRIDE;
  atomicAdd(&res[s], area);
  atomicMax(&res[s + 1u], 0xffffffffu - minx);
  atomicMax(&res[s + 2u], 0xffffffffu - y);
  atomicMax(&res[s + 3u], maxx);
  atomicMax(&res[s + 4u], y);
  add64(s + 5u, sx);
  add64(s + 7u, y * area);
  ${svFlush}
}
${ENTRY} {
  let t = linear_workgroup(wid, nwg) * WG + li;
  let runs = u.dims.w;
  let H = u.dims.y;
  let W = u.dims.z;
  let row = t / runs;
  let xr = t - row * runs;
  let n = row / H;
  let y = row - n * H;
  let x0 = xr * RUN;
  let x1 = select(x0, min(x0 + RUN, W), t < u.ch.w);
  let prow = row * W;
  let brow = n * u.blk.z + (y / BH) * u.blk.y;
  var cur = BG;
  var area = 0u;
  var minx = 0u;
  var maxx = 0u;
  var sx = 0u;
  var sv: ${svType} = ${svZero};
  for (var x = x0; x < x1; x++) {
    let p = prow + x;
    if (mask_load(p) != 0.0) {
      let v = bitcast<u32>(L[brow + (x >> 1u)]);
      var g = v & MASK;
      if ((v & FLAG) == 0u) { g = bitcast<u32>(L[v]) & MASK; }
      if (g != cur) {
        flush(cur, y, area, minx, maxx, sx, sv);
        cur = g;
        area = 0u;
        minx = x;
        sx = 0u;
        sv = ${svZero};
      }
      area++;
      maxx = x;
      sx += x;
      ${svAdd}
    }
  }
  w_lab[li] = cur;
  w_row[li] = row;
  w_area[li] = area;
  w_minx[li] = minx;
  w_maxx[li] = maxx;
  w_sx[li] = sx;
  w_sv[li] = sv;
  workgroupBarrier();
  // the first thread of each stretch of threads with the same row and component adds the stretch
  if (cur == BG || (li > 0u && w_lab[li - 1u] == cur && w_row[li - 1u] == row)) { return; }
  for (var j = li + 1u; j < WG && w_lab[j] == cur && w_row[j] == row; j++) {
    area += w_area[j];
    minx = min(minx, w_minx[j]);
    maxx = max(maxx, w_maxx[j]);
    sx += w_sx[j];
    sv += w_sv[j];
  }
  flush(cur, y, area, minx, maxx, sx, sv);
}`,
  );
}

/** Labels only, coalesced: one workgroup per 4·WG pixels of a row, each thread 4 pixels WG apart. */
export function cclWriteProgram(conn: Connectivity): ProgramInfo {
  return base(
    `ccl_write`,
    `c=${conn}`,
    [
      { name: 'mask', dtype: 'u8' },
      { name: 'L', dtype: 'i32' },
      { name: 'res', dtype: 'i32' },
    ],
    [{ name: 'out', dtype: 'i32' }],
    `
const FLAG: u32 = 0x80000000u;
const MASK: u32 = 0x7fffffffu;
const BH: u32 = ${conn === 8 ? 2 : 1}u;
${ENTRY} {
  let t = linear_workgroup(wid, nwg);
  let segs = u.segs;
  let row = t / segs;
  if (row >= u.dims.x * u.dims.y) { return; }
  let W = u.dims.z;
  let n = row / u.dims.y;
  let y = row - n * u.dims.y;
  let ibase = u32(res[u.dims.x + n]) - 1u;
  let prow = row * W;
  let brow = n * u.blk.z + (y / BH) * u.blk.y;
  let x0 = (t - row * segs) * (4u * WG) + li;
  for (var j = 0u; j < 4u; j++) {
    let x = x0 + j * WG;
    if (x < W) {
      let p = prow + x;
      var lab = 0;
      if (mask_load(p) != 0.0) {
        let v = bitcast<u32>(L[brow + (x >> 1u)]);
        var g = v & MASK;
        if ((v & FLAG) == 0u) { g = bitcast<u32>(L[v]) & MASK; }
        lab = i32(g - ibase);
      }
      out[p] = lab;
    }
  }
}`,
    [{ name: 'segs', type: 'u32' }],
  );
}

/**
 * Packs each component's statistics (11 words of atomics) into PACKED columns for the readback:
 * area, minx, miny, w, h, the low words of Σ(x − minx) and Σ(y − miny) (exact 64-bit sums, their
 * high words, when not zero, go to an overflow list of (component, hi x, hi y)); with values the two
 * words of the value sum. Columns, not records, so the host hands out area and the bounding box as
 * views of the readback (no copy). Needs W, H < 65536 (Σ(x − minx) < 2^32 for most components).
 * Layout of `pk`: the overflow count (zeroed before), 2·N header words (as `res`), the columns of
 * `total` words each, then the overflow list.
 */
export function cclPackProgram(withValues: boolean): ProgramInfo {
  const ps = withValues ? PACKED + 2 : PACKED;
  return base(
    `ccl_pack`,
    `v=${withValues}`,
    [{ name: 'res', dtype: 'i32' }],
    [{ name: 'pk', dtype: 'f32', atomic: true }],
    `
const STRIDE: u32 = ${STRIDE}u;
const PS: u32 = ${ps}u;
fn rd(i: u32) -> u32 { return bitcast<u32>(res[i]); }
// (lo, hi) − a·b for a < 2^16
fn sub_prod(lo: u32, hi: u32, a: u32, b: u32) -> vec2<u32> {
  let p1 = a * (b & 0xffffu);
  let p2 = a * (b >> 16u);
  let plo = p1 + (p2 << 16u);
  let phi = (p2 >> 16u) + select(0u, 1u, plo < p1);
  return vec2<u32>(lo - plo, hi - phi - select(0u, 1u, lo < plo));
}
${ENTRY} {
  let c = linear_workgroup(wid, nwg) * WG + li;
  let nimg = u.dims.x;
  let hdr = 2u * nimg;
  let total = rd(nimg - 1u);
  if (c < hdr) { atomicStore(&pk[1u + c], rd(c)); }
  if (c >= total) { return; }
  let s = hdr + c * STRIDE;
  // column j of component c
  let o = 1u + hdr + c;
  let area = rd(s);
  let minx = 0xffffffffu - rd(s + 1u);
  let miny = 0xffffffffu - rd(s + 2u);
  let sx = sub_prod(rd(s + 5u), rd(s + 6u), minx, area);
  let sy = sub_prod(rd(s + 7u), rd(s + 8u), miny, area);
  atomicStore(&pk[o], area);
  atomicStore(&pk[o + total], minx);
  atomicStore(&pk[o + 2u * total], miny);
  atomicStore(&pk[o + 3u * total], rd(s + 3u) - minx + 1u);
  atomicStore(&pk[o + 4u * total], rd(s + 4u) - miny + 1u);
  atomicStore(&pk[o + 5u * total], sx.x);
  atomicStore(&pk[o + 6u * total], sy.x);
  ${withValues ? 'atomicStore(&pk[o + 7u * total], rd(s + 9u));\n  atomicStore(&pk[o + 8u * total], rd(s + 10u));' : ''}
  if (sx.y != 0u || sy.y != 0u) {
    let k = atomicAdd(&pk[0], 1u);
    let q = 1u + hdr + total * PS + k * 3u;
    atomicStore(&pk[q], c);
    atomicStore(&pk[q + 1u], sx.y);
    atomicStore(&pk[q + 2u], sy.y);
  }
}`,
  );
}

/** Every program variant, for the compile-all test. */
export function connectedComponentsPrograms(): ProgramInfo[] {
  const out: ProgramInfo[] = [cclScanProgram(), cclRankProgram()];
  for (const conn of [4, 8] as const) {
    out.push(cclLocalProgram(conn, 'u8'), cclBorderProgram(conn, 'u8'), cclCompressProgram(conn, 'u8', 'count'));
    for (const v of [null, ...VALUE_DTYPES]) out.push(cclStatsProgram(conn, v));
    out.push(cclWriteProgram(conn));
  }
  for (const v of [false, true]) {
    out.push(cclPackProgram(v));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Geometry and host side

export interface BlockGeometry {
  n: number;
  h: number;
  w: number;
  hb: number;
  wb: number;
  perImage: number;
  total: number;
  chunksPerImage: number;
  chunks: number;
  /** Tiles of the local pass: per row, per column, per image, total. */
  tilesX: number;
  tilesY: number;
  tilesPerImage: number;
  tiles: number;
}

export function blockGeometry(n: number, h: number, w: number, conn: Connectivity): BlockGeometry {
  const hb = conn === 8 ? Math.ceil(h / 2) : h;
  const wb = Math.ceil(w / 2);
  const perImage = hb * wb;
  const chunksPerImage = Math.ceil(perImage / CHUNK);
  const tilesX = Math.ceil(wb / TILE);
  const tilesY = Math.ceil(hb / TILE);
  const tilesPerImage = tilesX * tilesY;
  return {
    n,
    h,
    w,
    hb,
    wb,
    perImage,
    total: n * perImage,
    chunksPerImage,
    chunks: n * chunksPerImage,
    tilesX,
    tilesY,
    tilesPerImage,
    tiles: n * tilesPerImage,
  };
}

/**
 * Bytes per image pixel of the largest buffer a labelling allocates (the per-block statistics:
 * STRIDE words for every 2×2 block, or 1×2 with 4-connectivity), so callers can size batches to
 * the adapter's largest storage binding.
 */
export function componentsBytesPerPixel(conn: Connectivity): number {
  return (STRIDE * 4) / (conn === 8 ? 4 : 2);
}

export function cclUniforms(g: BlockGeometry, header: number) {
  const runs = Math.ceil(g.w / RUN);
  return {
    dims: [g.n, g.h, g.w, runs],
    blk: [g.hb, g.wb, g.perImage, g.total],
    ch: [g.chunksPerImage, g.chunks, header, g.n * g.h * runs],
    tl: [g.tilesX, g.tilesY, g.tilesPerImage, g.tiles],
    segs: Math.ceil(g.w / (4 * WG)),
  };
}

/**
 * Records the union-find over a mask (tile-local pass, then the tile-border union); returns the
 * (atomic) block label buffer, every tree rooted at its component's first block.
 */
export function recordUnionFind(gpu: Gpu, mask: Tensor, g: BlockGeometry, conn: Connectivity, uniforms: ReturnType<typeof cclUniforms>): Tensor {
  const L = Tensor.empty(gpu, [g.n, 1, g.hb, g.wb], 'i32');
  gpu.dispatch({ program: cclLocalProgram(conn, mask.dtype), inputs: [mask.gpu.ref], outputs: [L.gpu.ref], uniforms, workgroups: g.tiles });
  gpu.dispatch({
    program: cclBorderProgram(conn, mask.dtype),
    inputs: [mask.gpu.ref],
    outputs: [L.gpu.ref],
    uniforms,
    workgroups: Math.ceil((g.tiles * BORDER_POSITIONS[conn]) / WG),
  });
  return L;
}

export const BLOCK_WORKGROUP = WG;

interface Resolved {
  connectivity: Connectivity;
  values: Tensor | undefined;
  stats: boolean;
}

function resolve(mask: Tensor, o: ConnectedComponentsOptions): Resolved {
  checkImage('mask', mask, [1]);
  checkDType('mask', mask, ['u8']);
  const connectivity = o.connectivity === undefined ? 8 : o.connectivity;
  if (connectivity !== 4 && connectivity !== 8) throw invalidParameter('connectivity', '4 or 8', o.connectivity);
  if (o.values !== undefined) {
    checkSameShape('mask', mask, 'values', o.values);
    checkDType('values', o.values, VALUE_DTYPES);
    sharedDevice([mask, o.values]);
  }
  if (o.stats !== undefined && typeof o.stats !== 'boolean') throw invalidParameter('stats', 'a boolean', o.stats);
  if (o.stats === false && o.values !== undefined) throw invalidParameter('values', 'undefined when stats is false', '[Tensor]');
  if (mask.size >= 2 ** 31) throw invalidParameter('mask', 'fewer than 2^31 pixels', `[${mask.shape.join(', ')}]`);
  return { connectivity, values: o.values, stats: o.stats !== false };
}

/**
 * Labels the connected components of each mask of a batch and measures them. Runs where `mask` lives;
 * the GPU path reads back only the compact statistics (labels stay on the GPU).
 * @example const { labels, count, stats } = await connectedComponents(mask, { connectivity: 4 });
 * @throws KensaError for a mask that is not u8 N×1×H×W, connectivity other than 4 or 8, or `values` of another shape.
 */
export async function connectedComponents(mask: Tensor, options: ConnectedComponentsOptions = {}): Promise<ConnectedComponentsResult> {
  const o = resolve(mask, options);
  return onDevice(o.values ? [mask, o.values] : mask, {
    gpu: (gpu) => componentsGpu(gpu, mask, o),
    cpu: async () => {
      const r = connectedComponentsCpu(mask, o.connectivity, o.values);
      return o.stats ? r : { ...r, stats: [] };
    },
  });
}

async function componentsGpu(gpu: Gpu, mask: Tensor, o: Resolved): Promise<ConnectedComponentsResult> {
  const [N, , H, W] = mask.shape as [number, number, number, number];
  const g = blockGeometry(N, H, W, o.connectivity);
  const header = 2 * N;
  const un = cclUniforms(g, header);
  const L = recordUnionFind(gpu, mask, g, o.connectivity, un);
  const chunks = Tensor.empty(gpu, [g.chunks], 'i32');
  const resWords = header + g.total * STRIDE;
  const res = Tensor.empty(gpu, [resWords], 'i32');
  const labels = Tensor.empty(gpu, [N, 1, H, W], 'i32');
  gpu.dispatch({
    program: cclCompressProgram(o.connectivity, 'u8', 'count'),
    inputs: [mask.gpu.ref],
    outputs: [L.gpu.ref, chunks.gpu.ref],
    uniforms: un,
    workgroups: g.chunks,
  });
  gpu.dispatch({ program: cclScanProgram(), inputs: [], outputs: [chunks.gpu.ref, res.gpu.ref], uniforms: un, workgroups: 1 });
  gpu.dispatch({ program: cclRankProgram(), inputs: [chunks.gpu.ref], outputs: [L.gpu.ref, res.gpu.ref], uniforms: un, workgroups: g.chunks });
  const vdt = o.values ? o.values.dtype : null;
  gpu.dispatch({
    program: cclWriteProgram(o.connectivity),
    inputs: [mask.gpu.ref, L.gpu.ref, res.gpu.ref],
    outputs: [labels.gpu.ref],
    uniforms: un,
    workgroups: N * H * un.segs,
  });
  if (o.stats) {
    const inputs = [mask.gpu.ref, L.gpu.ref];
    if (o.values) inputs.push(o.values.gpu.ref);
    gpu.dispatch({
      program: cclStatsProgram(o.connectivity, vdt),
      inputs,
      outputs: [res.gpu.ref],
      uniforms: un,
      workgroups: Math.ceil(un.ch[3]! / WG),
    });
  }
  L.dispose();
  chunks.dispose();
  const count: number[] = [];
  const stats: ComponentStats[] = [];
  if (!o.stats) {
    const words = new Uint32Array(await gpu.read(res.gpu.ref, header * 4));
    res.dispose();
    for (let n = 0; n < N; n++) count.push(words[n]! - words[N + n]!);
    return { labels, count, stats };
  }
  if (W >= 65536 || H >= 65536) {
    const r = await readUnpacked(gpu, res, N, header, resWords, vdt);
    res.dispose();
    return { labels, ...r };
  }
  // Packed readback: PACKED (+2 with values) words per component, exact (see cclPackProgram).
  const ps = vdt !== null ? PACKED + 2 : PACKED;
  // overflowing components have an area of at least 2^32 / 65535 pixels: at most one per 65536 pixels
  const pkWords = 1 + header + g.total * ps + 3 * (Math.ceil((N * H * W) / 65536) + 1);
  const pk = Tensor.empty(gpu, [pkWords], 'i32');
  gpu.clear({ buffer: pk.gpu.ref.buffer, bytes: 16 });
  gpu.dispatch({
    program: cclPackProgram(vdt !== null),
    inputs: [res.gpu.ref],
    outputs: [pk.gpu.ref],
    uniforms: un,
    workgroups: Math.ceil(Math.max(header, g.total) / WG),
  });
  res.dispose();
  // One readback (a second only when the batch has more than FIRST_READ components or overflows).
  let words = new Uint32Array(await gpu.read(pk.gpu.ref, Math.min(pkWords, 1 + header + FIRST_READ * ps) * 4));
  const total = N > 0 ? words[N]! : 0;
  const need = 1 + header + total * ps + words[0]! * 3;
  if (need > words.length) words = new Uint32Array(await gpu.read(pk.gpu.ref, need * 4));
  pk.dispose();
  // high words of the centroid sums, for the few components whose Σ(x − minx) needs more than 32 bits
  const hiX = new Map<number, number>();
  const hiY = new Map<number, number>();
  for (let q = 1 + header + total * ps, e = 0; e < words[0]!; e++, q += 3) {
    hiX.set(words[q]!, words[q + 1]! * 2 ** 32);
    hiY.set(words[q]!, words[q + 2]! * 2 ** 32);
  }
  const f32 = new Float32Array(words.buffer, words.byteOffset, words.length);
  const floatValues = vdt === 'f32' || vdt === 'f16';
  // column j starts at word col(j); image n's components are entries first … first + k − 1 of each
  const col = (j: number) => 1 + header + j * total;
  const view = (j: number, first: number, k: number) => new Int32Array(words.buffer, words.byteOffset + (col(j) + first) * 4, k);
  for (let n = 0; n < N; n++) {
    const first = words[1 + N + n]!;
    const k = words[1 + n]! - first;
    count.push(k);
    const s: ComponentStats = {
      area: view(0, first, k),
      x: view(1, first, k),
      y: view(2, first, k),
      w: view(3, first, k),
      h: view(4, first, k),
      cx: new Float64Array(k),
      cy: new Float64Array(k),
    };
    const { area: sa, x: sxs, y: sys, cx, cy } = s;
    const [ox0, oy0] = [col(5) + first, col(6) + first];
    for (let i = 0; i < k; i++) {
      const area = sa[i]!;
      let ox = words[ox0 + i]!;
      let oy = words[oy0 + i]!;
      if (hiX.size > 0 && hiX.has(first + i)) {
        ox += hiX.get(first + i)!;
        oy += hiY.get(first + i)!;
      }
      cx[i] = (ox + sxs[i]! * area) / area;
      cy[i] = (oy + sys[i]! * area) / area;
    }
    if (vdt !== null) {
      const mean = new Float64Array(k);
      const [lo, hi] = [col(7) + first, col(8) + first];
      for (let i = 0; i < k; i++) mean[i] = (floatValues ? f32[lo + i]! : words[lo + i]! + words[hi + i]! * 2 ** 32) / sa[i]!;
      s.mean = mean;
    }
    stats.push(s);
  }
  return { labels, count, stats };
}

/** Statistics from the 11-word atomics buffer as it is (images 65536 pixels wide or high and more). */
async function readUnpacked(
  gpu: Gpu,
  res: Tensor,
  N: number,
  header: number,
  resWords: number,
  vdt: DType | null,
): Promise<{ count: number[]; stats: ComponentStats[] }> {
  let words = new Uint32Array(await gpu.read(res.gpu.ref, Math.min(resWords, header + FIRST_READ * STRIDE) * 4));
  const total = N > 0 ? words[N - 1]! : 0;
  if (header + total * STRIDE > words.length) words = new Uint32Array(await gpu.read(res.gpu.ref, (header + total * STRIDE) * 4));
  const f32 = new Float32Array(words.buffer, words.byteOffset, words.length);
  const count: number[] = [];
  const stats: ComponentStats[] = [];
  for (let n = 0; n < N; n++) {
    const first = words[N + n]!;
    const k = words[n]! - first;
    count.push(k);
    const s = allocStats(k, vdt !== null);
    for (let i = 0; i < k; i++) {
      const o0 = header + (first + i) * STRIDE;
      const area = words[o0]!;
      const minx = 0xffffffff - words[o0 + 1]!;
      const miny = 0xffffffff - words[o0 + 2]!;
      s.area[i] = area;
      s.x[i] = minx;
      s.y[i] = miny;
      s.w[i] = words[o0 + 3]! - minx + 1;
      s.h[i] = words[o0 + 4]! - miny + 1;
      s.cx[i] = (words[o0 + 5]! + words[o0 + 6]! * 2 ** 32) / area;
      s.cy[i] = (words[o0 + 7]! + words[o0 + 8]! * 2 ** 32) / area;
      if (s.mean) s.mean[i] = (vdt === 'f32' || vdt === 'f16' ? f32[o0 + 9]! : words[o0 + 9]! + words[o0 + 10]! * 2 ** 32) / area;
    }
    stats.push(s);
  }
  return { count, stats };
}

function allocStats(k: number, withMean: boolean): ComponentStats {
  const s: ComponentStats = {
    area: new Int32Array(k),
    x: new Int32Array(k),
    y: new Int32Array(k),
    w: new Int32Array(k),
    h: new Int32Array(k),
    cx: new Float64Array(k),
    cy: new Float64Array(k),
  };
  if (withMean) s.mean = new Float64Array(k);
  return s;
}

// ---------------------------------------------------------------------------------------------
// CPU reference: two-pass union-find

function findRoot(parent: Int32Array, x: number): number {
  let r = x;
  while (parent[r] !== r) r = parent[r]!;
  while (parent[x] !== r) {
    const p = parent[x]!;
    parent[x] = r;
    x = p;
  }
  return r;
}

function union(parent: Int32Array, a: number, b: number): number {
  const ra = findRoot(parent, a);
  const rb = findRoot(parent, b);
  if (ra < rb) {
    parent[rb] = ra;
    return ra;
  }
  parent[ra] = rb;
  return rb;
}

/** Labels one H×W plane; returns the label count. `out` receives labels in OpenCV's numbering. */
export function labelPlaneCpu(mask: ArrayLike<number>, off: number, H: number, W: number, conn: Connectivity, out: Int32Array): number {
  // first pass: provisional labels (1-based) in raster order, equivalences in a union-find forest;
  // written into `out` and renumbered there in place (a plane of their own cost 4 B/px more)
  const prov = out;
  const parent = new Int32Array(H * Math.ceil(W / 2) + 2); // a new label needs a background left neighbour
  let next = 1;
  const at = (y: number, x: number) => (y >= 0 && x >= 0 && x < W && mask[off + y * W + x] !== 0 ? prov[y * W + x]! : 0);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (mask[off + y * W + x] === 0) {
        prov[y * W + x] = 0;
        continue;
      }
      const nb = conn === 8 ? [at(y, x - 1), at(y - 1, x - 1), at(y - 1, x), at(y - 1, x + 1)] : [at(y, x - 1), at(y - 1, x)];
      let l = 0;
      for (const v of nb) if (v !== 0) l = l === 0 ? v : union(parent, l, v);
      if (l === 0) {
        l = next++;
        parent[l] = l;
      }
      prov[y * W + x] = l;
    }
  }
  // second pass: final numbers in OpenCV's order (raster for 4, 2×2-block raster for 8)
  const final = new Int32Array(next);
  let count = 0;
  const visit = (y: number, x: number) => {
    const p = prov[y * W + x]!;
    if (p === 0) return;
    const r = findRoot(parent, p);
    if (final[r] === 0) final[r] = ++count;
  };
  if (conn === 8) {
    for (let by = 0; by < H; by += 2) for (let x = 0; x < W; x++) for (let y = by; y < Math.min(by + 2, H); y++) visit(y, x);
  } else {
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) visit(y, x);
  }
  for (let i = 0; i < H * W; i++) {
    const p = prov[i]!;
    out[i] = p === 0 ? 0 : final[findRoot(parent, p)]!;
  }
  return count;
}

function connectedComponentsCpu(mask: Tensor, conn: Connectivity, values: Tensor | undefined): ConnectedComponentsResult {
  const [N, , H, W] = mask.shape as [number, number, number, number];
  const labels = new Int32Array(N * H * W);
  const count: number[] = [];
  const stats: ComponentStats[] = [];
  const m = mask.data;
  for (let n = 0; n < N; n++) {
    const off = n * H * W;
    const plane = labels.subarray(off, off + H * W);
    const k = labelPlaneCpu(m, off, H, W, conn, plane);
    count.push(k);
    const s = allocStats(k, values !== undefined);
    const minx = new Int32Array(k).fill(W);
    const miny = new Int32Array(k).fill(H);
    const maxx = new Int32Array(k).fill(-1);
    const maxy = new Int32Array(k).fill(-1);
    const sx = new Float64Array(k);
    const sy = new Float64Array(k);
    const sv = new Float64Array(k);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const l = plane[y * W + x]!;
        if (l === 0) continue;
        const i = l - 1;
        s.area[i]!++;
        if (x < minx[i]!) minx[i] = x;
        if (x > maxx[i]!) maxx[i] = x;
        if (y < miny[i]!) miny[i] = y;
        if (y > maxy[i]!) maxy[i] = y;
        sx[i] = sx[i]! + x;
        sy[i] = sy[i]! + y;
        if (values) sv[i] = sv[i]! + values.at(off + y * W + x);
      }
    }
    for (let i = 0; i < k; i++) {
      s.x[i] = minx[i]!;
      s.y[i] = miny[i]!;
      s.w[i] = maxx[i]! - minx[i]! + 1;
      s.h[i] = maxy[i]! - miny[i]! + 1;
      s.cx[i] = sx[i]! / s.area[i]!;
      s.cy[i] = sy[i]! / s.area[i]!;
      if (s.mean) s.mean[i] = sv[i]! / s.area[i]!;
    }
    stats.push(s);
  }
  return { labels: Tensor.fromArray(labels, [N, 1, H, W], 'i32'), count, stats };
}
