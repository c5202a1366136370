/**
 * Tiled integer maps: the GPU path of the gather engine's same-dtype integer maps whose 2×2 part
 * is a signed permutation (the 8 flips / quarter turns / transposes of the dihedral group) plus
 * an integer translation (crops, and pads with a constant border), one map per sample.
 *
 * Such a map sends a square output tile onto a square source block, so a workgroup stages the
 * block in workgroup memory and writes the tile from there: the reads are whole storage words
 * along source rows and the writes whole words along output rows, both coalesced, whatever the
 * map (a transpose reads columns only from workgroup memory). Source rows need not start on a
 * word (odd widths, crop offsets): each staged row keeps its words as stored, and an element at
 * block column c sits at position shift + c of its row, shift being the row's start in its word.
 * A tile owns the output words that start inside it; the few elements such a word holds beyond
 * the tile (the next tile, or the next row when rows do not end on a word) are read directly.
 * The hot loops hold no division but by compile-time constants.
 */
import { BYTES_PER_ELEMENT, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { packPerSample, perSampleField } from '../image.js';
import type { Dims4 } from '../../kernels/pixel.js';
import type { IntegerMap } from './gather.js';

const WG = 256;

/** Tile side in elements: rows of 64 bytes for u8, 128 for u16/f16 and (32 elements) for 4-byte dtypes, in ≤ 8.5 KiB. */
function tileSide(bytes: number): number {
  return bytes === 4 ? 32 : 64;
}

/** Whether the map's 2×2 part is a signed permutation (one ±1 per row and column) and its offsets integers. */
export function isDihedral(m: IntegerMap): boolean {
  const [a, b, c] = m.mx;
  const [d, e, f] = m.my;
  const unit = (v: number) => v === 1 || v === -1;
  const signedPermutation = (a === 0 && e === 0 && unit(b) && unit(d)) || (b === 0 && d === 0 && unit(a) && unit(e));
  return signedPermutation && Number.isInteger(c) && Number.isInteger(f);
}

const programs = new Map<number, ProgramInfo>();

/** The tiled program of an element width (1, 2 or 4 bytes): it copies bits, so every dtype of the width shares it. */
export function dihedralProgram(bytes: number): ProgramInfo {
  let p = programs.get(bytes);
  if (p) return p;
  const k = 4 / bytes;
  const lk = Math.log2(k);
  const t = tileSide(bytes);
  const rw = t / k + 1;
  const mask = bytes === 4 ? '0xffffffffu' : bytes === 2 ? '0xffffu' : '0xffu';
  const extract = (word: string, pos: string) => (bytes === 4 ? word : `((${word} >> ((${pos} & ${k - 1}u) * ${bytes * 8}u)) & ${mask})`);
  const body = /* wgsl */ `
const T: u32 = ${t}u;
// words per staged row: a row of T elements not starting on a word spans T / K + 1 words
const RW: u32 = ${rw}u;
var<workgroup> tile: array<u32, ${t * rw}>;

fn sample_map(n: u32) -> array<vec4<i32>, 2> {
  let i = 2u * n * u.grid.w;
  return array<vec4<i32>, 2>(u.maps[i], u.maps[i + 1u]);
}

fn src_pos(m: array<vec4<i32>, 2>, y: i32, x: i32) -> vec2<i32> {
  return vec2<i32>(m[0].x * y + m[0].y * x + m[0].z, m[1].x * y + m[1].y * x + m[1].z);
}

fn inside(p: vec2<i32>) -> bool {
  return p.x >= 0 && p.y >= 0 && p.x < i32(u.src_shape.w) && p.y < i32(u.src_shape.z);
}

/** Bits of output element e read straight from the input (elements of a word beyond the tile). */
fn direct_bits(e: u32) -> u32 {
  let o = u.out_shape;
  let x = e % o.w;
  let r = e / o.w;
  let y = r % o.z;
  let plane = r / o.z;
  let p = src_pos(sample_map(plane / o.y), i32(y), i32(x));
  if (!inside(p)) { return u.fill_bits; }
  let s = u.src_shape;
  let j = (plane * s.z + u32(p.y)) * s.w + u32(p.x);
  return ${extract(`src[j >> ${lk}u]`, 'j')};
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  let o = u.out_shape;
  let s = u.src_shape;
  let plane = g / u.grid.z;
  if (plane >= o.x * o.y) { return; }
  let tg = g - plane * u.grid.z;
  let ty = tg / u.grid.x;
  let ox0 = (tg - ty * u.grid.x) * T;
  let oy0 = ty * T;
  let m = sample_map(plane / o.y);
  // the source block: the least source column and row over the tile's corners
  let last = i32(T) - 1;
  let bx = m[0].z + min(m[0].x * i32(oy0), m[0].x * (i32(oy0) + last)) + min(m[0].y * i32(ox0), m[0].y * (i32(ox0) + last));
  let by = m[1].z + min(m[1].x * i32(oy0), m[1].x * (i32(oy0) + last)) + min(m[1].y * i32(ox0), m[1].y * (i32(ox0) + last));
  let in_plane = plane * s.z * s.w;
  // block columns [c0, c1) lie in the image
  let c0 = max(-bx, 0);
  let c1 = min(i32(T), i32(s.w) - bx);
  for (var i = li; i < T * RW; i += WG) {
    let r = i / RW;
    let sy = by + i32(r);
    let row = in_plane + u32(sy) * s.w;
    // slot q of the row holds block columns [q·K − shift, q·K − shift + K)
    let lo = i32((i - r * RW) * ${k}u) - i32((row + u32(bx)) & ${k - 1}u);
    if (sy >= 0 && sy < i32(s.z) && lo + ${k} > c0 && lo < c1) {
      // the slot's first element index is a multiple of K at or below a valid element, so not negative
      tile[i] = src[(row + u32(bx + lo)) >> ${lk}u];
    }
  }
  workgroupBarrier();
  // T / K word starts per tile row
  for (var i = li; i < T * T / ${k}u; i += WG) {
    let r = i / (T / ${k}u);
    let oy = oy0 + r;
    let row = plane * o.z * o.w + oy * o.w + ox0;
    let end = row - ox0 + min(ox0 + T, o.w);
    let w = ((row + ${k - 1}u) >> ${lk}u) + i - r * (T / ${k}u);
    if (oy < o.z && w * ${k}u < end) {
      var word = 0u;
      for (var k = 0u; k < ${k}u; k++) {
        let e = w * ${k}u + k;
        if (e < u.out_numel) {
          let lc = e - row;
          var b = 0u;
          if (e < end) {
            let p = src_pos(m, i32(oy), i32(ox0 + lc));
            b = u.fill_bits;
            if (inside(p)) {
              let sr = u32(p.y - by);
              let pos = ((in_plane + u32(p.y) * s.w + u32(bx)) & ${k - 1}u) + u32(p.x - bx);
              b = ${extract(`tile[sr * RW + (pos >> ${lk}u)]`, 'pos')};
            }
          } else {
            b = direct_bits(e);
          }
          word = word | (b << (k * ${bytes * 8}u));
        }
      }
      out[w] = word;
    }
  }
}`;
  p = {
    name: 'integer_map_tiled',
    key: `bytes=${bytes}`,
    // storage words whatever the dtype: bits are copied, never converted
    inputs: [{ name: 'src', dtype: 'u8' }],
    outputs: [{ name: 'out', dtype: 'u8' }],
    uniforms: [
      { name: 'out_shape', type: 'vec4u' },
      { name: 'src_shape', type: 'vec4u' },
      // tiles per row, tile rows, tiles per plane, map stride (1 per sample, 0 one map for all)
      { name: 'grid', type: 'vec4u' },
      { name: 'out_numel', type: 'u32' },
      { name: 'fill_bits', type: 'u32' },
      perSampleField('maps', 'vec4i', 2),
    ],
    workgroupSize: WG,
    body,
  };
  programs.set(bytes, p);
  return p;
}

/** Every tiled program (one per element width), for compile-all tests. */
export function dihedralPrograms(): ProgramInfo[] {
  return [1, 2, 4].map(dihedralProgram);
}

/**
 * Records the tiled map of a GPU tensor into a new one of `outShape` and x's dtype: one map for
 * the batch or one per sample (each isDihedral), `fillBits` outside the input.
 */
export function runDihedral(x: Tensor, outShape: Dims4, maps: readonly IntegerMap[], fillBits: number): Tensor {
  const dtype: DType = x.dtype;
  const gpu = x.gpu.gpu;
  const out = Tensor.empty(gpu, outShape, dtype);
  if (out.size === 0) return out;
  const t = tileSide(BYTES_PER_ELEMENT[dtype]);
  const [n, c, h, w] = outShape;
  const tilesX = Math.ceil(w / t);
  const tilesY = Math.ceil(h / t);
  const perSample = maps.length > 1;
  gpu.dispatch({
    program: dihedralProgram(BYTES_PER_ELEMENT[dtype]),
    inputs: [x.gpu.ref],
    outputs: [out.gpu.ref],
    uniforms: {
      out_shape: outShape,
      src_shape: x.shape,
      grid: [tilesX, tilesY, tilesX * tilesY, perSample ? 1 : 0],
      out_numel: out.size,
      fill_bits: fillBits,
      maps: packPerSample(
        maps.map((m) => [...m.mx, 0, ...m.my, 0]),
        2,
      ),
    },
    workgroups: tilesX * tilesY * n * c,
  });
  return out;
}
