/**
 * Filter weights shared by the GPU programs (as uniforms) and the CPU references.
 * gaussianKernel1d follows OpenCV's getGaussianKernel, including its fixed tables for
 * ksize 1, 3, 5, 7 when sigma <= 0 and its sigma-from-ksize rule.
 */

const SMALL_GAUSSIAN: Record<number, number[]> = {
  1: [1],
  3: [0.25, 0.5, 0.25],
  5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
  7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
};

export function gaussianKernel1d(ksize: number, sigma: number): number[] {
  const fixed = SMALL_GAUSSIAN[ksize];
  if (sigma <= 0 && fixed) return [...fixed];
  const s = sigma > 0 ? sigma : 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8;
  const scale = -0.5 / (s * s);
  const half = (ksize - 1) / 2;
  const w = Array.from({ length: ksize }, (_, i) => Math.exp(scale * (i - half) ** 2));
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / sum);
}

/** OpenCV's ksize for a sigma: cvRound(sigma * (u8 ? 3 : 4) * 2 + 1) | 1. */
export function gaussianKsizeForSigma(sigma: number, isU8: boolean): number {
  return Math.round(sigma * (isU8 ? 3 : 4) * 2 + 1) | 1;
}

/** Largest separable kernel the GPU programs take (taps travel as a uniform array). */
export const MAX_TAPS = 255;
