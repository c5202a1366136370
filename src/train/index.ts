/** Training a UNet on the user's images and masks (`kensa train`). */
export { resolveTrainConfig, parseWidths, TRAIN_DEFAULTS, type TrainConfig, type TrainOptions } from './config.js';
export { listTrainItems, readTrainData, splitItems, type TrainData, type TrainImageDefects } from './data.js';
export { readCheckpointState, CHECKPOINT_FILES, type CheckpointState } from './checkpoint.js';
export { bestEpoch, LOG_FILES, type EpochRecord, type TrainLog } from './log.js';
export { train, resumeTraining, type TrainProgress, type TrainResult, type TrainRunOptions } from './train.js';
export {
  chooseThreshold,
  scoresAt,
  THRESHOLD_GRID,
  validate,
  tileOrigins,
  type PredictedImage,
  type ThresholdScores,
  type ValidationScores,
  type ValidateOptions,
} from './validate.js';
export { cutsOnHost, cutWindow, epochBatches, epochWindows, isDefectSlot, type CropWindow, type EpochBatchesOptions } from './crops.js';
