/**
 * WGSL of the GPU JPEG decoder (gpu.ts runs them). Huffman decoding is self-synchronising
 * (Weißenberger & Schmidt, "Massively parallel Huffman decoding on GPUs", ICPP 2018, and
 * "Accelerating JPEG decompression on GPUs", 2021): the bit stream of each restart interval
 * ("segment") is cut into subsequences of SUBSEQ_BITS (or `subseq`) bits, one thread each.
 *   jpeg_sync, pass 0: each thread decodes its subsequence from its first bit with a guessed state
 *     (block 0 of the MCU, coefficient 0) until it passes its end, and records its exit: the
 *     overshoot past its end, the state (block of the MCU, zig-zag index), the blocks it
 *     completed, the DC differences it summed per component, and the entry it started from.
 *   Then, and in every pass p ≥ 1: thread i decodes again from thread i − 1's exit (the first
 *     subsequence of a segment starts exactly: byte-aligned, state (0, 0)) when that differs from
 *     the entry its record came from. Inside a workgroup this repeats until no record changes
 *     (entries from the workgroup's own new exits; the first thread's from the last pass, in pass
 *     0 the guess), so a chain of unsynchronised subsequences (frequent in 4:2:0, where a wrong
 *     guess of the block within the MCU decodes luma blocks consistently for a while) resolves in
 *     one pass; a chain across a workgroup boundary takes one more pass. A pass in which no thread
 *     decoded has reached the fixed point, which is the true decoding: by induction from each
 *     segment's exact start, subsequence k of a segment is right after pass k at the latest.
 *   jpeg_scan_local, jpeg_scan_totals: exclusive prefix sums of (blocks, DC sums) over subsequences.
 *   jpeg_decode: each thread decodes its subsequence once more from its synchronised entry, its
 *     first block index and DC predictors from the prefix sums, and writes the coefficients.
 *   jpeg_idct: one thread per block: dequantisation and jidctint.c's integer IDCT into the planes
 *     (jpeg_idct_scaled at a DCT scaling: each component's block size, 8, 4 or 2, from its image).
 *   jpeg_colour: one thread per output word (or per 4 RGB pixels): upsampling, YCbCr → RGB (or
 *     gray), planar C×H×W.
 *
 * Tables (the `tab` buffer, u32): images (IMG_WORDS each), segments (SEG_WORDS each), Huffman
 * tables (parse.ts HUFFMAN_WORDS each), quantisation tables (64 each, natural order), the segment
 * of each subsequence (one word each); the uniforms give each region's first word.
 */
import type { ProgramInfo } from '../../gpu/program.js';
import type { UniformField } from '../../gpu/uniforms.js';
import { FIX_0_298631336, FIX_0_390180644, FIX_0_541196100, FIX_0_765366865, FIX_0_899976223, FIX_1_175875602 } from './idct.js';
import { FIX_1_501321110, FIX_1_847759065, FIX_1_961570560, FIX_2_053119869, FIX_2_562915447, FIX_3_072711026 } from './idct.js';
import { FIX_0_34414, FIX_0_71414, FIX_1_40200, FIX_1_77200 } from './idct.js';
import { FIX_0_211164243, FIX_0_509795579, FIX_0_601344887, FIX_0_720959822, FIX_0_850430095 } from './idct.js';
import { FIX_1_061594337, FIX_1_272758580, FIX_1_451774981, FIX_2_172734803, FIX_3_624509785 } from './idct.js';
import { NATURAL_ORDER } from './parse.js';

/**
 * Bits of one subsequence (one thread of the Huffman passes) unless the caller gives another
 * (the `subseq` uniform). Longer ones synchronise more often inside themselves (a simulation of
 * the synchronisation on sharp's 1080p q90 4:2:0 files: an exit decoded from the guess differs
 * from the true one for 65 % of 1024-bit subsequences, 44 % of 2048, 18 % of 4096), so pass 0
 * iterates less (per bit: 9.3, 5.9, 4.2 subsequence decodes), but give fewer threads (a 1080p
 * file: about 2,700 of 2048 bits).
 */
export const SUBSEQ_BITS = 2048;
/** Words of an image's entry in the tables. */
export const IMG_WORDS = 64;
export const SEG_WORDS = 8;
/** Words of a subsequence's record in the sync buffers: exit, blocks, dc0, dc1, dc2, the entry it was decoded from, 0, 0. */
export const SYNC_WORDS = 8;
/** Words of the status buffer before the per-image error words: per sync pass (mod 64), the subsequence decodes it made. */
export const STATUS_PASSES = 64;

