/**
 * The per-pixel arithmetic of the shade-drawn defects, twice: in TypeScript (single precision,
 * every operation rounded by Math.fround) and in WGSL, the same operations in the same order, so
 * that the defect transforms can evaluate shapes on the GPU and match the CPU's pixels. A shape is
 * first encoded into a record of f32 constants (`encodeShape`, on the host, once per shape: cosines,
 * reciprocals, a Perlin permutation); both evaluators read that record. No transcendental function
 * runs per pixel: only +, −, ×, ÷, sqrt, floor, min and max.
 */
import type { PitShape, SpotShape, StainShape } from './defects.js';

/** A shade shape's record: its box (clipped to the image, inclusive) and its f32 constants. */
export interface ShapeRecord {
  readonly box: readonly [number, number, number, number];
  readonly rec: Float32Array;
}

const f = Math.fround;

/** Floats per line segment: ax, ay, dx, dy, 1 / |d|², r + ½, then (in the GPU table) its shape's signed contrast and index. */
export const SEGMENT = 8;
/** Floats of a spot, pit and stain record (a stain's 256-entry permutation follows it). */
export const RECORD = { spot: 12, pit: 10, stain: 8 } as const;
/** Entries of a stain's Perlin permutation. */
export const PERM = 256;

/** The box [x0, x1] × [y0, y1] clipped to the image, or null when nothing of it is inside. */
export function clipBox(x0: number, y0: number, x1: number, y1: number, W: number, H: number): [number, number, number, number] | null {
  const box: [number, number, number, number] = [
    Math.max(0, Math.floor(x0)),
    Math.max(0, Math.floor(y0)),
    Math.min(W - 1, Math.ceil(x1)),
    Math.min(H - 1, Math.ceil(y1)),
  ];
  return box[0] > box[2] || box[1] > box[3] ? null : box;
}

/** A segment's pixels lie in its box: radius + 1 around both ends (coverage is 0 beyond). */
export function segmentBox(seg: readonly number[], i: number, W: number, H: number): [number, number, number, number] | null {
  const [ax, ay, bx, by] = [seg[i]!, seg[i + 1]!, seg[i + 2]!, seg[i + 3]!];
  const pad = seg[i + 4]! + 1;
  return clipBox(Math.min(ax, bx) - pad, Math.min(ay, by) - pad, Math.max(ax, bx) + pad, Math.max(ay, by) + pad, W, H);
}

/** Writes segment i's constants at `o` of `out`. */
export function encodeSegment(seg: readonly number[], i: number, out: Float32Array, o: number): void {
  const [ax, ay, bx, by, r] = [seg[i]!, seg[i + 1]!, seg[i + 2]!, seg[i + 3]!, seg[i + 4]!];
  const [dx, dy] = [bx - ax, by - ay];
  const len2 = dx * dx + dy * dy;
  out.set([ax, ay, dx, dy, len2 > 0 ? 1 / len2 : 0, r + 0.5], o);
}

/** Antialiased coverage (before clamping to 1) of pixel (x, y) by the segment at `o`: r + ½ − its distance; ≤ 0 outside. */
export function segmentCover(s: Float32Array, o: number, x: number, y: number): number {
  const px = f(x - s[o]!);
  const py = f(y - s[o + 1]!);
  const [dx, dy] = [s[o + 2]!, s[o + 3]!];
  const t = Math.min(Math.max(f(f(f(px * dx) + f(py * dy)) * s[o + 4]!), 0), 1);
  const ex = f(px - f(t * dx));
  const ey = f(py - f(t * dy));
  return f(s[o + 5]! - f(Math.sqrt(f(f(ex * ex) + f(ey * ey)))));
}

/** The signed shade k of `cover` (the max over a line's segments, clamped to 1) under signed contrast `sc`. */
export const lineShade = (sc: number, cover: number) => f(sc * cover);

