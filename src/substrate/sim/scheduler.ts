// The simulator's event loop: virtual time advanced from a priority queue of events (timers,
// frame deliveries, disk completions, injected faults), ordered by time and then by insertion
// sequence. After each event the driver yields one macrotask so that every JavaScript microtask
// the event started (promise continuations in protocol code) runs before the next event, at the
// same virtual time. Nothing else is scheduled by the host, so a seed fully determines the run.
import type { TimerHandle } from '../types.js';
import { assert } from '../../util/assert.js';
import { TraceHash } from './hash.js';

/** Trace codes of event kinds, folded into the trace hash. */
export const EventKind = {
  timer: 1,
  deliver: 2,
  close: 3,
  connect: 4,
  accept: 5,
  disk: 6,
  fault: 7,
  flush: 8,
  release: 9,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

/** Something that can die: a simulated node's incarnation. Events it owns die with it. */
export interface Owner {
  /** Small stable number folded into the trace. */
  readonly index: number;
  /** Bumped on crash: events stamped with an older incarnation are skipped. */
  incarnation: number;
}

/** Events that are not plain callbacks (frame deliveries) name a target that handles them. */
export interface EventTarget {
  fire(ev: SimEvent): void;
}

/**
 * One scheduled event. It is its own TimerHandle, so scheduling a timer allocates one object.
 * Fields are assigned in the constructor only, keeping the shape monomorphic for V8.
 */
export class SimEvent implements TimerHandle {
  cancelled = false;
  constructor(
    readonly scheduler: Scheduler,
    readonly timeMs: number,
    readonly seq: number,
    readonly kind: EventKind,
    readonly owner: Owner | null,
    readonly incarnation: number,
    readonly fn: (() => void) | null,
    readonly target: EventTarget | null,
    /** Payload for targets: a frame, or null for a close notification. */
    readonly frame: Uint8Array | null,
    readonly error: Error | undefined,
  ) {}

  cancel(): void {
    if (this.cancelled) return;
    this.cancelled = true;
    this.scheduler.noteCancelled();
  }
}

export interface SchedulerLimits {
  /** Events executed before the run ends with SimLimitError. */
  maxEvents: number;
  /** Virtual time the run may reach. */
  maxVirtualMs: number;
  /** Real time the run may take; checked every few thousand events (needs wallClockMs). */
  maxWallMs: number;
}

export const DEFAULT_LIMITS: SchedulerLimits = {
  maxEvents: 50_000_000,
  maxVirtualMs: 24 * 3600_000,
  maxWallMs: 600_000,
};

/** Bound on events waiting at once: a runaway protocol would otherwise eat the heap. */
export const MAX_QUEUED_EVENTS = 20_000_000;

const WALL_CHECK_EVERY_EVENTS = 4096;

/** A simulation ran past one of its bounds; the message says which and where. */
export class SimLimitError extends Error {
  override name = 'SimLimitError';
}

/** Protocol code threw out of an event callback: in a real process that is an uncaught exception. */
export class SimCallbackError extends Error {
  override name = 'SimCallbackError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

export type RunStatus = 'done' | 'idle';

export interface SchedulerOptions {
  /** Yields one macrotask so microtasks drain; the only real scheduling a run uses. */
  hop: () => Promise<void>;
  /** Real monotonic milliseconds, only to enforce maxWallMs. */
  wallClockMs?: () => number;
  limits?: Partial<SchedulerLimits>;
}

function earlier(a: SimEvent, b: SimEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.seq < b.seq);
}

export class Scheduler {
  nowMs = 0;
  readonly trace = new TraceHash();
  /** Events executed (not counting cancelled or dead-owner ones). */
  eventsRun = 0;
  eventsSkipped = 0;
  readonly limits: SchedulerLimits;
  /**
   * Called after every event, once its microtasks ran: a monitor that checks an invariant at every
   * instant (it throws to end the run).
   */
  afterEvent: (() => void) | null = null;
  private readonly heap: SimEvent[] = [];
  private nextSeq = 0;
  private cancelledInHeap = 0;
  private running = false;

  constructor(private readonly options: SchedulerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    assert(this.limits.maxEvents > 0 && this.limits.maxVirtualMs > 0, 'scheduler limits must be positive');
  }

  get queued(): number {
    return this.heap.length - this.cancelledInHeap;
  }

  /** Runs fn after delayMs of virtual time unless owner dies first. */
  timer(delayMs: number, fn: () => void, owner: Owner | null, kind: EventKind = EventKind.timer): SimEvent {
    return this.push(this.nowMs + clampDelay(delayMs), kind, owner, fn, null, null, undefined);
  }

  /** Schedules a target event (a frame delivery, a close) at an absolute virtual time. */
  post(
    timeMs: number,
    kind: EventKind,
    owner: Owner | null,
    target: EventTarget,
    frame: Uint8Array | null,
    error: Error | undefined,
  ): SimEvent {
    return this.push(Math.max(timeMs, this.nowMs), kind, owner, null, target, frame, error);
  }

  /** A TimerHandle that never fires: setTimer with an infinite delay. */
  static readonly never: TimerHandle = { cancel: () => {} };

  noteCancelled(): void {
    this.cancelledInHeap++;
    // Lazy deletion keeps cancel O(1); compact when the dead outnumber the live (RPC deadline
    // timers are almost always cancelled, and there is one per call).
    if (this.cancelledInHeap > 4096 && this.cancelledInHeap * 2 > this.heap.length) this.compact();
  }

  /**
   * Runs events until `until()` holds (checked after microtasks drain), or nothing is left to run
   * ('idle'). Throws SimLimitError past a bound and SimCallbackError when an event callback throws.
   */
  async run(until: () => boolean): Promise<RunStatus> {
    assert(!this.running, 'scheduler.run is not reentrant');
    this.running = true;
    const { hop, wallClockMs } = this.options;
    const { maxEvents, maxVirtualMs, maxWallMs } = this.limits;
    const wallStart = wallClockMs ? wallClockMs() : 0;
    try {
      while (!until()) {
        const ev = this.pop();
        if (ev === undefined) return 'idle';
        if (ev.owner !== null && ev.owner.incarnation !== ev.incarnation) {
          this.eventsSkipped++;
          continue;
        }
        if (this.eventsRun >= maxEvents) {
          throw new SimLimitError(
            `simulation exceeded ${maxEvents} events at virtual ${this.nowMs.toFixed(3)} ms (raise maxEvents if the run is legitimately that long)`,
          );
        }
        if (ev.timeMs > maxVirtualMs) {
          throw new SimLimitError(
            `simulation passed the virtual time limit of ${maxVirtualMs} ms after ${this.eventsRun} events (next event at ${ev.timeMs.toFixed(3)} ms)`,
          );
        }
        if (wallClockMs && this.eventsRun % WALL_CHECK_EVERY_EVENTS === 0 && wallClockMs() - wallStart > maxWallMs) {
          throw new SimLimitError(
            `simulation took more than ${maxWallMs} ms of real time (virtual ${this.nowMs.toFixed(3)} ms, ${this.eventsRun} events)`,
          );
        }
        assert(ev.timeMs >= this.nowMs, 'virtual time went backwards');
        this.nowMs = ev.timeMs;
        this.eventsRun++;
        const t = this.trace;
        t.word(ev.kind);
        t.word(ev.owner === null ? -1 : ev.owner.index);
        t.double(ev.timeMs);
        try {
          if (ev.fn !== null) ev.fn();
          else ev.target!.fire(ev);
        } catch (err) {
          throw new SimCallbackError(
            `an event callback threw at virtual ${this.nowMs.toFixed(3)} ms: ${(err as Error)?.stack ?? String(err)}`,
            err,
          );
        }
        await hop();
        if (this.afterEvent !== null) this.afterEvent();
      }
      return 'done';
    } finally {
      this.running = false;
    }
  }

  private push(
    timeMs: number,
    kind: EventKind,
    owner: Owner | null,
    fn: (() => void) | null,
    target: EventTarget | null,
    frame: Uint8Array | null,
    error: Error | undefined,
  ): SimEvent {
    // Messages are plain literals on hot paths: a template would be built on every call.
    if (this.heap.length >= MAX_QUEUED_EVENTS)
      assert(false, `more than ${MAX_QUEUED_EVENTS} simulated events queued at once`);
    const ev = new SimEvent(
      this,
      timeMs,
      this.nextSeq++,
      kind,
      owner,
      owner === null ? 0 : owner.incarnation,
      fn,
      target,
      frame,
      error,
    );
    const heap = this.heap;
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!earlier(ev, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = ev;
    return ev;
  }

  /** Pops the earliest live event, discarding cancelled ones. */
  private pop(): SimEvent | undefined {
    const heap = this.heap;
    while (heap.length > 0) {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) this.siftDown(last);
      if (top.cancelled) {
        this.cancelledInHeap--;
        continue;
      }
      return top;
    }
    return undefined;
  }

  private siftDown(ev: SimEvent): void {
    const heap = this.heap;
    const n = heap.length;
    let i = 0;
    while (true) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && earlier(heap[r]!, heap[l]!) ? r : l;
      const child = heap[c]!;
      if (!earlier(child, ev)) break;
      heap[i] = child;
      i = c;
    }
    heap[i] = ev;
  }

  private compact(): void {
    const live = this.heap.filter((e) => !e.cancelled);
    // A sorted array is a valid heap, and sorting by (time, seq) keeps the order exact.
    live.sort((a, b) => a.timeMs - b.timeMs || a.seq - b.seq);
    this.heap.length = 0;
    for (const e of live) this.heap.push(e);
    this.cancelledInHeap = 0;
  }
}

/** Negative delays mean now, as with setTimeout; callers turn infinite delays into Scheduler.never. */
function clampDelay(delayMs: number): number {
  if (!Number.isFinite(delayMs)) assert(false, `timer delay must be finite, not ${delayMs}`);
  return delayMs > 0 ? delayMs : 0;
}
