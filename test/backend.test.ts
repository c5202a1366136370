import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { measureBackends, openBackend } from '../src/backend.js';
import { isKensaError } from '../src/errors.js';
import { gaussianBlur } from '../src/ops/filters/gaussian.js';
import { assertClose } from './_kit/compare.js';
import { adapterSkip } from './_kit/gpu.js';
import { naturalImage } from './_kit/images.js';

const noAdapter = await adapterSkip();
const savedEnv = process.env.KENSA_DEVICE;

describe('openBackend', () => {
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.KENSA_DEVICE;
    else process.env.KENSA_DEVICE = savedEnv;
  });

  test("'cpu' never opens a GPU and computes with the reference", async () => {
    process.env.KENSA_DEVICE = 'gpu'; // an explicit option wins over the environment
    const be = await openBackend({ device: 'cpu', adapter: 'ignored' });
    assert.equal(be.kind, 'cpu');
    assert.equal(be.gpu, null);
    assert.equal(be.name, 'cpu (TypeScript reference)');
    assert.equal(be.reason, "device 'cpu' requested");
    assert.equal(be.measurement, null);
    const x = naturalImage([1, 1, 8, 8], 'u8');
    const t = await be.toDevice(x);
    assert.equal(t, x);
    assert.equal(gaussianBlur(t, { sigma: 1 }).device, 'cpu');
    await be.sync();
    be.close();
  });

  test('KENSA_DEVICE replaces the default', async () => {
    process.env.KENSA_DEVICE = 'cpu';
    const be = await openBackend();
    assert.equal(be.kind, 'cpu');
    assert.equal(be.reason, 'KENSA_DEVICE=cpu requested');
  });

  test("'gpu' opens the adapter; tensors move there and ops run there", { skip: noAdapter }, async () => {
    const be = await openBackend({ device: 'gpu' });
    try {
      assert.equal(be.kind, 'gpu');
      assert.ok(be.gpu);
      assert.equal(be.name, be.gpu.info.name);
      assert.match(be.reason, /^device 'gpu' requested; adapter .+/);
      const x = naturalImage([2, 1, 9, 7], 'u8');
      const g = await be.toDevice(x);
      assert.equal(g.device, 'gpu');
      assert.equal(await be.toDevice(g), g);
      const out = gaussianBlur(g, { sigma: 1 });
      await be.sync();
      const back = await out.toCpu();
      assertClose(back, gaussianBlur(x, { sigma: 1 }), { int: 1 }, 'blur on the backend');
      out.dispose();
      g.dispose();
      await be.sync();
    } finally {
      be.close();
    }
    assert.equal(be.gpu.lost, true);
  });

  test("'gpu' with no matching adapter fails with KENSA_ERR_NO_ADAPTER", async () => {
    await assert.rejects(openBackend({ device: 'gpu', adapter: 'no-such-adapter-zz9' }), (e: unknown) => isKensaError(e, 'KENSA_ERR_NO_ADAPTER'));
    await assert.rejects(openBackend({ device: 'gpu', adapter: 99 }), /^KensaError: Expected adapter index between -?\d+ and -?\d+ but received 99$/);
  });

  test("'auto' takes a hardware GPU, or measures a CPU rasteriser against the CPU and reports it", { skip: noAdapter }, async () => {
    delete process.env.KENSA_DEVICE;
    const be = await openBackend();
    try {
      if (be.measurement === null) {
        assert.equal(be.kind, 'gpu');
        assert.equal(be.gpu!.info.isCpu, false);
        assert.match(be.reason, /^device 'auto': hardware adapter /);
      } else {
        const m = be.measurement;
        assert.ok(m.gpuMs > 0 && m.cpuMs > 0 && Number.isFinite(m.gpuMs) && Number.isFinite(m.cpuMs));
        assert.equal(be.kind, m.gpuMs < m.cpuMs ? 'gpu' : 'cpu');
        assert.equal(be.gpu === null, be.kind === 'cpu');
        assert.match(
          be.reason,
          /^device 'auto': the only adapter, .+, is a CPU rasteriser; measured gaussianBlur sigma 2 on 1×1×512×512 u8, best of 3: GPU \d+\.\d ms \(upload \+ blur \+ readback\) vs CPU \d+\.\d ms; using the (GPU|CPU)$/,
        );
        assert.ok(be.reason.endsWith(be.kind === 'gpu' ? 'using the GPU' : 'using the CPU'));
      }
      await be.sync();
    } finally {
      be.close();
    }
  });

  test('measureBackends times both paths on a small probe', { skip: noAdapter }, async () => {
    const be = await openBackend({ device: 'gpu' });
    try {
      const m = await measureBackends(be.gpu!, 64, 2);
      assert.equal(m.runs, 2);
      assert.equal(m.op, 'gaussianBlur sigma 2 on 1×1×64×64 u8');
      assert.ok(m.gpuMs > 0 && m.cpuMs > 0);
    } finally {
      be.close();
    }
  });

  test('invalid values are rejected with pinned messages', async () => {
    await assert.rejects(
      openBackend({ device: 'tpu' as never }),
      /^KensaError: Expected one of "cpu", "gpu", "auto" for device but received "tpu" of type string$/,
    );
    process.env.KENSA_DEVICE = 'cuda';
    await assert.rejects(openBackend(), /^KensaError: Expected one of "cpu", "gpu", "auto" for KENSA_DEVICE but received "cuda" of type string$/);
    delete process.env.KENSA_DEVICE;
    await assert.rejects(
      openBackend({ device: 'gpu', adapter: -1 }),
      /Expected an adapter index \(integer ≥ 0\) or a non-empty name substring for adapter but received -1 of type number/,
    );
    await assert.rejects(openBackend({ device: 'auto', adapter: '' }), /for adapter but received "" of type string/);
  });
});
