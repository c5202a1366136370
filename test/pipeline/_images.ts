/** Small synthetic frames for pipeline tests (flat gray, some with a dark wavy crack or a bright spot), and what of their results to compare. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { ItemResult } from '../../src/pipeline/inspect.js';

/** What of an item's result must not depend on where the stages ran (threads, backend, decoder). */
export const judged = (r: ItemResult) => ({
  key: r.key,
  status: r.status,
  // sharp's words, without libvips' detail: one error buffer for all threads, it may be empty (src/pipeline/decode.ts sharpReason)
  error: r.error?.replace(/: Vips.*$/, ''),
  verdict: r.verdict,
  score: r.score,
  defects: r.defects,
  hash: r.contentHash,
});

export async function writeFrames(dir: string, count: number, size = 64): Promise<{ defective: Set<string> }> {
  mkdirSync(dir, { recursive: true });
  const defective = new Set<string>();
  for (let i = 0; i < count; i++) {
    const img = new Uint8Array(size * size).fill(110 + (i % 7));
    const name = `frame${String(i).padStart(3, '0')}.png`;
    if (i % 3 === 1) {
      for (let x = 6; x < size - 6; x++) img[(size / 2 + Math.round(5 * Math.sin(x / 6 + i))) * size + x] = 20;
      defective.add(name);
    } else if (i % 3 === 2) {
      for (let y = 20; y < 26; y++) for (let x = 30; x < 36; x++) img[y * size + x] = 240;
      defective.add(name);
    }
    await sharp(img, { raw: { width: size, height: size, channels: 1 } })
      .png()
      .toFile(join(dir, name));
  }
  return { defective };
}
