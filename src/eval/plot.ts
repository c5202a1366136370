/**
 * The precision/recall curve over the threshold as a picture: an SVG drawn here (two panels:
 * precision against recall; false-NG and miss rate against the threshold's value), rendered
 * to PNG with sharp, so a report needs no plotting library.
 */
import sharp from 'sharp';
import type { ImageLevel } from './images.js';

const W = 720;
const H = 350;
const PAD = 48;
const PANEL = (W - 3 * PAD) / 2;
const PH = H - 2 * PAD;
const FALSE_NG = '#d62728';
const MISS = '#2ca02c';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** Four to ten round tick values (1, 2 or 5 times a power of ten apart) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Math.round(t / step) * step);
  return ticks.map((t) => Number(t.toPrecision(12)));
}

const UNIT_TICKS = [0, 0.25, 0.5, 0.75, 1];
const unit = (v: number) => v;

/**
 * A panel's frame, grid, tick labels on both axes and axis labels; `x` and `y` map a value to the
 * panel (0 … 1), the y axis [0, 1] by default.
 */
function axes(
  x0: number,
  xTicks: readonly number[],
  x: (v: number) => number,
  xLabel: string,
  yLabel: string,
  yTicks: readonly number[] = UNIT_TICKS,
  yOf: (v: number) => number = unit,
): string {
  const bottom = PAD + PH;
  const yt = yTicks
    .map((t) => {
      const y = PAD + PH * (1 - yOf(t));
      return `<line x1="${x0}" y1="${y}" x2="${x0 + PANEL}" y2="${y}" stroke="#ddd"/><text x="${x0 - 6}" y="${y + 4}" text-anchor="end" font-size="11">${t}</text>`;
    })
    .join('');
  const xt = xTicks
    .map((t) => {
      const px = x0 + PANEL * x(t);
      return `<line x1="${px}" y1="${bottom}" x2="${px}" y2="${bottom + 4}" stroke="#333"/><text x="${px}" y="${bottom + 16}" text-anchor="middle" font-size="11">${t}</text>`;
    })
    .join('');
  return (
    `${yt}${xt}<rect x="${x0}" y="${PAD}" width="${PANEL}" height="${PH}" fill="none" stroke="#333"/>` +
    `<text x="${x0 + PANEL / 2}" y="${H - 8}" text-anchor="middle" font-size="12">${esc(xLabel)}</text>` +
    `<text x="${x0}" y="${PAD - 8}" font-size="12">${esc(yLabel)}</text>`
  );
}

function polyline(points: [number, number][], colour: string): string {
  if (!points.length) return '';
  const dots = points.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${colour}"/>`).join('');
  return `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>${dots}`;
}

/** A legend entry above a panel (outside the plot area, so it never hides a line). */
function legendEntry(x: number, label: string, colour: string): string {
  const y = PAD - 12;
  return `<line x1="${x}" y1="${y}" x2="${x + 16}" y2="${y}" stroke="${colour}" stroke-width="2"/><text x="${x + 20}" y="${y + 4}" font-size="11" fill="${colour}">${esc(label)}</text>`;
}

/** The threshold axis's label of a curve over the predicted area (the default) or another image score. */
const AREA_AXIS = 'area threshold (px): NG when predicted area > it';

