/**
 * Kernel-shape choices an op fixes at defaults (chosen on the GPU machine; see bench/results) and
 * keeps frozen. Tests and benches run a block with other choices, to reach every variant or time
 * it against the default: the override ends with the block, also when it throws or rejects.
 */
export function overriding<T extends object, R>(current: Readonly<T>, set: (t: Readonly<T>) => void, overrides: Partial<T>, fn: () => R): R {
  set(Object.freeze({ ...current, ...overrides }));
  let result: R;
  try {
    result = fn();
  } catch (e) {
    set(current);
    throw e;
  }
  if (result instanceof Promise) return result.finally(() => set(current)) as R;
  set(current);
  return result;
}
