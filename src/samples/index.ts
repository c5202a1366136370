/** Synthetic inspection data: surfaces with cracks, scratches and spots, and their ground truth. */
export {
  generateSample,
  resolveSampleOptions,
  SAMPLE_KINDS,
  SAMPLE_DEPTHS,
  type Sample,
  type SampleKind,
  type SampleOptions,
  type ResolvedSampleOptions,
} from './generate.js';
export {
  writeSamples,
  sampleName,
  SAMPLE_FORMATS,
  type SampleFormat,
  type WriteSamplesOptions,
  type SamplesSummary,
  type SampleLabel,
  type SampleLabels,
} from './write.js';
export { DEFECT_CLASSES, type DefectClass, type SampleDefect, type BBox } from './defects.js';
export { SURFACE_KINDS, type SurfaceKind } from './surface.js';
