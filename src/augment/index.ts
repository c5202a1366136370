/** GPU data augmentation: transforms (sampler + apply), containers, targets, fusion, serialization. */
export { augment, Compose, draw, OneOf, replay, sampleRng, Sequential, SomeOf } from './compose.js';
export type { AugmentOptions, Augmented, ComposeArgs, ContainerArgs, DrawOptions, SomeOfArgs } from './compose.js';
export { Affine, ShiftScaleRotate, type AffineParams } from './geometric/affine.js';
export { CenterCrop, RandomCrop, RandomResizedCrop, type BoxParams, type CropParams } from './geometric/crop.js';
export { HorizontalFlip, VerticalFlip } from './geometric/flip.js';
export { Perspective, type PerspectiveParams } from './geometric/perspective.js';
export { PadIfNeeded, Resize } from './geometric/resize.js';
export { RandomRotate90 } from './geometric/rotate90.js';
export { Transpose } from './geometric/transpose.js';
export { defineTransform, registeredTransforms } from './registry.js';
export { fromJSON, fromYAML, loadPipeline, PIPELINE_VERSION, toJSON, toYAML, type PipelineDocument, type TransformData } from './serialize.js';
export type {
  AugmentBatch,
  Box,
  ColorStage,
  ContainerMode,
  ContainerTransform,
  GeometricTransform,
  ImageTransform,
  Json,
  Keypoint,
  LeafTransform,
  Matrix3,
  PointwiseTransform,
  ResampleSpec,
  Rng,
  SampleContext,
  SampleParams,
  Size,
  Transform,
} from './transform.js';
