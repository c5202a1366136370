/**
 * `buildServer(options)`: kensa's HTTP service as a Fastify instance, one concern per plugin —
 * errors and hardening (this file: error codes to HTTP statuses, bearer token, rate limit, body
 * and content-type checks), inspection (inspect-routes.ts, on the dynamic-batching engine),
 * stored results (results-routes.ts), health, readiness and metrics (health-routes.ts), the
 * dashboard (dashboard.ts). Without a backend the instance only reads a store: `kensa dashboard`.
 * Every route has JSON schemas, from which the OpenAPI document at /docs/json is generated.
 * Closing the instance (SIGTERM in the CLI) stops accepting connections, lets the requests in
 * flight finish — waiting images start at once — then writes their results and finishes the runs.
 */
import { timingSafeEqual } from 'node:crypto';
import { hostname } from 'node:os';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Backend } from '../backend.js';
import { openRecipeModels } from '../detect/model.js';
import { DEFAULT_RECIPE, type LoadedRecipe, parseRecipe } from '../detect/recipe.js';
import type { OpenModel } from '../models/registry.js';
import type { SessionOptions } from '../models/session.js';
import { type ErrorCode, KensaError } from '../errors.js';
import sharp from 'sharp';
import {
  DEFAULT_MAX_PIXELS,
  decodeBuffer,
  decodeHashed,
  type HashedDecode,
  type DecodeOptions,
  parseForDevice,
  PixelLimitError,
  scaledSize,
} from '../pipeline/decode.js';
import { deviceLabel } from '../pipeline/run.js';
import { openRecipeTemplate, recipeTemplate, type OpenTemplate } from '../pipeline/template.js';
import { openTemplates } from '../detect/template.js';
import { resolvePostWorkers, WorkerPool } from '../pipeline/workers.js';
import type { Store } from '../store/store.js';
import { invalidParameter, is } from '../validate.js';
import { dashboardPlugin } from './dashboard.js';
import { type EngineOptions, InspectionEngine } from './engine.js';
import { healthPlugin } from './health-routes.js';
import { inspectPlugin } from './inspect-routes.js';
import { ServeMetrics } from './metrics.js';
import { ServiceRecorder } from './recorder.js';
import { resultsPlugin } from './results-routes.js';

export interface ServeOptions {
  /** Where detection runs; null serves the store only (the dashboard, the results routes). */
  backend: Backend | null;
  /** Where results are stored and read; null keeps no results. */
  store: Store | null;
  /** The recipes clients may name (by `recipe.name`); the first is the default. Default: the built-in classic recipe. */
  recipes?: readonly LoadedRecipe[];
  /**
   * ONNX models clients may name (`model=NAME`), each served as a segmentation model recipe of
   * default fields; their sessions open (and warm up) when the server is built.
   */
  models?: readonly { name: string; path: string }[];
  /** How model sessions open (providers tried in order, threads); the warm-up shapes are the server's. */
  modelSession?: Omit<SessionOptions, 'warmUp'>;
  /** The dynamic batcher (defaults: DEFAULT_SERVE_BATCH). */
  batch?: Partial<Omit<EngineOptions, 'backend'>>;
  /** Sizes each recipe and model is warmed for, at every batch size it may form, before /ready says true (default none: ready once open). */
  warmShapes?: readonly { width: number; height: number }[];
  /** Largest image accepted, width × height (decompression bombs); default 0x3FFF². */
  maxImagePixels?: number;
  /** Where baseline JPEGs decode with the GPU backend, as in `inspect` (InspectOptions.jpegDecode; default 'gpu'). */
  jpegDecode?: 'gpu' | 'cpu';
  /** Largest request body in bytes (default 64 MiB). */
  bodyLimit?: number;
  /** Bearer token every route but /health, /ready and the dashboard page requires; null or '' for none. */
  token?: string | null;
  /** Requests per client address and window; null for no limit. */
  rateLimit?: { max: number; windowMs: number } | null;
  /**
   * The server's name, stored with its service runs (default the host name): at start, its runs a
   * crash left `running` are marked `interrupted`. Servers sharing a store need names of their own.
   */
  name?: string;
  /** Keep each inspected original and its mask here (the dashboard's item view reads them); null keeps none. */
  imagesDir?: string | null;
  /** Worker threads for detection's CPU work, 0 … 256 (default as `inspect`: cores); 0 keeps it on the event loop's thread. */
  postWorkers?: number;
  /** Fastify's logger option: pino settings, or false for none (the default). */
  logger?: FastifyServerOptions['logger'];
}

