/**
 * Hole filling, as MATLAB's imfill(bw, 'holes') and scipy.ndimage.binary_fill_holes: a hole is a
 * connected set of background pixels that does not reach the image border; holes become
 * foreground. With `maxArea`, only holes of at most that many pixels are filled (skimage's
 * remove_small_holes), so a closed outline (a spot's gradient ring) becomes a solid region while a
 * large region enclosed by a crack network stays open.
 *
 * Input: a u8 mask batch N×1×H×W, nonzero = foreground. Output: u8, 255 on the foreground and on
 * filled holes, 0 elsewhere. `connectivity` is the background's: 4 (default) suits 8-connected
 * objects (a diagonal gap between two object pixels does not let a hole leak out), 8 suits
 * 4-connected ones.
 *
 * GPU: the background is labelled with the block union-find of components.ts, six dispatches and
 * a seventh for `maxArea`, no readback:
 *   1 prep     a pixel kernel writes 0 (foreground), 1 (background) or 2 (background on the border)
 *   2 label    union-find over the non-zero pixels (two dispatches: tile-local, then tile borders)
 *   3 compress L[b] = root; roots of trees holding a 2 get FLAG (the tree reaches the border)
 *   4 roots    each root's word becomes ROOT | FLAG-if-any | area 0 (block indices stay below 2^30)
 *   5 area     (maxArea only) one thread per run of 8 pixels of a row adds the run's pixels of
 *              unflagged trees to their root's area, while that area is at most maxArea (so the
 *              border-connected background, most pixels, adds nothing)
 *   6 fill     a pixel kernel: 255 on the foreground and where the pixel's tree is unflagged and
 *              its area is at most maxArea
 * CPU reference: flood fill of the background from the border, then each remaining background
 * component is measured and filled when small enough.
 *
 * Limits: N·H·W < 2^31 and, with maxArea, H·W < 2^30 (areas share a word with two flag bits).
 */
