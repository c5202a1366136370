/** Threshold family: fixed-level, Otsu and adaptive (mean) binarisation, OpenCV-compatible. */
export { threshold, THRESHOLD_TYPES, type ThresholdOptions, type ThresholdType } from './binary.js';
export { otsuThreshold, type OtsuOptions, type OtsuResult } from './otsu.js';
export { adaptiveThreshold, type AdaptiveThresholdOptions } from './adaptive.js';
