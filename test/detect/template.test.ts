import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { detectClassic, responseMap } from '../../src/detect/classic.js';
import { parseRecipe, type ClassicRecipe } from '../../src/detect/recipe.js';
import { registerTemplate, templateTensor } from '../../src/detect/template.js';
import { openRecipeTemplate } from '../../src/pipeline/template.js';
import { mulberry32 } from '../../src/rng.js';
import type { Gpu } from '../../src/gpu/gpu.js';
import { liveTensors, Tensor } from '../../src/tensor.js';
import type { Frame } from '../../src/tune/data.js';
import { medianTemplate, writeTemplate } from '../../src/tune/template.js';
import { gpuSkip, testGpu } from '../_kit/gpu.js';
import { tempDir } from '../_kit/tmp.js';

const gpu = await testGpu();
const dir = tempDir('kensa-template-');
const S = 128;
const BLOB = { x: 70, y: 60 };

/**
 * A fixed texture of slow waves (±37 grey levels, yet a gradient of at most 0.032 in normalised
 * units, under the default threshold 0.055) with ±2 levels of noise from `seed`; with `defect`, a
 * soft blob of +25 levels (Gaussian, σ 6 px): its gradient (at most 0.010) is buried in the
 * texture's, its difference from a template is not.
 */
function surface(seed: number, defect: boolean): Uint8Array {
  const img = new Uint8Array(S * S);
  const r = mulberry32(seed);
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const texture = 25 * Math.sin((2 * Math.PI * x) / 40 + 0.7) * Math.cos((2 * Math.PI * y) / 52) + 12 * Math.sin((2 * Math.PI * (x + y)) / 33);
      const blob = defect ? 25 * Math.exp(-((x - BLOB.x) ** 2 + (y - BLOB.y) ** 2) / 72) : 0;
      img[y * S + x] = Math.round(128 + texture + blob + (r() - 0.5) * 4);
    }
  return img;
}

const frame = (name: string, data: Uint8Array | Uint16Array, width = S, height = S): Frame => ({
  name,
  width,
  height,
  dtype: data instanceof Uint16Array ? 'u16' : 'u8',
  data,
});

/** The median of 7 good images of the surface, written as a PNG; its path. */
async function goldenTemplate(name: string): Promise<string> {
  const path = join(dir, name);
  await writeTemplate(path, medianTemplate([1, 2, 3, 4, 5, 6, 7].map((s) => frame(`good${s}`, surface(s, false)))));
  return path;
}

/** The schema's classic defaults (no background verdict rule) with a template section. */
const withTemplate = (template: Record<string, unknown>) => parseRecipe({ template }).recipe as ClassicRecipe;

test('a blob buried in the texture for the gradient is found against the golden template, and missed without it', async () => {
  const path = await goldenTemplate('golden.png');
  const opened = await openRecipeTemplate(parseRecipe({ template: { path } }));
  try {
    const r = opened.loaded.recipe as ClassicRecipe;
    const batch = Tensor.fromArray(new Uint8Array([...surface(100, true), ...surface(101, false)]), [2, 1, S, S], 'u8');
    const found = await detectClassic(batch, r, false);
    assert.deepEqual(
      found.map((d) => d.verdict),
      ['NG', 'OK'],
    );
    assert.equal(found[0]!.defects.length, 1);
    const d = found[0]!.defects[0]!;
    assert.ok(d.x <= BLOB.x && d.x + d.w > BLOB.x && d.y <= BLOB.y && d.y + d.h > BLOB.y, `the box holds the blob's centre (${JSON.stringify(d)})`);
    const { template: _off, ...without } = r;
    const missed = await detectClassic(batch, without, false);
    assert.deepEqual(
      missed.map((m) => m.defects.length),
      [0, 0],
    );
  } finally {
    opened.close();
  }
});

test("the recipe's hash covers the template's content: a changed file gives another hash, and a recipe naming the old sha256 is refused", async () => {
  const path = join(dir, 'changing.png');
  await writeTemplate(path, frame('a', surface(1, false)));
  const a = await openRecipeTemplate(parseRecipe({ template: { path } }));
  a.close();
  await writeTemplate(path, frame('b', surface(2, false)));
  const b = await openRecipeTemplate(parseRecipe({ template: { path } }));
  b.close();
  const sha = (l: typeof a.loaded) => (l.recipe as ClassicRecipe).template!.sha256!;
  assert.match(sha(a.loaded), /^[0-9a-f]{64}$/);
  assert.notEqual(sha(a.loaded), sha(b.loaded));
  assert.notEqual(a.loaded.hash, b.loaded.hash);
  assert.notEqual(a.loaded.hash, parseRecipe({ template: { path } }).hash);
  await assert.rejects(openRecipeTemplate(a.loaded), {
    code: 'KENSA_ERR_RECIPE',
    message: `template.sha256: the template ${path} has sha256 ${sha(b.loaded).slice(0, 12)}, not the recipe's ${sha(a.loaded).slice(0, 12)}: the file changed since the recipe named it`,
  });
  // a recipe without a template, and a cascade whose first stage names one
  const plain = parseRecipe({});
  assert.equal((await openRecipeTemplate(plain)).loaded, plain);
  const cascade = parseRecipe({
    kind: 'cascade',
    first: { kind: 'classic', template: { path } },
    full: { kind: 'model', model: { path: 'm.onnx' } },
    band: { low: 0, high: 1 },
  });
  const c = await openRecipeTemplate(cascade);
  c.close();
  assert.equal(c.loaded.recipe.kind === 'cascade' && c.loaded.recipe.first.kind === 'classic' && c.loaded.recipe.first.template?.sha256, sha(b.loaded));
});

