/**
 * One synthetic inspection image and its ground truth, from (options, index) alone: each image
 * has its own random streams derived from the seed and its index (src/rng.ts mulberry32), so
 * images can be generated in any order, on any thread, and come out identical.
 *
 * @example
 * const s = generateSample({ width: 512, height: 512, seed: 7, kind: 'brushed' }, 0);
 * s.image; // Uint8Array, 512×512 grey; s.mask: 255 = defect; s.defects: [{ class: 'crack', bbox, area, polarity }]
 */
import { mulberry32 } from '../rng.js';
import { integerInRange, invalidParameter, numberInRange, oneOf } from '../validate.js';
import { DEFECT_CLASSES, type DefectCanvas, drawDefect, type SampleDefect } from './defects.js';
import { SURFACE_KINDS, develop, surface, type SurfaceKind } from './surface.js';

export const SAMPLE_KINDS = [...SURFACE_KINDS, 'mixed'] as const;
export type SampleKind = (typeof SAMPLE_KINDS)[number];
export const SAMPLE_DEPTHS = [8, 16] as const;

export interface SampleOptions {
  /** Image width in pixels, 1 … 16384. */
  width: number;
  /** Image height in pixels, 1 … 16384. */
  height: number;
  /** Integer 0 … 2³²−1 (default 1). The same seed gives the same images, bit for bit. */
  seed?: number;
  /** Surface: brushed, textured, noisy, or mixed (each image draws one of the three; default mixed). */
  kind?: SampleKind;
  /** Bits per pixel of the image: 8 (Uint8Array, default) or 16 (Uint16Array, the full 16-bit range used). */
  depth?: 8 | 16;
  /** Share of images drawn without defects (verdict OK), 0 … 1 (default 0.25). */
  okFraction?: number;
  /** An image with defects has 1 … maxDefects of them (1 … 50, default 4). */
  maxDefects?: number;
}

export interface Sample {
  /** Grey pixels, row-major: Uint8Array for depth 8, Uint16Array for depth 16. */
  image: Uint8Array | Uint16Array;
  /** 8-bit ground truth, row-major: 255 = defect, 0 = surface. */
  mask: Uint8Array;
  width: number;
  height: number;
  depth: 8 | 16;
  surface: SurfaceKind;
  /** In drawing order; empty on a clean (OK) image. */
  defects: SampleDefect[];
}

export type ResolvedSampleOptions = Required<SampleOptions>;

function depthOf(v: unknown): 8 | 16 {
  if (v !== 8 && v !== 16) throw invalidParameter('depth', '8 or 16', v);
  return v;
}

/** Validates options and fills the defaults (errors name the option, the allowed range and the value). */
export function resolveSampleOptions(options: SampleOptions): ResolvedSampleOptions {
  return {
    width: integerInRange('width', options.width, 1, 16384),
    height: integerInRange('height', options.height, 1, 16384),
    seed: integerInRange('seed', options.seed ?? 1, 0, 0xffffffff),
    kind: oneOf('kind', options.kind ?? 'mixed', SAMPLE_KINDS),
    depth: depthOf(options.depth ?? 8),
    okFraction: numberInRange('okFraction', options.okFraction ?? 0.25, 0, 1),
    maxDefects: integerInRange('maxDefects', options.maxDefects ?? 4, 1, 50),
  };
}

/** A 32-bit hash of two words (murmur3 finaliser), to derive independent streams. */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul((a ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ (b >>> 0);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Generates image `index` (an integer ≥ 0) of the set that `options` describes.
 * Layout (surface kind, defects and their shapes) and pixel noise come from separate streams,
 * so the defects of an image do not change with the camera's noise.
 */
export function generateSample(options: SampleOptions, index: number): Sample {
  const opts = resolveSampleOptions(options);
  integerInRange('index', index, 0, 0x7fffffff);
  const { width, height, depth } = opts;
  const base = mixSeed(opts.seed, index);
  const layout = mulberry32(mixSeed(base, 1));
  const pixels = mulberry32(mixSeed(base, 2));

  const kind: SurfaceKind = opts.kind === 'mixed' ? SURFACE_KINDS[Math.floor(layout() * SURFACE_KINDS.length)]! : opts.kind;
  const img = surface(kind, width, height, pixels);
  const mask = new Uint8Array(width * height);
  const canvas: DefectCanvas = { width, height, img, mask };
  const defects: SampleDefect[] = [];
  const n = layout() < opts.okFraction ? 0 : 1 + Math.floor(layout() * opts.maxDefects);
  for (let i = 0; i < n; i++) {
    const cls = DEFECT_CLASSES[Math.floor(layout() * DEFECT_CLASSES.length)]!;
    const d = drawDefect(canvas, cls, layout);
    if (d) defects.push(d);
  }
  const image = develop(img, width, height, kind, depth, pixels);
  return { image, mask, width, height, depth, surface: kind, defects };
}
