/**
 * Learning-rate schedules: functions from the step (0, 1, …) to the rate, set on the optimizer
 * before each step (`optimizer.lr = schedule(optimizer.steps)`).
 */
import { integerInRange, numberInRange } from '../validate.js';

export type Schedule = (step: number) => number;

/** lr · gamma^⌊step / stepSize⌋ (torch StepLR). */
export function stepSchedule(lr: number, options: { stepSize: number; gamma?: number }): Schedule {
  const base = numberInRange('lr', lr, 0, 1e6);
  const size = integerInRange('stepSize', options.stepSize, 1, 1e9);
  const gamma = numberInRange('gamma', options.gamma ?? 0.1, 0, 1);
  return (step) => base * gamma ** Math.floor(step / size);
}

/** From lr down to minLr over totalSteps along half a cosine (torch CosineAnnealingLR), then minLr. */
export function cosineSchedule(lr: number, options: { totalSteps: number; minLr?: number }): Schedule {
  const base = numberInRange('lr', lr, 0, 1e6);
  const total = integerInRange('totalSteps', options.totalSteps, 1, 1e9);
  const min = numberInRange('minLr', options.minLr ?? 0, 0, base);
  return (step) => (step >= total ? min : min + ((base - min) * (1 + Math.cos((Math.PI * step) / total))) / 2);
}

/** Linear warm-up from lr/warmupSteps to the schedule's rate over the first warmupSteps, then `after` shifted by them. */
export function warmup(after: Schedule, warmupSteps: number): Schedule {
  const n = integerInRange('warmupSteps', warmupSteps, 1, 1e9);
  return (step) => (step < n ? (after(0) * (step + 1)) / n : after(step - n));
}