/*
 * Image entry: 0 components, 1 blocks per MCU, 2 MCUs across, 3 width, 4 height, 5 interleaved,
 * 6 first block (coefficient buffer), 7 output channels, 8 chroma upsampling (idct.ts Upsampling),
 * 9 output image in its group (the colour pass writes image n of a group at byte n·C·H·W),
 * 10 index of the image's status word, 12 + c the IDCT block size of component c (8, 4, 2); 16 + 8c component c: h, v, quant table word, DC table
 * word, AC table word, plane word, plane stride (bytes), width | height << 16; 40 + b: block b of
 * the MCU: component | bx << 4 | by << 8.
 * Segment entry: 0 image, 1 first bit, 2 end bit, 3 first block, 4 blocks, 5 first subsequence.
 */

/** The uniforms of every program: sizes and region offsets (`count`: threads or words of the dispatch). */
export const JPEG_UNIFORMS: readonly UniformField[] = [
  { name: 'count', type: 'u32' },
  { name: 'sync_pass', type: 'u32' },
  { name: 'seg_base', type: 'u32' },
  { name: 'sub_base', type: 'u32' },
  { name: 'images', type: 'u32' },
  { name: 'img_first', type: 'u32' },
  { name: 'chw', type: 'u32' },
  { name: 'hw', type: 'u32' },
  { name: 'subseq', type: 'u32' },
];

const WG = 64;

const COMMON = /* wgsl */ `
const IMG: u32 = ${IMG_WORDS}u;
const SEG: u32 = ${SEG_WORDS}u;
const SYNC: u32 = ${SYNC_WORDS}u;

// word i of the stream big-endian: the words hold the bytes in file order
fn stream_word(i: u32) -> u32 {
  let w = stream[i];
  return (w << 24u) | ((w & 0xff00u) << 8u) | ((w >> 8u) & 0xff00u) | (w >> 24u);
}
// the 32 stream bits from bit p (bit 0 of the stream is the top bit of its first byte)
fn peek32(p: u32) -> u32 {
  let i = p >> 5u;
  let s = p & 31u;
  let hi = stream_word(i);
  if (s == 0u) { return hi; }
  return (hi << s) | (stream_word(i + 1u) >> (32u - s));
}

// (length << 8) | symbol of the Huffman code at the top of \`b\` in the table at word t; 0 if none
fn huff(t: u32, b: u32) -> u32 {
  let e = tab[t + (b >> 23u)];
  if (e != 0u) { return e; }
  for (var l = 10u; l <= 16u; l++) {
    let code = i32(b >> (32u - l));
    if (code <= bitcast<i32>(tab[t + 511u + l])) {
      return (l << 8u) | tab[t + 544u + u32(code + bitcast<i32>(tab[t + 527u + l]))];
    }
  }
  return 0u;
}

fn extend(v: u32, s: u32) -> i32 {
  let x = i32(v);
  return select(x, x - (1i << s) + 1i, v < (1u << (s - 1u)));
}

// one thread's decoding state
struct Dec {
  pos: u32,
  b: u32,
  z: u32,
  blocks: u32,
  dc: vec3<i32>,
  bad: bool,
  // the coefficient just decoded: natural index (64 = none) and value
  at: u32,
  value: i32,
}

// decodes one codeword (and its magnitude bits) of image entry ib
fn step(d: ptr<function, Dec>, ib: u32, bpm: u32) {
  let lay = tab[ib + 40u + (*d).b];
  let c = lay & 15u;
  let cb = ib + 16u + c * 8u;
  let bits = peek32((*d).pos);
  (*d).at = 64u;
  if ((*d).z == 0u) {
    let e = huff(tab[cb + 3u], bits);
    var len = e >> 8u;
    var s = e & 15u;
    if (e == 0u) { len = 16u; s = 0u; (*d).bad = true; }
    var diff = 0i;
    if (s > 0u) { diff = extend((bits << len) >> (32u - s), s); }
    (*d).pos += len + s;
    (*d).dc[c] += diff;
    (*d).at = 0u;
    (*d).value = (*d).dc[c];
    (*d).z = 1u;
  } else {
    let e = huff(tab[cb + 4u], bits);
    var len = e >> 8u;
    var rs = e & 255u;
    if (e == 0u) { len = 16u; rs = 0u; (*d).bad = true; }
    let r = rs >> 4u;
    let s = rs & 15u;
    if (s == 0u) {
      (*d).z = select(64u, (*d).z + 16u, r == 15u);
    } else {
      let k = (*d).z + r;
      (*d).at = NATURAL[min(k, 63u)];
      (*d).value = extend((bits << len) >> (32u - s), s);
      (*d).z = k + 1u;
    }
    (*d).pos += len + s;
  }
  if ((*d).z >= 64u) {
    (*d).z = 0u;
    (*d).blocks += 1u;
    (*d).b = select((*d).b + 1u, 0u, (*d).b + 1u == bpm);
  }
}

const NATURAL = array<u32, 64>(${Array.from(NATURAL_ORDER.subarray(0, 64)).join('u, ')}u);
`;

