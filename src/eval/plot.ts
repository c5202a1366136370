/**
 * The precision/recall curve over the threshold as a picture: an SVG drawn here (two panels:
 * precision against recall; false-NG and miss rate against the threshold's rank), rendered to
 * PNG with sharp, so a report needs no plotting library.
 */
import sharp from 'sharp';
import type { ImageLevel } from './images.js';

const W = 720;
const H = 340;
const PAD = 44;
const PANEL = (W - 3 * PAD) / 2;
const PH = H - 2 * PAD;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

function axes(x0: number, xLabel: string, yLabel: string): string {
  const ticks = [0, 0.25, 0.5, 0.75, 1]
    .map((t) => {
      const y = PAD + PH * (1 - t);
      return `<line x1="${x0}" y1="${y}" x2="${x0 + PANEL}" y2="${y}" stroke="#ddd"/><text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${t}</text>`;
    })
    .join('');
  return (
    `${ticks}<rect x="${x0}" y="${PAD}" width="${PANEL}" height="${PH}" fill="none" stroke="#333"/>` +
    `<text x="${x0 + PANEL / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>` +
    `<text x="${x0}" y="${PAD - 8}" font-size="12">${esc(yLabel)}</text>`
  );
}

function polyline(points: [number, number][], colour: string): string {
  if (!points.length) return '';
  return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`;
}

/** The curve's SVG (thresholdCurve's points, strictest first). */
export function curveSvg(curve: readonly ImageLevel[], title: string): string {
  const left = PAD;
  const right = 2 * PAD + PANEL;
  const pr = curve
    .filter((p) => p.precision !== null && p.recall !== null)
    .map((p): [number, number] => [left + PANEL * p.recall!, PAD + PH * (1 - p.precision!)]);
  const step = curve.length > 1 ? PANEL / (curve.length - 1) : 0;
  const rate = (k: 'falseNgRate' | 'missRate') =>
    curve.flatMap((p, i): [number, number][] => (p[k] === null ? [] : [[right + step * i, PAD + PH * (1 - p[k])]]));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">` +
    `<rect width="${W}" height="${H}" fill="white"/>` +
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>` +
    axes(left, 'recall (defective images judged NG)', 'precision') +
    axes(right, 'threshold, strictest → loosest', 'rate') +
    polyline(pr, '#1f77b4') +
    polyline(rate('falseNgRate'), '#d62728') +
    polyline(rate('missRate'), '#2ca02c') +
    `<text x="${right + PANEL - 4}" y="${PAD + 16}" text-anchor="end" font-size="11" fill="#d62728">false-NG rate</text>` +
    `<text x="${right + PANEL - 4}" y="${PAD + 30}" text-anchor="end" font-size="11" fill="#2ca02c">miss rate</text>` +
    `</svg>`
  );
}

/** Writes the curve as a PNG. */
export async function writeCurvePng(curve: readonly ImageLevel[], title: string, path: string): Promise<void> {
  await sharp(Buffer.from(curveSvg(curve, title)))
    .png()
    .toFile(path);
}
