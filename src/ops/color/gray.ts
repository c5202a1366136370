/**
 * RGB to grey, as OpenCV's cv::cvtColor(src, dst, COLOR_RGB2GRAY):
 *   gray = 0.299 · R + 0.587 · G + 0.114 · B        (channels 0, 1, 2 of an N×3×H×W batch)
 * Computed in f32 with the weights rounded to f32 (OpenCV's float path uses the same 0.299f,
 * 0.587f, 0.114f), on both backends; integer outputs round half to even and saturate, f16
 * outputs clamp to ±65504. Pointwise (no border; GPU program from pointwise.ts).
 * Difference from OpenCV: its u8 and u16 paths use 14-bit fixed point
 * ((R·4899 + G·9617 + B·1868 + 8192) >> 14), so integer results can differ from this float path
 * by 1 (tests allow ±1 for u8 and u16; f32 agrees to 1e-6). For BGR input, reverse the channels.
 */
import { onDevice } from '../../device.js';
import { DTYPES, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { checkImage, outDType } from '../image.js';
import { cpuPixelKernel, type Dims4 } from '../../kernels/pixel.js';
import { cpuLoader, linearIndex } from './convert.js';
import { pointwisePrograms, runPointwise, type PointwiseSpec } from '../../kernels/pointwise.js';

export interface RgbToGrayOptions {
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

/** OpenCV's RGB2GRAY weights (R2YF, G2YF, B2YF), as f32. */
export const GRAY_WEIGHTS = [Math.fround(0.299), Math.fround(0.587), Math.fround(0.114)] as const;

function graySpec(inDtype: DType, outDtype: DType): PointwiseSpec {
  return {
    name: 'color_rgb_to_gray',
    key: '',
    input: inDtype,
    output: outDtype,
    planes: true,
    uniforms: [],
    body: /* wgsl */ `
fn value(i: u32, q: u32, p: u32, c: u32) -> f32 {
  // output plane q is image n; its R plane starts at 3·n·plane
  let j = i + 2u * q * u.plane;
  return 0.299 * src_load(j) + 0.587 * src_load(j + u.plane) + 0.114 * src_load(j + 2u * u.plane);
}`,
  };
}

/**
 * Converts an N×3×H×W RGB batch to N×1×H×W grey with OpenCV's weights. Runs where `x` lives.
 * @example rgbToGray(rgb)                    // u8 → u8
 * @example rgbToGray(rgb, { dtype: 'f32' })  // u8 → f32, unrounded, 0..255
 * @throws KensaError KENSA_ERR_SHAPE unless x has 3 channels; KENSA_ERR_INVALID_ARGUMENT for an unknown dtype.
 */
export function rgbToGray(x: Tensor, options: RgbToGrayOptions = {}): Tensor {
  const d = checkImage('x', x, [3]);
  const dtype = outDType(options.dtype, x.dtype);
  const shape: Dims4 = [d.n, 1, d.h, d.w];
  return onDevice(x, {
    gpu: () => runPointwise(graySpec(x.dtype, dtype), x, shape, {}),
    cpu: () => {
      const load = cpuLoader(x);
      const at = linearIndex([d.n, 3, d.h, d.w]);
      const [wr, wg, wb] = GRAY_WEIGHTS;
      const f = Math.fround;
      return cpuPixelKernel(shape, dtype, (n, _c, y, xx) => {
        const i = at(n, 0, y, xx);
        const plane = d.h * d.w;
        return f(f(f(wr * load(i)) + f(wg * load(i + plane))) + f(wb * load(i + 2 * plane)));
      });
    },
  });
}

/** Every program variant of rgbToGray, for compile-all tests. */
export function rgbToGrayPrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.flatMap((o) => pointwisePrograms(graySpec(i, o))));
}
