/** UNets for the model tests: drawn batch norms, so folding, pruning and tiling see a trained net's statistics. */
import type { Gpu } from '../../src/gpu/gpu.js';
import { UNet } from '../../src/models/unet.js';
import { mulberry32 } from '../../src/rng.js';

/** A net whose batch norms have drawn scales, shifts and running statistics (a trained net's, not the identity of a fresh one). */
export async function drawnUNet(widths: number[], inChannels: number, classes: number, seed: number, gpu?: Gpu): Promise<UNet> {
  const preprocessing = { mean: new Array(inChannels).fill(0.5), std: new Array(inChannels).fill(0.25) };
  const net = await UNet.create({ widths, inChannels, classes, preprocessing }, { seed, ...(gpu ? { gpu } : {}) });
  const next = mulberry32(seed + 7);
  const state = await net.stateDict();
  for (const [name, t] of state) {
    if (name.endsWith('.running_var')) t.data = t.data.map(() => 0.5 + next());
    else if (name.endsWith('.running_mean') || /bn\d\.(weight|bias)$/.test(name)) t.data = t.data.map(() => next() - 0.5 + (name.endsWith('weight') ? 1 : 0));
  }
  await net.loadStateDict({ tensors: state, metadata: {} }, 'drawn');
  return net;
}
