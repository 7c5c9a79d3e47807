/**
 * What withTimeout needs of a clock (the substrate's Clock has it). Declared here so util, which
 * every layer uses, depends on nothing above it.
 */
export interface TimerSource {
  setTimer(delayMs: number, fn: () => void): { cancel(): void };
}

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `ms` pass on `clock`, whichever
 * comes first. The timer is cancelled either way, so nothing fires late in a simulation.
 */
export function withTimeout<T>(
  clock: TimerSource,
  ms: number,
  promise: Promise<T>,
  onTimeout: () => Error,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () => reject(onTimeout()));
    promise.then(
      (v) => {
        timer.cancel();
        resolve(v);
      },
      (e: unknown) => {
        timer.cancel();
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
