/**
 * `kensa serve`: the HTTP inspection service (src/serve) on this machine's device, results in the
 * same store as `kensa inspect`; `kensa dashboard`: the same dashboard and results routes over a
 * store, without inspecting. Both run until SIGINT/SIGTERM, then stop accepting connections,
 * finish the requests in flight (serve: their images start at once), store their results and exit 0.
 */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { type Backend, DEVICES, openBackend } from '../backend.js';
import { builtinRecipe, type LoadedRecipe, loadRecipe } from '../detect/recipe.js';
import { DEFAULT_MAX_PIXELS } from '../pipeline/decode.js';
import { MAX_POST_WORKERS } from '../pipeline/workers.js';
import { buildServer, DEFAULT_SERVE_BATCH, type ServeOptions } from '../serve/app.js';
import { openStore, type Store } from '../store/store.js';
import { adapterFlag, type CliIO, choiceFlag, EXIT_OK, guard, intFlag, parseFlags, UsageError } from './io.js';

const COMMON_HELP = `  --host H              address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --port N              TCP port (default 8080; 0 picks a free one)
  --db URL              results database: SQLite file, postgres://…, mysql://… (default kensa.db)
  --token T             require Authorization: Bearer T on every route but /health, /ready and /
                        (default: KENSA_TOKEN from the environment; none when unset)
  --rate-limit N        at most N requests per client address and minute (default none)
  --log-level L         fatal | error | warn | info | debug | silent: pino JSON lines on stdout (default info)
  -h, --help            show this help
`;

export const SERVE_HELP = `Usage: kensa serve [options]

Serves inspection over HTTP with dynamic batching: POST /v1/inspect (one image, raw body),
POST /v1/inspect/batch (JSON, base64 images), GET /v1/runs, /v1/items, /v1/defects, /health,
/ready, /metrics (Prometheus), the OpenAPI document at /docs/json and the dashboard at /.
Every answer is stored as a service run in the database. Details: docs/serve.md.

Options:
  --recipe R            a recipe clients may name (repeatable; the first is the default): a JSON or
                        YAML file, or a built-in kind (classic, decoupled); default classic
  --model NAME=PATH     an ONNX segmentation model clients may name with model=NAME (repeatable);
                        its sessions open and warm up before the server listens
  --device D            auto | cpu | gpu (default auto, or KENSA_DEVICE)
  --adapter A           GPU adapter index or name substring
  --max-batch N         most images in one batch (default ${DEFAULT_SERVE_BATCH.maxBatch})
  --preferred-batch L   batch sizes started at once, comma-separated (e.g. 4,8; default none)
  --max-queue-delay-us N  longest an image waits for its batch to fill (default ${DEFAULT_SERVE_BATCH.maxQueueDelayUs} µs)
  --queue-limit N       images waiting at most; past it requests get 503 (default ${DEFAULT_SERVE_BATCH.queueLimit})
  --instances N         batches on the device at once (default ${DEFAULT_SERVE_BATCH.instances})
  --warm WxH,…          sizes each recipe and model runs at (batches of 1, the preferred sizes and
                        --max-batch) before /ready says 200 (e.g. 1920x1080)
  --max-image-pixels N  refuse larger images with 422 (default ${DEFAULT_MAX_PIXELS})
  --jpeg-decode D       gpu | cpu: where baseline JPEGs decode on the GPU backend (default gpu,
                        as kensa inspect)
  --body-limit N        largest request body in bytes (default 67108864)
  --post-workers N      worker threads for detection's CPU work and decoding (as kensa inspect; default
                        cores)
  --name N              this server's name in its service runs (default HOST:PORT); at start its
                        runs a crash left running are marked interrupted
  --images DIR          keep each original and its mask under DIR (the dashboard's item view shows them)
${COMMON_HELP}`;

export const DASHBOARD_HELP = `Usage: kensa dashboard [options]

Serves the dashboard (runs, throughput, NG gallery, item detail, live counters) and the results
routes over a store, without inspecting: any database kensa inspect or kensa serve wrote.

Options:
${COMMON_HELP}`;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'silent'] as const;

