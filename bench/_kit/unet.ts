/** A drawn-weights kensa UNet for speed benchmarks (the recipes' model stage: its results mean nothing). */
import { writeFileSync } from 'node:fs';
import { UNet, writeInto } from '../../src/models/unet.js';

/** Writes a UNet of `widths` with drawn weights to `path`, its head's bias lowered so frames come out clean (no defect flood in the post stage and the store). */
export async function writeDrawnUNet(path: string, widths: readonly number[]): Promise<void> {
  const net = await UNet.create({ widths: [...widths] }, { seed: 1 });
  await writeInto(net.stateEntries().find((e) => e.name === 'head.bias')!.tensor, Float32Array.of(-20));
  writeFileSync(path, await net.toSafetensors());
  net.dispose();
}
