/**
 * Additive Gaussian noise, one sigma, mean and seed per sample: out = saturate(x + mean + sigma · z).
 * z is drawn from a counter-based generator, so the GPU and the CPU draw the same noise bit for bit
 * and sample n's noise depends only on its seed (a batch equals its samples run alone):
 *   h(j) = pcg(seed ^ pcg(j)), j = 6 · e + k (k = 0..5), e = the element's index in its sample
 *          (c·H·W + y·W + x; y·W + x when one noise value is shared by the channels), u32 wrapping;
 *   z    = (Σ of the 12 16-bit halves of h(j) − 393210) / 65536,
 * pcg being the PCG-RXS-M-XS 32-bit hash. z is the Irwin–Hall sum of 12 uniforms: mean 0, variance
 * 1 − 2^-32, tails cut at ±6 (a Gaussian beyond 5σ has probability 6e-7), kurtosis −0.1. It is
 * chosen over Box–Muller because integer sums are exact on both backends, where WGSL's log and cos
 * are not correctly rounded. The additions are f32; integer outputs round half to even and saturate.
 */
import { onDevice } from '../../device.js';
import { DTYPES, type DType } from '../../dtype.js';
import type { ProgramInfo } from '../../gpu/program.js';
import type { Tensor } from '../../tensor.js';
import { integerInRange } from '../../validate.js';
import { checkImage, numberItem, outDType, packPerSample, perSample, perSampleField, sampleValue, type PerSample, type PerSampleItem } from '../image.js';
import { cpuLoader, cpuPixelKernel, pixelProgram, runPixelProgram, type Dims4 } from '../../kernels/pixel.js';
import { linearIndex } from './convert.js';

export interface GaussNoiseOptions {
  /** Standard deviation in pixel units (e.g. 10 grey levels on u8), 0 to 1e9, or one per sample. */
  sigma: PerSample<number>;
  /** Mean of the noise in pixel units, -1e9 to 1e9, or one per sample. Default 0. */
  mean?: PerSample<number>;
  /** Seed of the generator, an integer 0 to 2^32 − 1, or one per sample. Default 0. */
  seed?: PerSample<number>;
  /** One noise value per channel (default true) or one per pixel shared by its channels. */
  perChannel?: boolean;
  /** Output dtype; defaults to the input's. */
  dtype?: DType;
}

const SEED_ITEM: PerSampleItem<number> = { what: ['an integer', 'integers'], check: (name, v) => integerInRange(name, v, 0, 0xffffffff) };

/** PCG-RXS-M-XS 32-bit hash (O'Neill), as the WGSL `pcg` below. */
export function pcgHash(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The standard normal draw z of element e of a sample with this seed (the file header's formula). */
export function noiseValue(seed: number, e: number): number {
  let sum = 0;
  for (let k = 0; k < 6; k++) {
    const h = pcgHash((seed ^ pcgHash((Math.imul(e, 6) + k) >>> 0)) >>> 0);
    sum += (h & 0xffff) + (h >>> 16);
  }
  return (sum - 393210) / 65536;
}

function noiseProgram(inDtype: DType, outDtype: DType, perChannel: boolean): ProgramInfo {
  return pixelProgram({
    name: 'color_gauss_noise',
    key: perChannel ? 'per_channel' : 'shared',
    inputs: [{ name: 'src', dtype: inDtype }],
    output: outDtype,
    border: 'replicate',
    uniforms: [perSampleField('ps', 'vec4f', 1), perSampleField('seeds', 'vec4i', 1)],
    pixel: /* wgsl */ `
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}
fn pixel(n: u32, c: u32, y: u32, x: u32) -> f32 {
  let s = u.src_shape;
  let e = ${perChannel ? '(c * s.z + y) * s.w + x' : 'y * s.w + x'};
  let seed = bitcast<u32>(u.seeds[n].x);
  var sum = 0u;
  for (var k = 0u; k < 6u; k++) {
    let h = pcg(seed ^ pcg(e * 6u + k));
    sum += (h & 0xffffu) + (h >> 16u);
  }
  let z = f32(i32(sum) - 393210) * (1.0 / 65536.0);
  let p = u.ps[n];
  return src_px(n, c, y, x) + (z * p.x + p.y);
}`,
  });
}

/**
 * Adds Gaussian noise to an N×C×H×W batch, reproducibly from a seed. Runs where `x` lives.
 * @example gaussNoise(img, { sigma: 8, seed: 42 })
 * @example gaussNoise(batch4, { sigma: [2, 5, 0, 10], seed: [1, 2, 3, 4], perChannel: false })
 * @throws KensaError KENSA_ERR_INVALID_ARGUMENT for sigma outside [0, 1e9], mean outside [-1e9, 1e9], a seed not an integer in [0, 2^32 − 1], or per-sample values of another length than N.
 */
export function gaussNoise(x: Tensor, options: GaussNoiseOptions): Tensor {
  const d = checkImage('x', x);
  const o = options ?? ({} as GaussNoiseOptions);
  const sigma = perSample('sigma', o.sigma, d.n, numberItem(0, 1e9));
  const mean = o.mean === undefined ? { values: [0], perSample: false } : perSample('mean', o.mean, d.n, numberItem(-1e9, 1e9));
  const seed = o.seed === undefined ? { values: [0], perSample: false } : perSample('seed', o.seed, d.n, SEED_ITEM);
  const perChannel = o.perChannel ?? true;
  const dtype = outDType(o.dtype, x.dtype);
  const shape: Dims4 = [d.n, d.c, d.h, d.w];
  const f = Math.fround;
  const rows = Array.from({ length: d.n }, (_, n) => ({ sigma: f(sampleValue(sigma, n)), mean: f(sampleValue(mean, n)), seed: sampleValue(seed, n) }));
  return onDevice(x, {
    gpu: () =>
      runPixelProgram(noiseProgram(x.dtype, dtype, perChannel), [x], shape, dtype, {
        ps: packPerSample(
          rows.map((r) => [r.sigma, r.mean]),
          1,
        ),
        seeds: packPerSample(
          rows.map((r) => [r.seed | 0]),
          1,
        ),
      }),
    cpu: () => {
      const load = cpuLoader(x);
      const at = linearIndex(shape);
      return cpuPixelKernel(shape, dtype, (n, c, y, xx) => {
        const r = rows[n]!;
        const z = noiseValue(r.seed, perChannel ? (c * d.h + y) * d.w + xx : y * d.w + xx);
        return f(load(at(n, c, y, xx)) + f(f(z * r.sigma) + r.mean));
      });
    },
  });
}

/** Every program variant of gaussNoise, for compile-all tests. */
export function gaussNoisePrograms(): ProgramInfo[] {
  return DTYPES.flatMap((i) => DTYPES.flatMap((o) => [noiseProgram(i, o, true), noiseProgram(i, o, false)]));
}