/** The curve's SVG (thresholdCurve's points, strictest first); `axis` names the threshold. */
export function curveSvg(curve: readonly ImageLevel[], title: string, axis = AREA_AXIS): string {
  const left = PAD;
  const right = 2 * PAD + PANEL;
  const pr = curve
    .filter((p) => p.precision !== null && p.recall !== null)
    .map((p): [number, number] => [left + PANEL * p.recall!, PAD + PH * (1 - p.precision!)]);
  const thresholds = curve.map((p) => p.threshold);
  const lo = Math.min(0, ...thresholds);
  const hi = Math.max(lo + 1, ...thresholds);
  const tx = (v: number) => (v - lo) / (hi - lo);
  const rate = (k: 'falseNgRate' | 'missRate') =>
    curve.flatMap((p): [number, number][] => (p[k] === null ? [] : [[right + PANEL * tx(p.threshold), PAD + PH * (1 - p[k])]]));
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">` +
    `<rect width="${W}" height="${H}" fill="white"/>` +
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>` +
    axes(left, UNIT_TICKS, unit, 'recall (defective images judged NG)', 'precision') +
    axes(right, niceTicks(lo, hi), tx, axis, 'rate') +
    polyline(pr, '#1f77b4') +
    polyline(rate('falseNgRate'), FALSE_NG) +
    polyline(rate('missRate'), MISS) +
    legendEntry(right + PANEL - 190, 'false-NG rate', FALSE_NG) +
    legendEntry(right + PANEL - 80, 'miss rate', MISS) +
    `</svg>`
  );
}

async function writePng(svg: string, path: string): Promise<void> {
  await sharp(Buffer.from(svg)).png().toFile(path);
}

/** Writes the curve as a PNG. */
export async function writeCurvePng(curve: readonly ImageLevel[], title: string, path: string, axis = AREA_AXIS): Promise<void> {
  await writePng(curveSvg(curve, title, axis), path);
}

/** One epoch of a training run, as the curve draws it (null: not measured). */
export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  validationLoss: number | null;
  iou: number | null;
  dice: number | null;
  f1: number | null;
}

const CURVE_COLOURS = { train: '#1f77b4', validation: '#ff7f0e', iou: '#2ca02c', dice: '#9467bd', f1: '#d62728' };

/** A training run's curve: losses (train, validation) and validation IoU, Dice and F1 against the epoch. */
export function trainingCurveSvg(points: readonly EpochPoint[], title: string): string {
  const left = PAD;
  const right = 2 * PAD + PANEL;
  const last = Math.max(2, ...points.map((p) => p.epoch));
  const xTicks = niceTicks(1, last).filter((t) => Number.isInteger(t) && t >= 1);
  const tx = (v: number) => (v - 1) / (last - 1);
  const losses = points.flatMap((p) => [p.trainLoss, p.validationLoss ?? 0]);
  const highest = Math.max(1e-6, ...losses);
  const yTicks = niceTicks(0, highest);
  // one tick more where the highest loss lies above the last
  if (yTicks.at(-1)! < highest) yTicks.push(Number((2 * yTicks.at(-1)! - yTicks.at(-2)!).toPrecision(12)));
  const top = yTicks.at(-1)!;
  const ty = (v: number) => v / top;
  const line = (x0: number, y: (v: number) => number, pick: (p: EpochPoint) => number | null, colour: string) =>
    polyline(
      points.flatMap((p): [number, number][] => {
        const v = pick(p);
        return v === null ? [] : [[x0 + PANEL * tx(p.epoch), PAD + PH * (1 - y(v))]];
      }),
      colour,
    );
  const c = CURVE_COLOURS;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">` +
    `<rect width="${W}" height="${H}" fill="white"/>` +
    `<text x="${W / 2}" y="16" text-anchor="middle" font-size="13">${esc(title)}</text>` +
    axes(left, xTicks, tx, 'epoch', 'loss (BCE + Dice)', yTicks, ty) +
    axes(right, xTicks, tx, 'epoch', 'validation') +
    line(left, ty, (p) => p.trainLoss, c.train) +
    line(left, ty, (p) => p.validationLoss, c.validation) +
    line(right, unit, (p) => p.iou, c.iou) +
    line(right, unit, (p) => p.dice, c.dice) +
    line(right, unit, (p) => p.f1, c.f1) +
    legendEntry(left + PANEL - 140, 'train', c.train) +
    legendEntry(left + PANEL - 80, 'validation', c.validation) +
    legendEntry(right + PANEL - 200, 'IoU', c.iou) +
    legendEntry(right + PANEL - 150, 'Dice', c.dice) +
    legendEntry(right + PANEL - 95, 'F1 (tolerance)', c.f1) +
    `</svg>`
  );
}

/** Writes a training run's curve as a PNG. */
export async function writeTrainingCurvePng(points: readonly EpochPoint[], title: string, path: string): Promise<void> {
  await writePng(trainingCurveSvg(points, title), path);
}
