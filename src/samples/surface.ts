/**
 * Synthetic industrial surfaces, as reflectance in [0, 1] (a Float32Array, row-major):
 * brushed metal (long streaks along one axis), textured (knurled diamonds or sand-cast grain)
 * and noisy (a plain surface seen through a poor camera). The camera (uneven illumination,
 * vignetting, sensor noise) is applied after the defects by `develop`, because light falls
 * on the defects as on the surface around them.
 *
 * Everything is separable or per-row so a 2048×2048 surface costs tens of milliseconds.
 */
import { mulberry32 } from '../rng.js';

export const SURFACE_KINDS = ['brushed', 'textured', 'noisy'] as const;
export type SurfaceKind = (typeof SURFACE_KINDS)[number];

type Rng = () => number;

const uniform = (r: Rng, lo: number, hi: number) => lo + (hi - lo) * r();

/** Adds amp × smooth value noise in [-1, 1] with cells of cellX × cellY pixels (cubic-smoothstep interpolation). */
export function addValueNoise(img: Float32Array, width: number, height: number, cellX: number, cellY: number, amp: number, r: Rng): void {
  const gw = Math.ceil(width / cellX) + 2;
  const gh = Math.ceil(height / cellY) + 2;
  const grid = new Float32Array(gw * gh);
  for (let i = 0; i < grid.length; i++) grid[i] = (r() * 2 - 1) * amp;
  const ix = new Int32Array(width);
  const fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const g = x / cellX;
    const i = Math.floor(g);
    const f = g - i;
    ix[x] = i;
    fx[x] = f * f * (3 - 2 * f);
  }
  const row = new Float32Array(gw);
  for (let y = 0; y < height; y++) {
    const g = y / cellY;
    const gy = Math.floor(g);
    let f = g - gy;
    f = f * f * (3 - 2 * f);
    const a = gy * gw;
    const b = a + gw;
    for (let i = 0; i < gw; i++) row[i] = grid[a + i]! + (grid[b + i]! - grid[a + i]!) * f;
    const o = y * width;
    for (let x = 0; x < width; x++) {
      const i = ix[x]!;
      const v0 = row[i]!;
      img[o + x] = img[o + x]! + v0 + (row[i + 1]! - v0) * fx[x]!;
    }
  }
}

/** Transposes a width × height image into a new height × width one. */
function transpose(img: Float32Array, width: number, height: number): Float32Array {
  const out = new Float32Array(img.length);
  for (let y = 0; y < height; y++) for (let x = 0, o = y * width; x < width; x++) out[x * height + y] = img[o + x]!;
  return out;
}

/** Brushed metal: a mid-grey sheet with fine and coarse streaks along x or y. */
function brushed(width: number, height: number, r: Rng): Float32Array {
  const vertical = r() < 0.4;
  const [w, h] = vertical ? [height, width] : [width, height];
  const img = new Float32Array(w * h).fill(uniform(r, 0.42, 0.62));
  // streaks: every row its own slowly varying value; several lengths and strengths
  addValueNoise(img, w, h, Math.max(8, w * uniform(r, 0.15, 0.4)), 1, uniform(r, 0.025, 0.045), r);
  addValueNoise(img, w, h, Math.max(4, w * uniform(r, 0.03, 0.06)), 1, uniform(r, 0.015, 0.03), r);
  addValueNoise(img, w, h, Math.max(16, w * 0.6), Math.max(2, h * 0.004), uniform(r, 0.02, 0.04), r);
  // broad sheen across the sheet
  addValueNoise(img, w, h, Math.max(8, w / 2), Math.max(8, h / 2), 0.04, r);
  return vertical ? transpose(img, w, h) : img;
}

/** Knurled (a diamond grid of grooves) or sand-cast (grain at several scales). */
function textured(width: number, height: number, r: Rng): Float32Array {
  const img = new Float32Array(width * height).fill(uniform(r, 0.4, 0.58));
  if (r() < 0.5) {
    const period = uniform(r, 8, 22);
    const amp = uniform(r, 0.1, 0.18);
    const sharp = uniform(r, 1.5, 3);
    const phase = r() * period;
    // two families of grooves, along x + y and x − y: triangle waves tabulated once per diagonal
    const tri = (s: number) => {
      const u = (s + phase) / period;
      return Math.abs(u - Math.floor(u) - 0.5) * 2; // 0 at the groove, 1 between grooves
    };
    const sum = new Float32Array(width + height);
    const diff = new Float32Array(width + height);
    for (let s = 0; s < width + height; s++) {
      sum[s] = tri(s);
      diff[s] = tri(s - height);
    }
    const LEVELS = 1024;
    const ridge = new Float32Array(LEVELS + 1);
    for (let i = 0; i <= LEVELS; i++) ridge[i] = amp * ((i / LEVELS) ** (1 / sharp) - 0.5);
    for (let y = 0; y < height; y++) {
      const o = y * width;
      for (let x = 0; x < width; x++) {
        const u = sum[x + y]!;
        const v = diff[x - y + height]!;
        img[o + x] = img[o + x]! + ridge[(Math.min(u, v) * LEVELS) | 0]!;
      }
    }
    addValueNoise(img, width, height, 3, 3, 0.02, r);
  } else {
    addValueNoise(img, width, height, 2, 2, uniform(r, 0.03, 0.05), r);
    addValueNoise(img, width, height, 5, 5, uniform(r, 0.03, 0.05), r);
    addValueNoise(img, width, height, 14, 14, uniform(r, 0.03, 0.05), r);
    addValueNoise(img, width, height, 40, 40, 0.04, r);
  }
  addValueNoise(img, width, height, Math.max(8, width / 2), Math.max(8, height / 2), 0.04, r);
  return img;
}