/** What the routes share, decorated on the instance as `kensa`. */
export interface ServiceContext {
  engine: InspectionEngine | null;
  metrics: ServeMetrics;
  recorder: ServiceRecorder | null;
  store: Store | null;
  recipes: ReadonlyMap<string, LoadedRecipe>;
  /** The models clients name with `model`, as model recipes. */
  models: ReadonlyMap<string, LoadedRecipe>;
  defaultRecipe: LoadedRecipe;
  maxImagePixels: number;
  /** Whether uploads' baseline JPEGs are left for the GPU to decode (ServeOptions.jpegDecode). */
  jpegOnDevice: boolean;
  imagesDir: string | null;
  /** Decodes and hashes an upload: on the worker threads when there are any, so the event loop only answers HTTP and drives the device. */
  decode: (name: string, bytes: Buffer, options: DecodeOptions) => Promise<HashedDecode>;
  /** Whether every recipe is open and warmed. */
  ready: boolean;
  /** Settles once warm-up is over (ready, or failed and logged). */
  warmed: Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    kensa: ServiceContext;
  }
}

export const DEFAULT_SERVE_BATCH: Omit<EngineOptions, 'backend'> = {
  maxBatch: 16,
  preferredBatch: [],
  maxQueueDelayUs: 2000,
  queueLimit: 256,
  instances: 2,
};

const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;

/** The HTTP status of each error code a route can give; the rest are 500. */
const STATUS: Partial<Record<ErrorCode, number>> = {
  KENSA_ERR_INVALID_ARGUMENT: 400,
  KENSA_ERR_BAD_REQUEST: 400,
  KENSA_ERR_DECODE: 400,
  KENSA_ERR_RECIPE: 400,
  KENSA_ERR_UNAUTHORIZED: 401,
  KENSA_ERR_NOT_FOUND: 404,
  KENSA_ERR_RATE_LIMITED: 429,
  KENSA_ERR_OVERLOADED: 503,
  KENSA_ERR_DEADLINE: 504,
};

/** A KensaError answered with another status than its code's (415 for a content type, 413 for a body). */
export function withStatus(e: KensaError, status: number): KensaError & { statusCode: number } {
  return Object.assign(e, { statusCode: status });
}

