/** The detection stage by recipe kind: one batch in, one detection per image out. */
import type { Tensor } from '../tensor.js';
import { detectClassic, type ImageDetection } from './classic.js';
import { detectDecoupled } from './decoupled.js';
import type { Recipe } from './recipe.js';

/**
 * Runs `recipe` on a batch (N×1×H×W u8 or u16) where it lives.
 * @param wantMasks read the masks back (for --masks and report overlays)
 */
export function detect(batch: Tensor, recipe: Recipe, wantMasks: boolean): Promise<ImageDetection[]> {
  switch (recipe.kind) {
    case 'classic':
      return detectClassic(batch, recipe, wantMasks);
    case 'decoupled':
      return detectDecoupled(batch, recipe, wantMasks);
  }
}