/** The shade of pixel (x, y) and whether it is a mask pixel, for the spot, pit or stain record at `o`. */
export type ShadeAt = (s: Float32Array, o: number, x: number, y: number) => { k: number; mask: boolean };

const NONE = { k: 0, mask: false };

/** Spot: cx cy R, h·cos p and h·sin p of the three harmonics, signed contrast, base and slope of the centre profile. */
function encodeSpot(cx: number, cy: number, R: number, h: readonly number[], p: readonly number[], sc: number, stain: boolean): Float32Array {
  const [base, slope] = stain ? [0.7, 0.3] : [0.6, 0.4];
  return Float32Array.of(cx, cy, R, ...h.flatMap((hk, k) => [hk * Math.cos(p[k]!), hk * Math.sin(p[k]!)]), sc, base, slope);
}

export const spotAt: ShadeAt = (s, o, x, y) => {
  const dx = f(x - s[o]!);
  const dy = f(y - s[o + 1]!);
  const d = f(Math.sqrt(f(f(dx * dx) + f(dy * dy))));
  // cos θ, sin θ of the angle, then of 2θ and 3θ by the multiple-angle formulas
  const c = d > 0 ? f(dx / d) : 1;
  const sn = d > 0 ? f(dy / d) : 0;
  const c2 = f(f(c * c) - f(sn * sn));
  const s2 = f(f(2 * c) * sn);
  const c3 = f(c * f(f(c * c) - f(f(3 * sn) * sn)));
  const s3 = f(sn * f(f(f(3 * c) * c) - f(sn * sn)));
  const w1 = f(f(s[o + 3]! * c) + f(s[o + 4]! * sn));
  const w2 = f(f(s[o + 5]! * c2) + f(s[o + 6]! * s2));
  const w3 = f(f(s[o + 7]! * c3) + f(s[o + 8]! * s3));
  const rad = f(s[o + 2]! * f(f(f(1 + w1) + w2) + w3));
  const a = f(f(rad + 0.5) - d);
  if (a <= 0) return NONE;
  const alpha = Math.min(a, 1);
  const rho = Math.min(1, f(d / rad));
  const profile = f(s[o + 10]! + f(s[o + 11]! * f(1 - f(rho * rho))));
  return { k: f(f(s[o + 9]! * alpha) * profile), mask: alpha >= 0.5 };
};

/** Pit: cx cy, R + ½, rim + ½, the rim's middle and 1 / half-width, the light's direction, −contrast and 0.8 · contrast. */
function encodePit(cx: number, cy: number, R: number, light: number, contrast: number): Float32Array {
  const rim = R + Math.max(1, R * 0.4);
  return Float32Array.of(cx, cy, R + 0.5, rim + 0.5, (R + rim) / 2, 1 / ((rim - R) / 2 + 0.5), Math.cos(light), Math.sin(light), -contrast, 0.8 * contrast);
}

export const pitAt: ShadeAt = (s, o, x, y) => {
  const dx = f(x - s[o]!);
  const dy = f(y - s[o + 1]!);
  const d = f(Math.sqrt(f(f(dx * dx) + f(dy * dy))));
  const inner = Math.min(1, Math.max(0, f(s[o + 2]! - d)));
  const dot = f(f(dx * s[o + 6]!) + f(dy * s[o + 7]!));
  if (inner > 0) {
    // the crater's floor is darkest on the side facing the light (its wall shadows it)
    const facing = d > 0 ? f(dot / d) : 0;
    return { k: f(f(s[o + 8]! * inner) * f(0.75 + f(0.25 * facing))), mask: inner >= 0.5 };
  }
  if (d >= s[o + 3]!) return NONE;
  const across = f(1 - f(Math.abs(f(d - s[o + 4]!)) * s[o + 5]!));
  const lit = d > 0 ? -f(dot / d) : 0;
  return across > 0 && lit > 0 ? { k: f(f(s[o + 9]! * across) * lit), mask: false } : NONE;
};