test('template errors name the field: a missing or undecodable file, another size, other channels or bit depth, not open', async () => {
  const missing = join(dir, 'missing.png');
  await assert.rejects(openRecipeTemplate(parseRecipe({ template: { path: missing } })), {
    code: 'KENSA_ERR_RECIPE',
    message: `template.path: cannot read the template ${missing} (file not found)`,
  });
  const junk = join(dir, 'junk.png');
  writeFileSync(junk, 'not an image');
  await assert.rejects(openRecipeTemplate(parseRecipe({ template: { path: junk } })), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'KENSA_ERR_RECIPE');
    assert.match(e.message, new RegExp(`^template\\.path: cannot decode the template ${junk} \\(.+\\)$`));
    return true;
  });

  const path = await goldenTemplate('sizes.png');
  const opened = await openRecipeTemplate(parseRecipe({ template: { path } }));
  const r = opened.loaded.recipe as ClassicRecipe;
  try {
    await assert.rejects(detectClassic(Tensor.zeros([1, 1, 64, 96], 'u8'), r, false), {
      code: 'KENSA_ERR_RECIPE',
      message: `template.path: the template ${path} is 128×128 but the image is 96×64 (both at the recipe's input.scale); it must be the images' size`,
    });
    await assert.rejects(detectClassic(Tensor.zeros([1, 3, S, S], 'u8'), r, false), {
      code: 'KENSA_ERR_RECIPE',
      message: `template.path: the template ${path} is 1-channel 8-bit but the images are 3-channel 8-bit; it must have the images' channels and bit depth`,
    });
    await assert.rejects(detectClassic(Tensor.zeros([1, 1, S, S], 'u16'), r, false), {
      code: 'KENSA_ERR_RECIPE',
      message: `template.path: the template ${path} is 1-channel 8-bit but the images are 1-channel 16-bit; it must have the images' channels and bit depth`,
    });
    assert.throws(() => responseMap(Tensor.zeros([1, 1, S, S], 'u8'), r), {
      code: 'KENSA_ERR_INVALID_ARGUMENT',
      message: "Expected the template's 1×1×H×W tensor for a recipe with a template channel for template but received null of type object",
    });
  } finally {
    opened.close();
  }
  // closed: the detector no longer finds it
  await assert.rejects(detectClassic(Tensor.zeros([1, 1, S, S], 'u8'), r, false), {
    code: 'KENSA_ERR_RECIPE',
    message: `template: the template ${path} is not open in this thread (sha256 ${r.template!.sha256!.slice(0, 12)}); open the recipe's template with openRecipeTemplate before detecting`,
  });
  assert.throws(() => parseRecipe({ template: { path, sigma: 21 } }), /template\.sigma: Too big/);
  assert.throws(() => parseRecipe({ template: { path, weight: 0 } }), /template\.weight: Too small/);
  assert.throws(() => parseRecipe({ template: { sigma: 1 } }), /template\.path: /);
});

test('the median template: the middle value of an odd count, the rounded mean of the two middle ones of an even count, u8 and u16', () => {
  const f = (name: string, v: number[], wide = false) => frame(name, wide ? Uint16Array.from(v) : Uint8Array.from(v), 2, 2);
  assert.deepEqual(medianTemplate([f('a', [1, 9, 0, 255]), f('b', [5, 2, 0, 0]), f('c', [9, 7, 1, 128])]).data, Uint8Array.from([5, 7, 0, 128]));
  assert.deepEqual(
    medianTemplate([f('a', [10, 0, 3, 1]), f('b', [20, 0, 4, 1]), f('c', [31, 1, 5, 2]), f('d', [40, 1, 6, 2])]).data,
    Uint8Array.from([26, 1, 5, 2]),
  );
  const wide = medianTemplate([f('a', [65535, 0, 1000, 7], true), f('b', [65534, 2, 3000, 7], true)]);
  assert.equal(wide.dtype, 'u16');
  assert.deepEqual(wide.data, Uint16Array.from([65535, 1, 2000, 7]));

  // 9 noisy 128² images: every pixel is the 5th of its sorted values
  const frames = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((s) => frame(`g${s}`, surface(s, s === 4)));
  const m = medianTemplate(frames);
  for (let p = 0; p < S * S; p++) assert.equal(m.data[p], frames.map((g) => g.data[p]!).sort((a, b) => a - b)[4]);

  assert.throws(() => medianTemplate([frames[0]!, frames[1]!, frame('odd', new Uint8Array(S * 120), S, 120), frame('odder', new Uint8Array(4), 2, 2)]), {
    code: 'KENSA_ERR_TUNE_DATA',
    message: 'Good image odd is 128×120 8-bit but g1 is 128×128 8-bit: a template needs aligned images of one size and bit depth',
  });
  assert.throws(() => medianTemplate([frames[0]!, frame('wide', new Uint16Array(S * S))]), {
    message: 'Good image wide is 128×128 16-bit but g1 is 128×128 8-bit: a template needs aligned images of one size and bit depth',
  });
  assert.throws(() => medianTemplate([]), { code: 'KENSA_ERR_TUNE_DATA', message: 'A template needs at least one good image but received none' });
});

