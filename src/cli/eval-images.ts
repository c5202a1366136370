/**
 * The image-level part of `kensa eval`: false-NG and miss rates at the strictest useful rule
 * (any predicted defect pixel = NG), the precision/recall curve over the predicted area, and its
 * PNG when asked for.
 */
import { imageLevel, maskImages, thresholdCurve, type ImageLevel } from '../eval/images.js';
import type { Evaluation } from '../eval/evaluate.js';
import { writeCurvePng } from '../eval/plot.js';
import { table } from './io.js';

export interface ImageLevelReport {
  /** Only predicted components of at least this many pixels count towards an image's area. */
  minArea: number;
  /** NG = any predicted defect pixel (in a component of at least minArea pixels). */
  atZero: ImageLevel;
  curve: ImageLevel[];
  plot?: string;
}

export async function imageLevelReport(e: Evaluation, plot: string | undefined): Promise<ImageLevelReport> {
  const images = maskImages(e);
  const curve = thresholdCurve(images);
  if (plot !== undefined) await writeCurvePng(curve, `kensa eval: ${images.length} images, NG when predicted area > threshold`, plot);
  return { minArea: e.minArea, atZero: imageLevel(images, 0), curve, ...(plot !== undefined ? { plot } : {}) };
}

const rate = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** The image-level table: the rule NG = any defect pixel, then up to 12 points of the curve. */
export function imageLevelText(r: ImageLevelReport): string {
  const z = r.atZero;
  let s = `image level (NG = predicted area > 0 px${r.minArea > 1 ? `, counting components of at least ${r.minArea} px` : ''}): false-NG ${z.falseNg}/${z.goodImages} (${rate(z.falseNgRate)}), missed ${z.missed}/${z.defectiveImages} (${rate(z.missRate)})\n`;
  const step = Math.max(1, Math.ceil(r.curve.length / 12));
  const rows = [['area threshold (px)', 'precision', 'recall', 'false-NG rate', 'miss rate']];
  for (let i = 0; i < r.curve.length; i += step) {
    const p = r.curve[i]!;
    // the loosest point sits below every area (0 included): there every image is NG
    const label = p.threshold < 0 ? 'none (all NG)' : String(Math.round(p.threshold * 10) / 10);
    rows.push([label, rate(p.precision), rate(p.recall), rate(p.falseNgRate), rate(p.missRate)]);
  }
  s += table(rows);
  if (z.goodImages === 0) s += 'no defect-free images (every truth mask has a defect): the false-NG rate is undefined; add truth masks of good images\n';
  if (z.defectiveImages === 0) s += 'no defective images (every truth mask is empty): the miss rate and recall are undefined\n';
  if (r.plot !== undefined) s += `curve written to ${r.plot}\n`;
  return s;
}
