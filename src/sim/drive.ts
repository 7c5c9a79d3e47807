// The one place a simulated run touches the host's scheduling: the hop the scheduler awaits
// after each event so that every microtask the event started has run before the next event, and
// a real clock used only to bound how long a run may take. Kept outside src/substrate/sim so the
// lint rule that bans host timers there stays absolute.
//
// Why process.nextTick works as a hop: Node drains ticks and microtasks in one loop
// (processTicksAndRejections: run every queued tick, then run microtasks until the queue is empty,
// repeat). A tick queued from inside a microtask therefore runs only after the microtask queue is
// empty — exactly "after every continuation of this event" — without a trip through libuv's
// poll phase, which costs several microseconds per event (a third of a 10,000-node run). Protocol
// code never queues ticks (lint forbids `process` there), so nothing can slip in between. Every
// few hundred events the hop is a real setImmediate instead, so the host loop still breathes:
// stdout drains, the progress bar redraws, signals arrive. Both kinds drain microtasks fully, so the
// choice never changes a run.
import { performance } from 'node:perf_hooks';

/** Events between real macrotask hops. */
export const MACROTASK_EVERY_EVENTS = 512;

/** Resolves after the current macrotask, by which time the microtask queue is empty. */
export function macrotaskHop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Resolves once the microtask queue has drained; see the file comment. */
export function tickHop(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** The hop simulated runs use: tickHop, with a macrotaskHop every MACROTASK_EVERY_EVENTS. */
export function createHop(macrotaskEvery = MACROTASK_EVERY_EVENTS): () => Promise<void> {
  let n = 0;
  return () => {
    if (++n >= macrotaskEvery) {
      n = 0;
      return macrotaskHop();
    }
    return tickHop();
  };
}

export function realElapsedMs(): number {
  return performance.now();
}
