/** The JPEG benches' files: a smooth picture with noise, encoded by sharp as the bench files are. */
import sharp from 'sharp';

/** A smooth picture with some noise (JPEG-typical content), H×W×C interleaved. */
function picture(w: number, h: number, c: number, seed: number): Uint8Array {
  const a = new Uint8Array(w * h * c);
  let s = seed >>> 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let k = 0; k < c; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const v = 128 + 90 * Math.sin(x / (9 + seed) + k) * Math.cos(y / 13 - k) + ((s >>> 24) - 128) / 8;
        a[(y * w + x) * c + k] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return a;
}

/** That picture as a quality-90 JPEG: gray for one channel, 4:2:0 for three. */
export async function benchJpeg(w: number, h: number, c: 1 | 3, seed: number): Promise<Uint8Array> {
  let s = sharp(picture(w, h, c, seed), { raw: { width: w, height: h, channels: c } });
  if (c === 1) s = s.toColourspace('b-w');
  return new Uint8Array(await s.jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toBuffer());
}
