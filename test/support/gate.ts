/** A promise that tests open by hand: synchronization without sleeps. */
export interface Gate<T = void> {
  promise: Promise<T>;
  open(value: T): void;
}

export function gate<T = void>(): Gate<T> {
  let open!: (value: T) => void;
  const promise = new Promise<T>((r) => (open = r));
  return { promise, open };
}

/**
 * Waits until cond() holds, checking every pollMs (0: after every macrotask, for conditions
 * reached by message delivery); fails after limitMs.
 */
export async function until(cond: () => boolean, what: string, limitMs = 5000, pollMs = 0): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for: ${what}`);
    await new Promise((r) => (pollMs > 0 ? setTimeout(r, pollMs) : setImmediate(r)));
  }
}

/** until() for waits that last seconds (ZooKeeper sessions, elections): checks every 20 ms. */
export function untilSlow(cond: () => boolean, what: string, limitMs: number): Promise<void> {
  return until(cond, what, limitMs, 20);
}

/** until() for a condition that must be fetched (an HTTP endpoint, a status call): checks every pollMs. */
export async function untilAsync(
  cond: () => Promise<boolean>,
  what: string,
  limitMs = 5000,
  pollMs = 20,
): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > limitMs) throw new Error(`timed out after ${limitMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
