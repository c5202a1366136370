/**
 * Hysteresis thresholding, as skimage.filters.apply_hysteresis_threshold: a pixel above `low` is
 * kept when its connected region of pixels above `low` holds a pixel above `high` (comparisons
 * strict and in f32, as threshold's), so a faint stretch of a crack survives where it continues a
 * strong one while faint blobs on their own do not. Output u8, 255 kept, 0 elsewhere.
 *
 * GPU: a pixel kernel writes the level map (0 below low, 1 above low, 2 above high); the level map's
 * regions are labelled with the block union-find of components.ts, whose compress pass flags each
 * tree holding a 2 (Canny's hysteresis, which shares this code); a pixel kernel keeps the pixels of
 * flagged trees. A fixed number of dispatches and no readback, however long the regions are.
 * CPU reference: a flood from every pixel above `high` through the pixels above `low`.
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { Gpu } from '../../gpu/gpu.js';
import type { ProgramInfo } from '../../gpu/program.js';
import { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange } from '../../validate.js';
import { blockGeometry, BLOCK_WORKGROUP, cclCompressProgram, cclUniforms, recordUnionFind, type Connectivity } from './components.js';
import { checkImage } from '../image.js';
import { cpuLoader, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';

export interface HysteresisOptions {
  /** Pixels above it may be kept (any finite number up to `high`). */
  low: number;
  /** Pixels above it are kept, and keep the regions above `low` they lie in. */
  high: number;
  /** 4 or 8 (default 8): how the regions above `low` connect. */
  connectivity?: Connectivity;
}

/** The level map: 0 at or below low, 1 above low, 2 above high. */
export function hysteresisLevelsProgram(dtype: DType): ProgramInfo {
  return pixelProgram({
    name: 'hysteresis_levels',
    key: '',
    inputs: [{ name: 'x', dtype }],
    output: 'u8',
    border: 'replicate',
    uniforms: [
      { name: 'low', type: 'f32' },
      { name: 'high', type: 'f32' },
    ],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let v = x_px(n, 0u, y, x);
  return select(0.0, 1.0, v > u.low) + select(0.0, 1.0, v > u.high);
}`,
  });
}

/** 255 where the level map is non-zero and the pixel's tree is flagged (holds a 2); blocks are 2×2 (8-connectivity) or 1×2. */
export function hysteresisKeepProgram(conn: Connectivity): ProgramInfo {
  return pixelProgram({
    name: 'hysteresis_keep',
    key: `c=${conn}`,
    inputs: [
      { name: 'st', dtype: 'u8' },
      { name: 'L', dtype: 'i32' },
    ],
    output: 'u8',
    border: 'replicate',
    uniforms: [],
    pixel: /* wgsl */ `
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  if (st_px(n, 0u, y, x) == 0.0) { return 0.0; }
  let s = u.L_shape;
  let b = (n * s.z + (y >> ${conn === 8 ? 1 : 0}u)) * s.w + (x >> 1u);
  let r = bitcast<u32>(L[b]) & 0x7fffffffu;
  return select(0.0, 255.0, (bitcast<u32>(L[r]) & 0x80000000u) != 0u);
}`,
  });
}

/** Records the hysteresis of a GPU level map `st` (u8 N×1×H×W: 0, 1 weak, 2 strong); returns the u8 mask, 255 on kept pixels. */
export function recordHysteresis(gpu: Gpu, st: Tensor, conn: Connectivity): Tensor {
  const [N, , H, W] = st.shape as Dims4;
  const g = blockGeometry(N, H, W, conn);
  const un = cclUniforms(g, 0);
  using L = recordUnionFind(gpu, st, g, conn, un);
  gpu.dispatch({
    program: cclCompressProgram(conn, 'u8', 'flag'),
    inputs: [st.gpu.ref],
    outputs: [L.gpu.ref],
    uniforms: un,
    workgroups: Math.ceil(g.total / BLOCK_WORKGROUP),
  });
  return runPixelProgram(hysteresisKeepProgram(conn), [st, L], [N, 1, H, W], 'u8', {});
}

/** CPU reference of recordHysteresis on one image's level map `st` (H×W): writes 255 into `out` from `off` on for kept pixels. */
export function hysteresisCpu(st: Uint8Array, H: number, W: number, conn: Connectivity, out: Uint8Array, off: number): void {
  const stack: number[] = [];
  for (let i = 0; i < H * W; i++) if (st[i] === 2) stack.push(i);
  while (stack.length > 0) {
    const i = stack.pop()!;
    out[off + i] = 255;
    const y = Math.floor(i / W);
    const x = i - y * W;
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        if (conn === 4 && dx !== 0 && dy !== 0) continue;
        const yy = y + dy;
        const xx = x + dx;
        if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
        const j = yy * W + xx;
        if (st[j] === 1) {
          st[j] = 2;
          stack.push(j);
        }
      }
    }
  }
}

/** Every program variant of this file, for the compile-all test. */
export function hysteresisPrograms(dtypes: readonly DType[]): ProgramInfo[] {
  return [...dtypes.map(hysteresisLevelsProgram), hysteresisKeepProgram(4), hysteresisKeepProgram(8), cclCompressProgram(4, 'u8', 'flag')];
}

/**
 * Hysteresis thresholding of each image of a single-channel batch; u8 output, 255 on kept pixels.
 * Runs where `x` lives.
 * @example hysteresisThreshold(response, { low: 0.5, high: 1 })
 * @throws KensaError for a multi-channel batch, non-finite thresholds, low above high, connectivity other than 4 or 8.
 */
export function hysteresisThreshold(x: Tensor, options: HysteresisOptions): Tensor {
  checkImage('x', x, [1]);
  const high = numberInRange('high', options.high, -3.4e38, 3.4e38);
  const low = numberInRange('low', options.low, -3.4e38, high);
  const conn = options.connectivity ?? 8;
  if (conn !== 4 && conn !== 8) throw invalidParameter('connectivity', '4 or 8', conn);
  const [N, , H, W] = x.shape as Dims4;
  return onDevice(x, {
    gpu: (gpu) => {
      using st = runPixelProgram(hysteresisLevelsProgram(x.dtype), [x], [N, 1, H, W], 'u8', { low, high });
      return recordHysteresis(gpu, st, conn);
    },
    cpu: () => {
      const load = cpuLoader(x);
      const [lo, hi] = [Math.fround(low), Math.fround(high)];
      const out = new Uint8Array(N * H * W);
      const st = new Uint8Array(H * W);
      for (let n = 0; n < N; n++) {
        const off = n * H * W;
        for (let i = 0; i < H * W; i++) {
          const v = Math.fround(load(off + i));
          st[i] = (v > lo ? 1 : 0) + (v > hi ? 1 : 0);
        }
        hysteresisCpu(st, H, W, conn, out, off);
      }
      return Tensor.fromArray(out, [N, 1, H, W], 'u8');
    },
  });
}