/** Variants of the template channel (each also under a relative threshold): its own blur and weight, not blurred, 16-bit at the denoise sigma (the denoised image serves). */
const VARIANTS: [string, Record<string, unknown>, boolean][] = [
  ['sigma 1.5, weight 2', { sigma: 1.5, weight: 2 }, false],
  ['sigma 0', { sigma: 0 }, false],
  ['16-bit, the denoise sigma', {}, true],
];

test("a template's tensor is made once per device while it is open, shared by every batch, and freed with its last release", async () => {
  const golden = medianTemplate([1, 2, 3].map((s) => frame(`g${s}`, surface(s, false))));
  const sha256 = 'c'.repeat(64);
  const r = withTemplate({ path: 'once.png', sha256, weight: 1 });
  const x = Tensor.fromArray(Uint8Array.from(surface(100, true)), [1, 1, S, S], 'u8');
  const devices: (Gpu | null)[] = [null, ...(gpu ? [gpu] : [])];
  for (const device of devices) {
    const batch = device ? await x.toGpu(device) : x;
    const before = liveTensors();
    const first = registerTemplate({ path: 'once.png', sha256, width: S, height: S, dtype: 'u8', data: golden.data });
    const second = registerTemplate({ path: 'once.png', sha256, width: S, height: S, dtype: 'u8', data: golden.data });
    const uploads = device?.stats.transfers.uploads ?? 0;
    const [a, b] = await Promise.all([templateTensor(batch, r), templateTensor(batch, r)]);
    assert.ok(a !== null && a === b, 'one tensor for concurrent batches');
    assert.equal(await templateTensor(batch, r), a, 'and for the next batch');
    if (device) assert.equal(device.stats.transfers.uploads - uploads, 1, 'one upload');
    await detectClassic(batch, r, false);
    assert.equal(liveTensors(), before + 1, 'the detector leaves the template open');
    first();
    assert.equal(liveTensors(), before + 1, 'open while another holds it');
    second();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(liveTensors(), before, 'freed with the last release');
    if (batch !== x) batch.dispose();
  }
});

test('the template channel: GPU equals CPU (response map to 1e-5, the same defects and masks)', { skip: gpuSkip(gpu) }, async () => {
  const golden = medianTemplate([1, 2, 3].map((s) => frame(`g${s}`, surface(s, false))));
  for (const [what, section, wide] of VARIANTS) {
    const data = wide ? Uint16Array.from(golden.data, (v) => v * 257) : golden.data;
    const sha256 = (wide ? 'b' : 'a').repeat(64);
    const close = registerTemplate({ path: what, sha256, width: S, height: S, dtype: wide ? 'u16' : 'u8', data });
    try {
      for (const r of [
        withTemplate({ path: what, sha256, ...section }),
        parseRecipe({ threshold: { mode: 'relative', value: 4 }, template: { path: what, sha256, ...section } }).recipe as ClassicRecipe,
      ]) {
        const frames = [...surface(100, true), ...surface(101, false)];
        const x = wide
          ? Tensor.fromArray(
              Uint16Array.from(frames, (v) => v * 257),
              [2, 1, S, S],
              'u16',
            )
          : Tensor.fromArray(Uint8Array.from(frames), [2, 1, S, S], 'u8');
        const xg = await x.toGpu(gpu!);
        // the registry's tensors: not disposed here
        const tc = await templateTensor(x, r);
        const tg = await templateTensor(xg, r);
        using mc = responseMap(x, r, tc);
        using mg = responseMap(xg, r, tg);
        const a = mc.data as Float32Array;
        const b = (await mg.toCpu()).data as Float32Array;
        let worst = 0;
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
        assert.ok(worst < 1e-5, `${what}: response maps differ by ${worst}`);
        const cpu = await detectClassic(x, r, true);
        const g = await detectClassic(xg, r, true);
        xg.dispose();
        assert.ok(cpu[0]!.defects.length >= 1, `${what}: the blob is found`);
        for (let i = 0; i < 2; i++) {
          assert.deepEqual(g[i]!.mask, cpu[i]!.mask, what);
          assert.deepEqual(
            g[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area]),
            cpu[i]!.defects.map((d) => [d.x, d.y, d.w, d.h, d.area]),
            what,
          );
        }
      }
    } finally {
      close();
    }
  }
});