/** A plain, slightly mottled surface; the noise comes from the camera (see develop). */
function plain(width: number, height: number, r: Rng): Float32Array {
  const img = new Float32Array(width * height).fill(uniform(r, 0.45, 0.6));
  addValueNoise(img, width, height, 6, 6, 0.015, r);
  addValueNoise(img, width, height, Math.max(8, width / 3), Math.max(8, height / 3), 0.05, r);
  return img;
}

/** The surface's reflectance before defects and camera. */
export function surface(kind: SurfaceKind, width: number, height: number, r: Rng): Float32Array {
  return kind === 'brushed' ? brushed(width, height, r) : kind === 'textured' ? textured(width, height, r) : plain(width, height, r);
}

/** 2²⁰ standard normal deviates (Box–Muller from a fixed mulberry32 stream), shared by every image. */
let normals: Float32Array | null = null;
const NORMALS = 1 << 20;
function normalTable(): Float32Array {
  if (normals) return normals;
  const r = mulberry32(0x6b656e73);
  const t = new Float32Array(NORMALS);
  for (let i = 0; i < NORMALS; i += 2) {
    const u = Math.max(r(), 1e-12);
    const a = 2 * Math.PI * r();
    const m = Math.sqrt(-2 * Math.log(u));
    t[i] = m * Math.cos(a);
    t[i + 1] = m * Math.sin(a);
  }
  return (normals = t);
}

/**
 * The camera, then quantisation: uneven illumination (a linear gradient in a random direction),
 * vignetting (quadratic fall-off from the optical centre), sensor noise (read noise + shot noise
 * ∝ √signal; each row reads the shared table of normal deviates from its own random offset) and,
 * on the noisy kind, a few hot pixels. Strong on 'noisy', mild elsewhere. Returns the image
 * rounded and saturated to 8 or 16 bits.
 */
export function develop(img: Float32Array, width: number, height: number, kind: SurfaceKind, depth: 8 | 16, r: Rng): Uint8Array | Uint16Array {
  const noisy = kind === 'noisy';
  const gradient = noisy ? uniform(r, 0.1, 0.3) : uniform(r, 0.02, 0.08);
  const vignette = noisy ? uniform(r, 0.15, 0.35) : uniform(r, 0.02, 0.08);
  const read = noisy ? uniform(r, 0.02, 0.04) : uniform(r, 0.004, 0.01);
  const shot = noisy ? uniform(r, 0.02, 0.04) : uniform(r, 0.003, 0.008);
  const gain = uniform(r, 0.95, 1.15);
  const angle = r() * 2 * Math.PI;
  const cx = width * uniform(r, 0.35, 0.65);
  const cy = height * uniform(r, 0.35, 0.65);
  const R = Math.hypot(width, height) / 2;
  const gx = (Math.cos(angle) * gradient * gain) / R;
  const gy = (Math.sin(angle) * gradient) / R;
  const v = vignette / (R * R);
  const table = normalTable();
  const wrap = NORMALS - 1;
  const scale = depth === 8 ? 255 : 65535;
  const out = depth === 8 ? new Uint8Array(width * height) : new Uint16Array(width * height);
  const hot = noisy ? Math.round((width * height) / 40000) : 0;
  const rowLight = new Float32Array(width);
  for (let y = 0; y < height; y++) {
    const o = y * width;
    const dy = y - cy;
    const light = gain * (1 + dy * gy);
    const dy2 = dy * dy;
    // the row's light, then its pixels
    for (let x = 0; x < width; x++) {
      const dx = x - cx;
      rowLight[x] = (light + dx * gx) * (1 - v * (dx * dx + dy2)) * scale;
    }
    const off = (r() * NORMALS) | 0;
    const rs = read * scale;
    const ss = shot * Math.sqrt(scale);
    for (let x = 0; x < width; x++) {
      const s = img[o + x]! * rowLight[x]!;
      const q = s + table[(off + x) & wrap]! * (rs + ss * Math.sqrt(Math.max(s, 0))) + 0.5;
      out[o + x] = Math.min(Math.max(q, 0), scale);
    }
  }
  for (let i = 0; i < hot; i++) out[(r() * width * height) | 0] = Math.round(uniform(r, 0.85, 1) * scale);
  return out;
}
