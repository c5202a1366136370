/** Training a UNet on the user's images and masks (`kensa train`). */
export { resolveTrainConfig, parseWidths, type TrainConfig, type TrainOptions } from './config.js';
export { listTrainItems, readTrainData, splitItems, type TrainData } from './data.js';
export { readCheckpointState, CHECKPOINT_FILES, type CheckpointState } from './checkpoint.js';
export { bestEpoch, LOG_FILES, type EpochRecord, type TrainLog } from './log.js';
export { train, resumeTraining, type TrainProgress, type TrainResult, type TrainRunOptions } from './train.js';
export { validate, tileOrigins, type ValidationScores, type ValidateOptions } from './validate.js';