const BINDINGS_HUFF = {
  inputs: [
    { name: 'stream', dtype: 'u8' },
    { name: 'tab', dtype: 'u8' },
  ],
} as const;

let syncProgram: ProgramInfo | undefined;
/** Pass 0 (guessed entries) and the synchronisation passes. */
export function jpegSyncProgram(): ProgramInfo {
  syncProgram ??= {
    name: 'jpeg_sync',
    key: '',
    inputs: [...BINDINGS_HUFF.inputs, { name: 'state_in', dtype: 'u8' }],
    outputs: [
      { name: 'state_out', dtype: 'u8' },
      { name: 'status', dtype: 'u8', atomic: true },
    ],
    uniforms: JPEG_UNIFORMS,
    workgroupSize: WG,
    body: /* wgsl */ `${COMMON}
var<workgroup> exits: array<u32, WG>;
var<workgroup> again0: u32;
var<workgroup> again1: u32;

struct Rec { exit: u32, blocks: u32, dc: vec3<i32>, entry: u32 }

// decodes subsequence [start, end) from \`entry\` (an exit word: overshoot past start, block of the MCU, zig-zag index)
fn run(ib: u32, start: u32, end: u32, entry: u32) -> Rec {
  var d = Dec(start + (entry >> 16u), (entry >> 8u) & 255u, entry & 255u, 0u, vec3<i32>(0), false, 64u, 0);
  let bpm = tab[ib + 1u];
  while (d.pos < end) { step(&d, ib, bpm); }
  return Rec(((d.pos - end) << 16u) | (d.b << 8u) | d.z, d.blocks, d.dc, entry);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  let live = i < u.count;
  var ib = 0u;
  var first = 0u;
  var start = 0u;
  var end = 0u;
  if (live) {
    let sb = u.seg_base + tab[u.sub_base + i] * SEG;
    ib = tab[sb] * IMG;
    first = tab[sb + 5u];
    start = tab[sb + 1u] + (i - first) * u.subseq;
    end = min(start + u.subseq, tab[sb + 2u]);
  }
  var rec: Rec;
  var runs = 0u;
  // the entry of the workgroup's first thread: from the last pass (pass 0: the guess)
  var outer = 0u;
  if (u.sync_pass == 0u) {
    // the guess: a codeword starts at the first bit, block 0 of an MCU, coefficient 0 (the exit word 0);
    // exact for the first subsequence of a segment
    if (live) {
      rec = run(ib, start, end, 0u);
      runs = 1u;
    }
  } else {
    if (live) {
      let o = i * SYNC;
      rec = Rec(state_in[o], state_in[o + 1u], bitcast<vec3<i32>>(vec3<u32>(state_in[o + 2u], state_in[o + 3u], state_in[o + 4u])), state_in[o + 5u]);
    }
    if (live && li == 0u && i != first) { outer = state_in[(i - 1u) * SYNC]; }
  }
  // the other threads' entries come from this workgroup's exits, iterated here until none changes
  // (a chain of unsynchronised subsequences inside a workgroup resolves in one pass)
  exits[li] = rec.exit;
  workgroupBarrier();
  for (var t = 0u; t < WG + 1u; t++) {
    var entry = outer;
    if (li > 0u && i != first) { entry = exits[li - 1u]; }
    let need = live && i != first && entry != rec.entry;
    if (need) {
      rec = run(ib, start, end, entry);
      runs += 1u;
    }
    workgroupBarrier();
    exits[li] = rec.exit;
    var again = 0u;
    if ((t & 1u) == 0u) {
      if (li == 0u) { again1 = 0u; }
      if (need) { again0 = 1u; }
      again = workgroupUniformLoad(&again0);
    } else {
      if (li == 0u) { again0 = 0u; }
      if (need) { again1 = 1u; }
      again = workgroupUniformLoad(&again1);
    }
    if (again == 0u) { break; }
  }
  if (!live) { return; }
  let o = i * SYNC;
  state_out[o] = rec.exit;
  state_out[o + 1u] = rec.blocks;
  state_out[o + 2u] = bitcast<u32>(rec.dc.x);
  state_out[o + 3u] = bitcast<u32>(rec.dc.y);
  state_out[o + 4u] = bitcast<u32>(rec.dc.z);
  state_out[o + 5u] = rec.entry;
  if (runs > 0u) { atomicAdd(&status[u.sync_pass % ${STATUS_PASSES}u], runs); }
}`,
  };
  return syncProgram;
}

