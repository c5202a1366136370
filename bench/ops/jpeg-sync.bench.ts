/**
 * The GPU JPEG decoder's Huffman synchronisation (src/ops/jpeg/programs.ts jpeg_sync), simulated on
 * the CPU to compare strategies before a GPU measures them: each subsequence's decodes, counted in
 * lane-steps as a GPU pays for them (a warp of 32 lanes runs as long as its longest lane: 32 ×
 * the most codewords any of its re-decoding lanes decodes), as a multiple of one decode of every
 * subsequence. Strategies, all ending at the true decoding (checked):
 * - current: pass 0 from the guess; in each pass every workgroup of 64 repeats re-decoding its
 *   lanes whose entry changed until none does (its tail iterations keep whole warps busy for a few
 *   lanes);
 * - dense: pass 0, one pass over every lane, then passes over only the lanes whose predecessor's
 *   exit changed, packed 32 to a warp (one pass per link of the longest chain);
 * - hybrid: pass 0, the workgroup loop while at least 32 of its lanes re-decode, then dense passes.
 * Reports, never asserts. The files: bench/_kit/jpeg.ts's (seed; bench/ops/jpeg.bench's files), or
 * with `enc` the test encoder's (near fixed-length codes: chains as long as the file).
 * Usage: node --import tsx bench/ops/jpeg-sync.bench.ts [WxHxC] [subsequence bits] [seed] [enc]
 */
import { huffmanSymbol } from '../../src/ops/jpeg/cpu.js';
import { parseJpeg, streamWord } from '../../src/ops/jpeg/parse.js';
import { encodeJpeg } from '../../test/ops/jpeg/_jpeg.js';
import { benchJpeg } from '../_kit/jpeg.js';

const [W, H, C] = (process.argv[2] ?? '1920x1080x3').split('x').map(Number) as [number, number, number];
const SUB = Number(process.argv[3] ?? 2048);
const SEED = Number(process.argv[4] ?? 1);
const WG = 64;

const file = process.argv[5] === 'enc' ? encodeJpeg(W, H, [2, 2], SEED) : await benchJpeg(W, H, C as 1 | 3, SEED);
const p = parseJpeg(file);
const words = p.data;
const seg = p.segments[0]!;
const n = Math.ceil((seg.endBit - seg.startBit) / SUB);
const start = (i: number) => seg.startBit + i * SUB;
const end = (i: number) => Math.min(start(i) + SUB, seg.endBit);

function peek32(q: number): number {
  const i = q >>> 5;
  const sh = q & 31;
  const hi = streamWord(words, i);
  return sh === 0 ? hi : ((hi << sh) | (streamWord(words, i + 1) >>> (32 - sh))) >>> 0;
}

/** Subsequence i decoded from `entry` (programs.ts's exit word): its exit and the codewords it took. */
function run(i: number, entry: number): { exit: number; steps: number } {
  let pos = start(i) + (entry >>> 16);
  let b = (entry >> 8) & 255;
  let z = entry & 255;
  let steps = 0;
  while (pos < end(i)) {
    steps++;
    const comp = p.components[p.mcuLayout[b]!.c]!;
    const bits = peek32(pos);
    const e = huffmanSymbol(z === 0 ? p.huffman[comp.dc]! : p.huffman[comp.ac]!, bits);
    const length = e ? e >> 8 : 16;
    if (z === 0) {
      pos += length + (e & 15);
      z = 1;
    } else {
      const r = (e & 255) >> 4;
      const s = e & 15;
      z = s === 0 ? (r === 15 ? z + 16 : 64) : z + r + 1;
      pos += length + s;
    }
    if (z >= 64) {
      z = 0;
      b = b + 1 === p.blocksPerMcu ? 0 : b + 1;
    }
  }
  return { exit: ((pos - end(i)) << 16) | (b << 8) | z, steps };
}

const truth: number[] = [];
let oneDecode = 0;
for (let i = 0, e = 0; i < n; i++) {
  const r = run(i, e);
  truth.push(r.exit);
  oneDecode += r.steps;
  e = r.exit;
}

type Lane = { i: number; steps: number };
/** Lane-steps of lanes run together: warps by subsequence index (in place) or 32 consecutive list entries (dense). */
function warpCost(lanes: readonly Lane[], dense: boolean): number {
  const longest = new Map<number, number>();
  lanes.forEach((l, k) => {
    const w = dense ? k >> 5 : l.i >> 5;
    longest.set(w, Math.max(longest.get(w) ?? 0, l.steps));
  });
  return 32 * [...longest.values()].reduce((a, b) => a + b, 0);
}

