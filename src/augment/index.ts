/** GPU data augmentation: transforms (sampler + apply), containers, targets, fusion, serialization. */
export { augment, Compose, draw, OneOf, replay, sampleRng, Sequential, SomeOf } from './compose.js';
export type { AugmentOptions, Augmented, ComposeArgs, ContainerArgs, DrawOptions, SomeOfArgs } from './compose.js';
export { HorizontalFlip, VerticalFlip } from './geometric/flip.js';
export { defineTransform, registeredTransforms } from './registry.js';
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
