/** The piscina worker of writeSamples: one task = generate, encode and write one image. */
import { writeSample, type SampleTask } from './write.js';

export default function run(task: SampleTask): ReturnType<typeof writeSample> {
  return writeSample(task);
}
