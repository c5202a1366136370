/** Threshold family: fixed-level, Otsu and adaptive (mean) binarisation, OpenCV-compatible. */
export { defaultMaxval, threshold, thresholdPrograms, THRESHOLD_TYPES, type ThresholdOptions, type ThresholdType } from './binary.js';
export { otsuLevel, otsuPrograms, otsuThreshold, type OtsuOptions, type OtsuResult } from './otsu.js';
export { adaptiveThreshold, adaptiveThresholdPrograms, type AdaptiveThresholdOptions } from './adaptive.js';