const SCAN_WG = 256;

const SCAN_SHARED = /* wgsl */ `
var<workgroup> part: array<vec4<i32>, ${SCAN_WG}>;
// inclusive scan of v over the workgroup (Hillis–Steele)
fn scan_wg(li: u32, v: vec4<i32>) -> vec4<i32> {
  part[li] = v;
  workgroupBarrier();
  for (var o = 1u; o < WG; o <<= 1u) {
    var t = part[li];
    if (li >= o) { t += part[li - o]; }
    workgroupBarrier();
    part[li] = t;
    workgroupBarrier();
  }
  return part[li];
}`;

let scanLocal: ProgramInfo | undefined;
/** Per workgroup of 256 subsequences: exclusive prefix sums of (blocks, dc0, dc1, dc2), and the workgroup's total. */
export function jpegScanLocalProgram(): ProgramInfo {
  scanLocal ??= {
    name: 'jpeg_scan_local',
    key: '',
    inputs: [{ name: 'state', dtype: 'u8' }],
    outputs: [
      { name: 'prefix', dtype: 'i32' },
      { name: 'totals', dtype: 'i32' },
    ],
    uniforms: JPEG_UNIFORMS,
    workgroupSize: SCAN_WG,
    body: /* wgsl */ `${SCAN_SHARED}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let g = linear_workgroup(wid, nwg);
  let i = g * WG + li;
  var v = vec4<i32>(0);
  if (i < u.count) { v = bitcast<vec4<i32>>(vec4<u32>(state[i * ${SYNC_WORDS}u + 1u], state[i * ${SYNC_WORDS}u + 2u], state[i * ${SYNC_WORDS}u + 3u], state[i * ${SYNC_WORDS}u + 4u])); }
  let incl = scan_wg(li, v);
  if (i < u.count) {
    let ex = incl - v;
    prefix[i * 4u] = ex.x;
    prefix[i * 4u + 1u] = ex.y;
    prefix[i * 4u + 2u] = ex.z;
    prefix[i * 4u + 3u] = ex.w;
  }
  if (li == WG - 1u) {
    totals[g * 4u] = incl.x;
    totals[g * 4u + 1u] = incl.y;
    totals[g * 4u + 2u] = incl.z;
    totals[g * 4u + 3u] = incl.w;
  }
}`,
  };
  return scanLocal;
}

let scanTotals: ProgramInfo | undefined;
/** One workgroup: the workgroup totals of jpeg_scan_local become exclusive prefix sums, in place. */
export function jpegScanTotalsProgram(): ProgramInfo {
  scanTotals ??= {
    name: 'jpeg_scan_totals',
    key: '',
    inputs: [],
    outputs: [{ name: 'totals', dtype: 'i32' }],
    uniforms: JPEG_UNIFORMS,
    workgroupSize: SCAN_WG,
    body: /* wgsl */ `${SCAN_SHARED}
@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
  var carry = vec4<i32>(0);
  for (var base = 0u; base < u.count; base += WG) {
    let i = base + li;
    var v = vec4<i32>(0);
    if (i < u.count) { v = vec4<i32>(totals[i * 4u], totals[i * 4u + 1u], totals[i * 4u + 2u], totals[i * 4u + 3u]); }
    let incl = scan_wg(li, v);
    if (i < u.count) {
      let ex = carry + incl - v;
      totals[i * 4u] = ex.x;
      totals[i * 4u + 1u] = ex.y;
      totals[i * 4u + 2u] = ex.z;
      totals[i * 4u + 3u] = ex.w;
    }
    carry += part[WG - 1u];
    workgroupBarrier();
  }
}`,
  };
  return scanTotals;
}