import { onDevice } from '../../device.js';
import type { Gpu } from '../../gpu/gpu.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter } from '../../validate.js';
import {
  blockGeometry,
  BLOCK_WORKGROUP,
  CCL_UNIFORMS,
  cclBorderProgram,
  cclCompressProgram,
  cclLocalProgram,
  cclUniforms,
  recordUnionFind,
  RUN,
  type Connectivity,
} from '../analysis/components.js';
import { checkDType, checkImage } from '../image.js';
import { pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';

export interface FillHolesOptions {
  /** Connectivity of the background: 4 (default, for 8-connected objects) or 8. */
  connectivity?: Connectivity;
  /** Fill only holes of at most this many pixels, 1 … 2^30 − 1 (default: every hole). */
  maxArea?: number;
}

const ANY_AREA = 2 ** 30 - 1;

interface Resolved {
  connectivity: Connectivity;
  maxArea: number;
}

function resolve(mask: Tensor, o: FillHolesOptions): Resolved {
  checkImage('mask', mask, [1]);
  checkDType('mask', mask, ['u8']);
  const connectivity = o.connectivity === undefined ? 4 : o.connectivity;
  if (connectivity !== 4 && connectivity !== 8) throw invalidParameter('connectivity', '4 or 8', o.connectivity);
  const maxArea = o.maxArea === undefined ? ANY_AREA : integerInRange('maxArea', o.maxArea, 1, ANY_AREA);
  if (mask.size >= 2 ** 31) throw invalidParameter('mask', 'fewer than 2^31 pixels', `[${mask.shape.join(', ')}]`);
  const [, , H, W] = mask.shape as Dims4;
  if (maxArea < ANY_AREA && H * W >= 2 ** 30) throw invalidParameter('mask', 'images of fewer than 2^30 pixels with maxArea', `[${mask.shape.join(', ')}]`);
  return { connectivity, maxArea };
}

/** 0 foreground, 1 background, 2 background on the image border (the seeds of the outside). */
export function fillHolesPrepProgram(): ProgramInfo {
  return pixelProgram({
    name: 'fill_holes_prep',
    key: '',
    inputs: [{ name: 'mask', dtype: 'u8' }],
    output: 'u8',
    border: 'replicate',
    uniforms: [],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  if (mask_px(n, 0u, y, x) != 0.0) { return 0.0; }
  let s = u.out_shape;
  return select(1.0, 2.0, y == 0u || x == 0u || y + 1u == s.z || x + 1u == s.w);
}`,
  });
}

/** WGSL constants of the label words after the roots pass. */
const WORDS = /* wgsl */ `
const BG: u32 = 0xffffffffu;
const FLAG: u32 = 0x80000000u;
const ROOT: u32 = 0x40000000u;
const AREA: u32 = 0x3fffffffu;`;

/** Roots become ROOT | (FLAG if the tree reaches the border) | area 0; other blocks keep their root's index. */
export function fillHolesRootsProgram(): ProgramInfo {
  return {
    name: 'fill_holes_roots',
    key: '',
    inputs: [],
    outputs: [{ name: 'L', dtype: 'f32', atomic: true }],
    uniforms: CCL_UNIFORMS,
    workgroupSize: BLOCK_WORKGROUP,
    body: `${WORDS}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg) * WG + li;
  if (g >= u.blk.w) { return; }
  let v = atomicLoad(&L[g]);
  if (v != BG && (v & ~FLAG) == g) { atomicStore(&L[g], ROOT | (v & FLAG)); }
}`,
  };
}

/** Areas of the unflagged trees (the holes), counted while they are at most max_area. */
export function fillHolesAreaProgram(conn: Connectivity): ProgramInfo {
  return {
    name: 'fill_holes_area',
    key: `c=${conn}`,
    inputs: [{ name: 'prep', dtype: 'u8' }],
    outputs: [{ name: 'L', dtype: 'f32', atomic: true }],
    uniforms: [...CCL_UNIFORMS, { name: 'max_area', type: 'u32' }],
    workgroupSize: BLOCK_WORKGROUP,
    body: `${WORDS}
const BH: u32 = ${conn === 8 ? 2 : 1}u;
const RUN: u32 = ${RUN}u;
// the word holding block b's tree: b's own when b is a root, else its root's
fn root_of(b: u32) -> u32 {
  let v = atomicLoad(&L[b]);
  return select(v, b, (v & ROOT) != 0u);
}
fn flush(r: u32, area: u32) {
  if (area == 0u || (atomicLoad(&L[r]) & AREA) > u.max_area) { return; }
  atomicAdd(&L[r], area);
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = linear_workgroup(wid, nwg) * WG + li;
  if (t >= u.ch.w) { return; }
  let runs = u.dims.w;
  let row = t / runs;
  let n = row / u.dims.y;
  let y = row - n * u.dims.y;
  let x0 = (t - row * runs) * RUN;
  let x1 = min(x0 + RUN, u.dims.z);
  let brow = n * u.blk.z + (y / BH) * u.blk.y;
  var cur = BG;
  var area = 0u;
  for (var x = x0; x < x1; x++) {
    if (prep_load(row * u.dims.z + x) == 0.0) { continue; }
    let r = root_of(brow + (x >> 1u));
    if (r != cur) {
      if (cur != BG) { flush(cur, area); }
      cur = r;
      area = 0u;
      // trees reaching the border are never filled: their pixels are not counted
      if ((atomicLoad(&L[r]) & FLAG) != 0u) { cur = BG; }
    }
    if (cur != BG) { area++; }
  }
  if (cur != BG) { flush(cur, area); }
}`,
  };
}

/** 255 on the foreground and on holes of at most max_area pixels. */
export function fillHolesFinalProgram(conn: Connectivity): ProgramInfo {
  return pixelProgram({
    name: 'fill_holes_final',
    key: `c=${conn}`,
    inputs: [
      { name: 'prep', dtype: 'u8' },
      { name: 'L', dtype: 'i32' },
    ],
    output: 'u8',
    border: 'replicate',
    uniforms: [{ name: 'max_area', type: 'u32' }],
    pixel: /* wgsl */ `${WORDS}
const BH: u32 = ${conn === 8 ? 2 : 1}u;
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  if (prep_px(n, 0u, y, x) == 0.0) { return 255.0; }
  let s = u.L_shape;
  let v = bitcast<u32>(L[(n * s.z + y / BH) * s.w + (x >> 1u)]);
  var e = v;
  if ((v & ROOT) == 0u) { e = bitcast<u32>(L[v]); }
  return select(0.0, 255.0, (e & FLAG) == 0u && (e & AREA) <= u.max_area);
}`,
  });
}

/** Every program variant, for the compile-all test. */
export function fillHolesPrograms(): ProgramInfo[] {
  const out: ProgramInfo[] = [fillHolesPrepProgram(), fillHolesRootsProgram()];
  for (const conn of [4, 8] as const) {
    out.push(
      cclLocalProgram(conn, 'u8'),
      cclBorderProgram(conn, 'u8'),
      cclCompressProgram(conn, 'u8', 'flag'),
      fillHolesAreaProgram(conn),
      fillHolesFinalProgram(conn),
    );
  }
  return out;
}

/**
 * Fills the holes of each mask of a batch. Runs where `mask` lives.
 * @example fillHoles(mask)                       // every hole, as imfill(bw, 'holes')
 * @example fillHoles(mask, { maxArea: 256 })     // holes of up to 256 pixels
 * @throws KensaError for a mask that is not u8 N×1×H×W, connectivity other than 4 or 8, or maxArea outside 1 … 2^30 − 1.
 */
export function fillHoles(mask: Tensor, options: FillHolesOptions = {}): Tensor {
  const o = resolve(mask, options);
  return onDevice(mask, { gpu: (gpu) => fillHolesGpu(gpu, mask, o), cpu: () => fillHolesCpu(mask, o) });
}

function fillHolesGpu(gpu: Gpu, mask: Tensor, o: Resolved): Tensor {
  const [N, , H, W] = mask.shape as Dims4;
  const prep = runPixelProgram(fillHolesPrepProgram(), [mask], [N, 1, H, W], 'u8', {});
  const g = blockGeometry(N, H, W, o.connectivity);
  const un = { ...cclUniforms(g, 0), max_area: o.maxArea };
  const L = recordUnionFind(gpu, prep, g, o.connectivity, un);
  const blocks = Math.ceil(g.total / BLOCK_WORKGROUP);
  gpu.dispatch({ program: cclCompressProgram(o.connectivity, 'u8', 'flag'), inputs: [prep.gpu.ref], outputs: [L.gpu.ref], uniforms: un, workgroups: blocks });
  gpu.dispatch({ program: fillHolesRootsProgram(), inputs: [], outputs: [L.gpu.ref], uniforms: un, workgroups: blocks });
  if (o.maxArea < ANY_AREA) {
    gpu.dispatch({
      program: fillHolesAreaProgram(o.connectivity),
      inputs: [prep.gpu.ref],
      outputs: [L.gpu.ref],
      uniforms: un,
      workgroups: Math.ceil(un.ch[3]! / BLOCK_WORKGROUP),
    });
  }
  const out = runPixelProgram(fillHolesFinalProgram(o.connectivity), [prep, L], [N, 1, H, W], 'u8', { max_area: o.maxArea });
  prep.dispose();
  L.dispose();
  return out;
}

function fillHolesCpu(mask: Tensor, o: Resolved): Tensor {
  const [N, , H, W] = mask.shape as Dims4;
  const m = mask.data;
  const out = new Uint8Array(N * H * W);
  const seen = new Uint8Array(H * W);
  const stack = new Int32Array(H * W);
  const hole: number[] = [];
  const dx = o.connectivity === 8 ? [-1, 0, 1, -1, 1, -1, 0, 1] : [-1, 1, 0, 0];
  const dy = o.connectivity === 8 ? [-1, -1, -1, 0, 0, 1, 1, 1] : [0, 0, -1, 1];
  for (let n = 0; n < N; n++) {
    const off = n * H * W;
    seen.fill(0);
    let top = 0;
    // visits the background component of `start`: marks it, and lists its pixels in `hole` when asked
    const flood = (start: number, list: boolean) => {
      seen[start] = 1;
      stack[top++] = start;
      while (top > 0) {
        const p = stack[--top]!;
        if (list) hole.push(p);
        const y = Math.floor(p / W);
        const x = p - y * W;
        for (let k = 0; k < dx.length; k++) {
          const yy = y + dy[k]!;
          const xx = x + dx[k]!;
          if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
          const q = yy * W + xx;
          if (m[off + q] === 0 && !seen[q]) {
            seen[q] = 1;
            stack[top++] = q;
          }
        }
      }
    };
    for (let p = 0; p < H * W; p++) {
      const y = Math.floor(p / W);
      const x = p - y * W;
      if ((y === 0 || x === 0 || y === H - 1 || x === W - 1) && m[off + p] === 0 && !seen[p]) flood(p, false);
    }
    for (let p = 0; p < H * W; p++) {
      if (m[off + p] !== 0) out[off + p] = 255;
      else if (!seen[p]) {
        hole.length = 0;
        flood(p, true);
        if (hole.length <= o.maxArea) for (const q of hole) out[off + q] = 255;
      }
    }
  }
  return Tensor.fromArray(out, [N, 1, H, W], 'u8');
}
