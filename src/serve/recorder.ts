/**
 * The service's results go to the same store as `kensa inspect`'s: each recipe the server
 * inspects with gets a run of its own for this server session (created on its first image,
 * options `{ service: true }`), finished as `done` when the server closes, so service runs list
 * and report like batch runs; a run the server could not finish (a crash) is marked `interrupted`
 * when a server of the same name starts again. Items are buffered and written in one transaction at most every
 * half second (or 64 items), as the pipeline's run does; a write its database failed is logged and
 * retried with the next one, never failing the request that was already answered; an item the store
 * refuses (a value out of its range) is logged and dropped, and the rest of its batch written.
 */
import type { LoadedRecipe } from '../detect/recipe.js';
import { isStoreFailure } from '../pipeline/retry.js';
import type { ItemResult as StoredItem, Json } from '../store/schema.js';
import type { Store } from '../store/store.js';

const FLUSH_INTERVAL_MS = 500;
const WRITE_BATCH = 64;

export interface RecorderOptions {
  store: Store;
  device: string;
  /** The server's name, kept in its runs' options: a restarted server finds the runs it left running. */
  server: string;
  /** Where originals and masks are kept (recorded as the run's `masks` so reports find them), or null. */
  imagesDir: string | null;
  onError: (e: unknown) => void;
}

export class ServiceRecorder {
  readonly #o: RecorderOptions;
  readonly #runs = new Map<string, Promise<string>>();
  readonly #started = performance.now();
  #pending = new Map<string, StoredItem[]>();
  #processed = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();

  constructor(o: RecorderOptions) {
    this.#o = o;
  }

  /** The id of this session's run for the recipe (created on first use). */
  runFor(loaded: LoadedRecipe): Promise<string> {
    let run = this.#runs.get(loaded.hash);
    if (!run) {
      run = this.#o.store
        .createRun({
          recipeName: loaded.recipe.name,
          recipe: JSON.parse(loaded.json) as Json,
          recipeHash: loaded.hash,
          device: this.#o.device,
          options: { service: true, server: this.#o.server, masks: this.#o.imagesDir },
        })
        .then((r) => r.id);
      // a failed creation is retried by the next request, not remembered
      run.catch(() => this.#runs.delete(loaded.hash));
      this.#runs.set(loaded.hash, run);
    }
    return run;
  }

  /**
   * Marks this server's service runs that are still `running` — left by a server of the same name
   * that crashed or was killed — as `interrupted`, their counts from their stored items. Returns their ids.
   */
  async interruptStale(): Promise<string[]> {
    const stale = (await this.#o.store.listRuns()).filter((r) => r.status === 'running' && r.options.service === true && r.options.server === this.#o.server);
    for (const r of stale) await this.#o.store.finishRun(r.id, 'interrupted');
    return stale.map((r) => r.id);
  }

  /** Queues one item of a run for the next write. */
  record(runId: string, item: StoredItem): void {
    const list = this.#pending.get(runId) ?? [];
    list.push(item);
    this.#pending.set(runId, list);
    this.#processed.set(runId, (this.#processed.get(runId) ?? 0) + 1);
    if (list.length >= WRITE_BATCH) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), FLUSH_INTERVAL_MS);
  }

  /** Writes everything queued (one transaction per run); resolves when it is stored or logged as failed. */
  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const batches = this.#pending;
    this.#pending = new Map();
    this.#writing = this.#writing.then(async () => {
      for (const [runId, items] of batches) {
        try {
          await this.#o.store.writeResults(runId, items);
        } catch (e) {
          this.#o.onError(e);
          // kept for the next write where the database failed (it may be back by then); an item the
          // store refuses would be refused again and hold back every later one: the others are written alone
          const kept = isStoreFailure(e) ? items : await this.#refusedApart(runId, items);
          this.#pending.set(runId, [...kept, ...(this.#pending.get(runId) ?? [])]);
        }
      }
    });
    return this.#writing;
  }

  /** Writes each item alone: those the store refuses are dropped (each logged); those its database failed are returned to keep. */
  async #refusedApart(runId: string, items: readonly StoredItem[]): Promise<StoredItem[]> {
    const kept: StoredItem[] = [];
    for (const item of items) {
      try {
        await this.#o.store.writeResults(runId, [item]);
      } catch (e) {
        if (isStoreFailure(e)) kept.push(item);
        else this.#o.onError(e);
      }
    }
    return kept;
  }

  /** Writes what is queued and finishes every run of this session as done. */
  async close(): Promise<void> {
    await this.flush();
    const elapsedMs = performance.now() - this.#started;
    for (const run of this.#runs.values()) {
      const id = await run.catch(() => null);
      if (id === null) continue;
      await this.#o.store.finishRun(id, 'done', undefined, { elapsedMs, processed: this.#processed.get(id) ?? 0 }).catch(this.#o.onError);
    }
  }
}
