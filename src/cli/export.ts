/**
 * `kensa export --onnx`: a kensa UNet's weights (a safetensors file of `kensa train` or
 * `UNet.toSafetensors`) as an ONNX graph for deployment (src/models/unet-onnx.ts: batch norms
 * folded, dynamic batch and size, preprocessing in metadata_props). Exit 0, 1 on a bad file, 2 on bad flags.
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { KensaError } from '../errors.js';
import type { Gpu } from '../gpu/gpu.js';
import { ONNX_OPSET, ONNX_OPSETS } from '../models/onnx-writer.js';
import { readModelFile } from '../models/registry.js';
import { UNet } from '../models/unet.js';
import { unetToOnnx } from '../models/unet-onnx.js';
import { EXIT_OK, UsageError, guard, intFlag, parseFlags, type CliIO } from './io.js';

export const EXPORT_HELP = `Usage: kensa export --onnx --model <weights.safetensors> --out <model.onnx> [options]

Writes a kensa UNet as an ONNX model (docs/export.md): Conv, Relu, MaxPool, ConvTranspose and
Concat, each batch norm folded into the convolution before it. Input 'image' float32
[batch, C, height, width] (dynamic; height and width multiples of 2^(levels-1)), the pixel as
(pixel / 255 - mean[c]) / std[c] with the file's preprocessing; output 'logits'
[batch, classes, height, width]. The preprocessing and the head are in metadata_props.

Options:
  --onnx               the format (required; the only one so far)
  --model <file>       the UNet's weights: RUN_DIR/best.safetensors (required)
  --out <file>         the ONNX file to write (required)
  --opset <n>          the ONNX opset, ${ONNX_OPSETS.min} … ${ONNX_OPSETS.max} (default ${ONNX_OPSET})
  --json               print the summary as JSON
  -h, --help           show this help
`;

const FLAGS = {
  onnx: { type: 'boolean' },
  model: { type: 'string' },
  out: { type: 'string' },
  opset: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The UNet of a weights file; KENSA_ERR_MODEL when it cannot be read, KENSA_ERR_WEIGHTS naming it when it is not a kensa UNet's. */
export async function loadUNetFile(path: string, gpu: Gpu | null = null): Promise<UNet> {
  const file = await readModelFile(path);
  return UNet.fromSafetensors(file.bytes, file.path, gpu ? { gpu } : {});
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  return guard('export', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(EXPORT_HELP);
      return EXIT_OK;
    }
    if (!values.onnx) throw new UsageError('--onnx is required (the export format)');
    if (!values.model) throw new UsageError('--model is required (the UNet weights, e.g. RUN_DIR/best.safetensors)');
    if (!values.out) throw new UsageError('--out is required (the ONNX file to write)');
    const opset = intFlag('opset', values.opset, ONNX_OPSET, ONNX_OPSETS.min, ONNX_OPSETS.max);
    const net = await loadUNetFile(values.model);
    const bytes = await unetToOnnx(net, { opset });
    try {
      await writeFile(values.out, bytes);
    } catch (e) {
      throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Cannot write --out ${values.out}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, {
        cause: e,
      });
    }
    const { inChannels, classes, widths } = net.config;
    const summary = {
      out: values.out,
      bytes: bytes.length,
      opset,
      widths,
      input: { name: 'image', shape: ['batch', inChannels, 'height', 'width'], multipleOf: 2 ** (widths.length - 1) },
      output: { name: 'logits', shape: ['batch', classes, 'height', 'width'], activation: classes === 1 ? 'sigmoid' : 'softmax' },
      preprocessing: net.config.preprocessing,
    };
    if (values.json) io.out.write(`${JSON.stringify(summary)}\n`);
    else
      io.out.write(
        `kensa export: wrote ${values.out} (${bytes.length} bytes, opset ${opset}): UNet ${widths.join('-')}, batch norms folded\n` +
          `  input  image  [batch, ${inChannels}, height, width], height and width multiples of ${summary.input.multipleOf}; (pixel / 255 - mean) / std, mean ${JSON.stringify(net.config.preprocessing.mean)}, std ${JSON.stringify(net.config.preprocessing.std)}\n` +
          `  output logits [batch, ${classes}, height, width] (${summary.output.activation} for the probability)\n`,
      );
    return EXIT_OK;
  });
}
