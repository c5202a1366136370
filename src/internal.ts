/**
 * `kensa/internal`: what kensa's own tests, benches and tools need beside the public API —
 * each op's compile list (`*Programs`: every WGSL variant it can build, for compile checks and
 * warm-up), kernel limits and the helpers the ops share. No compatibility promise: these
 * change with the kernels. The surface is pinned by test/api-surface.test.ts.
 */
export { axpyPrograms } from './ops/arith/axpy.js';
export { mapPrograms, MAP_OPS } from './nn/map.js';
export { reducePrograms } from './nn/reduce.js';
export { matmulPrograms } from './nn/matmul.js';
export { softmaxPrograms } from './nn/softmax.js';
export { optimizerPrograms } from './nn/optim.js';
export { histogramPrograms, MAX_BINS } from './ops/analysis/histogram.js';
export { imageStatsPrograms } from './ops/analysis/stats.js';
export { connectedComponentsPrograms } from './ops/analysis/components.js';
export { cannyPrograms } from './ops/analysis/canny.js';
export { hysteresisPrograms } from './ops/analysis/hysteresis.js';
export { kmeansPrograms, MAX_K } from './ops/analysis/kmeans.js';
export { brightnessContrastPrograms } from './ops/color/brightness-contrast.js';
export { clahePrograms } from './ops/color/clahe.js';
export { COLOR_CHAIN_DTYPES, colorChainPrograms, MAX_COLOR_STEPS } from './ops/color/chain.js';
export { convertPrograms } from './ops/color/convert.js';
export { fillRectsPrograms, MAX_FILL_CHANNELS, MAX_FILL_RECTS } from './ops/color/fill-rects.js';
export { gammaPrograms } from './ops/color/gamma.js';
export { gaussNoisePrograms, noiseValue, pcgHash } from './ops/color/noise.js';
export { GRAY_WEIGHTS, rgbToGrayPrograms } from './ops/color/gray.js';
export { NORMALIZE_MAX_CHANNELS, normalizePrograms } from './ops/color/normalize.js';
export { scharrKernels, sobelKernel1d, sobelKernels, sobelPrograms } from './ops/features/sobel.js';
export { gradientPrograms } from './ops/features/gradient.js';
export { crackPrograms } from './ops/features/crack.js';
export { pyrDownShape, pyramidPrograms } from './ops/features/pyramid.js';
export { MAX_FILTER2D_SIZE } from './ops/filters/filter2d.js';
export { MAX_MOTION_KSIZE, motionBlurPrograms, motionKernelCells } from './ops/filters/motion-blur.js';
export { separablePerSamplePrograms } from './ops/filters/separable.js';
export { cropPrograms } from './ops/geometry/crop.js';
export { flipPrograms } from './ops/geometry/flip.js';
export { padPrograms } from './ops/geometry/pad.js';
export { resizePrograms } from './ops/geometry/resize.js';
export { rot90Programs } from './ops/geometry/rot90.js';
export { transposePrograms } from './ops/geometry/transpose.js';
export { warpAffinePrograms } from './ops/geometry/warp-affine.js';
export { warpPerspectivePrograms } from './ops/geometry/warp-perspective.js';
export { defectPrograms } from './augment/defects.js';
export { MAX_ELEMENT_SIZE } from './ops/morphology/element.js';
export { MAX_SPANS, MORPH_DTYPES, morphologyPrograms } from './ops/morphology/morphology.js';
export { fillHolesPrograms } from './ops/morphology/fill-holes.js';
export { defaultMaxval, thresholdPrograms } from './ops/threshold/binary.js';
export { otsuLevel, otsuPrograms } from './ops/threshold/otsu.js';
export { adaptiveThresholdPrograms } from './ops/threshold/adaptive.js';
export { calibrateHeldOut, searchRecipe, loadLabelled, loadFrames, writeRecipeYaml, CLASSIC_SPACE } from './tune/index.js';
export { conv2dPrograms, conv2dTensorCorePrograms, enableConvTensorCores } from './nn/ops/conv2d.js';
export { GEMM_TILE_SIZES, tensorCoreSpelling, tensorCoresFit, withGemmTuning } from './nn/ops/implicit-gemm.js';
export { maxPool2dPrograms } from './nn/ops/max-pool2d.js';
export { upsamplePrograms } from './nn/ops/upsample.js';
export { batchNormPrograms } from './nn/ops/batch-norm.js';
