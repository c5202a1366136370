/**
 * Synthetic defects, shared by `kensa samples` and the defect transforms of src/augment:
 * - crack: a thin dark random walk (1–3 px wide, thinning towards its end) that branches;
 * - scratch: a long, straight or gently curved, bright or dark line 1–2 px wide;
 * - spot: a small dark or bright blob, or a larger faint stain, with an irregular outline;
 * - pit: a small crater, dark inside with a bright rim on the side the light comes from;
 * - stain: a soft blotch whose outline is Perlin noise;
 * - cutpaste: a rectangle of the image copied elsewhere, brighter or darker (CutPaste, Li et al. 2021).
 *
 * A defect is drawn in two steps so that its parameters can be stored and replayed: `sampleDefect`
 * draws its shape (plain JSON numbers) from a generator, and `footprint` rasterises the shape into
 * a signed shade per pixel (negative darkens, positive brightens) and the pixels of its mask.
 * Lines are rasterised as coverage (antialiased, the max over overlapping segments, so joints are
 * not drawn twice); a pixel whose coverage is at least ½ (its centre within the stroke) is a mask
 * pixel. Drawing runs on the CPU, on the pixels of the defect's box only, in single precision:
 * the per-pixel arithmetic is that of shade.ts, which the GPU's defect transforms mirror.
 */
import { clipBox, encodeSegment, encodeShape, lineShade, SEGMENT, SHADE_AT, segmentBox, segmentCover } from './shade.js';

/** The classes `kensa samples` draws. */
export const DEFECT_CLASSES = ['crack', 'scratch', 'spot'] as const;
export type DefectClass = (typeof DEFECT_CLASSES)[number];

/** Every shade-drawn shape (cutpaste copies pixels instead). */
export const SHADE_CLASSES = ['crack', 'scratch', 'spot', 'pit', 'stain'] as const;
export type ShadeClass = (typeof SHADE_CLASSES)[number];

