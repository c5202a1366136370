import sharp from 'sharp';

/** A size×size gray PNG (default 64): flat at 112, or with a bright 6×6 spot at (30, 20). */
export async function spotPng(spot: boolean, size = 64): Promise<Buffer> {
  const img = new Uint8Array(size * size).fill(112);
  if (spot) for (let y = 20; y < 26; y++) for (let x = 30; x < 36; x++) img[y * size + x] = 240;
  return sharp(img, { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toBuffer();
}