let decodeProgram: ProgramInfo | undefined;
/** The final Huffman pass: coefficients (natural order, DC undifferenced) into the cleared coefficient buffer. */
export function jpegDecodeProgram(): ProgramInfo {
  decodeProgram ??= {
    name: 'jpeg_decode',
    key: '',
    inputs: [...BINDINGS_HUFF.inputs, { name: 'state', dtype: 'u8' }, { name: 'prefix', dtype: 'i32' }, { name: 'totals', dtype: 'i32' }],
    outputs: [
      { name: 'coef', dtype: 'i32' },
      { name: 'status', dtype: 'u8', atomic: true },
    ],
    uniforms: JPEG_UNIFORMS,
    workgroupSize: WG,
    body: /* wgsl */ `${COMMON}
fn prefix_of(i: u32) -> vec4<i32> {
  let t = (i / ${SCAN_WG}u) * 4u;
  return vec4<i32>(prefix[i * 4u], prefix[i * 4u + 1u], prefix[i * 4u + 2u], prefix[i * 4u + 3u])
    + vec4<i32>(totals[t], totals[t + 1u], totals[t + 2u], totals[t + 3u]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let i = linear_workgroup(wid, nwg) * WG + li;
  if (i >= u.count) { return; }
  let sb = u.seg_base + tab[u.sub_base + i] * SEG;
  let img = tab[sb];
  let ib = img * IMG;
  let first = tab[sb + 5u];
  let start = tab[sb + 1u] + (i - first) * u.subseq;
  let seg_end = tab[sb + 2u];
  let end = min(start + u.subseq, seg_end);
  let last = end == seg_end;
  let block_end = tab[sb + 3u] + tab[sb + 4u];
  // within the segment: blocks before this subsequence's entry, and the DC predictors there
  let pre = prefix_of(i) - prefix_of(first);
  var d = Dec(start, 0u, 0u, 0u, pre.yzw, false, 64u, 0);
  if (i != first) {
    let prev = state[(i - 1u) * SYNC];
    d.pos = start + (prev >> 16u);
    d.b = (prev >> 8u) & 255u;
    d.z = prev & 255u;
  }
  let bpm = tab[ib + 1u];
  let base = tab[sb + 3u] + u32(pre.x);
  var k = base;
  while (d.pos < end && k < block_end) {
    step(&d, ib, bpm);
    if (d.at < 64u) { coef[k * 64u + d.at] = d.value; }
    k = base + d.blocks;
  }
  if (d.bad) { atomicOr(&status[${STATUS_PASSES}u + tab[ib + 10u]], 1u); }
  // data ended early: the segment's last block not reached, or its last codeword runs past the end
  if ((last && k < block_end) || (base < block_end && k >= block_end && d.pos > seg_end)) {
    atomicOr(&status[${STATUS_PASSES}u + tab[ib + 10u]], 2u);
  }
}`,
  };
  return decodeProgram;
}

function idct1d(load: (k: number) => string, store: (k: number, v: string) => string, shift: number): string {
  const r = `${1 << (shift - 1)}i`;
  return `{
    var z2 = ${load(2)};
    var z3 = ${load(6)};
    var z1 = (z2 + z3) * ${FIX_0_541196100}i;
    var tmp2 = z1 + z3 * ${-FIX_1_847759065}i;
    var tmp3 = z1 + z2 * ${FIX_0_765366865}i;
    z2 = ${load(0)};
    z3 = ${load(4)};
    var tmp0 = (z2 + z3) << 13u;
    var tmp1 = (z2 - z3) << 13u;
    let tmp10 = tmp0 + tmp3;
    let tmp13 = tmp0 - tmp3;
    let tmp11 = tmp1 + tmp2;
    let tmp12 = tmp1 - tmp2;
    tmp3 = ${load(1)};
    tmp2 = ${load(3)};
    tmp1 = ${load(5)};
    tmp0 = ${load(7)};
    var z4 = tmp1 + tmp3;
    z3 = tmp0 + tmp2;
    z2 = tmp1 + tmp2;
    z1 = tmp0 + tmp3;
    let z5 = (z3 + z4) * ${FIX_1_175875602}i;
    tmp3 *= ${FIX_1_501321110}i;
    tmp2 *= ${FIX_3_072711026}i;
    tmp1 *= ${FIX_2_053119869}i;
    tmp0 *= ${FIX_0_298631336}i;
    z4 = z4 * ${-FIX_0_390180644}i + z5;
    z3 = z3 * ${-FIX_1_961570560}i + z5;
    z1 *= ${-FIX_0_899976223}i;
    z2 *= ${-FIX_2_562915447}i;
    tmp3 += z1 + z4;
    tmp2 += z2 + z3;
    tmp1 += z2 + z4;
    tmp0 += z1 + z3;
    ${store(0, `(tmp10 + tmp3 + ${r}) >> ${shift}u`)}
    ${store(7, `(tmp10 - tmp3 + ${r}) >> ${shift}u`)}
    ${store(1, `(tmp11 + tmp2 + ${r}) >> ${shift}u`)}
    ${store(6, `(tmp11 - tmp2 + ${r}) >> ${shift}u`)}
    ${store(2, `(tmp12 + tmp1 + ${r}) >> ${shift}u`)}
    ${store(5, `(tmp12 - tmp1 + ${r}) >> ${shift}u`)}
    ${store(3, `(tmp13 + tmp0 + ${r}) >> ${shift}u`)}
    ${store(4, `(tmp13 - tmp0 + ${r}) >> ${shift}u`)}
  }`;
}