/** A Perlin permutation of 0 … 255 shuffled by `seed` (the stain's `noiseSeed`). */
export function perlinPerm(seed: number): Float32Array {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const base = Array.from({ length: PERM }, (_, i) => i);
  for (let i = PERM - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [base[i], base[j]] = [base[j]!, base[i]!];
  }
  return Float32Array.from(base);
}

const fade = (t: number) => f(f(f(t * t) * t) * f(f(t * f(f(t * 6) - 15)) + 10));
const grad = (h: number, x: number, y: number) => f(((h & 1) === 0 ? x : -x) + ((h & 2) === 0 ? y : -y));

/** Perlin gradient noise in about [−1, 1] with the permutation at `p`. */
function noise(s: Float32Array, p: number, x: number, y: number): number {
  const xi = Math.floor(x);
  const yi = Math.floor(y);
  const xf = f(x - xi);
  const yf = f(y - yi);
  const X = xi & 255;
  const Y = yi & 255;
  const u = fade(xf);
  const v = fade(yf);
  const pX = s[p + X]!;
  const pX1 = s[p + ((X + 1) & 255)]!;
  const aa = s[p + ((pX + Y) & 255)]!;
  const ab = s[p + ((pX + Y + 1) & 255)]!;
  const ba = s[p + ((pX1 + Y) & 255)]!;
  const bb = s[p + ((pX1 + Y + 1) & 255)]!;
  const gaa = grad(aa, xf, yf);
  const gab = grad(ab, xf, f(yf - 1));
  const top = f(gaa + f(u * f(grad(ba, f(xf - 1), yf) - gaa)));
  const bottom = f(gab + f(u * f(grad(bb, f(xf - 1), f(yf - 1)) - gab)));
  return f(top + f(v * f(bottom - top)));
}

/** Stain: cx cy, cos and sin of its angle, 1 / rx, 1 / ry, 1 / cell, signed contrast; its permutation follows. */
function encodeStain(cx: number, cy: number, rx: number, ry: number, angle: number, cell: number, sc: number, seed: number): Float32Array {
  const out = new Float32Array(RECORD.stain + PERM);
  out.set([cx, cy, Math.cos(angle), Math.sin(angle), 1 / rx, 1 / ry, 1 / cell, sc]);
  out.set(perlinPerm(seed), RECORD.stain);
  return out;
}

const [OCTAVE_X, OCTAVE_Y, NOISE_GAIN, SOFT, MASK_FIELD] = [f(17.3), f(5.1), f(0.6), f(1 / 0.35), f(0.175)];

export const stainAt: ShadeAt = (s, o, x, y) => {
  const dx = f(x - s[o]!);
  const dy = f(y - s[o + 1]!);
  const [c, sn] = [s[o + 2]!, s[o + 3]!];
  const u = f(f(f(dx * c) + f(dy * sn)) * s[o + 4]!);
  const v = f(f(f(dy * c) - f(dx * sn)) * s[o + 5]!);
  const tx = f(x * s[o + 6]!);
  const ty = f(y * s[o + 6]!);
  const p = o + RECORD.stain;
  // inside the ellipse 1 − d² > 0; two octaves of noise push the edge in and out
  const n = f(noise(s, p, tx, ty) + f(0.5 * noise(s, p, f(f(2 * tx) + OCTAVE_X), f(f(2 * ty) + OCTAVE_Y))));
  const field = f(f(1 - f(f(u * u) + f(v * v))) + f(NOISE_GAIN * n));
  if (field <= 0) return NONE;
  return { k: f(s[o + 7]! * Math.min(1, f(field * SOFT))), mask: field >= MASK_FIELD };
};

/** The shade evaluator of each record class. */
export const SHADE_AT = { spot: spotAt, pit: pitAt, stain: stainAt } as const;

