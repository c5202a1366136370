/**
 * A kensa UNet (a safetensors file of `UNet.toSafetensors`) as a model the model recipe runs, in
 * place of an ONNX Runtime session: the same `runBatch(data, dims)` on host arrays, so the detector's
 * tiler (src/tiling's grid, each window's centre pasted) and post stage serve both kinds. The net
 * runs on kensa's nn engine, on the run's Gpu or the CPU. Its input is the pixel over the frame's
 * maximum (the recipe's normalize must stay mean 0, std 1): the file's preprocessing (per channel
 * mean and std) is applied here, and each input is zero-padded at its right and bottom to a multiple
 * of the net's stride 2^(levels−1) and cropped back after, so any image size runs.
 */
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import { Var } from '../nn/autograd.js';
import { Tensor, tidy } from '../tensor.js';
import { roundUp } from '../tiling/grid.js';
import type { ModelFile, ModelRunner } from './registry.js';
import type { OutputData, TensorInfo } from './session.js';
import { UNet } from './unet.js';

/** Host memory the CPU path gives the widest activation of one chunk of inputs. */
const CPU_CHUNK_BYTES = 512 * 2 ** 20;

export class UNetRunner implements ModelRunner {
  readonly name: string;
  readonly input: TensorInfo;
  readonly outputs: readonly TensorInfo[];
  readonly inputDType = 'f32';
  readonly runsOn: string;
  readonly provider: string;
  readonly fallbacks = [];
  /** The net's total stride 2^(levels−1): tile origins and overlaps are multiples of it. */
  readonly stride: number;
  /** The activation of the net's head: sigmoid for one class, softmax for more. */
  readonly head: 'sigmoid' | 'softmax';
  /** The threshold chosen on validation that the file holds (kensa train writes it); null: none. */
  readonly threshold: number | null;
  readonly #net: UNet;
  readonly #gpu: Gpu | null;

  private constructor(name: string, net: UNet, gpu: Gpu | null) {
    const { inChannels, classes, widths } = net.config;
    this.name = name;
    this.#net = net;
    this.#gpu = gpu;
    this.input = { name: 'image', type: 'float32', shape: ['batch', inChannels, 'height', 'width'] };
    this.outputs = [{ name: 'logits', type: 'float32', shape: ['batch', classes, 'height', 'width'] }];
    this.stride = 2 ** (widths.length - 1);
    this.head = classes === 1 ? 'sigmoid' : 'softmax';
    this.threshold = net.threshold;
    this.provider = gpu ? 'kensa-webgpu' : 'kensa-cpu';
    this.runsOn = `kensa nn UNet ${widths.join('-')} on ${gpu ? `gpu ${gpu.info.name}` : 'cpu'}`;
  }

  /** Loads the weights (KENSA_ERR_WEIGHTS naming the file when they are not a kensa UNet's) onto `gpu`, or the CPU when null. */
  static async open(file: ModelFile, gpu: Gpu | null): Promise<UNetRunner> {
    const net = await UNet.fromSafetensors(file.bytes, file.path, gpu ? { gpu } : {});
    return UNetRunner.of(net, file.path, gpu);
  }

  /** Runs a net already made (on `gpu`, or the CPU when null), named `name` in messages. */
  static of(net: UNet, name: string, gpu: Gpu | null): UNetRunner {
    return new UNetRunner(name, net.eval(), gpu);
  }

  /** Bytes of the widest activation of one h × w input (padded to the stride): the decoder's first concatenation, 2 · widths[0] channels. */
  #widestBytes(h: number, w: number): number {
    return 2 * this.#net.config.widths[0]! * roundUp(h, this.stride) * roundUp(w, this.stride) * 4;
  }

  /** What the widest activation of one forward may take: a GPU storage binding, or CPU_CHUNK_BYTES. */
  #chunkBytes(): number {
    return this.#gpu ? this.#gpu.info.limits.maxStorageBufferBindingSize! : CPU_CHUNK_BYTES;
  }

  /** How many h × w inputs one forward takes (runBatch runs larger batches in chunks of this many), at least 1. */
  inputsPerForward(h: number, w: number): number {
    return Math.max(1, Math.floor(this.#chunkBytes() / this.#widestBytes(h, w)));
  }

  /** Logits [N, classes, H, W] of N inputs [N, C, H, W] (pixel / max), in chunks whose widest activation fits a storage binding. */
  async runBatch(data: Float32Array | Uint16Array, dims: number[]): Promise<OutputData[]> {
    const [n, c, h, w] = dims as [number, number, number, number];
    const { inChannels, classes, preprocessing } = this.#net.config;
    if (dims.length !== 4 || c !== inChannels || !(data instanceof Float32Array)) {
      throw new KensaError('KENSA_ERR_MODEL', `Model ${this.name}: expected f32 input of shape [N, ${inChannels}, H, W] but received [${dims.join(', ')}]`);
    }
    const ph = roundUp(h, this.stride);
    const pw = roundUp(w, this.stride);
    const perInput = this.#widestBytes(h, w);
    const budget = this.#chunkBytes();
    if (this.#gpu && perInput > budget) {
      const mib = (b: number) => `${Math.ceil(b / 2 ** 20)} MiB`;
      throw new KensaError(
        'KENSA_ERR_GPU_OUT_OF_MEMORY',
        `Model ${this.name}: a ${w}×${h} input needs ${mib(perInput)} for its widest activation, above the GPU's ${mib(budget)} storage binding: tile the images smaller (--tile, --overlap) or run on the CPU`,
      );
    }
    const chunk = this.inputsPerForward(h, w);
    const out = new Float32Array(n * classes * h * w);
    for (let start = 0; start < n; start += chunk) {
      const m = Math.min(chunk, n - start);
      const x = new Float32Array(m * c * ph * pw);
      for (let i = 0; i < m; i++) {
        for (let k = 0; k < c; k++) {
          const mean = preprocessing.mean[k]!;
          const std = preprocessing.std[k]!;
          const src = ((start + i) * c + k) * h * w;
          const dst = (i * c + k) * ph * pw;
          for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) x[dst + y * pw + xx] = (data[src + y * w + xx]! - mean) / std;
        }
      }
      const logits = await this.#forward(x, [m, c, ph, pw]);
      for (let i = 0; i < m * classes; i++) {
        for (let y = 0; y < h; y++) out.set(logits.subarray((i * ph + y) * pw, (i * ph + y) * pw + w), (start * classes + i) * h * w + y * w);
      }
    }
    return [{ name: 'logits', type: 'float32', dims: [n, classes, h, w], data: out }];
  }

  async #forward(x: Float32Array, dims: number[]): Promise<Float32Array> {
    const host = Tensor.fromArray(x, dims, 'f32');
    using input = this.#gpu ? await host.toGpu(this.#gpu) : null;
    using logits = tidy(() => this.#net.predict(Var.constant(input ?? host)).value);
    const cpu = await logits.toCpu();
    return cpu === logits ? (cpu.data as Float32Array).slice() : (cpu.data as Float32Array);
  }

  /** Frees the weights. */
  async close(): Promise<void> {
    this.#net.dispose();
  }
}