// block g of the batch (one thread each): its image entry ib, component c (entry cb), block (bx, by) in its plane, quantisation table q
const BLOCK_OF_THREAD = /* wgsl */ `let g = linear_workgroup(wid, nwg) * WG + li;
  if (g >= u.count) { return; }
  // the image of block g: the last whose first block is at most g
  var lo = 0u;
  var hi = u.images;
  while (hi - lo > 1u) {
    let mid = (lo + hi) / 2u;
    if (tab[mid * IMG + 6u] <= g) { lo = mid; } else { hi = mid; }
  }
  let ib = lo * IMG;
  let k = g - tab[ib + 6u];
  let bpm = tab[ib + 1u];
  let mcusx = tab[ib + 2u];
  let m = k / bpm;
  let lay = tab[ib + 40u + k % bpm];
  let c = lay & 15u;
  let cb = ib + 16u + c * 8u;
  var bx = m % mcusx;
  var by = m / mcusx;
  if (tab[ib + 5u] != 0u) {
    bx = bx * tab[cb] + ((lay >> 4u) & 15u);
    by = by * tab[cb + 1u] + (lay >> 8u);
  }
  let q = tab[cb + 2u];`;

/** One 1-D pass of jidctred.c's 4-point IDCT (term 4 unused): outputs 0–3. */
function idct4(load: (k: number) => string, store: (k: number, v: string) => string, shift: number): string {
  const r = `${1 << (shift - 1)}i`;
  return `{
    let t0 = (${load(0)}) << 14u;
    let t2 = (${load(2)}) * ${FIX_1_847759065}i + (${load(6)}) * ${-FIX_0_765366865}i;
    let tmp10 = t0 + t2;
    let tmp12 = t0 - t2;
    let z1 = ${load(7)};
    let z2 = ${load(5)};
    let z3 = ${load(3)};
    let z4 = ${load(1)};
    let odd0 = z1 * ${-FIX_0_211164243}i + z2 * ${FIX_1_451774981}i + z3 * ${-FIX_2_172734803}i + z4 * ${FIX_1_061594337}i;
    let odd2 = z1 * ${-FIX_0_509795579}i + z2 * ${-FIX_0_601344887}i + z3 * ${FIX_0_899976223}i + z4 * ${FIX_2_562915447}i;
    ${store(0, `(tmp10 + odd2 + ${r}) >> ${shift}u`)}
    ${store(3, `(tmp10 - odd2 + ${r}) >> ${shift}u`)}
    ${store(1, `(tmp12 + odd0 + ${r}) >> ${shift}u`)}
    ${store(2, `(tmp12 - odd0 + ${r}) >> ${shift}u`)}
  }`;
}

/** One 1-D pass of jidctred.c's 2-point IDCT (terms 2, 4, 6 unused): outputs 0–1. */
function idct2(load: (k: number) => string, store: (k: number, v: string) => string, shift: number): string {
  const r = `${1 << (shift - 1)}i`;
  return `{
    let tmp10 = (${load(0)}) << 15u;
    let odd = (${load(7)}) * ${-FIX_0_720959822}i + (${load(5)}) * ${FIX_0_850430095}i + (${load(3)}) * ${-FIX_1_272758580}i + (${load(1)}) * ${FIX_3_624509785}i;
    ${store(0, `(tmp10 + odd + ${r}) >> ${shift}u`)}
    ${store(1, `(tmp10 - odd + ${r}) >> ${shift}u`)}
  }`;
}

/**
 * One block's dequantisation and IDCT with the 1-D `pass` (idct1d, idct4, idct2) for `size`
 * samples a side: the columns of block g into `ws` (descaled by `shift`), then each row's samples
 * (shift + 7, clamped to 0–255) into `out: array<u32, size>`, which `store` writes for `row`.
 */
function blockIdct(pass: typeof idct1d, size: 8 | 4 | 2, shift: number, store: string): string {
  return /* wgsl */ `for (var col = 0u; col < 8u; col++) ${pass(
    (r) => `coef[g * 64u + ${r * 8}u + col] * i32(tab[q + ${r * 8}u + col])`,
    (r, v) => `ws[${r * 8}u + col] = ${v};`,
    shift,
  )}
  for (var row = 0u; row < ${size}u; row++) {
    var out: array<u32, ${size}>;
    ${pass(
      (k) => `ws[row * 8u + ${k}u]`,
      (k, v) => `out[${k}] = u32(clamp((${v}) + 128i, 0i, 255i));`,
      shift + 7,
    )}
    ${store}
  }`;
}

/**
 * The frame both IDCT programs share: one thread per block of the batch (BLOCK_OF_THREAD), its
 * plane's stride and the column workspace, then `body`; `atomic` planes where blocks share words.
 */
