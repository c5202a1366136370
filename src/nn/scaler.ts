/**
 * Dynamic loss scaling with torch.cuda.amp.GradScaler's semantics, for mixed-precision training
 * (f32 master weights): the loss is multiplied by `scale` before backward; a step whose gradients
 * hold an inf or NaN is skipped and the scale multiplied by `backoffFactor`; after
 * `growthInterval` finite steps in a row it is multiplied by `growthFactor`. Checking the
 * gradients reads one number back per step (as PyTorch's step does); unscaling is folded into
 * the optimizer's update pass.
 */
import { integerInRange, numberInRange } from '../validate.js';
import type { Var } from './autograd.js';
import { mulScalar } from './ops.js';
import { foundNonFinite, type Optimizer, scaleGrads } from './optim.js';

export interface GradScalerOptions {
  /** Default 2^16. */
  initScale?: number;
  /** Default 2. */
  growthFactor?: number;
  /** Default 0.5. */
  backoffFactor?: number;
  /** Finite steps before the scale grows; default 2000. */
  growthInterval?: number;
}

export interface GradScalerStats {
  scale: number;
  steps: number;
  skipped: number;
}

/** What a checkpoint keeps to continue the scaling exactly. */
export interface GradScalerState extends GradScalerStats {
  /** Finite steps in a row since the scale last changed. */
  growthTracker: number;
}

export class GradScaler {
  #scale: number;
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  #growthTracker = 0;
  #steps = 0;
  #skipped = 0;
  #unscaled = false;

  constructor(options: GradScalerOptions = {}) {
    this.#scale = numberInRange('initScale', options.initScale ?? 65536, 1e-30, 1e30);
    this.growthFactor = numberInRange('growthFactor', options.growthFactor ?? 2, 1.000001, 1e6);
    this.backoffFactor = numberInRange('backoffFactor', options.backoffFactor ?? 0.5, 1e-6, 0.999999);
    this.growthInterval = integerInRange('growthInterval', options.growthInterval ?? 2000, 1, 1e9);
  }

  get scale(): number {
    return this.#scale;
  }

  /** The scale, steps taken and steps skipped so far. */
  get stats(): GradScalerStats {
    return { scale: this.#scale, steps: this.#steps, skipped: this.#skipped };
  }

  /** The scale, the counts and the growth tracker, for a checkpoint. */
  get state(): GradScalerState {
    return { ...this.stats, growthTracker: this.#growthTracker };
  }

  /** Continues from a checkpoint's `state`. */
  loadState(state: GradScalerState): void {
    this.#scale = numberInRange('state.scale', state.scale, 1e-30, 1e30);
    this.#steps = integerInRange('state.steps', state.steps, 0, 2 ** 53);
    this.#skipped = integerInRange('state.skipped', state.skipped, 0, this.#steps);
    this.#growthTracker = integerInRange('state.growthTracker', state.growthTracker, 0, this.growthInterval);
  }

  /** loss · scale, the Var to call backward on. */
  scaleLoss(loss: Var): Var {
    return mulScalar(loss, this.#scale);
  }

  /** Divides the gradients by the scale now (before clipping them); step then does not again. */
  unscale(optimizer: Optimizer): void {
    if (this.#unscaled) return;
    scaleGrads(optimizer.params, 1 / this.#scale);
    this.#unscaled = true;
  }

  /**
   * Steps the optimizer unless a gradient is inf or NaN, then updates the scale. Resolves to
   * whether the step was taken.
   */
  async step(optimizer: Optimizer): Promise<boolean> {
    const flag = foundNonFinite(optimizer.params);
    const cpu = await flag.toCpu();
    const found = cpu.at(0) > 0;
    flag.dispose();
    cpu.dispose();
    this.#steps++;
    if (found) {
      this.#skipped++;
      this.#scale *= this.backoffFactor;
      this.#growthTracker = 0;
    } else {
      optimizer.step({ gradScale: this.#unscaled ? 1 : 1 / this.#scale });
      if (++this.#growthTracker === this.growthInterval) {
        this.#scale *= this.growthFactor;
        this.#growthTracker = 0;
      }
    }
    this.#unscaled = false;
    return !found;
  }
}
