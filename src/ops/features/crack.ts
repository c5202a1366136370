/**
 * The crack kernel: a u8 mask, 255 where the central-difference gradient magnitude exceeds
 * `threshold`, else 0:
 *   mask = 255 if sqrt(((I[y, x+1] − I[y, x−1]) / 2)² + ((I[y+1, x] − I[y−1, x]) / 2)²) > threshold
 * per channel, in one fused pass: the stencil engines' (../stencil-strip.ts: a strip for u8 rows of
 * a multiple of 16 pixels, else the tile of ../stencil-tile.ts when rows start on a storage word),
 * else a pixel kernel with four neighbour loads per pixel and four u8 results per thread; only the
 * 1-pixel frame of the image resolves indices with the border mode. The test
 * is evaluated without a square root or divisions as
 *   (I[y, x+1] − I[y, x−1])² + (I[y+1, x] − I[y−1, x])² > (2·threshold)²      (threshold ≥ 0)
 * in f32: the same test (for u8 inputs the left side is exact; only the f32 rounding of
 * (2·threshold)² can move a pixel lying within ~1e-7 relative of the threshold); a negative
 * threshold marks every pixel. Border modes reflect101 (default; the difference across the image
 * edge is then 0) / replicate / constant (borderValue, default 0). OpenCV has no single call for
 * this; it equals cv.threshold(cv.magnitude(cv.Sobel(x, CV_32F, 1, 0, 1, 0.5), cv.Sobel(x, CV_32F,
 * 0, 1, 1, 0.5)), threshold, 255, THRESH_BINARY) converted to u8 (the test checks this).
 */
import { onDevice } from '../../device.js';
import type { DType } from '../../dtype.js';
import type { Tensor } from '../../tensor.js';
import { invalidParameter, numberInRange } from '../../validate.js';
import { BORDER_MODES, checkBorder, type BorderMode } from '../../kernels/border.js';
import { checkImage } from '../image.js';
import { cpuAccessor, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { runStencil, stencilStripProgram } from '../../kernels/stencil-strip.js';
import { stencilTileFits, stencilTileProgram, type StencilTileSpec } from '../../kernels/stencil-tile.js';
import { WGSL_SRC_TAP } from './gradient.js';

export interface CrackMaskOptions {
  /** Gradient magnitude (in input units per pixel) above which a pixel is marked. */
  threshold: number;
  border?: BorderMode;
  /** Value outside the image for border 'constant' (default 0). */
  borderValue?: number;
}

export function crackProgram(inDtype: DType, border: BorderMode) {
  return pixelProgram({
    name: 'crack_mask',
    key: '',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: 'u8',
    border,
    uniforms: [{ name: 't2', type: 'f32' }],
    pixel: /* wgsl */ `
${WGSL_SRC_TAP}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let plane = n * s.y + c;
  let H = i32(s.z);
  let W = i32(s.w);
  let yi = i32(y);
  let xi = i32(x);
  var l: f32;
  var r: f32;
  var t: f32;
  var b: f32;
  if (yi >= 1 && xi >= 1 && yi + 1 < H && xi + 1 < W) {
    let o = (plane * s.z + y) * s.w + x;
    l = src_load(o - 1u);
    r = src_load(o + 1u);
    t = src_load(o - s.w);
    b = src_load(o + s.w);
  } else {
    l = tap(plane, yi, border(xi - 1, W));
    r = tap(plane, yi, border(xi + 1, W));
    t = tap(plane, border(yi - 1, H), xi);
    b = tap(plane, border(yi + 1, H), xi);
  }
  let gx = r - l;
  let gy = b - t;
  return select(0.0, 255.0, gx * gx + gy * gy > u.t2);
}`,
  });
}

/** The tiled form (../stencil-tile.ts): row array d = I[x+1] − I[x−1], the column pass tests the sum of squares. */
export function crackTileSpec(inDtype: DType, border: BorderMode): StencilTileSpec {
  return {
    name: 'crack_mask_tiled',
    key: '',
    inDtype,
    outDtype: 'u8',
    border,
    rx: 1,
    ry: 1,
    uniforms: [{ name: 't2', type: 'f32' }],
    rows: { d: (p) => `${p(1)} - ${p(-1)}` },
    combine: (r, t) => `let gx = ${r('d', 0)};
  let gy = ${t(1)} - ${t(-1)};
  let v = select(vec4<f32>(0.0), vec4<f32>(255.0), gx * gx + gy * gy > vec4<f32>(u.t2));`,
  };
}

/** (2·threshold)² as f32, or −1 for a negative threshold (every pixel passes). */
function squaredThreshold(t: number): number {
  return t < 0 ? -1 : Math.fround(4 * t * t);
}

/**
 * Marks pixels whose central-difference gradient magnitude exceeds `threshold` (u8 0/255).
 * @example crackMask(img, { threshold: 12 })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for a missing or non-finite threshold, unknown border.
 */
export function crackMask(x: Tensor, options: CrackMaskOptions): Tensor {
  checkImage('x', x);
  if (options === null || typeof options !== 'object') throw invalidParameter('options', 'an object with threshold', options);
  const threshold = numberInRange('threshold', options.threshold, -1e30, 1e30);
  const border = checkBorder('border', options.border);
  const borderValue = options.borderValue === undefined ? 0 : numberInRange('borderValue', options.borderValue, -1e30, 1e30);
  const t2 = squaredThreshold(threshold);
  const shape = x.shape as Dims4;
  return onDevice(x, {
    gpu: () => {
      const tile = crackTileSpec(x.dtype, border);
      if (stencilTileFits(tile, shape)) return runStencil(tile, x, { t2 }, borderValue);
      return runPixelProgram(crackProgram(x.dtype, border), [x], shape, 'u8', { t2 }, borderValue);
    },
    cpu: () => {
      const src = cpuAccessor(x, border, borderValue);
      const f = Math.fround;
      return cpuPixelKernel(shape, 'u8', (n, c, y, xx) => {
        const gx = f(src(n, c, y, xx + 1) - src(n, c, y, xx - 1));
        const gy = f(src(n, c, y + 1, xx) - src(n, c, y - 1, xx));
        return f(f(gx * gx) + f(gy * gy)) > t2 ? 255 : 0;
      });
    },
  });
}

/** Every program variant, for compile-all tests. */
export function crackPrograms(dtypes: readonly DType[] = ['u8', 'u16', 'i32', 'f32', 'f16'], borders: readonly BorderMode[] = BORDER_MODES) {
  return [
    ...dtypes.flatMap((d) => borders.flatMap((b) => [crackProgram(d, b), stencilTileProgram(crackTileSpec(d, b), false)])),
    ...borders.map((b) => stencilStripProgram(crackTileSpec('u8', b))),
  ];
}
