/** Scoring predicted defect masks against ground truth: pixel precision/recall/F1 with a tolerance, IoU, object recall. */
export { evaluateMasks, type EvaluateOptions, type Evaluation, type ImageEvaluation } from './evaluate.js';
export { listMaskFolder, readMask, MASK_EXTENSIONS, type Mask, type NamedMask, type MaskProducer, type MaskSource, type MaskFolder } from './masks.js';
export { compareMasks, withinDistance, components, addCounts, scores, ZERO_COUNTS, type MaskCounts, type MaskScores } from './metrics.js';
export { imageLevel, thresholdCurve, maskImages, type ScoredImage, type ImageLevel } from './images.js';
export { curveSvg, writeCurvePng, trainingCurveSvg, writeTrainingCurvePng, type EpochPoint } from './plot.js';
