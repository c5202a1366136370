/**
 * kensa's public API: re-exports only, pinned by test/api-surface.test.ts. Tensors and devices,
 * the ops by family (each family's index lists its ops, their options and the choices an option
 * takes), custom kernels, the inspection pipeline, recipes, the results store, reports, samples
 * and evaluation. What kensa's own tests and benches need beside it (each op's `*Programs`
 * compile list, kernel limits, shared helpers) is `kensa/internal` (src/internal.ts).
 */
export { KensaError, isKensaError, ERROR_CODES, type ErrorCode } from './errors.js';
export { DTYPES, type DType } from './dtype.js';
export { Tensor, type Shape } from './tensor.js';
export { tidy, liveTensors } from './tensor.js';
export type { Device } from './device.js';
export { Gpu, listAdapters, type GpuOpenOptions, type GpuInfo, type GpuStats, type GpuTimer, type AdapterDescription } from './gpu/gpu.js';
export type { ProgramInfo, TensorBinding, OutputBinding } from './gpu/program.js';
export { openBackend, DEVICES, type Backend, type BackendOptions, type DeviceChoice } from './backend.js';
export { BORDER_MODES, type BorderMode } from './kernels/border.js';
export type { PerSample } from './ops/image.js';
export * from './ops/color/index.js';
export * from './ops/filters/index.js';
export * from './ops/features/index.js';
export * from './ops/geometry/index.js';
export * from './ops/threshold/index.js';
export * from './ops/morphology/index.js';
export * from './ops/analysis/index.js';
export * from './ops/arith/index.js';
export * as nn from './nn/index.js';
export { UNet, UNET_WIDTHS, type UNetConfig, type UNetOptions, type UNetPreprocessing, type ResolvedUNetConfig } from './models/unet.js';
export { unetToOnnx, type UNetOnnxOptions } from './models/unet-onnx.js';
export { pruneUNet, prunedChannels, unetMacs, unetParameters } from './models/prune.js';
export { decodeSafetensors, encodeSafetensors, type Safetensors, type NamedTensor, type SafetensorsDType } from './models/safetensors.js';
export { customKernel, rawKernel, type CustomKernel, type CustomKernelSpec, type RawKernel, type RawKernelSpec } from './ops/custom/kernel.js';
export { inspect, type InspectOptions, type ItemResult } from './pipeline/inspect.js';
export { runInspection, type RunOptions, type RunStart, type RunSummary } from './pipeline/run.js';
export { openRecipeTemplate, type OpenTemplate } from './pipeline/template.js';
export {
  encodeOnnxModel,
  OnnxGraphBuilder,
  ONNX_OPSET,
  ONNX_OPSETS,
  type OnnxModelOptions,
  type OnnxGraph,
  type OnnxNode,
  type OnnxValue,
  type OnnxInitializer,
  type OnnxAttribute,
  type OnnxDType,
} from './models/onnx-writer.js';
export { ModelSession, type SessionOptions, type GraphOptimization, type TensorInfo, type OutputData, type ProviderFailure } from './models/session.js';
export { EXECUTION_PROVIDERS, onnxProviders, type ExecutionProvider, type ExecutionProviderInfo } from './models/providers.js';
export { parseRecipe, loadRecipe, DEFAULT_RECIPE, RecipeSchema, type Recipe, type LoadedRecipe, type ModelRecipe } from './detect/recipe.js';
export { decodeFile, type DecodedImage, type DecodeOptions } from './pipeline/decode.js';
export { augmentLoader, type AugmentLoaderOptions, type LoaderBatch } from './pipeline/augment-loader.js';
export type { Defect, DefectClass } from './detect/defect.js';
export type { ImageDetection } from './detect/classic.js';
export { openStore, Store, type OpenStoreOptions } from './store/store.js';
export { writeReport, type ReportData, type ReportItem, type ReportRun, type ReportOptions } from './report/report.js';
export { writeRunReport } from './report/from-store.js';
export { generateSample, writeSamples, type Sample, type SampleOptions, type WriteSamplesOptions } from './samples/index.js';
export { evaluateMasks } from './eval/index.js';
export { imageLevel, thresholdCurve, type ScoredImage, type ImageLevel } from './eval/index.js';
export * from './augment/index.js';
export { tune, calibrate, type TuneOptions, type TuneResult } from './tune/index.js';
export {
  train,
  resumeTraining,
  resolveTrainConfig,
  type TrainConfig,
  type TrainOptions,
  type TrainProgress,
  type TrainResult,
  type TrainRunOptions,
  type EpochRecord,
  type TrainLog,
} from './train/index.js';
