import { assert } from '../util/assert.js';
import type { Clock } from '../substrate/types.js';
import type { Serving, ThreadCounters, ThreadSnapshot, ThreadState, WaitDescriptor } from './types.js';

export type WaitObserver = (thread: LogicalThread, wait: WaitDescriptor) => void;

/** Bound on nesting: a deeper stack is a runaway recursion, not a program. */
export const MAX_FRAMES = 256;

/**
 * A JVM-like thread made explicit. Node.js runs everything on one thread, so each handler, pool
 * worker and timer that would be a JVM thread is a LogicalThread that the code running "on" it
 * passes along. Its code is sequential (one task at a time), so the frame stack stays a stack
 * across awaits.
 */
export class LogicalThread {
  state: ThreadState = 'RUNNABLE';
  /** Outermost first (push order); dumps reverse it. */
  readonly frames: string[] = [];
  wait: (WaitDescriptor & { sinceMs: number }) | null = null;
  serving: Serving | null = null;
  readonly counters: ThreadCounters = { steps: 0, completed: 0, waited: 0, blocked: 0 };
  alive = true;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly pool: string | null,
    readonly daemon: boolean,
    readonly startedAtMs: number,
    private readonly clock: Clock,
    private readonly observe: WaitObserver | undefined,
  ) {}

  /** Runs fn with `frame` on top of this thread's stack for its whole (async) duration. */
  async run<T>(frame: string, fn: () => Promise<T>): Promise<T> {
    const depth = this.push(frame);
    try {
      return await fn();
    } finally {
      this.pop(depth, frame);
    }
  }

  /** Synchronous variant of run. */
  runSync<T>(frame: string, fn: () => T): T {
    const depth = this.push(frame);
    try {
      return fn();
    } finally {
      this.pop(depth, frame);
    }
  }

  /**
   * Parks this thread on `promise`, recording what it waits on, as a JVM thread parked in a
   * synchronous call would show in a dump.
   */
  async waitOn<T>(wait: WaitDescriptor, promise: Promise<T>, state?: ThreadState): Promise<T> {
    assert(this.wait === null, `thread ${this.name} is already waiting`);
    const previous = this.state;
    this.state = state ?? defaultState(wait);
    this.wait = { ...wait, sinceMs: this.clock.nowMs() };
    this.counters.steps++;
    if (wait.kind === 'lock') this.counters.blocked++;
    else this.counters.waited++;
    this.observe?.(this, wait);
    try {
      return await promise;
    } finally {
      this.wait = null;
      this.state = previous;
      this.counters.steps++;
    }
  }

  /** Updates the missing-member list of a barrier wait in place (the dump shows who is late). */
  updateWait(update: Partial<WaitDescriptor>): void {
    if (this.wait) Object.assign(this.wait, update);
  }

  setIdle(): void {
    this.state = 'IDLE';
    this.counters.steps++;
  }

  setRunnable(): void {
    this.state = 'RUNNABLE';
    this.counters.steps++;
  }

  snapshot(): ThreadSnapshot {
    return {
      id: this.id,
      name: this.name,
      pool: this.pool,
      daemon: this.daemon,
      state: this.state,
      frames: [...this.frames].reverse(),
      wait: this.wait
        ? { ...this.wait, ...(this.wait.kind === 'barrier' ? { missing: [...this.wait.missing] } : {}) }
        : null,
      serving: this.serving ? { ...this.serving } : null,
      counters: { ...this.counters },
      startedAtMs: this.startedAtMs,
    };
  }

  /** Pushes a frame that outlives one call (a pool worker's idle frame); pair with leave(). */
  enter(frame: string): void {
    this.push(frame);
  }

  leave(frame: string): void {
    this.pop(this.frames.length, frame);
  }

  private push(frame: string): number {
    assert(this.frames.length < MAX_FRAMES, `thread ${this.name}: stack deeper than ${MAX_FRAMES}`);
    this.frames.push(frame);
    this.counters.steps++;
    return this.frames.length;
  }

  private pop(depth: number, frame: string): void {
    // A mismatch means two tasks ran on one logical thread at once: a bug in the caller.
    assert(
      this.frames.length === depth && this.frames[depth - 1] === frame,
      `thread ${this.name}: frame ${frame} left out of order (stack ${this.frames.join(' > ')})`,
    );
    this.frames.pop();
    this.counters.steps++;
  }
}

function defaultState(wait: WaitDescriptor): ThreadState {
  switch (wait.kind) {
    case 'lock':
      return 'BLOCKED';
    // Like HBase: a barrier waits on a latch with the wake interval as timeout; a blocking RPC
    // waits on its callback's monitor without one (the call timer lives elsewhere).
    case 'timer':
    case 'barrier':
      return 'TIMED_WAITING';
    default:
      return 'WAITING';
  }
}
