/**
 * Image-level scores: each image is defective (its truth has a defect pixel) or defect-free, and
 * the inspection judges it NG when its score exceeds a threshold. The false-NG rate is the share
 * of defect-free images judged NG (what a line throws away), the miss rate the share of defective
 * images judged OK (what it ships); precision and recall of NG over every threshold give the
 * curve a user picks an operating point from.
 */
import { invalidParameter } from '../validate.js';
import type { Evaluation } from './evaluate.js';

/** One image: whether its truth has a defect, and its score (NG when score > threshold). */
export interface ScoredImage {
  name: string;
  defective: boolean;
  score: number;
}

export interface ImageLevel {
  threshold: number;
  goodImages: number;
  defectiveImages: number;
  /** Defect-free images judged NG. */
  falseNg: number;
  /** Defective images judged OK. */
  missed: number;
  /** falseNg / goodImages (null without defect-free images). */
  falseNgRate: number | null;
  /** missed / defectiveImages (null without defective images). */
  missRate: number | null;
  /** Defective among the NG images (null when none is NG). */
  precision: number | null;
  /** 1 − missRate. */
  recall: number | null;
}

const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

/** The image-level scores at one threshold (an image is NG when its score is above it). */
export function imageLevel(images: readonly ScoredImage[], threshold: number): ImageLevel {
  if (!Number.isFinite(threshold)) throw invalidParameter('threshold', 'a finite number', threshold);
  let good = 0;
  let defective = 0;
  let falseNg = 0;
  let missed = 0;
  for (const im of images) {
    const ng = im.score > threshold;
    if (im.defective) {
      defective++;
      if (!ng) missed++;
    } else {
      good++;
      if (ng) falseNg++;
    }
  }
  const hits = defective - missed;
  return {
    threshold,
    goodImages: good,
    defectiveImages: defective,
    falseNg,
    missed,
    falseNgRate: ratio(falseNg, good),
    missRate: ratio(missed, defective),
    precision: ratio(hits, hits + falseNg),
    recall: ratio(hits, defective),
  };
}

/**
 * The image-level scores at every distinct score (each one a threshold just below it: that image
 * and every higher one NG), from the strictest to the loosest, after the threshold that judges
 * every image OK. That is the whole precision/recall curve: between two scores nothing changes.
 */
export function thresholdCurve(images: readonly ScoredImage[]): ImageLevel[] {
  const scores = [...new Set(images.map((i) => i.score))].sort((a, b) => b - a);
  const points = [imageLevel(images, scores.length ? scores[0]! : 0)];
  for (let i = 0; i < scores.length; i++) {
    const below = i + 1 < scores.length ? (scores[i]! + scores[i + 1]!) / 2 : Math.min(0, scores[i]!) - 1;
    points.push(imageLevel(images, below));
  }
  return points;
}

/** The images of a mask evaluation, each scored by its predicted defect area in components of at least minArea pixels (errors left out). */
export function maskImages(e: Evaluation): ScoredImage[] {
  return e.images.flatMap((i) => (i.status === 'error' ? [] : [{ name: i.name, defective: i.counts.truth > 0, score: i.keptArea }]));
}