/** The error an HTTP client gets: its status and `{ error: { code, message } }`. */
export function httpError(e: unknown): { status: number; code: ErrorCode; message: string } {
  if (e instanceof PixelLimitError) return { status: 422, code: e.code, message: e.message };
  if (e instanceof KensaError) return { status: (e as Partial<FastifyError>).statusCode ?? STATUS[e.code] ?? 500, code: e.code, message: e.message };
  const f = e as Partial<FastifyError>;
  if (f.validation) return { status: 400, code: 'KENSA_ERR_BAD_REQUEST', message: `Invalid request: ${f.message}` };
  if (f.statusCode === 429) return { status: 429, code: 'KENSA_ERR_RATE_LIMITED', message: f.message ?? 'Rate limit exceeded' };
  if (f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500) {
    return { status: f.statusCode, code: f.statusCode === 404 ? 'KENSA_ERR_NOT_FOUND' : 'KENSA_ERR_BAD_REQUEST', message: f.message ?? 'Bad request' };
  }
  return { status: 500, code: 'KENSA_ERR_INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/** Seconds a client should wait before retrying an overloaded server. */
const RETRY_AFTER_S = 1;

function checkOptions(o: ServeOptions): void {
  if (o.maxImagePixels !== undefined && !(is.integer(o.maxImagePixels) && o.maxImagePixels >= 1))
    throw invalidParameter('maxImagePixels', 'an integer ≥ 1', o.maxImagePixels);
  if (o.jpegDecode !== undefined && !is.inArray(o.jpegDecode, ['gpu', 'cpu'])) throw invalidParameter('jpegDecode', "'gpu' or 'cpu'", o.jpegDecode);
  if (o.bodyLimit !== undefined && !(is.integer(o.bodyLimit) && o.bodyLimit >= 1024))
    throw invalidParameter('bodyLimit', 'an integer ≥ 1024 (bytes)', o.bodyLimit);
  const b = o.batch ?? {};
  if (b.maxBatch !== undefined && !(is.integer(b.maxBatch) && b.maxBatch >= 1 && b.maxBatch <= 1024))
    throw invalidParameter('batch.maxBatch', 'an integer between 1 and 1024', b.maxBatch);
  if (b.maxQueueDelayUs !== undefined && !(is.integer(b.maxQueueDelayUs) && b.maxQueueDelayUs >= 0 && b.maxQueueDelayUs <= 10_000_000))
    throw invalidParameter('batch.maxQueueDelayUs', 'an integer between 0 and 10000000 (µs)', b.maxQueueDelayUs);
  if (b.queueLimit !== undefined && !(is.integer(b.queueLimit) && b.queueLimit >= 1))
    throw invalidParameter('batch.queueLimit', 'an integer ≥ 1', b.queueLimit);
  if (b.instances !== undefined && !(is.integer(b.instances) && b.instances >= 1 && b.instances <= 64))
    throw invalidParameter('batch.instances', 'an integer between 1 and 64', b.instances);
  const maxBatch = b.maxBatch ?? DEFAULT_SERVE_BATCH.maxBatch;
  for (const p of b.preferredBatch ?? [])
    if (!(is.integer(p) && p >= 1 && p <= maxBatch)) throw invalidParameter('batch.preferredBatch', `integers between 1 and maxBatch (${maxBatch})`, p);
  const names = new Set<string>();
  for (const m of o.models ?? []) {
    if (!(typeof m.name === 'string' && /^[\w.-]{1,64}$/.test(m.name))) throw invalidParameter('models[].name', '1 … 64 letters, digits, _ . or -', m.name);
    if (names.has(m.name)) throw invalidParameter('models[].name', 'names used once each', m.name);
    names.add(m.name);
  }
  if (o.name !== undefined && !(typeof o.name === 'string' && o.name.length >= 1 && o.name.length <= 255))
    throw invalidParameter('name', 'a string of 1 … 255 characters', o.name);
  if (o.rateLimit && !(is.integer(o.rateLimit.max) && o.rateLimit.max >= 1 && is.integer(o.rateLimit.windowMs) && o.rateLimit.windowMs >= 1))
    throw invalidParameter('rateLimit', '{ max, windowMs }: integers ≥ 1', o.rateLimit);
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '');
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

/** Paths open without the token: probes, and the dashboard page (its data calls send the token). */
const OPEN_PATHS = new Set(['/health', '/ready', '/']);

/** The service as a Fastify instance (not yet listening: call `listen`, or `inject` in tests). */
export async function buildServer(options: ServeOptions): Promise<FastifyInstance> {
  checkOptions(options);
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // a closing server answers new requests with 503 and lets those in flight finish
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    ajv: { customOptions: { coerceTypes: true, removeAdditional: false } },
  });
  const batch = { ...DEFAULT_SERVE_BATCH, ...options.batch };
  let engine: InspectionEngine | null = null;
  const metrics = new ServeMetrics(() => engine ?? { depth: 0, inFlight: 0 });
  const { recipes, models, open } = options.backend
    ? await openModels(options, batch.maxBatch, metrics)
    : { recipes: [...(options.recipes ?? [])], models: [], open: [] };
  if (recipes.length === 0) recipes.push(DEFAULT_RECIPE);
  const pool = options.backend ? resolvePostWorkers(options.postWorkers) : 0;
  const workers = pool > 0 ? new WorkerPool(pool) : null;
  if (options.backend) engine = new InspectionEngine({ backend: options.backend, ...batch, pool: workers }, metrics);
  const recorder =
    options.store && options.backend
      ? new ServiceRecorder({
          store: options.store,
          device: deviceLabel(options.backend),
          server: options.name ?? hostname(),
          imagesDir: options.imagesDir ?? null,
          onError: (e) => app.log.error({ err: e }, 'storing results failed'),
        })
      : null;
  const context: ServiceContext = {
    engine,
    metrics,
    recorder,
    store: options.store,
    recipes: new Map(recipes.map((r) => [r.recipe.name, r])),
    models: new Map(models.map((r) => [r.recipe.name, r])),
    defaultRecipe: recipes[0]!,
    maxImagePixels: options.maxImagePixels ?? DEFAULT_MAX_PIXELS,
    jpegOnDevice: options.backend?.kind === 'gpu' && options.jpegDecode !== 'cpu',
    imagesDir: options.imagesDir ?? null,
    decode: workers ? (name, bytes, o) => workers.decode(name, bytes, o) : decodeHashed,
    ready: false,
    warmed: Promise.resolve(),
  };
  app.decorate('kensa', context);
  const stale = await recorder?.interruptStale().catch((e: unknown) => {
    app.log.error({ err: e }, 'finding the runs a previous server left running failed');
    return [];
  });
  if (stale && stale.length > 0) app.log.warn({ runs: stale }, 'service runs a previous server left running are marked interrupted');

  app.setErrorHandler((error, request, reply) => {
    const { status, code, message } = httpError(error);
    metrics.errors.inc({ code });
    if (status >= 500 && code !== 'KENSA_ERR_OVERLOADED' && code !== 'KENSA_ERR_DEADLINE') request.log.error({ err: error }, message);
    if (code === 'KENSA_ERR_OVERLOADED' || code === 'KENSA_ERR_RATE_LIMITED') reply.header('retry-after', reply.getHeader('retry-after') ?? RETRY_AFTER_S);
    return reply.code(status).send({ error: { code, message } });
  });
  app.setNotFoundHandler((request, reply) => {
    metrics.errors.inc({ code: 'KENSA_ERR_NOT_FOUND' });
    return reply.code(404).send({ error: { code: 'KENSA_ERR_NOT_FOUND', message: `No route ${request.method} ${request.url.split('?')[0]}` } });
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.latency.observe({ route }, reply.elapsedTime / 1000);
  });

  const token = options.token || null;
  if (token) {
    app.addHook('onRequest', async (request) => {
      if (OPEN_PATHS.has(request.url.split('?')[0]!)) return;
      if (!tokenMatches(request.headers.authorization, token))
        throw new KensaError(
          'KENSA_ERR_UNAUTHORIZED',
          'Expected the header Authorization: Bearer TOKEN with the token the server was started with (--token or KENSA_TOKEN)',
        );
    });
  }

  if (options.rateLimit) {
    await app.register(rateLimit, {
      max: options.rateLimit.max,
      timeWindow: options.rateLimit.windowMs,
      allowList: (request) => OPEN_PATHS.has(request.url.split('?')[0]!),
      errorResponseBuilder: (_request, context) => {
        const message = `More than ${context.max} requests from this client in ${context.after}; retry after the Retry-After seconds`;
        return withStatus(new KensaError('KENSA_ERR_RATE_LIMITED', message), 429);
      },
    });
  }

  await app.register(swagger, {
    openapi: {
      info: { title: 'kensa serve', description: 'GPU image inspection with dynamic batching', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      ...(token ? { security: [{ bearer: [] }] } : {}),
    },
  });
  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthPlugin);
  if (engine) await app.register(inspectPlugin);
  if (options.store) await app.register(resultsPlugin);
  await app.register(dashboardPlugin);

  app.addHook('onClose', async () => {
    await engine?.drain();
    await Promise.all(open.map((m) => m.close()));
    await workers?.destroy();
    await recorder?.close();
  });

  context.warmed = warm(context, options.warmShapes ?? [], [1, ...batch.preferredBatch, batch.maxBatch]).then(
    () => {
      context.ready = true;
    },
    (e: unknown) => app.log.error({ err: e }, 'warm-up failed: /ready stays false'),
  );
  return app;
}

