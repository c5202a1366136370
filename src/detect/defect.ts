/**
 * The defect, the detection's domain type: recipes produce it, the pipeline hands it on, the store
 * keeps it (src/store/schema.ts re-exports it).
 */

/** A defect's class by shape (recipe.classify). */
export type DefectClass = 'crack' | 'scratch' | 'spot';

export const DEFECT_CLASSES: readonly DefectClass[] = ['crack', 'scratch', 'spot'];

/**
 * One defect of an image (its index in the list becomes its `idx` in the store): bbox and area in
 * the file's pixels, `meanGradient` (the mean over the defect of the recipe's value map: classic's
 * fused map, the gradient magnitude or the local contrast in gradient units, whichever is larger,
 * in normalised units; decoupled's congestion), `score` (that mean over the recipe's threshold,
 * so 1 = just detected) and the class by shape.
 */
export interface Defect {
  x: number;
  y: number;
  w: number;
  h: number;
  area: number;
  score: number;
  meanGradient: number;
  class: DefectClass;
  /** Optional run-length encoded mask (format chosen by the writer). */
  maskRle?: string | null;
}