function idctProgramOf(name: string, atomic: boolean, body: string): ProgramInfo {
  return {
    name,
    key: '',
    inputs: [
      { name: 'tab', dtype: 'u8' },
      { name: 'coef', dtype: 'i32' },
    ],
    outputs: [{ name: 'planes', dtype: 'u8', atomic }],
    uniforms: JPEG_UNIFORMS,
    workgroupSize: WG,
    body: /* wgsl */ `
const IMG: u32 = ${IMG_WORDS}u;
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  ${BLOCK_OF_THREAD}
  let stride = tab[cb + 6u];
  var ws: array<i32, 64>;
  ${body}
}`,
  };
}

/** jidctint.c's 8×8 IDCT of the block at byte `plane`, each row's 8 samples as two words through `put(word, value)`. */
const idct8 = (put: (word: string, value: string) => string) =>
  blockIdct(
    idct1d,
    8,
    11,
    /* wgsl */ `let at = (plane + row * stride) >> 2u;
    ${put('at', 'pack4xU8(vec4<u32>(out[0], out[1], out[2], out[3]))')}
    ${put('at + 1u', 'pack4xU8(vec4<u32>(out[4], out[5], out[6], out[7]))')}`,
  );

let idctProgram: ProgramInfo | undefined;
/** One thread per block of the batch: dequantisation and jidctint.c's IDCT into the component planes (u8, 4 per word). */
export function jpegIdctProgram(): ProgramInfo {
  idctProgram ??= idctProgramOf(
    'jpeg_idct',
    false,
    /* wgsl */ `let plane = tab[cb + 5u] * 4u + by * 8u * stride + bx * 8u;
  ${idct8((at, v) => `planes[${at}] = ${v};`)}`,
  );
  return idctProgram;
}

let idctScaledProgram: ProgramInfo | undefined;
/**
 * jpeg_idct at a DCT scaling (libjpeg's scale_denom 2 or 4): each block with its component's
 * IDCT (8: jidctint islow; 4, 2: jidctred's reduced IDCTs) into planes of that many samples a
 * block side. A 2×2 block fills half a word: the planes are cleared first and written with atomicOr.
 */
export function jpegIdctScaledProgram(): ProgramInfo {
  idctScaledProgram ??= idctProgramOf(
    'jpeg_idct_scaled',
    true,
    /* wgsl */ `let size = tab[ib + 12u + c];
  let plane = tab[cb + 5u] * 4u + by * size * stride + bx * size;
  if (size == 8u) {
    ${idct8((at, v) => `atomicStore(&planes[${at}], ${v});`)}
  } else if (size == 4u) {
    ${blockIdct(idct4, 4, 12, /* wgsl */ `atomicStore(&planes[(plane + row * stride) >> 2u], pack4xU8(vec4<u32>(out[0], out[1], out[2], out[3])));`)}
  } else {
    ${blockIdct(
      idct2,
      2,
      13,
      /* wgsl */ `let at = plane + row * stride;
      atomicOr(&planes[at >> 2u], (out[0] | (out[1] << 8u)) << ((at & 3u) * 8u));`,
    )}
  }`,
  );
  return idctScaledProgram;
}

const colourPrograms = new Map<boolean, ProgramInfo>();
/**
 * The colour pass over a group of equal-sized images (N×C×H×W u8): upsampling (fancy), YCbCr → RGB,
 * gray of RGB or gray repeated, cropped to the image. One thread per output word; with `rgb4` (3
 * output channels and H·W a multiple of 4, so the three planes' words hold the same pixels) one
 * thread per 4 pixels, writing a word of each plane (chroma upsampled once per pixel, not thrice).
 */