/** Pixel box: columns x … x + width − 1, rows y … y + height − 1. */
export interface BBox {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SampleDefect {
  class: DefectClass;
  /** Tight box around this defect's mask pixels. */
  bbox: BBox;
  /** This defect's mask pixels (pixels shared with another defect count for both). */
  area: number;
  /** Darker or brighter than the surface. */
  polarity: 'dark' | 'bright';
}

export type Polarity = 'dark' | 'bright';

/** A crack or a scratch: segments (ax, ay, bx, by, radius) × n, in pixels. */
export interface LineShape {
  class: 'crack' | 'scratch';
  segments: number[];
  polarity: Polarity;
  contrast: number;
}

/** A blob whose radius wobbles with the angle: radius × (1 + Σ harmonics[k] cos((k+1)θ − phases[k])). */
export interface SpotShape {
  class: 'spot';
  cx: number;
  cy: number;
  radius: number;
  harmonics: [number, number, number];
  phases: [number, number, number];
  polarity: Polarity;
  contrast: number;
  /** A faint stain shades evenly; a spot is darkest (or brightest) at its centre. */
  stain: boolean;
}

/** A crater of `radius`: darkened by `contrast` inside, its rim brightened towards `light` (radians). */
export interface PitShape {
  class: 'pit';
  cx: number;
  cy: number;
  radius: number;
  contrast: number;
  light: number;
}

/** An elliptical blotch (radii rx, ry, turned by angle) whose edge is Perlin noise of `cell` pixels from `noiseSeed`. */
export interface StainShape {
  class: 'stain';
  cx: number;
  cy: number;
  rx: number;
  ry: number;
  angle: number;
  cell: number;
  noiseSeed: number;
  polarity: Polarity;
  contrast: number;
}

/** The rectangle at (sx, sy) copied to (dx, dy), its pixels × gain. */
export interface PatchShape {
  class: 'cutpaste';
  sx: number;
  sy: number;
  dx: number;
  dy: number;
  width: number;
  height: number;
  gain: number;
}

export type ShadeShape = LineShape | SpotShape | PitShape | StainShape;
export type DefectShape = ShadeShape | PatchShape;

/** Ranges a caller may narrow; each class has its own defaults (`kensa samples` uses them). */
export interface DefectRanges {
  /** Shade strength: the share of the way to black (dark) or white (bright), 0 … 1. */
  contrast?: readonly [number, number];
  /** Stroke width of cracks and scratches, diameter of spots and pits, in pixels. */
  width?: readonly [number, number];
}

/**
 * The pixels a defect changes, over its box x0 … x1, y0 … y1 (inclusive, inside the image):
 * `shade` per pixel (−1 … 1: negative darkens, positive brightens) and `mask` (1 = defect pixel).
 */
export interface Footprint {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
  shade: Float64Array;
  mask: Uint8Array;
}

type Rng = () => number;

const uniform = (r: Rng, lo: number, hi: number) => lo + (hi - lo) * r();
/** Approximately normal (sum of three uniforms), mean 0, sd ≈ 1. */
const gauss = (r: Rng) => (r() + r() + r() - 1.5) * 2;
const between = (r: Rng, range: readonly [number, number]) => uniform(r, range[0], range[1]);

/** A branching random walk, dark, 1–3 px wide, thinning towards its end. */
function sampleCrack(r: Rng, W: number, H: number, ranges: DefectRanges): LineShape {
  const segments: number[] = [];
  const step = 3;
  const walk = (x: number, y: number, heading: number, length: number, radius: number, level: number): void => {
    let a = heading;
    for (let done = 0; done < length; done += step) {
      a += gauss(r) * 0.3 + (heading - a) * 0.08;
      const nx = x + Math.cos(a) * step;
      const ny = y + Math.sin(a) * step;
      segments.push(x, y, nx, ny, Math.max(0.5, radius * (1 - (0.6 * done) / length)));
      x = nx;
      y = ny;
      if (x < -2 || y < -2 || x > W + 1 || y > H + 1) return;
      if (level < 2 && r() < 0.03) {
        const side = r() < 0.5 ? -1 : 1;
        walk(x, y, a + side * uniform(r, 0.4, 1.1), (length - done) * uniform(r, 0.25, 0.6), Math.max(0.5, radius * 0.7), level + 1);
      }
    }
  };
  const [w0, w1] = ranges.width ?? [1, 3];
  const radius = uniform(r, w0 / 2, w1 / 2);
  walk(uniform(r, 0.1, 0.9) * W, uniform(r, 0.1, 0.9) * H, r() * 2 * Math.PI, Math.max(10, Math.min(W, H) * uniform(r, 0.12, 0.45)), radius, 0);
  return { class: 'crack', segments, polarity: 'dark', contrast: between(r, ranges.contrast ?? [0.4, 0.75]) };
}

/** A long line, straight or gently bent (a quadratic Bézier), bright or dark, 1–2 px wide. */
function sampleScratch(r: Rng, W: number, H: number, ranges: DefectRanges): LineShape {
  const length = Math.max(8, Math.hypot(W, H) * uniform(r, 0.15, 0.6));
  const angle = r() * 2 * Math.PI;
  const [ux, uy] = [Math.cos(angle), Math.sin(angle)];
  const x0 = uniform(r, 0.05, 0.95) * W;
  const y0 = uniform(r, 0.05, 0.95) * H;
  const bend = r() < 0.5 ? 0 : uniform(r, -0.1, 0.1) * length;
  const [x2, y2] = [x0 + ux * length, y0 + uy * length];
  const [x1, y1] = [(x0 + x2) / 2 - uy * bend, (y0 + y2) / 2 + ux * bend];
  const radius = ranges.width ? between(r, ranges.width) / 2 : [0.5, 0.5, 0.75, 1][Math.floor(r() * 4)]!;
  const polarity = r() < 0.6 ? 'bright' : 'dark';
  const contrast = between(r, ranges.contrast ?? [0.25, 0.5]);
  const n = Math.max(2, Math.ceil(length / 4));
  const segments: number[] = [];
  let [px, py] = [x0, y0];
  for (let i = 1; i <= n; i++) {
    const t = i / n;
    const s = 1 - t;
    const qx = s * s * x0 + 2 * s * t * x1 + t * t * x2;
    const qy = s * s * y0 + 2 * s * t * y1 + t * t * y2;
    segments.push(px, py, qx, qy, radius);
    [px, py] = [qx, qy];
  }
  return { class: 'scratch', segments, polarity, contrast };
}

/** A small blob (often dark) or a larger faint stain, its radius wobbling with the angle. */
function sampleSpot(r: Rng, W: number, H: number, ranges: DefectRanges): SpotShape {
  const minSide = Math.min(W, H);
  const stain = r() < 0.3;
  const small: [number, number] = ranges.width ? [ranges.width[0] / 2, ranges.width[1] / 2] : [1.5, Math.max(2.5, Math.min(14, minSide * 0.012))];
  const radius = stain ? Math.max(4, minSide * uniform(r, 0.02, 0.06)) : between(r, small);
  const contrast = between(r, ranges.contrast ?? (stain ? [0.12, 0.25] : [0.3, 0.6]));
  const polarity = r() < (stain ? 0.8 : 0.65) ? 'dark' : 'bright';
  const cx = uniform(r, 0.05, 0.95) * W;
  const cy = uniform(r, 0.05, 0.95) * H;
  const harmonics: [number, number, number] = [uniform(r, 0, 0.15), uniform(r, 0, 0.2), uniform(r, 0, 0.08)];
  const phases: [number, number, number] = [r() * 2 * Math.PI, r() * 2 * Math.PI, r() * 2 * Math.PI];
  return { class: 'spot', cx, cy, radius, harmonics, phases, polarity, contrast, stain };
}

function samplePit(r: Rng, W: number, H: number, ranges: DefectRanges): PitShape {
  const [w0, w1] = ranges.width ?? [3, Math.max(4, Math.min(12, Math.min(W, H) * 0.02))];
  return {
    class: 'pit',
    cx: uniform(r, 0.05, 0.95) * W,
    cy: uniform(r, 0.05, 0.95) * H,
    radius: uniform(r, w0 / 2, w1 / 2),
    contrast: between(r, ranges.contrast ?? [0.4, 0.7]),
    light: r() * 2 * Math.PI,
  };
}

function sampleStain(r: Rng, W: number, H: number, ranges: DefectRanges): StainShape {
  const minSide = Math.min(W, H);
  const rx = Math.max(3, minSide * uniform(r, 0.04, 0.15));
  return {
    class: 'stain',
    cx: uniform(r, 0.1, 0.9) * W,
    cy: uniform(r, 0.1, 0.9) * H,
    rx,
    ry: rx * uniform(r, 0.5, 1),
    angle: r() * Math.PI,
    cell: Math.max(2, rx * uniform(r, 0.3, 0.6)),
    noiseSeed: Math.floor(r() * 0x100000000),
    polarity: r() < 0.75 ? 'dark' : 'bright',
    contrast: between(r, ranges.contrast ?? [0.15, 0.35]),
  };
}

/** A patch of 3 … 25 % of each side (at least 2 px), copied to another place of the image, × gain. */
function samplePatch(r: Rng, W: number, H: number, ranges: DefectRanges): PatchShape {
  const width = Math.min(W, Math.max(2, Math.round(W * uniform(r, 0.03, 0.25))));
  const height = Math.min(H, Math.max(2, Math.round(H * uniform(r, 0.03, 0.25))));
  const [c0, c1] = ranges.contrast ?? [0.1, 0.3];
  const gain = 1 + (r() < 0.5 ? -1 : 1) * uniform(r, c0, c1);
  return {
    class: 'cutpaste',
    sx: Math.floor(r() * (W - width + 1)),
    sy: Math.floor(r() * (H - height + 1)),
    dx: Math.floor(r() * (W - width + 1)),
    dy: Math.floor(r() * (H - height + 1)),
    width,
    height,
    gain,
  };
}

const SAMPLERS = { crack: sampleCrack, scratch: sampleScratch, spot: sampleSpot, pit: samplePit, stain: sampleStain, cutpaste: samplePatch } as const;
export const SHAPE_CLASSES = Object.keys(SAMPLERS) as (keyof typeof SAMPLERS)[];
export type ShapeClass = DefectShape['class'];

/** Draws the shape of one defect of `cls` on a width × height image from `r`. */
export function sampleDefect<C extends ShapeClass>(
  cls: C,
  r: Rng,
  width: number,
  height: number,
  ranges: DefectRanges = {},
): Extract<DefectShape, { class: C }> {
  return SAMPLERS[cls](r, width, height, ranges) as Extract<DefectShape, { class: C }>;
}

function emptyFootprint([x0, y0, x1, y1]: readonly [number, number, number, number]): Footprint {
  const n = (x1 - x0 + 1) * (y1 - y0 + 1);
  return { x0, y0, x1, y1, shade: new Float64Array(n), mask: new Uint8Array(n) };
}

/** The box of a line's segments (radius + 1 around them), clipped; null when it falls outside. */
export function lineBox(seg: readonly number[], W: number, H: number): [number, number, number, number] | null {
  let [bx0, by0, bx1, by1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < seg.length; i += 5) {
    const pad = seg[i + 4]! + 1;
    bx0 = Math.min(bx0, seg[i]! - pad, seg[i + 2]! - pad);
    bx1 = Math.max(bx1, seg[i]! + pad, seg[i + 2]! + pad);
    by0 = Math.min(by0, seg[i + 1]! - pad, seg[i + 3]! - pad);
    by1 = Math.max(by1, seg[i + 1]! + pad, seg[i + 3]! + pad);
  }
  return clipBox(bx0, by0, bx1, by1, W, H);
}

function lineFootprint(s: LineShape, W: number, H: number): Footprint | null {
  const seg = s.segments;
  const box = lineBox(seg, W, H);
  if (!box) return null;
  const fp = emptyFootprint(box);
  const fw = fp.x1 - fp.x0 + 1;
  // coverage: the max over segments (exact, so the order of segments does not matter)
  const cov = new Float32Array(fp.shade.length);
  const rec = new Float32Array(SEGMENT);
  for (let i = 0; i < seg.length; i += 5) {
    const sb = segmentBox(seg, i, W, H);
    if (!sb) continue;
    encodeSegment(seg, i, rec, 0);
    for (let y = sb[1]; y <= sb[3]; y++) {
      const o = (y - fp.y0) * fw - fp.x0;
      for (let x = sb[0]; x <= sb[2]; x++) {
        const a = segmentCover(rec, 0, x, y);
        if (a <= 0) continue;
        const alpha = Math.min(a, 1);
        if (alpha > cov[o + x]!) cov[o + x] = alpha;
      }
    }
  }
  const sc = Math.fround((s.polarity === 'dark' ? -1 : 1) * s.contrast);
  for (let i = 0; i < cov.length; i++) {
    const a = cov[i]!;
    if (a === 0) continue;
    fp.shade[i] = lineShade(sc, a);
    fp.mask[i] = a >= 0.5 ? 1 : 0;
  }
  return fp;
}

/** A spot, pit or stain, pixel by pixel over its box. */
function recordFootprint(shape: SpotShape | PitShape | StainShape, W: number, H: number): Footprint | null {
  const r = encodeShape(shape, W, H);
  if (!r) return null;
  const fp = emptyFootprint(r.box);
  const at = SHADE_AT[shape.class];
  let i = 0;
  for (let y = fp.y0; y <= fp.y1; y++)
    for (let x = fp.x0; x <= fp.x1; x++, i++) {
      const { k, mask } = at(r.rec, 0, x, y);
      fp.shade[i] = k;
      fp.mask[i] = mask ? 1 : 0;
    }
  return fp;
}

/** Rasterises a shade shape on a width × height image; null when it falls outside. */
export function footprint(shape: ShadeShape, width: number, height: number): Footprint | null {
  switch (shape.class) {
    case 'crack':
    case 'scratch':
      return lineFootprint(shape, width, height);
    case 'spot':
    case 'pit':
    case 'stain':
      return recordFootprint(shape, width, height);
  }
}

/** The footprint of a pasted patch: its destination rectangle, no shade. */
export function patchFootprint(s: PatchShape): Footprint {
  const fp = emptyFootprint([s.dx, s.dy, s.dx + s.width - 1, s.dy + s.height - 1]);
  fp.mask.fill(1);
  return fp;
}

/**
 * Shades a reflectance image of `width` columns by a footprint: darkening by k scales a value by
 * 1 − k, brightening moves it k of the way to 1.
 */
export function shadePlane(img: Float32Array, width: number, fp: Footprint): void {
  const fw = fp.x1 - fp.x0 + 1;
  for (let y = fp.y0; y <= fp.y1; y++) {
    const o = y * width;
    const f = (y - fp.y0) * fw - fp.x0;
    for (let x = fp.x0; x <= fp.x1; x++) {
      const k = fp.shade[f + x]!;
      if (k === 0) continue;
      const v = img[o + x]!;
      img[o + x] = k < 0 ? v * (1 + k) : v + (1 - v) * k;
    }
  }
}

/** Sets the footprint's mask pixels to `value`; returns the tight box and the number of its mask pixels. */
export function markMask(mask: Uint8Array | Uint16Array, width: number, fp: Footprint, value: number): { bbox: BBox; area: number } | null {
  const fw = fp.x1 - fp.x0 + 1;
  let area = 0;
  let [bx0, by0, bx1, by1] = [Infinity, Infinity, -1, -1];
  for (let y = fp.y0; y <= fp.y1; y++) {
    const f = (y - fp.y0) * fw - fp.x0;
    for (let x = fp.x0; x <= fp.x1; x++) {
      if (!fp.mask[f + x]) continue;
      mask[y * width + x] = value;
      area++;
      if (x < bx0) bx0 = x;
      if (x > bx1) bx1 = x;
      if (y < by0) by0 = y;
      if (y > by1) by1 = y;
    }
  }
  return area === 0 ? null : { bbox: { x: bx0, y: by0, width: bx1 - bx0 + 1, height: by1 - by0 + 1 }, area };
}

/** What `kensa samples` draws into: reflectance (0 … 1 and a little beyond) and the 0/255 mask. */
export interface DefectCanvas {
  width: number;
  height: number;
  img: Float32Array;
  mask: Uint8Array;
}

/** Draws one defect of `cls` into the canvas; null when none of its pixels became mask pixels. */
export function drawDefect(c: DefectCanvas, cls: DefectClass, r: Rng): SampleDefect | null {
  const shape = sampleDefect(cls, r, c.width, c.height);
  const fp = footprint(shape, c.width, c.height);
  if (!fp) return null;
  shadePlane(c.img, c.width, fp);
  const drawn = markMask(c.mask, c.width, fp, 255);
  const polarity = shape.class === 'spot' || shape.class === 'crack' || shape.class === 'scratch' ? shape.polarity : 'dark';
  return drawn && { class: cls, ...drawn, polarity };
}
