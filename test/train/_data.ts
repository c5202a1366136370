/** What the train tests share: small data sets in the common images/ + masks/ layout, written with sharp, and captured command output. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { mulberry32 } from '../../src/rng.js';

const grey = (data: Uint8Array, size: number) =>
  sharp(data, { raw: { width: size, height: size, channels: 1 } })
    .toColourspace('b-w')
    .png();

/**
 * `count` grey size×size images: a noisy bright surface with one dark disc (radius 3 to 6) on
 * each image except every fourth, which is defect-free; masks 255 on the disc.
 */
export async function writeDiscs(dir: string, count: number, size: number, seed: number): Promise<void> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  mkdirSync(join(dir, 'masks'), { recursive: true });
  const r = mulberry32(seed);
  for (let k = 0; k < count; k++) {
    const image = new Uint8Array(size * size);
    const mask = new Uint8Array(size * size);
    const disc = k % 4 !== 3;
    const radius = 3 + r() * 3;
    const [cx, cy] = [radius + r() * (size - 2 * radius), radius + r() * (size - 2 * radius)];
    for (let i = 0; i < size * size; i++) {
      const inside = disc && ((i % size) + 0.5 - cx) ** 2 + (Math.floor(i / size) + 0.5 - cy) ** 2 < radius ** 2;
      image[i] = Math.round((inside ? 60 : 170) + (r() - 0.5) * 60);
      mask[i] = inside ? 255 : 0;
    }
    const name = `disc-${String(k).padStart(2, '0')}`;
    await grey(image, size).toFile(join(dir, 'images', `${name}.png`));
    await grey(mask, size).toFile(join(dir, 'masks', `${name}.png`));
  }
}

/** A command's stdout and stderr as strings; `onErr` sees each stderr chunk (to interrupt at a chosen step). */
export function capture(onErr: (s: string) => void = () => {}) {
  const buf = { out: '', err: '' };
  const io = {
    out: { write: (s: string) => (buf.out += s) },
    err: {
      write: (s: string) => {
        buf.err += s;
        onErr(s);
      },
    },
  };
  return { buf, io };
}
