import type { Clock } from '../substrate/types.js';

/**
 * Settles as `promise` does, or rejects with `onTimeout()` once `ms` pass on `clock`, whichever
 * comes first. The timer is cancelled either way, so nothing fires late in a simulation.
 */
export function withTimeout<T>(
  clock: Pick<Clock, 'setTimer'>,
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