/** The records after pass 0 and its cost. */
function pass0(): { exit: number[]; entry: number[]; cost: number } {
  const lanes: Lane[] = [];
  const exit: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = run(i, 0);
    exit.push(r.exit);
    lanes.push({ i, steps: r.steps });
  }
  return { exit, entry: new Array<number>(n).fill(0), cost: warpCost(lanes, false) };
}

/**
 * One workgroup's loop over lanes w0 … w0 + 63 (the first lane's entry `outer`), while at least
 * `min` lanes re-decode in an iteration (1: to the fixed point); its cost.
 */
function workgroupLoop(s: { exit: number[]; entry: number[] }, w0: number, outer: number, min: number): number {
  let cost = 0;
  for (let t = 0; t <= WG; t++) {
    const before = s.exit.slice(w0, w0 + WG);
    const lanes: Lane[] = [];
    for (let k = 0; k < WG && w0 + k < n; k++) {
      const i = w0 + k;
      const e = k === 0 ? outer : before[k - 1]!;
      if (i === 0 || e === s.entry[i]) continue;
      const r = run(i, e);
      s.exit[i] = r.exit;
      s.entry[i] = e;
      lanes.push({ i, steps: r.steps });
    }
    cost += warpCost(lanes, false);
    if (lanes.length < min) break;
  }
  return cost;
}

/** Dense passes from `list` (Jacobi: each pass reads the exits of the pass before); cost and passes. */
function densePasses(s: { exit: number[]; entry: number[] }, list: number[]): { cost: number; passes: number } {
  let cost = 0;
  let passes = 0;
  for (;;) {
    const before = s.exit.slice();
    const lanes: Lane[] = [];
    const next: number[] = [];
    for (const i of list) {
      const e = before[i - 1]!;
      if (e === s.entry[i]) continue;
      const r = run(i, e);
      if (r.exit !== s.exit[i] && i + 1 < n) next.push(i + 1);
      s.exit[i] = r.exit;
      s.entry[i] = e;
      lanes.push({ i, steps: r.steps });
    }
    if (lanes.length === 0) return { cost, passes };
    cost += warpCost(lanes, true);
    passes++;
    list = next;
  }
}

function check(name: string, exit: readonly number[]): void {
  if (exit.some((x, i) => x !== truth[i])) throw new Error(`${name} did not reach the true decoding`);
}

function current(): { cost: number; passes: number } {
  const s = pass0();
  let cost = s.cost;
  let passes = 1;
  for (let changed = true; changed; passes++) {
    const before = s.exit.slice();
    for (let w0 = 0; w0 < n; w0 += WG) cost += workgroupLoop(s, w0, passes === 1 || w0 === 0 ? 0 : before[w0 - 1]!, 1);
    changed = s.exit.some((x, i) => x !== before[i]) || passes === 1;
  }
  check('current', s.exit);
  return { cost, passes };
}

/** Pass 0, a workgroup loop while ≥ `min` lanes re-decode (min > 64: one iteration over every lane), then dense passes. */
function withDenseTail(min: number): { cost: number; passes: number } {
  const s = pass0();
  const start0 = s.exit.slice();
  let cost = s.cost;
  const list: number[] = [];
  for (let w0 = 0; w0 < n; w0 += WG) {
    cost += workgroupLoop(s, w0, w0 === 0 ? 0 : start0[w0 - 1]!, min);
    for (let k = 1; k <= WG && w0 + k < n; k++) {
      const i = w0 + k;
      // stale inside the workgroup, or the next workgroup's first lane after a changed last lane
      if (k < WG ? s.exit[i - 1] !== s.entry[i] : s.exit[i - 1] !== start0[i - 1]) list.push(i);
    }
  }
  const d = densePasses(s, list);
  check('dense', s.exit);
  return { cost: cost + d.cost, passes: 2 + d.passes };
}

const times = (x: number) => Math.round((x / oneDecode) * 100) / 100;
const strategies = { current: current(), dense: withDenseTail(WG + 1), hybrid: withDenseTail(32) };
console.log(
  JSON.stringify({
    file: process.argv[5] === 'enc' ? `test encoder ${W}×${H} 4:2:0` : `sharp ${W}×${H}×${C} q90 seed ${SEED}`,
    bytes: file.length,
    subsequences: n,
    subsequence_bits: SUB,
    guess_exit_wrong: Math.round((truth.filter((t, i) => run(i, 0).exit !== t).length / n) * 100) / 100,
    ...Object.fromEntries(Object.entries(strategies).map(([k, v]) => [k, { lane_steps_x: times(v.cost), passes: v.passes }])),
  }),
);