/**
 * Opens the sessions of every model the server serves (`models`, and those model and cascade
 * recipes name), warmed up on batches of 1 and `maxBatch`, and the recipes' templates; reports
 * each model's provider and fallbacks to the metrics. Returns the recipes with their models' and
 * templates' sha256s filled in, the models as model recipes, and what to close; when one fails,
 * none stay open.
 */
async function openModels(
  options: ServeOptions,
  maxBatch: number,
  metrics: ServeMetrics,
): Promise<{ recipes: LoadedRecipe[]; models: LoadedRecipe[]; open: (OpenModel | OpenTemplate)[] }> {
  const open: (OpenModel | OpenTemplate)[] = [];
  const load = async (loaded: LoadedRecipe) => {
    const template = await openRecipeTemplate(loaded);
    open.push(template);
    const r = await openRecipeModels(template.loaded, options.modelSession ?? {}, maxBatch, options.backend?.gpu ?? null);
    for (const m of r.models) metrics.model(loaded.recipe.name, m.session.provider, m.session.fallbacks);
    open.push(...r.models);
    return r.loaded;
  };
  try {
    const recipes: LoadedRecipe[] = [];
    for (const r of options.recipes ?? []) recipes.push(await load(r));
    const models: LoadedRecipe[] = [];
    for (const m of options.models ?? []) models.push(await load(parseRecipe({ kind: 'model', name: m.name, model: { path: m.path } }, `model ${m.name}`)));
    return { recipes, models, open };
  } catch (e) {
    await Promise.all(open.map((m) => m.close()));
    throw e;
  }
}

