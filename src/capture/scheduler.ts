// The scheduler of instants. Round k of a capture is at t0 + k·interval, never drifting with how
// long captures take. Everything due at one instant is released together: one timer per instant
// (spun to the exact moment, see clock.ts), then every registered capture is fired back to back in
// one synchronous stretch, so that a round's requests leave within microseconds of each other.
//
// Work that must happen at the instant but is not a request — reading each JVM's per-thread CPU —
// runs just before it, in one stretch that ends at the instant: its cost is estimated, the batch
// wakes that much early. Run after the requests, it would delay the time-stamping of the first
// answers (the event loop would be busy); run during them, it would spread the requests.
import { sleepUntil } from './clock.js';

/** Round k's instant. */
export function roundInstantMs(t0Ms: number, round: number, intervalMs: number): number {
  return t0Ms + round * intervalMs;
}

/** Bound on distinct instants waiting at once (an agent serving many clients). */
export const MAX_PENDING_INSTANTS = 10_000;
/** Bound on how early before an instant its preparatory work may start. */
export const MAX_BEFORE_MS = 100;

/** Work to run right before an instant, with its estimated cost. */
export interface BeforeInstant {
  costMs: number;
  run(): void;
}

interface Batch {
  fires: (() => void)[];
  befores: BeforeInstant[];
  /** The befores have run; later ones run right after the fires (afters). */
  beforesDone: boolean;
  afters: (() => void)[];
  released: Promise<boolean>;
}

/** Groups fire() callbacks by instant and runs each group at its instant, in registration order. */
export class InstantBatches {
  private readonly batches = new Map<number, Batch>();

  constructor(private readonly signal?: AbortSignal) {}

  /**
   * Registers fire to run at atMs (at once when atMs has passed) with everything else registered
   * for the same instant, and `before` to run just ahead of it; resolves true after the whole group
   * has been fired, or false when the signal aborted first (nothing is fired then).
   */
  at(atMs: number, fire: () => void, before?: BeforeInstant): Promise<boolean> {
    let b = this.batches.get(atMs);
    if (b === undefined) {
      if (this.batches.size >= MAX_PENDING_INSTANTS)
        throw new Error(`more than ${MAX_PENDING_INSTANTS} pending instants`);
      const batch: Batch = {
        fires: [],
        befores: [],
        beforesDone: false,
        afters: [],
        released: Promise.resolve(false),
      };
      batch.released = this.release(atMs, batch);
      b = batch;
      this.batches.set(atMs, b);
    }
    b.fires.push(fire);
    if (before !== undefined) {
      if (b.beforesDone) b.afters.push(() => before.run());
      else b.befores.push(before);
    }
    return b.released;
  }

  private async release(atMs: number, b: Batch): Promise<boolean> {
    await sleepUntil(atMs - MAX_BEFORE_MS, this.signal);
    const costMs = Math.min(
      MAX_BEFORE_MS,
      b.befores.reduce((sum, x) => sum + Math.max(0, x.costMs), 0),
    );
    if (costMs > 0) await sleepUntil(atMs - costMs, this.signal);
    if (!this.signal?.aborted) for (const x of b.befores) x.run();
    b.beforesDone = true;
    await sleepUntil(atMs, this.signal);
    this.batches.delete(atMs);
    if (this.signal?.aborted) return false;
    for (const f of b.fires) f();
    for (const f of b.afters) f();
    return true;
  }
}
