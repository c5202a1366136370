/**
 * A bounded async queue: `push` waits while the queue is full (backpressure, so memory stays flat
 * however large the input), `pop` waits while it is empty and returns `undefined` once the queue
 * is closed and drained. One producer side and any number of consumers.
 */
import { KensaError } from '../errors.js';

export class BoundedQueue<T> {
  readonly capacity: number;
  readonly #items: T[] = [];
  #closed = false;
  #waitingPop: ((v: T | undefined) => void)[] = [];
  #waitingPush: (() => void)[] = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new KensaError('KENSA_ERR_INVALID_ARGUMENT', `Expected integer ≥ 1 for capacity but received ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async push(item: T): Promise<void> {
    while (this.#items.length >= this.capacity && !this.#closed) await new Promise<void>((r) => this.#waitingPush.push(r));
    if (this.#closed) throw new KensaError('KENSA_ERR_INTERNAL', 'push on a closed queue');
    const consumer = this.#waitingPop.shift();
    if (consumer) consumer(item);
    else this.#items.push(item);
  }

  async pop(): Promise<T | undefined> {
    const item = this.#items.shift();
    if (item !== undefined) {
      this.#waitingPush.shift()?.();
      return item;
    }
    if (this.#closed) return undefined;
    return new Promise<T | undefined>((r) => this.#waitingPop.push(r));
  }

  /** No more pushes; consumers drain what is left, then get `undefined`. */
  close(): void {
    this.#closed = true;
    for (const r of this.#waitingPop.splice(0)) r(undefined);
    for (const r of this.#waitingPush.splice(0)) r();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      const item = await this.pop();
      if (item === undefined) return;
      yield item;
    }
  }
}
