// libjpeg's DCT-domain shrink factors, defined with the JPEG decoder that repeats them (src/ops/jpeg/reduce.ts)
export { DECODE_SCALES, type DecodeScale } from '../ops/jpeg/reduce.js';