export function jpegColourProgram(rgb4 = false): ProgramInfo {
  let p = colourPrograms.get(rgb4);
  if (p) return p;
  p = {
    name: 'jpeg_colour',
    key: rgb4 ? 'rgb4' : '',
    inputs: [
      { name: 'tab', dtype: 'u8' },
      { name: 'planes', dtype: 'u8' },
    ],
    outputs: [{ name: 'out', dtype: 'u8' }],
    uniforms: JPEG_UNIFORMS,
    workgroupSize: 256,
    body: /* wgsl */ `
const IMG: u32 = ${IMG_WORDS}u;
fn sample(cb: u32, x: u32, y: u32) -> i32 {
  let at = tab[cb + 5u] * 4u + y * tab[cb + 6u] + x;
  return i32((planes[at >> 2u] >> ((at & 3u) * 8u)) & 255u);
}
// jdsample.c's fancy upsampling at full-resolution (x, y): mode 1 h2v2, 2 h2v1 (replication for
// planes ≤ 2 wide in both), 3 h1v2, 0 none (idct.ts upsampleChroma)
fn chroma(cb: u32, x: u32, y: u32, mode: u32) -> i32 {
  if (mode == 0u) { return sample(cb, x, y); }
  let i = select(x >> 1u, x, mode == 3u);
  let j = select(y >> 1u, y, mode == 2u);
  let wh = tab[cb + 7u];
  let w = wh & 0xffffu;
  let h = wh >> 16u;
  if (mode != 3u && w <= 2u) { return sample(cb, i, j); }
  let xo = (x & 1u) == 1u;
  let yo = (y & 1u) == 1u;
  let inb = select(max(i, 1u) - 1u, min(i + 1u, w - 1u), xo);
  if (mode == 2u) { return (3i * sample(cb, i, j) + sample(cb, inb, j) + select(1i, 2i, xo)) >> 2u; }
  let jn = select(max(j, 1u) - 1u, min(j + 1u, h - 1u), yo);
  if (mode == 3u) { return (3i * sample(cb, i, j) + sample(cb, i, jn) + select(1i, 2i, yo)) >> 2u; }
  let c0 = 3i * sample(cb, i, j) + sample(cb, i, jn);
  let c1 = 3i * sample(cb, inb, j) + sample(cb, inb, jn);
  return (3i * c0 + c1 + select(8i, 7i, xo)) >> 4u;
}
// R, G, B of pixel (x, y) (a gray file's sample three times)
fn rgb_of(ib: u32, x: u32, y: u32) -> vec3<u32> {
  let yy = sample(ib + 16u, x, y);
  if (tab[ib] == 1u) { return vec3<u32>(u32(yy)); }
  let mode = tab[ib + 8u];
  let cbv = chroma(ib + 24u, x, y, mode) - 128i;
  let crv = chroma(ib + 32u, x, y, mode) - 128i;
  let r = u32(clamp(yy + ((${FIX_1_40200}i * crv + 32768i) >> 16u), 0i, 255i));
  let g = u32(clamp(yy + ((${-FIX_0_34414}i * cbv + 32768i + ${-FIX_0_71414}i * crv) >> 16u), 0i, 255i));
  let b = u32(clamp(yy + ((${FIX_1_77200}i * cbv + 32768i) >> 16u), 0i, 255i));
  return vec3<u32>(r, g, b);
}
// output channel c of pixel (x, y): R, G or B, or kensa's gray of RGB for a 1-channel output
fn pixel(ib: u32, c: u32, x: u32, y: u32) -> u32 {
  let v = rgb_of(ib, x, y);
  if (tab[ib + 7u] == 1u) {
    if (tab[ib] == 1u) { return v.x; }
    return (299u * v.x + 587u * v.y + 114u * v.z + 500u) / 1000u;
  }
  return v[c];
}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let wi = linear_workgroup(wid, nwg) * WG + li;
  if (wi >= u.count) { return; }
  ${
    rgb4
      ? /* wgsl */ `
  // pixels p … p + 3 of image n; their words in the three planes
  let j = wi * 4u;
  let n = j / u.hw;
  let p = j - n * u.hw;
  let ib = (u.img_first + n) * IMG;
  let w = tab[ib + 3u];
  var r = 0u;
  var g = 0u;
  var b = 0u;
  for (var t = 0u; t < 4u; t++) {
    let v = rgb_of(ib, (p + t) % w, (p + t) / w);
    r |= v.x << (t * 8u);
    g |= v.y << (t * 8u);
    b |= v.z << (t * 8u);
  }
  let at = (n * u.chw + p) >> 2u;
  let plane = u.hw >> 2u;
  out[at] = r;
  out[at + plane] = g;
  out[at + 2u * plane] = b;`
      : /* wgsl */ `
  var word = 0u;
  for (var t = 0u; t < 4u; t++) {
    let j = wi * 4u + t;
    if (j >= u.images * u.chw) { break; }
    let n = j / u.chw;
    let rem = j - n * u.chw;
    let c = rem / u.hw;
    let p = rem - c * u.hw;
    let ib = (u.img_first + n) * IMG;
    let w = tab[ib + 3u];
    word |= pixel(ib, c, p % w, p / w) << (t * 8u);
  }
  out[wi] = word;`
  }
}`,
  };
  colourPrograms.set(rgb4, p);
  return p;
}

/** Every program of the decoder, for compile-all tests. */
export function jpegPrograms(): ProgramInfo[] {
  return [
    jpegSyncProgram(),
    jpegScanLocalProgram(),
    jpegScanTotalsProgram(),
    jpegDecodeProgram(),
    jpegIdctProgram(),
    jpegIdctScaledProgram(),
    jpegColourProgram(false),
    jpegColourProgram(true),
  ];
}
