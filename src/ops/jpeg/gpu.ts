/**
 * The GPU JPEG decoder's batch runner: parsed files → one set of tables and one stream buffer →
 * the passes of programs.ts, all images of the batch in each dispatch. Images of equal size and
 * output channels share one N×C×H×W u8 tensor (below scale 1 reduced by reduce.ts: 2 more
 * dispatches per tensor).
 *
 * Dispatches per batch: pass 0 and SYNC_PASSES synchronisation passes, 2 scans, 1 decode, 1 IDCT
 * and one colour pass per output size (8 for a batch of one size), then one readback of the
 * status words (convergence and per-image errors). Pass 0 synchronises inside workgroups, pass 1
 * across their boundaries, pass 2 finds nothing to do. When the last pass still decoded something
 * (a chain of unsynchronised subsequences crossing two workgroup boundaries, 256 Kbit: in none of
 * 40 random sharp files, in one of them with 1024-bit subsequences, and in files of near
 * fixed-length codes such as the test encoder's), rounds of
 * synchronisation passes alone follow (2, 4, 8 … 64 passes, a status readback after each) until a
 * pass decodes nothing, then the rest is recorded again; each pass synchronises at least one more
 * subsequence per segment, so this ends.
 */
import type { BufferRef, Gpu } from '../../gpu/gpu.js';
import { KensaError } from '../../errors.js';
import { Tensor } from '../../tensor.js';
import { integerInRange, invalidParameter, is } from '../../validate.js';
import { outputChannels, type JpegChannels, scaledComponents } from './cpu.js';
import { HUFFMAN_WORDS, JpegError, type ParsedJpeg } from './parse.js';
import { boxShrunk, DECODE_SCALES, type DecodeScale, type JpegShrinkPlan, jpegShrinkPlan, reduceCubicGpu } from './reduce.js';
import {
  IMG_WORDS,
  jpegColourProgram,
  jpegDecodeProgram,
  jpegIdctProgram,
  jpegIdctScaledProgram,
  jpegScanLocalProgram,
  jpegScanTotalsProgram,
  jpegSyncProgram,
  SEG_WORDS,
  STATUS_PASSES,
  SUBSEQ_BITS,
  SYNC_WORDS,
} from './programs.js';

/** Synchronisation passes recorded after pass 0 before the status is read. */
export const SYNC_PASSES = 2;

export interface JpegBatch {
  /** One N×C×H×W u8 tensor per distinct file size and output channels, in order of first appearance. */
  readonly tensors: Tensor[];
  /**
   * For each file: its tensor and sample index there, or the JpegError its scan data gave (an
   * invalid Huffman code, data ending early: decode that file with sharp; its sample holds garbage).
   */
  readonly where: readonly ({ tensor: number; index: number } | { error: JpegError })[];
  /** Dispatches recorded for the batch (every pass, every round). */
  readonly dispatches: number;
  /** Synchronisation passes after pass 0. */
  readonly syncPasses: number;
  /** Subsequence decodes made in pass 0 and each synchronisation pass (a subsequence is decoded once more in the decode pass). */
  readonly passDecodes: readonly number[];
  /** With `profile`: GPU milliseconds of each stage (null where the adapter has no timestamp-query). */
  readonly stageMs?: JpegStageMs | null;
}

/** GPU time of the decoder's stages, from timestamp queries around each (its passes then run apart). */
export interface JpegStageMs {
  /** Pass 0 and each synchronisation pass. */
  sync: number[];
  scan: number;
  decode: number;
  idct: number;
  colour: number;
}

interface Layout {
  tab: Uint32Array;
  segBase: number;
  subBase: number;
  subs: number;
  blocks: number;
  planeWords: number;
  /** Images of one decoded size (h × w, the colour pass's output) and one size after the reduce (oh × ow). */
  groups: { key: string; c: number; h: number; w: number; oh: number; ow: number; images: number[]; first: number }[];
  where: { tensor: number; index: number }[];
  streams: Uint32Array[];
}

