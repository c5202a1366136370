/**
 * The service's Prometheus metrics (prom-client), in a registry of the server's own so that two
 * servers in one process (tests) never share counters. What Triton's perf_analyzer reads from
 * the server side is here: queue wait, compute and device time and the formed batch size, beside
 * request counts and latencies, queue depth, errors, the process's resident memory, and each
 * served model's execution provider with the providers that failed before it (fallbacks).
 */
import client from 'prom-client';
import type { EngineObserver } from './engine.js';

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class ServeMetrics implements EngineObserver {
  readonly registry = new client.Registry();
  readonly requests = new client.Counter({
    name: 'kensa_http_requests_total',
    help: 'HTTP requests answered, by route and status code',
    labelNames: ['route', 'status'] as const,
    registers: [this.registry],
  });
  readonly latency = new client.Histogram({
    name: 'kensa_http_request_duration_seconds',
    help: 'Time from a request arriving to its answer, by route',
    labelNames: ['route'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly images = new client.Counter({
    name: 'kensa_images_total',
    help: 'Images inspected, by recipe and verdict (error: decoding or detection failed)',
    labelNames: ['recipe', 'verdict'] as const,
    registers: [this.registry],
  });
  readonly errors = new client.Counter({
    name: 'kensa_errors_total',
    help: 'Requests answered with an error, by kensa error code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly batchSize = new client.Histogram({
    name: 'kensa_batch_size',
    help: 'Images in each batch the dynamic batcher formed',
    labelNames: ['recipe'] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly queueWait = new client.Histogram({
    name: 'kensa_queue_wait_seconds',
    help: "Time an image waited in the batcher's queue before its batch started",
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly compute = new client.Histogram({
    name: 'kensa_compute_seconds',
    help: 'Time of each batch on the device and in post-processing',
    labelNames: ['recipe'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly device = new client.Histogram({
    name: 'kensa_device_seconds',
    help: "Time of each batch's device stage: from its upload to its readbacks done (GPU time as the host sees it; the CPU backend's whole recipe)",
    labelNames: ['recipe'] as const,
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly modelProvider = new client.Gauge({
    name: 'kensa_model_provider',
    help: 'The ONNX Runtime execution provider each served model runs on (1 for its provider)',
    labelNames: ['model', 'provider'] as const,
    registers: [this.registry],
  });
  readonly providerFallbacks = new client.Counter({
    name: 'kensa_model_provider_fallbacks_total',
    help: 'Execution providers that failed to open or warm up a served model before the one it runs on, by model and failed provider',
    labelNames: ['model', 'provider'] as const,
    registers: [this.registry],
  });
  readonly decode = new client.Histogram({
    name: 'kensa_decode_seconds',
    help: "Time decoding each request's image",
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly failedBatches = new client.Counter({
    name: 'kensa_failed_batches_total',
    help: 'Batches whose detection failed (every image of it answered with the error)',
    labelNames: ['recipe'] as const,
    registers: [this.registry],
  });

  constructor(queue: () => { readonly depth: number; readonly inFlight: number }) {
    new client.Gauge({
      name: 'kensa_queue_depth',
      help: 'Images waiting for a device slot',
      registers: [this.registry],
      collect() {
        this.set(queue().depth);
      },
    });
    new client.Gauge({
      name: 'kensa_batches_in_flight',
      help: 'Batches on the device now',
      registers: [this.registry],
      collect() {
        this.set(queue().inFlight);
      },
    });
    new client.Gauge({
      name: 'kensa_process_resident_memory_bytes',
      help: "The server process's resident set size",
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
  }

  batch(recipe: string, size: number, computeMs: number, deviceMs: number): void {
    this.batchSize.observe({ recipe }, size);
    this.compute.observe({ recipe }, computeMs / 1000);
    this.device.observe({ recipe }, deviceMs / 1000);
  }

  /** A served model's provider, and each provider that failed before it. */
  model(name: string, provider: string, fallbacks: readonly { provider: string }[]): void {
    this.modelProvider.set({ model: name, provider }, 1);
    for (const f of fallbacks) this.providerFallbacks.inc({ model: name, provider: f.provider });
  }

  failed(recipe: string, size: number): void {
    this.failedBatches.inc({ recipe });
    this.images.inc({ recipe, verdict: 'error' }, size);
  }
}