/** The record of a spot, pit or stain on a W × H image, or null when its box falls outside. */
export function encodeShape(shape: SpotShape | PitShape | StainShape, W: number, H: number): ShapeRecord | null {
  if (shape.class === 'spot') {
    const { cx, cy, radius: R, harmonics: h } = shape;
    const reach = R * (1 + h[0]! + h[1]! + h[2]!) + 1;
    const box = clipBox(cx - reach, cy - reach, cx + reach, cy + reach, W, H);
    const sc = (shape.polarity === 'dark' ? -1 : 1) * shape.contrast;
    return box && { box, rec: encodeSpot(cx, cy, R, h, shape.phases, sc, shape.stain) };
  }
  if (shape.class === 'pit') {
    const { cx, cy, radius: R } = shape;
    const rim = R + Math.max(1, R * 0.4);
    const box = clipBox(cx - rim - 1, cy - rim - 1, cx + rim + 1, cy + rim + 1, W, H);
    return box && { box, rec: encodePit(cx, cy, R, shape.light, shape.contrast) };
  }
  const reach = Math.max(shape.rx, shape.ry) * 1.6 + 1;
  const box = clipBox(shape.cx - reach, shape.cy - reach, shape.cx + reach, shape.cy + reach, W, H);
  const sc = (shape.polarity === 'dark' ? -1 : 1) * shape.contrast;
  return box && { box, rec: encodeStain(shape.cx, shape.cy, shape.rx, shape.ry, shape.angle, shape.cell, sc, shape.noiseSeed) };
}

/**
 * WGSL of the evaluators above; `sh(i)` reads the shape table, whose entry 0 holds the largest f32.
 * Mirrors of segmentCover, spotAt, pitAt and stainAt. Shader compilers may fuse a product into the
 * sum it feeds or reorder a chain of sums (WGSL has no `precise`); `keep(v)`, the min of v and that
 * entry, is v to the value but opaque to them, so each product or partial sum that feeds a sum goes
 * through it and the GPU rounds where the CPU does.
 */
