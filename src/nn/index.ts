/** The neural-net engine: autograd, its primitives, losses, optimizers, schedules and loss scaling. */
export { Var, backward, noGrad, isRecording, type BackwardFn } from './autograd.js';
export { nnDispatches } from './launch.js';
export {
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  pow,
  relu,
  leakyRelu,
  sigmoid,
  silu,
  mulScalar,
  addScalar,
  sum,
  mean,
  max,
  matmul,
  linear,
  reshape,
  permute,
  concat,
  softmax,
  logSoftmax,
  dropout,
  bceWithLogitsElementwise,
  type ReduceAxesOptions,
  type MatmulOptions,
  type DropoutOptions,
} from './ops.js';
export {
  bceWithLogits,
  diceLoss,
  bceDiceLoss,
  focalLoss,
  crossEntropy,
  type BceOptions,
  type DiceOptions,
  type BceDiceOptions,
  type FocalOptions,
} from './losses.js';
export {
  SGD,
  Adam,
  AdamW,
  clipGradNorm,
  zeroGrad,
  foundNonFinite,
  type Optimizer,
  type StepOptions,
  type SgdOptions,
  type AdamOptions,
  type AdamState,
} from './optim.js';
export { stepSchedule, cosineSchedule, warmup, type Schedule } from './schedule.js';
export { GradScaler, type GradScalerOptions, type GradScalerState, type GradScalerStats } from './scaler.js';
export {
  Linear,
  Conv2d,
  ConvTranspose2d,
  BatchNorm2d,
  type LinearOptions,
  type Conv2dLayerOptions,
  type ConvTranspose2dLayerOptions,
} from './layers.js';
export {
  conv2d,
  convTranspose2d,
  maxPool2d,
  upsample2d,
  batchNorm2d,
  type Conv2dOptions,
  type Conv2dForwardOptions,
  type ConvTranspose2dForwardOptions,
  type MaxPool2dOptions,
  type Upsample2dOptions,
  type BatchNorm2dOptions,
} from './conv.js';
export { enableConvTensorCores } from './ops/conv2d.js';
