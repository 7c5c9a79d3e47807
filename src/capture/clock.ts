// Time for capture: precise epoch milliseconds, and waiting for an instant. Capture is measured in
// fractions of a millisecond, so it reads the monotonic clock anchored to the wall clock once
// (performance.timeOrigin) instead of Date.now, and it spins the last stretch to an instant
// because timers fire a millisecond or so late.
import { performance } from 'node:perf_hooks';

/** How far ahead of an instant a sleeper wakes up to spin to it. */
export const SPIN_MS = 2;

/** Precise epoch milliseconds (fractional), comparable across the captures of one process. */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/**
 * Resolves at epochMs (never before it): a timer wakes SPIN_MS early and the rest is spun, so the
 * caller runs on, not around, the instant. Resolves at once when the signal aborts.
 */
export function sleepUntil(epochMs: number, signal?: AbortSignal): Promise<void> {
  const delayMs = epochMs - epochNowMs();
  if (delayMs <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((resolveSleep) => {
    const t = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        while (epochNowMs() < epochMs) {
          /* at most SPIN_MS */
        }
        resolveSleep();
      },
      Math.max(0, delayMs - SPIN_MS),
    );
    const onAbort = (): void => {
      clearTimeout(t);
      resolveSleep();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves with value after ms; the timer does not keep the process alive. */
export function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms).unref());
}

/** Rounds to microseconds: manifests keep fractional milliseconds without float noise. */
export function roundUs(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/**
 * Waits for work until shortly before an instant — at least one turn of the event loop, so that
 * work already settled (a failure found at once) is not mistaken for work still running.
 */
export async function untilOrBefore(work: Promise<unknown>, epochMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = epochMs - epochNowMs() > 0 ? sleepUntil(epochMs, signal) : new Promise<void>((r) => setImmediate(r));
  await Promise.race([work, deadline]);
}
