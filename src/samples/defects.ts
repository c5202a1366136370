/**
 * Defects drawn into a surface's reflectance and its ground-truth mask:
 * - crack: a thin dark random walk (1–3 px wide, thinning towards its end) that branches;
 * - scratch: a long, straight or gently curved, bright or dark line 1–2 px wide;
 * - spot: a small dark or bright blob, or a larger faint stain, with an irregular outline.
 *
 * Lines are rasterised as coverage (antialiased, the max over overlapping segments, so joints are
 * not drawn twice) into a scratch buffer, then committed: the image is darkened or brightened by
 * contrast × coverage, and every pixel whose coverage is at least ½ (its centre within the
 * stroke) becomes a mask pixel. Each defect reports the tight bbox and area of its own mask pixels.
 */

export const DEFECT_CLASSES = ['crack', 'scratch', 'spot'] as const;
export type DefectClass = (typeof DEFECT_CLASSES)[number];

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

/** What defects draw into: reflectance, the 0/255 mask and a scratch coverage buffer (zero between defects). */
export interface DefectCanvas {
  width: number;
  height: number;
  img: Float32Array;
  mask: Uint8Array;
  cov: Float32Array;
}

type Rng = () => number;

const uniform = (r: Rng, lo: number, hi: number) => lo + (hi - lo) * r();
/** Approximately normal (sum of three uniforms), mean 0, sd ≈ 1. */
const gauss = (r: Rng) => (r() + r() + r() - 1.5) * 2;

/** Rows/columns the pending coverage may touch (a superset of the pixels set). */
interface Dirty {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function stampSegment(c: DefectCanvas, dirty: Dirty, ax: number, ay: number, bx: number, by: number, r: number): void {
  const { width: W, height: H, cov } = c;
  const pad = r + 1;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - pad));
  const x1 = Math.min(W - 1, Math.ceil(Math.max(ax, bx) + pad));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - pad));
  const y1 = Math.min(H - 1, Math.ceil(Math.max(ay, by) + pad));
  if (x0 > x1 || y0 > y1) return;
  if (x0 < dirty.x0) dirty.x0 = x0;
  if (y0 < dirty.y0) dirty.y0 = y0;
  if (x1 > dirty.x1) dirty.x1 = x1;
  if (y1 > dirty.y1) dirty.y1 = y1;
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  const inv = len2 > 0 ? 1 / len2 : 0;
  const edge = r + 0.5;
  for (let y = y0; y <= y1; y++) {
    const o = y * W;
    const py = y - ay;
    for (let x = x0; x <= x1; x++) {
      const px = x - ax;
      let t = (px * dx + py * dy) * inv;
      t = Math.min(Math.max(t, 0), 1);
      const ex = px - t * dx;
      const ey = py - t * dy;
      const a = edge - Math.sqrt(ex * ex + ey * ey);
      if (a <= 0) continue;
      const alpha = Math.min(a, 1);
      if (alpha > cov[o + x]!) cov[o + x] = alpha;
    }
  }
}

/** Applies pending coverage (darken or brighten by contrast), marks the mask, clears the scratch. */
function commit(c: DefectCanvas, dirty: Dirty, polarity: 'dark' | 'bright', contrast: number): { bbox: BBox; area: number } | null {
  const { width: W, img, mask, cov } = c;
  let area = 0;
  let bx0 = Infinity;
  let by0 = Infinity;
  let bx1 = -1;
  let by1 = -1;
  const dark = polarity === 'dark';
  for (let y = dirty.y0; y <= dirty.y1; y++) {
    const o = y * W;
    for (let x = dirty.x0; x <= dirty.x1; x++) {
      const a = cov[o + x]!;
      if (a === 0) continue;
      cov[o + x] = 0;
      const v = img[o + x]!;
      img[o + x] = dark ? v * (1 - contrast * a) : v + (1 - v) * contrast * a;
      if (a >= 0.5) {
        mask[o + x] = 255;
        area++;
        if (x < bx0) bx0 = x;
        if (x > bx1) bx1 = x;
        if (y < by0) by0 = y;
        if (y > by1) by1 = y;
      }
    }
  }
  return area === 0 ? null : { bbox: { x: bx0, y: by0, width: bx1 - bx0 + 1, height: by1 - by0 + 1 }, area };
}

const emptyDirty = (): Dirty => ({ x0: Infinity, y0: Infinity, x1: -1, y1: -1 });

/** A branching random walk, dark, 1–3 px wide, thinning towards its end. */
export function drawCrack(c: DefectCanvas, r: Rng): SampleDefect | null {
  const { width: W, height: H } = c;
  const minSide = Math.min(W, H);
  const dirty = emptyDirty();
  const step = 3;
  const walk = (x: number, y: number, heading: number, length: number, radius: number, level: number): void => {
    let a = heading;
    for (let done = 0; done < length; done += step) {
      a += gauss(r) * 0.3 + (heading - a) * 0.08;
      const nx = x + Math.cos(a) * step;
      const ny = y + Math.sin(a) * step;
      stampSegment(c, dirty, x, y, nx, ny, Math.max(0.5, radius * (1 - (0.6 * done) / length)));
      x = nx;
      y = ny;
      if (x < -2 || y < -2 || x > W + 1 || y > H + 1) return;
      if (level < 2 && r() < 0.03) {
        const side = r() < 0.5 ? -1 : 1;
        walk(x, y, a + side * uniform(r, 0.4, 1.1), (length - done) * uniform(r, 0.25, 0.6), Math.max(0.5, radius * 0.7), level + 1);
      }
    }
  };
  const radius = uniform(r, 0.5, 1.5);
  walk(uniform(r, 0.1, 0.9) * W, uniform(r, 0.1, 0.9) * H, r() * 2 * Math.PI, Math.max(10, minSide * uniform(r, 0.12, 0.45)), radius, 0);
  const done = commit(c, dirty, 'dark', uniform(r, 0.4, 0.75));
  return done && { class: 'crack', ...done, polarity: 'dark' };
}

