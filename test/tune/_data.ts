/** Synthetic labelled and good frames for the tuning tests (kensa samples, in memory). */
import { generateSample } from '../../src/samples/index.js';
import type { Frame, LabelledFrame } from '../../src/tune/data.js';
import { CLASSIC_SPACE } from '../../src/tune/space.js';

export function labelled(count: number, size: number, seed: number): LabelledFrame[] {
  return Array.from({ length: count }, (_, i) => {
    const s = generateSample({ width: size, height: size, seed, okFraction: 0.1 }, i);
    return { name: `s${i}`, width: size, height: size, dtype: 'u8', data: s.image, truth: s.mask };
  });
}

export function good(count: number, size: number, seed: number): Frame[] {
  return Array.from({ length: count }, (_, i) => {
    const s = generateSample({ width: size, height: size, seed, okFraction: 1 }, i);
    return { name: `g${i}`, width: size, height: size, dtype: 'u8', data: s.image };
  });
}

/** The parameters the fast tests search (the CPU reference pays for wide hats and pyramids). */
export const SMALL_SPACE = CLASSIC_SPACE.filter((d) =>
  ['denoise.sigma', 'threshold.value', 'contrast.background', 'morphology.close', 'components.minArea'].includes(d.path),
);
