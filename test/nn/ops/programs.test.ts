import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  batchNormPrograms,
  conv2dPrograms,
  conv2dTensorCorePrograms,
  enableConvTensorCores,
  GEMM_TILE_SIZES,
  maxPool2dPrograms,
  tensorCoreSpelling,
  tensorCoresFit,
  upsamplePrograms,
} from '../../../src/internal.js';
import { gpuSkip, testGpu } from '../../_kit/gpu.js';

const gpu = await testGpu();

test('nn ops: every program variant compiles', { skip: gpuSkip(gpu) }, async () => {
  const programs = [...conv2dPrograms(), ...maxPool2dPrograms(), ...upsamplePrograms(), ...batchNormPrograms()];
  // conv2d: per tile, forward (general and pointwise) and backward-input × bias × activation, plus backward-weight; + bias grad and split sum
  assert.equal(conv2dPrograms().length, GEMM_TILE_SIZES.length * 13 + 2);
  assert.equal(new Set(programs.map((p) => `${p.name}[${p.key}]`)).size, programs.length);
  for (const p of programs) await gpu!.compile(p);
});

// where the adapter has fitting subgroup matrices the kernel must compile in one of the spellings (a failure fails the test)
const noTensorCores = gpu && !tensorCoresFit(gpu.info) ? `${gpu.info.name} has no f16→f32 16×16×16 subgroup matrices with 32-lane subgroups` : false;

test('nn ops: the tensor-core convolution variants compile', { skip: gpuSkip(gpu) || noTensorCores }, async () => {
  assert.equal(await enableConvTensorCores(gpu!), null);
  const programs = conv2dTensorCorePrograms(tensorCoreSpelling(gpu!)!);
  assert.equal(programs.length, 13);
  for (const p of programs) await gpu!.compile(p);
});