const COMMON_FLAGS = {
  host: { type: 'string' },
  port: { type: 'string' },
  db: { type: 'string' },
  token: { type: 'string' },
  'rate-limit': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function warmFlag(v: string | undefined): { width: number; height: number }[] {
  if (v === undefined) return [];
  return v.split(',').map((s) => {
    const m = /^(\d+)x(\d+)$/.exec(s.trim());
    if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new UsageError(`--warm expects sizes WxH separated by commas (e.g. 1920x1080) but received '${v}'`);
    return { width: Number(m[1]), height: Number(m[2]) };
  });
}

function listFlag(name: string, v: string | undefined, lo: number, hi: number): number[] {
  if (v === undefined) return [];
  return v.split(',').map((s) => intFlag(name, s, 0, lo, hi));
}

/** Listens until the signal aborts, then closes the server (draining it) and the store. */
async function serveUntil(
  io: CliIO,
  signal: AbortSignal,
  flags: { host?: string | undefined; port?: string | undefined },
  options: ServeOptions,
  close: () => Promise<void>,
): Promise<number> {
  let app: Awaited<ReturnType<typeof buildServer>>;
  try {
    app = await buildServer(options);
  } catch (e) {
    // a model that does not open: the store and the device are closed all the same
    await close();
    throw e;
  }
  try {
    const address = await app.listen({ host: flags.host ?? '127.0.0.1', port: intFlag('port', flags.port, 8080, 0, 65535) });
    io.err.write(`kensa: listening on ${address} (dashboard at ${address}/, OpenAPI at ${address}/docs/json)\n`);
    if (!signal.aborted) await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
  } finally {
    await app.close();
    await close();
  }
  return EXIT_OK;
}

function commonOptions(values: { token?: string | undefined; 'rate-limit'?: string | undefined; 'log-level'?: string | undefined }, io: CliIO) {
  const level = choiceFlag('log-level', values['log-level'], 'info', LOG_LEVELS);
  const perMinute = values['rate-limit'] === undefined ? null : intFlag('rate-limit', values['rate-limit'], 0, 1, 1_000_000);
  return {
    token: values.token ?? process.env.KENSA_TOKEN ?? null,
    rateLimit: perMinute === null ? null : { max: perMinute, windowMs: 60_000 },
    logger: level === 'silent' ? false : { level, stream: io.out },
  };
}

export async function run(argv: readonly string[], io: CliIO, signal: AbortSignal): Promise<number> {
  return guard('serve', io, async () => {
    const { values } = parseFlags(() =>
      parseArgs({
        args: [...argv],
        options: {
          ...COMMON_FLAGS,
          recipe: { type: 'string', multiple: true },
          model: { type: 'string', multiple: true },
          name: { type: 'string' },
          device: { type: 'string' },
          adapter: { type: 'string' },
          'max-batch': { type: 'string' },
          'preferred-batch': { type: 'string' },
          'max-queue-delay-us': { type: 'string' },
          'queue-limit': { type: 'string' },
          instances: { type: 'string' },
          warm: { type: 'string' },
          'max-image-pixels': { type: 'string' },
          'jpeg-decode': { type: 'string' },
          'body-limit': { type: 'string' },
          images: { type: 'string' },
          'post-workers': { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      }),
    );
    if (values.help) {
      io.out.write(SERVE_HELP);
      return EXIT_OK;
    }
    const maxBatch = intFlag('max-batch', values['max-batch'], DEFAULT_SERVE_BATCH.maxBatch, 1, 1024);
    const batch = {
      maxBatch,
      preferredBatch: listFlag('preferred-batch', values['preferred-batch'], 1, maxBatch),
      maxQueueDelayUs: intFlag('max-queue-delay-us', values['max-queue-delay-us'], DEFAULT_SERVE_BATCH.maxQueueDelayUs, 0, 10_000_000),
      queueLimit: intFlag('queue-limit', values['queue-limit'], DEFAULT_SERVE_BATCH.queueLimit, 1, 1_000_000),
      instances: intFlag('instances', values.instances, DEFAULT_SERVE_BATCH.instances, 1, 64),
    };
    const warmShapes = warmFlag(values.warm);
    const postWorkers = values['post-workers'] === undefined ? undefined : intFlag('post-workers', values['post-workers'], 0, 0, MAX_POST_WORKERS);
    const maxImagePixels = intFlag('max-image-pixels', values['max-image-pixels'], DEFAULT_MAX_PIXELS, 1, Number.MAX_SAFE_INTEGER);
    const jpegDecode = choiceFlag('jpeg-decode', values['jpeg-decode'], 'gpu', ['gpu', 'cpu'] as const);
    const bodyLimit = intFlag('body-limit', values['body-limit'], 64 * 1024 * 1024, 1024, 2 ** 31 - 1);
    const common = commonOptions(values, io);
    const device = choiceFlag('device', values.device, 'auto', DEVICES);
    const adapter = adapterFlag(values.adapter);
    const recipes: LoadedRecipe[] = [];
    for (const r of values.recipe ?? []) recipes.push(builtinRecipe(r) ?? (await loadRecipe(r)));
    const names = recipes.map((r) => r.recipe.name);
    const twice = names.find((n, i) => names.indexOf(n) !== i);
    if (twice !== undefined) throw new UsageError(`--recipe: two recipes are named '${twice}'; clients name recipes by their name field, so give each its own`);
    const models = (values.model ?? []).map((m) => {
      const at = m.indexOf('=');
      if (at < 1 || at === m.length - 1) throw new UsageError(`--model expects NAME=PATH (e.g. unet=models/unet.onnx) but received '${m}'`);
      return { name: m.slice(0, at), path: m.slice(at + 1) };
    });
    const backend: Backend = await openBackend({ device, ...(adapter !== undefined ? { adapter } : {}) });
    let store: Store;
    try {
      store = await openStore(values.db ?? 'kensa.db');
    } catch (e) {
      backend.close();
      throw e;
    }
    io.err.write(`kensa: device ${backend.name} (${backend.reason}); results in ${store.url}\n`);
    const options: ServeOptions = {
      backend,
      store,
      recipes,
      models,
      batch,
      warmShapes,
      maxImagePixels,
      jpegDecode,
      bodyLimit,
      imagesDir: values.images ?? null,
      name: values.name ?? `${hostname()}:${intFlag('port', values.port, 8080, 0, 65535)}`,
      ...(postWorkers !== undefined ? { postWorkers } : {}),
      ...common,
    };
    return serveUntil(io, signal, values, options, async () => {
      await store.close();
      backend.close();
    });
  });
}

export async function runDashboard(argv: readonly string[], io: CliIO, signal: AbortSignal): Promise<number> {
  return guard('dashboard', io, async () => {
    const { values } = parseFlags(() => parseArgs({ args: [...argv], options: COMMON_FLAGS, strict: true, allowPositionals: false }));
    if (values.help) {
      io.out.write(DASHBOARD_HELP);
      return EXIT_OK;
    }
    const common = commonOptions(values, io);
    const store = await openStore(values.db ?? 'kensa.db');
    return serveUntil(io, signal, values, { backend: null, store, ...common }, () => store.close());
  });
}
