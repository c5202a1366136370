/**
 * The three-step OpenCV baseline's grid and its black-hat step, shared by the baseline
 * (opencv-baseline.mjs) and the multi-scale study (scripts/data/multiscale-blackhat.mjs).
 */
import cvModule from '@techstark/opencv-js';
import { RELATIVE_THRESHOLDS, SWEPT_MIN_AREAS } from '../../src/tune/search.ts';

// the baseline's grid (test/tune/space.test.ts reads these three lines)
export const SIZES = [7, 11, 15, 23, 31, 47, 63, 95];
export const KS = [0.5, 1, 1.5, 2, 3, 4];
export const MIN_AREAS = [1, 10, 40, 150, 400];

/**
 * The k and minArea grids of `--grid`: absent, the baseline's; `kensa`, kensa tune's sweep (to tell
 * the grid's share of a difference from the search's).
 */
export function gridOf(name) {
  if (name !== undefined && name !== 'kensa') throw new Error(`--grid must be kensa (or absent: the baseline's grid), got ${name}`);
  return name === 'kensa' ? { ks: RELATIVE_THRESHOLDS, minAreas: SWEPT_MIN_AREAS } : { ks: KS, minAreas: MIN_AREAS };
}

// the Emscripten module is a thenable resolving to itself: wait for its runtime, never await it
export const cv = cvModule;
if (!cv.Mat) await new Promise((resolve) => (cv.onRuntimeInitialized = resolve));

/** A frame's black-hat response (u8) at `size` after the 5×5 Gaussian, with its mean and standard deviation. */
export function blackhat(frame, size) {
  const src = cv.matFromArray(frame.height, frame.width, cv.CV_8UC1, frame.data);
  const blurred = new cv.Mat();
  cv.GaussianBlur(src, blurred, new cv.Size(5, 5), 0);
  const kernel = cv.getStructuringElement(cv.MORPH_RECT, new cv.Size(size, size));
  const hat = new cv.Mat();
  cv.morphologyEx(blurred, hat, cv.MORPH_BLACKHAT, kernel);
  const mean = new cv.Mat();
  const std = new cv.Mat();
  cv.meanStdDev(hat, mean, std);
  const out = { hat: Uint8Array.from(hat.data), mean: mean.data64F[0], std: std.data64F[0] };
  for (const m of [src, blurred, kernel, hat, mean, std]) m.delete();
  return out;
}
