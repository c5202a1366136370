/**
 * The image-level part of `kensa eval`: false-NG and miss rates at the strictest useful rule
 * (any predicted defect pixel = NG) or, for an inspect run, at the run's own verdicts; the
 * precision/recall curve over the predicted area (or the run's image scores); its PNG when asked for.
 */
import { imageLevel, maskImages, thresholdCurve, type ImageLevel, type ScoredImage } from '../eval/images.js';
import type { Evaluation } from '../eval/evaluate.js';
import { writeCurvePng } from '../eval/plot.js';
import { table } from './io.js';

/** What an inspect run judged of one image: its verdict and its score (its best defect's; 0 without defects). */
export interface RunVerdict {
  ng: boolean;
  score: number;
}

export interface ImageLevelReport {
  /** 'area': NG by predicted area (masks only); 'verdicts': the run's verdicts, the curve over its image scores. */
  source: 'area' | 'verdicts';
  /** Only predicted components of at least this many pixels count towards an image's area. */
  minArea: number;
  /** NG = any predicted defect pixel (in a component of at least minArea pixels), or the run's verdict. */
  atZero: ImageLevel;
  curve: ImageLevel[];
  /** Scored images the run has no verdict for (an error item, or masks from elsewhere): left out. */
  withoutVerdict?: string[];
  plot?: string;
}

/**
 * The image-level report of an evaluation. With `verdicts` (an inspect run's, by image name) the
 * rates are those of the run's verdicts, which count minScore, maxDefects and verdict.background
 * as inspect did, and the curve sweeps the image score, NG above it (the minScore a user would pick).
 */
export async function imageLevelReport(e: Evaluation, plot: string | undefined, verdicts?: ReadonlyMap<string, RunVerdict>): Promise<ImageLevelReport> {
  const byArea = maskImages(e);
  const judged = verdicts && byArea.filter((i) => verdicts.has(i.name));
  const images: ScoredImage[] = judged ? judged.map((i) => ({ ...i, score: verdicts.get(i.name)!.score })) : byArea;
  const curve = thresholdCurve(images);
  if (plot !== undefined) {
    const title = `kensa eval: ${images.length} images, ${judged ? "NG when the image's score is above the threshold" : 'NG when predicted area > threshold'}`;
    await writeCurvePng(curve, title, plot, judged ? "score threshold: NG when the image's score > it" : undefined);
  }
  // the run's verdicts as scores of 1 (NG) and 0 (OK), judged at 0
  const atZero = judged
    ? imageLevel(
        judged.map((i) => ({ ...i, score: verdicts.get(i.name)!.ng ? 1 : 0 })),
        0,
      )
    : imageLevel(images, 0);
  return {
    source: judged ? 'verdicts' : 'area',
    minArea: e.minArea,
    atZero,
    curve,
    ...(judged ? { withoutVerdict: byArea.filter((i) => !verdicts.has(i.name)).map((i) => i.name) } : {}),
    ...(plot !== undefined ? { plot } : {}),
  };
}

const rate = (v: number | null) => (v === null ? '-' : v.toFixed(3));

/** The image-level table: the rule (NG = any defect pixel, or the run's verdicts), then up to 12 points of the curve. */
export function imageLevelText(r: ImageLevelReport): string {
  const z = r.atZero;
  const rule =
    r.source === 'verdicts' ? "the run's verdicts" : `NG = predicted area > 0 px${r.minArea > 1 ? `, counting components of at least ${r.minArea} px` : ''}`;
  let s = `image level (${rule}): false-NG ${z.falseNg}/${z.goodImages} (${rate(z.falseNgRate)}), missed ${z.missed}/${z.defectiveImages} (${rate(z.missRate)})\n`;
  if (r.source === 'verdicts')
    s += "curve: NG when the image's score (its best defect's) is above the threshold, i.e. verdict.minScore swept without maxDefects and verdict.background\n";
  const step = Math.max(1, Math.ceil(r.curve.length / 12));
  const rows = [[r.source === 'verdicts' ? 'score threshold' : 'area threshold (px)', 'precision', 'recall', 'false-NG rate', 'miss rate']];
  for (let i = 0; i < r.curve.length; i += step) {
    const p = r.curve[i]!;
    // the loosest point sits below every area (0 included): there every image is NG
    const label = p.threshold < 0 ? 'none (all NG)' : String(Number(p.threshold.toFixed(r.source === 'verdicts' ? 3 : 1)));
    rows.push([label, rate(p.precision), rate(p.recall), rate(p.falseNgRate), rate(p.missRate)]);
  }
  s += table(rows);
  if (z.goodImages === 0) s += 'no defect-free images (every truth mask has a defect): the false-NG rate is undefined; add truth masks of good images\n';
  if (z.defectiveImages === 0) s += 'no defective images (every truth mask is empty): the miss rate and recall are undefined\n';
  if (r.withoutVerdict?.length) s += `without a verdict in the run (${r.withoutVerdict.length}, left out of the image level): ${r.withoutVerdict.join(', ')}\n`;
  if (r.plot !== undefined) s += `curve written to ${r.plot}\n`;
  return s;
}