function layout(files: readonly ParsedJpeg[], plans: readonly JpegShrinkPlan[], channels: JpegChannels, subseq: number): Layout {
  // images ordered by output group, so the colour pass addresses a group's images by one first index
  const groups: Layout['groups'] = [];
  const byKey = new Map<string, Layout['groups'][number]>();
  const where: { tensor: number; index: number }[] = [];
  for (const [f, p] of files.entries()) {
    const c = outputChannels(p, channels);
    const { decoded, out } = plans[f]!;
    const key = `${c}x${decoded.height}x${decoded.width}:${out.height}x${out.width}`;
    let g = byKey.get(key);
    if (!g) {
      g = { key, c, h: decoded.height, w: decoded.width, oh: out.height, ow: out.width, images: [], first: 0 };
      byKey.set(key, g);
      groups.push(g);
    }
    where.push({ tensor: groups.indexOf(g), index: g.images.length });
    g.images.push(f);
  }
  const order: number[] = [];
  for (const g of groups) {
    g.first = order.length;
    order.push(...g.images);
  }
  const segCount = files.reduce((s, p) => s + p.segments.length, 0);
  const huffCount = files.reduce((s, p) => s + p.huffman.length, 0);
  const quantCount = files.reduce((s, p) => s + p.quant.filter(Boolean).length, 0);
  const segBase = order.length * IMG_WORDS;
  const huffBase = segBase + segCount * SEG_WORDS;
  const quantBase = huffBase + huffCount * HUFFMAN_WORDS;
  const subBase = quantBase + quantCount * 64;
  const subsOf = (s: { startBit: number; endBit: number }) => Math.max(1, Math.ceil((s.endBit - s.startBit) / subseq));
  const subs = files.reduce((n, p) => n + p.segments.reduce((m, s) => m + subsOf(s), 0), 0);
  const tab = new Uint32Array(subBase + subs);
  let seg = 0;
  let huff = huffBase;
  let quant = quantBase;
  let sub = 0;
  let bit = 0;
  let block = 0;
  let planeWords = 0;
  const streams: Uint32Array[] = [];
  order.forEach((f, img) => {
    const p = files[f]!;
    const ib = img * IMG_WORDS;
    const g = groups[where[f]!.tensor]!;
    const scaled = scaledComponents(p, plans[f]!.denom).components;
    tab.set(
      [
        p.components.length,
        p.blocksPerMcu,
        p.mcusx,
        g.w,
        g.h,
        p.components.length > 1 ? 1 : 0,
        block,
        g.c,
        scaled[1]?.upsampling ?? 0,
        where[f]!.index,
        f,
        0,
        ...scaled.map((s) => s.size),
      ],
      ib,
    );
    const huffAt = p.huffman.map((t) => {
      tab.set(t, huff);
      huff += HUFFMAN_WORDS;
      return huff - HUFFMAN_WORDS;
    });
    const quantAt = p.quant.map((q) => {
      if (!q) return 0;
      tab.set(q, quant);
      quant += 64;
      return quant - 64;
    });
    p.components.forEach((c, ci) => {
      const { stride, rows, width, height } = scaled[ci]!;
      tab.set([c.h, c.v, quantAt[c.tq]!, huffAt[c.dc]!, huffAt[c.ac]!, planeWords, stride, width | (height << 16)], ib + 16 + 8 * ci);
      planeWords += (stride * rows) / 4;
    });
    p.mcuLayout.forEach((l, b) => {
      tab[ib + 40 + b] = l.c | (l.bx << 4) | (l.by << 8);
    });
    for (const s of p.segments) {
      const at = segBase + seg * SEG_WORDS;
      tab.set([img, bit + s.startBit, bit + s.endBit, block + s.mcuStart * p.blocksPerMcu, s.mcuCount * p.blocksPerMcu, sub], at);
      for (let k = subsOf(s); k > 0; k--) tab[subBase + sub++] = seg;
      seg++;
    }
    block += p.mcusx * p.mcusy * p.blocksPerMcu;
    bit += p.data.length * 32;
    streams.push(p.data);
  });
  if (bit >= 2 ** 32 - 64)
    throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `A JPEG batch of ${bit / 8} scan bytes exceeds 512 MiB; decode it in smaller batches`);
  return { tab, segBase, subBase, subs, blocks: block, planeWords, groups, where, streams };
}

