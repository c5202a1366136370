/** libjpeg's DCT-domain shrink factors (1/1, 1/2, 1/4, 1/8): integer factors, so a decoded pixel is a block of the file's. Recipes choose one (`input.scale`); decode applies it. */
export const DECODE_SCALES = [1, 0.5, 0.25, 0.125] as const;
export type DecodeScale = (typeof DECODE_SCALES)[number];