export const SHADE_WGSL = /* wgsl */ `
fn sh(i: u32) -> f32 { return shapes_load(i); }
fn keep(v: f32) -> f32 { return min(v, sh(0u)); }
fn segment_cover(o: u32, x: f32, y: f32) -> f32 {
  let px = x - sh(o);
  let py = y - sh(o + 1u);
  let dx = sh(o + 2u);
  let dy = sh(o + 3u);
  let t = min(max((keep(px * dx) + keep(py * dy)) * sh(o + 4u), 0.0), 1.0);
  let ex = px - keep(t * dx);
  let ey = py - keep(t * dy);
  return sh(o + 5u) - sqrt(keep(ex * ex) + keep(ey * ey));
}
fn spot_at(o: u32, x: f32, y: f32) -> vec2f {
  let dx = x - sh(o);
  let dy = y - sh(o + 1u);
  let d = sqrt(keep(dx * dx) + keep(dy * dy));
  let c = select(1.0, dx / d, d > 0.0);
  let sn = select(0.0, dy / d, d > 0.0);
  let c2 = keep(c * c) - keep(sn * sn);
  let s2 = 2.0 * c * sn;
  let c3 = c * (keep(c * c) - keep(3.0 * sn * sn));
  let s3 = sn * (keep(3.0 * c * c) - keep(sn * sn));
  let w1 = keep(keep(sh(o + 3u) * c) + keep(sh(o + 4u) * sn));
  let w2 = keep(keep(sh(o + 5u) * c2) + keep(sh(o + 6u) * s2));
  let w3 = keep(keep(sh(o + 7u) * c3) + keep(sh(o + 8u) * s3));
  let rad = sh(o + 2u) * keep(keep(keep(1.0 + w1) + w2) + w3);
  let a = keep(rad + 0.5) - d;
  if (a <= 0.0) { return vec2f(0.0); }
  let alpha = min(a, 1.0);
  let rho = min(1.0, d / rad);
  let profile = sh(o + 10u) + keep(sh(o + 11u) * (1.0 - keep(rho * rho)));
  return vec2f(sh(o + 9u) * alpha * profile, select(0.0, 1.0, alpha >= 0.5));
}
fn pit_at(o: u32, x: f32, y: f32) -> vec2f {
  let dx = x - sh(o);
  let dy = y - sh(o + 1u);
  let d = sqrt(keep(dx * dx) + keep(dy * dy));
  let inner = min(1.0, max(0.0, sh(o + 2u) - d));
  let dot_l = keep(dx * sh(o + 6u)) + keep(dy * sh(o + 7u));
  if (inner > 0.0) {
    let facing = select(0.0, dot_l / d, d > 0.0);
    return vec2f(sh(o + 8u) * inner * (0.75 + keep(0.25 * facing)), select(0.0, 1.0, inner >= 0.5));
  }
  if (d >= sh(o + 3u)) { return vec2f(0.0); }
  let across = 1.0 - keep(abs(d - sh(o + 4u)) * sh(o + 5u));
  let lit = select(0.0, -(dot_l / d), d > 0.0);
  if (across > 0.0 && lit > 0.0) { return vec2f(sh(o + 9u) * across * lit, 0.0); }
  return vec2f(0.0);
}
fn perlin_fade(t: f32) -> f32 { return t * t * t * (keep(t * (keep(t * 6.0) - 15.0)) + 10.0); }
fn perlin_grad(h: u32, x: f32, y: f32) -> f32 { return keep(select(-x, x, (h & 1u) == 0u) + select(-y, y, (h & 2u) == 0u)); }
fn perlin_perm(p: u32, i: u32) -> u32 { return u32(sh(p + (i & 255u))); }
fn perlin_noise(p: u32, x: f32, y: f32) -> f32 {
  let xi = floor(x);
  let yi = floor(y);
  let xf = x - xi;
  let yf = y - yi;
  let X = u32(i32(xi) & 255);
  let Y = u32(i32(yi) & 255);
  let u = perlin_fade(xf);
  let v = perlin_fade(yf);
  let pX = perlin_perm(p, X);
  let pX1 = perlin_perm(p, X + 1u);
  let gaa = perlin_grad(perlin_perm(p, pX + Y), xf, yf);
  let gab = perlin_grad(perlin_perm(p, pX + Y + 1u), xf, yf - 1.0);
  let top = keep(gaa + keep(u * (perlin_grad(perlin_perm(p, pX1 + Y), xf - 1.0, yf) - gaa)));
  let bottom = keep(gab + keep(u * (perlin_grad(perlin_perm(p, pX1 + Y + 1u), xf - 1.0, yf - 1.0) - gab)));
  return keep(top + keep(v * (bottom - top)));
}
fn stain_at(o: u32, x: f32, y: f32) -> vec2f {
  let dx = x - sh(o);
  let dy = y - sh(o + 1u);
  let c = sh(o + 2u);
  let sn = sh(o + 3u);
  let u = (keep(dx * c) + keep(dy * sn)) * sh(o + 4u);
  let v = (keep(dy * c) - keep(dx * sn)) * sh(o + 5u);
  let tx = x * sh(o + 6u);
  let ty = y * sh(o + 6u);
  let p = o + ${RECORD.stain}u;
  let n = perlin_noise(p, tx, ty) + keep(0.5 * perlin_noise(p, keep(2.0 * tx) + ${OCTAVE_X}, keep(2.0 * ty) + ${OCTAVE_Y}));
  let field = keep(1.0 - keep(keep(u * u) + keep(v * v))) + keep(${NOISE_GAIN} * n);
  if (field <= 0.0) { return vec2f(0.0); }
  return vec2f(sh(o + 7u) * min(1.0, field * ${SOFT}), select(0.0, 1.0, field >= ${MASK_FIELD}));
}`;