function bytesOf(a: Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function wgs(n: number, wg: number): number {
  return Math.max(1, Math.ceil(n / wg));
}

export interface JpegGpuOptions {
  /** Output channels (cpu.ts JpegChannels), default 'auto'. */
  channels?: JpegChannels;
  /** Synchronisation passes recorded before the first status readback (default SYNC_PASSES; tests: 1 forces further rounds). */
  syncPasses?: number;
  /** Bits of a subsequence, one thread's share of the Huffman decoding (default SUBSEQ_BITS; 64 to 2^20). */
  subseqBits?: number;
  /** Time each stage on the GPU (bench/ops/jpeg: `stageMs`); each then runs in a compute pass of its own. */
  profile?: boolean;
  /**
   * Decode at this fraction of each side, rounded up (default 1), as sharp does it
   * (reduce.ts jpegShrinkPlan): libjpeg's DCT scaling at ¼ and ⅛ (by 2 and 4), libvips' crop
   * of it, then libvips' cubic reduce (reduceCubic), gray from colour taken after it, so the
   * bytes equal src/pipeline/decode.ts's at that scale. A file sharp would box-shrink first
   * (a few pixels thin) gets a JpegError KENSA_ERR_JPEG_UNSUPPORTED in `where`.
   */
  scale?: DecodeScale;
}

/** Decodes parsed JPEGs on `gpu`, all in one set of dispatches. */
export async function decodeJpegsGpu(gpu: Gpu, files: readonly ParsedJpeg[], options: JpegGpuOptions = {}): Promise<JpegBatch> {
  const subseq = integerInRange('subseqBits', options.subseqBits ?? SUBSEQ_BITS, 64, 2 ** 20);
  const syncPasses = integerInRange('syncPasses', options.syncPasses ?? SYNC_PASSES, 1, STATUS_PASSES);
  const scale = options.scale ?? 1;
  if (!is.inArray(scale, DECODE_SCALES)) throw invalidParameter('scale', `one of ${DECODE_SCALES.join(', ')}`, scale);
  const plans = files.map((p) =>
    scale === 1
      ? { denom: 1 as const, decoded: { width: p.width, height: p.height }, out: { width: p.width, height: p.height } }
      : jpegShrinkPlan(p.width, p.height, scale),
  );
  const planned = files.flatMap((_, f) => (plans[f] ? [f] : []));
  if (planned.length < files.length) {
    // the files sharp would box-shrink first: errors in their places, the others decoded
    const batch = await decodeJpegsGpu(
      gpu,
      planned.map((f) => files[f]!),
      options,
    );
    const where: JpegBatch['where'][number][] = files.map(() => ({ error: boxShrunk(scale) }));
    for (const [k, f] of planned.entries()) where[f] = batch.where[k]!;
    return { ...batch, where };
  }
  if (files.length === 0) return { tensors: [], where: [], dispatches: 0, syncPasses: 0, passDecodes: [] };
  const channels = options.channels ?? 'auto';
  // below scale 1 colour files decode to RGB and become gray after the reduce, as decode.ts does
  const L = layout(files, plans as JpegShrinkPlan[], scale === 1 || channels !== 'gray' ? channels : 'auto', subseq);
  const dctScaled = plans.some((p) => p!.denom > 1);
  const before = gpu.stats.dispatches;
  const refs: BufferRef[] = [];
  const alloc = (bytes: number) => {
    const r = gpu.alloc(bytes);
    refs.push(r);
    return r;
  };
  const tensors: Tensor[] = [];
  try {
    for (const g of L.groups) tensors.push(Tensor.empty(gpu, [g.images.length, g.c, g.h, g.w], 'u8'));
    const streamBytes = L.streams.reduce((n, s) => n + s.byteLength, 0);
    const stream = alloc(streamBytes + 8);
    const tab = alloc(L.tab.byteLength);
    const stateA = alloc(L.subs * SYNC_WORDS * 4);
    const stateB = alloc(L.subs * SYNC_WORDS * 4);
    const prefix = alloc(L.subs * 16);
    const totalsCount = wgs(L.subs, 256);
    const totals = alloc(totalsCount * 16);
    const coef = alloc(L.blocks * 256);
    const planes = alloc(L.planeWords * 4);
    const status = alloc((STATUS_PASSES + files.length) * 4);
    await gpu.upload(stream, L.streams.map(bytesOf));
    await gpu.upload(tab, bytesOf(L.tab));
    const base = { count: L.subs, sync_pass: 0, seg_base: L.segBase, sub_base: L.subBase, images: files.length, img_first: 0, chw: 0, hw: 0, subseq };
    let state = [stateA, stateB];
    let pass = 0;
    const statusBytes = (STATUS_PASSES + files.length) * 4;
    const timings: StageTimings = { sync: [] };
    const timed = (record: () => void): Timed => {
      if (options.profile) return gpu.timePass(record);
      record();
      return null;
    };
    // records passes up to `last`; the status words are cleared first (each pass counts its decodes in its own)
    const sync = (last: number) => {
      gpu.clear(status);
      for (; pass <= last; pass++) {
        const p = pass;
        timings.sync[p] = timed(() =>
          gpu.dispatch({
            program: jpegSyncProgram(),
            inputs: [stream, tab, state[0]!],
            outputs: [state[1]!, status],
            uniforms: { ...base, sync_pass: p },
            workgroups: wgs(L.subs, 64),
          }),
        );
        state = [state[1]!, state[0]!];
      }
    };
    const decode = () => {
      const synced = state[0]!;
      timings.scan = timed(() => {
        gpu.dispatch({ program: jpegScanLocalProgram(), inputs: [synced], outputs: [prefix, totals], uniforms: base, workgroups: totalsCount });
        gpu.dispatch({ program: jpegScanTotalsProgram(), inputs: [], outputs: [totals], uniforms: { ...base, count: totalsCount }, workgroups: 1 });
      });
      gpu.clear(coef);
      timings.decode = timed(() =>
        gpu.dispatch({
          program: jpegDecodeProgram(),
          inputs: [stream, tab, synced, prefix, totals],
          outputs: [coef, status],
          uniforms: base,
          workgroups: wgs(L.subs, 64),
        }),
      );
      // a 2×2 block fills half a word: the scaled IDCT ORs its samples into cleared planes
      if (dctScaled) gpu.clear(planes);
      timings.idct = timed(() =>
        gpu.dispatch({
          program: dctScaled ? jpegIdctScaledProgram() : jpegIdctProgram(),
          inputs: [tab, coef],
          outputs: [planes],
          uniforms: { ...base, count: L.blocks },
          workgroups: wgs(L.blocks, 64),
        }),
      );
      timings.colour = timed(() => colour());
    };
    const colour = () => {
      L.groups.forEach((g, t) => {
        const chw = g.c * g.h * g.w;
        // 4 pixels a thread, a word of each plane, where the planes' words hold the same pixels
        const rgb4 = g.c === 3 && (g.h * g.w) % 4 === 0;
        const words = rgb4 ? (g.h * g.w * g.images.length) / 4 : Math.ceil((chw * g.images.length) / 4);
        gpu.dispatch({
          program: jpegColourProgram(rgb4),
          inputs: [tab, planes],
          outputs: [tensors[t]!.gpu.ref],
          uniforms: { ...base, count: words, images: g.images.length, img_first: g.first, chw, hw: g.h * g.w },
          workgroups: wgs(words, 256),
        });
      });
    };
    const passDecodes: number[] = [];
    // each round's passes' decode counts, from the status words read after it
    const counted = (words: Uint32Array) => {
      for (let p = passDecodes.length; p < pass; p++) passDecodes.push(words[p % STATUS_PASSES]!);
      return words;
    };
    // the usual case: passes 0…syncPasses and the rest recorded at once, one readback
    sync(syncPasses);
    decode();
    let words = counted(new Uint32Array(await gpu.read(status, statusBytes)));
    if (words[(pass - 1) % STATUS_PASSES] !== 0) {
      // not synchronised yet: synchronisation rounds alone, each twice as long as the last (at most
      // STATUS_PASSES passes), the status read after each, then the rest recorded again
      for (let n = syncPasses; words[(pass - 1) % STATUS_PASSES] !== 0; n = Math.min(2 * n, STATUS_PASSES)) {
        sync(pass + n - 1);
        words = counted(new Uint32Array(await gpu.read(status, statusBytes)));
      }
      decode();
      words = new Uint32Array(await gpu.read(status, statusBytes));
    }
    const where = L.where.map((w, f) => {
      const bad = words[STATUS_PASSES + f]!;
      if (bad === 0) return w;
      const why = bad & 1 ? 'an invalid Huffman code in the scan data' : 'the scan data ends before its last block';
      return { error: new JpegError(false, `Corrupt JPEG: ${why}`) };
    });
    if (scale !== 1) {
      for (const [t, g] of L.groups.entries()) {
        const decoded = tensors[t]!;
        tensors[t] = await reduceCubicGpu(gpu, decoded, g.oh, g.ow, channels === 'gray' && g.c === 3);
        decoded.dispose();
      }
    }
    const stageMs = options.profile ? await stageTimes(timings) : undefined;
    return { tensors, where, dispatches: gpu.stats.dispatches - before, syncPasses: pass - 1, passDecodes, stageMs };
  } catch (e) {
    for (const t of tensors) t.dispose();
    throw e;
  } finally {
    for (const r of refs) gpu.free(r);
  }
}

/** gpu.timePass's results for each stage (null where the adapter has no timestamp-query). */
type Timed = Promise<number> | null;
interface StageTimings {
  sync: Timed[];
  scan?: Timed;
  decode?: Timed;
  idct?: Timed;
  colour?: Timed;
}

async function stageTimes(t: StageTimings): Promise<JpegStageMs | null> {
  if (t.sync[0] === null) return null;
  const [sync, scan, decode, idct, colour] = await Promise.all([Promise.all(t.sync), t.scan, t.decode, t.idct, t.colour]);
  return { sync: sync as number[], scan: scan!, decode: decode!, idct: idct!, colour: colour! };
}