/**
 * Runs each recipe and model on blank images of each warm-up size, in a batch of each size the
 * batcher may form at once (1, the preferred sizes, maxBatch; within the pixel budget), so that
 * no client pays for compiling a pipeline or a provider's kernels for its shape. A recipe with a
 * golden template judges images of the template's size only: it is warmed at that size.
 */
async function warm(context: ServiceContext, shapes: readonly { width: number; height: number }[], counts: readonly number[]): Promise<void> {
  const { engine } = context;
  if (!engine) return;
  for (const loaded of [...context.recipes.values(), ...context.models.values()]) {
    const template = recipeTemplate(loaded.recipe);
    // the sizes the recipe's input.scale decodes such files to; a template's own (at that scale)
    const sizes =
      shapes.length === 0
        ? []
        : template
          ? openTemplates(template).map(({ width, height, dtype }) => ({ width, height, dtype, original: { width, height } }))
          : shapes.map((s) => ({ ...scaledSize(s.width, s.height, loaded.recipe.input.scale), dtype: 'u8' as const, original: s }));
    for (const { width, height, dtype, original } of sizes) {
      const image = {
        data: dtype === 'u16' ? new Uint16Array(width * height) : new Uint8Array(width * height),
        dtype,
        width,
        height,
        channels: 1 as const,
        bytes: 0,
        original,
      };
      for (const count of new Set(counts)) await engine.warm(loaded, image, count);
      // uploads' JPEGs decode on the GPU: its decoder's programs (and below scale 1 the reduce's) for gray and 4:2:0 colour files
      const scale = loaded.recipe.input.scale;
      if (context.jpegOnDevice && !template) {
        for (const channels of [1, 3] as const) {
          const file = await sharp(Buffer.alloc(original.width * original.height * channels, 128), {
            raw: { width: original.width, height: original.height, channels },
          })
            .jpeg({ chromaSubsampling: '4:2:0' })
            .toBuffer();
          const o: DecodeOptions = { channels: 'gray', maxPixels: context.maxImagePixels, scale };
          const jpeg = parseForDevice('warm-up.jpg', file, o);
          if (jpeg) await engine.warm(loaded, jpeg, 1, () => decodeBuffer('warm-up.jpg', file, o));
        }
      }
    }
  }
}
