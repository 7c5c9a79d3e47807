import type { LogicalThread } from '../threads/index.js';

/** Awaits disk work, parking `thread` (when given) with an io wait so dumps show it. */
export function io<T>(thread: LogicalThread | undefined, what: string, work: Promise<T>): Promise<T> {
  return thread ? thread.waitOn({ kind: 'io', what }, work) : work;
}

/** Sleeps on the substrate clock, parking `thread` with a timer wait. */
export function sleep(
  thread: LogicalThread,
  clock: { nowMs(): number; setTimer(ms: number, fn: () => void): unknown },
  ms: number,
  reason: string,
): Promise<void> {
  return thread.waitOn(
    { kind: 'timer', untilMs: clock.nowMs() + ms, reason },
    new Promise<void>((resolve) => {
      clock.setTimer(ms, resolve);
    }),
  );
}
