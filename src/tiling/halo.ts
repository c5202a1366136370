/**
 * Halo arithmetic: how far from a crop's edge a chain of stencils computes wrong values (the crop's
 * border replaces pixels the whole plane has). A chain's halo is that width at full resolution; a
 * tile whose halo is at least it computes its interior exactly. Widths are counted from the edge
 * in pixels of the current level, and are conservative at both edges.
 */

/** After a stencil reading `radius` pixels each side. */
export function afterStencil(wrong: number, radius: number): number {
  return wrong + radius;
}

/** After a 5-tap pyrDown (pixel j reads 2j − 2 … 2j + 2 of the level below). */
export function afterPyrDown(wrong: number): number {
  return Math.ceil(wrong / 2) + 1;
}

/** At full resolution, after a bilinear upsampling by `factor` of a level `wrong` wide. */
export function afterUpsample(wrong: number, factor: number): number {
  return factor * (wrong + 1);
}