/** A long line, straight or gently bent (a quadratic Bézier), bright or dark, 1–2 px wide. */
export function drawScratch(c: DefectCanvas, r: Rng): SampleDefect | null {
  const { width: W, height: H } = c;
  const dirty = emptyDirty();
  const length = Math.max(8, Math.hypot(W, H) * uniform(r, 0.15, 0.6));
  const angle = r() * 2 * Math.PI;
  const [ux, uy] = [Math.cos(angle), Math.sin(angle)];
  const x0 = uniform(r, 0.05, 0.95) * W;
  const y0 = uniform(r, 0.05, 0.95) * H;
  const bend = r() < 0.5 ? 0 : uniform(r, -0.1, 0.1) * length;
  const [x2, y2] = [x0 + ux * length, y0 + uy * length];
  const [x1, y1] = [(x0 + x2) / 2 - uy * bend, (y0 + y2) / 2 + ux * bend];
  const radius = [0.5, 0.5, 0.75, 1][Math.floor(r() * 4)]!;
  const polarity = r() < 0.6 ? 'bright' : 'dark';
  const contrast = uniform(r, 0.25, 0.5);
  const n = Math.max(2, Math.ceil(length / 4));
  let [px, py] = [x0, y0];
  for (let i = 1; i <= n; i++) {
    const t = i / n;
    const s = 1 - t;
    const qx = s * s * x0 + 2 * s * t * x1 + t * t * x2;
    const qy = s * s * y0 + 2 * s * t * y1 + t * t * y2;
    stampSegment(c, dirty, px, py, qx, qy, radius);
    [px, py] = [qx, qy];
  }
  const done = commit(c, dirty, polarity, contrast);
  return done && { class: 'scratch', ...done, polarity };
}

/** A small blob (often dark) or a larger faint stain, its radius wobbling with the angle. */
export function drawSpot(c: DefectCanvas, r: Rng): SampleDefect | null {
  const { width: W, height: H, img, mask } = c;
  const minSide = Math.min(W, H);
  const stain = r() < 0.3;
  const R = stain ? Math.max(4, minSide * uniform(r, 0.02, 0.06)) : uniform(r, 1.5, Math.max(2.5, Math.min(14, minSide * 0.012)));
  const contrast = stain ? uniform(r, 0.12, 0.25) : uniform(r, 0.3, 0.6);
  const polarity = r() < (stain ? 0.8 : 0.65) ? 'dark' : 'bright';
  const cx = uniform(r, 0.05, 0.95) * W;
  const cy = uniform(r, 0.05, 0.95) * H;
  const h = [uniform(r, 0, 0.15), uniform(r, 0, 0.2), uniform(r, 0, 0.08)];
  const p = [r() * 2 * Math.PI, r() * 2 * Math.PI, r() * 2 * Math.PI];
  const reach = R * (1 + h[0]! + h[1]! + h[2]!) + 1;
  const x0 = Math.max(0, Math.floor(cx - reach));
  const x1 = Math.min(W - 1, Math.ceil(cx + reach));
  const y0 = Math.max(0, Math.floor(cy - reach));
  const y1 = Math.min(H - 1, Math.ceil(cy + reach));
  const dark = polarity === 'dark';
  let area = 0;
  let bx0 = Infinity;
  let by0 = Infinity;
  let bx1 = -1;
  let by1 = -1;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x - cx;
      const dy = y - cy;
      const d = Math.sqrt(dx * dx + dy * dy);
      const t = Math.atan2(dy, dx);
      const rad = R * (1 + h[0]! * Math.cos(t - p[0]!) + h[1]! * Math.cos(2 * t - p[1]!) + h[2]! * Math.cos(3 * t - p[2]!));
      const a = rad + 0.5 - d;
      if (a <= 0) continue;
      const alpha = Math.min(a, 1);
      const rho = Math.min(1, d / rad);
      const k = contrast * alpha * (stain ? 0.7 + 0.3 * (1 - rho * rho) : 0.6 + 0.4 * (1 - rho * rho));
      const o = y * W + x;
      const v = img[o]!;
      img[o] = dark ? v * (1 - k) : v + (1 - v) * k;
      if (alpha >= 0.5) {
        mask[o] = 255;
        area++;
        if (x < bx0) bx0 = x;
        if (x > bx1) bx1 = x;
        if (y < by0) by0 = y;
        if (y > by1) by1 = y;
      }
    }
  }
  return area === 0 ? null : { class: 'spot', bbox: { x: bx0, y: by0, width: bx1 - bx0 + 1, height: by1 - by0 + 1 }, area, polarity };
}

export const DRAW: Record<DefectClass, (c: DefectCanvas, r: Rng) => SampleDefect | null> = { crack: drawCrack, scratch: drawScratch, spot: drawSpot };
