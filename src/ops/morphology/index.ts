/** Morphology family: structuring elements, erosion, dilation and morphologyEx (OpenCV-compatible), hole filling. */
export { structuringElement, ELEMENT_SHAPES, MAX_ELEMENT_SIZE, type ElementShape } from './element.js';
export { dilate, erode, morphologyEx, morphologyPrograms, MORPH_DTYPES, MORPH_OPS, MAX_SPANS, type MorphologyExOptions, type MorphologyOptions, type MorphOp } from './morphology.js';
export { fillHoles, fillHolesPrograms, type FillHolesOptions } from './fill-holes.js';
