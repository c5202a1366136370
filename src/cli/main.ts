#!/usr/bin/env node
/**
 * The `kensa` command: `kensa <command> [options]`, one file per command (doctor.ts, bench.ts),
 * each exporting `run(argv, io) → exit code`. No dependencies: argv goes through node:util
 * parseArgs. Exit codes: 0 success, 1 failure (a failed self-test, no GPU), 2 usage errors.
 */
import { realpathSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as augmentCmd from './augment.js';
import * as bench from './bench.js';
import * as doctor from './doctor.js';
import * as evaluate from './eval.js';
import * as inspect from './inspect.js';
import { EXIT_OK, EXIT_USAGE, type CliIO } from './io.js';
import * as samples from './samples.js';
import * as serve from './serve.js';
import * as train from './train.js';
import * as tune from './tune.js';
import * as worker from './worker.js';

export interface Command {
  summary: string;
  help: string;
  run(argv: readonly string[], io: CliIO): Promise<number>;
}

/**
 * SIGINT/SIGTERM abort a long command (it finishes what is in flight); a second signal exits at
 * once, printing the line the command set through `onQuit` (how to resume what it left).
 */
async function withSignals(body: (signal: AbortSignal, onQuit: (line: string) => void) => Promise<number>): Promise<number> {
  const controller = new AbortController();
  let quitLine = 'quit before it finished';
  const stop = (sig: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      process.stderr.write(`\nkensa: ${sig} again: ${quitLine}\n`);
      process.exit(130);
    }
    process.stderr.write(`\nkensa: ${sig}: finishing what is in flight (again to quit now)\n`);
    controller.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await body(controller.signal, (line) => {
      quitLine = line;
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export const COMMANDS: Record<string, Command> = {
  inspect: {
    summary: 'inspect images with a recipe, store every result, print what was found',
    help: inspect.INSPECT_HELP,
    run: (argv, io) => withSignals((signal, onQuit) => inspect.run(argv, io, signal, onQuit)),
  },
  samples: { summary: 'write synthetic surfaces with cracks, scratches and spots, their masks and labels', help: samples.SAMPLES_HELP, run: samples.run },
  augment: {
    summary: 'write augmented variants of images, masks and boxes, a manifest of parameters, a preview grid',
    help: augmentCmd.AUGMENT_HELP,
    run: (argv, io) => withSignals((signal) => augmentCmd.run(argv, io, signal)),
  },
  eval: { summary: 'score predicted masks against truth: pixel P/R/F1 with tolerance, IoU, object recall', help: evaluate.EVAL_HELP, run: evaluate.run },
  tune: {
    summary: 'tune a recipe on labelled images (held-out score) or calibrate it on good images',
    help: tune.TUNE_HELP,
    run: (argv, io) => withSignals((signal) => tune.run(argv, io, signal)),
  },
  train: {
    summary: 'train a UNet on images and masks: checkpoints, resume, validation scores, a training curve',
    help: train.TRAIN_HELP,
    run: (argv, io) => withSignals((signal) => train.run(argv, io, signal)),
  },
  serve: {
    summary: 'serve inspection over HTTP: dynamic batching, stored results, metrics, the dashboard',
    help: serve.SERVE_HELP,
    run: (argv, io) => withSignals((signal) => serve.run(argv, io, signal)),
  },
  dashboard: {
    summary: 'serve the dashboard and results routes over a store, without inspecting',
    help: serve.DASHBOARD_HELP,
    run: (argv, io) => withSignals((signal) => serve.runDashboard(argv, io, signal)),
  },
  worker: {
    summary: 'take queued inspection jobs from Redis and write results to the shared store',
    help: worker.WORKER_HELP,
    run: (argv, io) => withSignals((signal) => worker.runWorker(argv, io, signal)),
  },
  status: { summary: 'a queued run: done/total, ETA, queue depths, per-worker throughput, failed jobs', help: worker.STATUS_HELP, run: worker.runStatus },
  doctor: { summary: 'adapters, features, limits, ONNX Runtime providers, CPU cores; GPU vs CPU self-test', help: doctor.DOCTOR_HELP, run: doctor.run },
  bench: { summary: 'time an op on the CPU and the GPU (warm-up, repeats, min/median/max, GPU time)', help: bench.BENCH_HELP, run: bench.run },
};

export const MAIN_HELP = `Usage: kensa <command> [options]

GPU-accelerated image inspection: tools for this machine.

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join('\n')}

Options:
  -h, --help     show this help (kensa <command> --help for a command's options)
  -v, --version  print the kensa version

Environment:
  KENSA_DEVICE   cpu | gpu | auto: the default device of openBackend()
  KENSA_DEBUG    1: print the stack trace of kensa errors too (codes: docs/errors.md)
  KENSA_TOKEN    the bearer token kensa serve and kensa dashboard require (--token)
`;

function version(): string {
  try {
    return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export async function run(argv: readonly string[], io: CliIO): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err.write(MAIN_HELP);
    return EXIT_USAGE;
  }
  if (first === '-h' || first === '--help') {
    io.out.write(MAIN_HELP);
    return EXIT_OK;
  }
  if (first === 'help') {
    const topic = rest[0];
    if (topic === undefined) {
      io.out.write(MAIN_HELP);
      return EXIT_OK;
    }
    const c = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (!c) {
      io.err.write(`kensa: unknown command '${topic}' (commands: ${Object.keys(COMMANDS).join(', ')})\n`);
      return EXIT_USAGE;
    }
    io.out.write(c.help);
    return EXIT_OK;
  }
  if (first === '-v' || first === '--version') {
    io.out.write(`kensa ${version()}\n`);
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined;
  if (!command) {
    const what = first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`;
    io.err.write(`kensa: ${what} (commands: ${Object.keys(COMMANDS).join(', ')})\nRun 'kensa --help' for usage.\n`);
    return EXIT_USAGE;
  }
  return command.run(rest, io);
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  // sharp decodes on libuv's thread pool (4 threads by default); libuv reads this when the pool
  // first starts, which is after start-up, so decodes use every core unless the user chose
  process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));
  run(process.argv.slice(2), { out: process.stdout, err: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`kensa: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
