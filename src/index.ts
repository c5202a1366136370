/** kensa's public API: re-exports only (the surface is pinned by test/api-surface.test.ts). */
export { KensaError, isKensaError, ERROR_CODES, type ErrorCode } from './errors.js';
export { DTYPES, type DType } from './dtype.js';
export { Tensor, type Shape } from './tensor.js';
export { Gpu, listAdapters, type GpuOpenOptions, type GpuInfo, type GpuStats, type GpuTimer, type AdapterDescription } from './gpu/gpu.js';
export type { ProgramInfo, TensorBinding, OutputBinding } from './gpu/program.js';
export { openBackend, DEVICES, type Backend, type BackendOptions, type DeviceChoice } from './backend.js';
export { BORDER_MODES, type BorderMode } from './ops/border.js';
export * from './ops/color/index.js';
export * from './ops/filters/index.js';
export * from './ops/features/index.js';
export * from './ops/geometry/index.js';
export * from './ops/threshold/index.js';
export * from './ops/morphology/index.js';
export * from './ops/analysis/index.js';
export { customKernel, rawKernel, type CustomKernel, type CustomKernelSpec, type RawKernel, type RawKernelSpec } from './ops/custom/kernel.js';
