// The waiting primitives of the barrier: an error monitor (HBase's ForeignExceptionDispatcher), a
// one-shot latch that parks a logical thread visibly, and the set of members still missing.
import type { Clock, TimerHandle } from '../substrate/types.js';
import type { LogicalThread, WaitDescriptor } from '../threads/index.js';
import { assert } from '../util/assert.js';
import type { ForeignException } from './errors.js';

type ErrorListener = (error: ForeignException) => void;

/** Holds the first error a procedure or subprocedure receives; later ones are dropped. */
export class ForeignExceptionDispatcher {
  private error: ForeignException | null = null;
  private listeners: ErrorListener[] = [];

  get exception(): ForeignException | null {
    return this.error;
  }

  /** Records the error (first one wins) and tells every listener once. */
  receive(error: ForeignException): boolean {
    if (this.error) return false;
    this.error = error;
    const ls = this.listeners;
    this.listeners = [];
    for (const l of ls) l(error);
    return true;
  }

  rethrowException(): void {
    if (this.error) throw this.error;
  }

  /** Returns an unsubscribe function; a listener added after the error is called at once. */
  addListener(listener: ErrorListener): () => void {
    if (this.error) {
      listener(this.error);
      return () => {};
    }
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }
}

/**
 * A one-shot latch. Waiting parks the logical thread with a wait descriptor (what a dump shows)
 * until the latch is released or the monitor holds an error. Like HBase's waitForLatch the wait
 * also wakes every wakeIntervalMs to re-check the monitor, which here is only a safety net: errors
 * wake the waiter at once, so an abort never waits for the next wake.
 */
export class BarrierLatch {
  private released = false;
  private waiters: (() => void)[] = [];

  get isReleased(): boolean {
    return this.released;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Parks `thread` with `wait` until released; throws the monitor's error if one arrives. */
  async await(
    thread: LogicalThread,
    wait: WaitDescriptor,
    monitor: ForeignExceptionDispatcher,
    clock: Clock,
    wakeIntervalMs: number,
  ): Promise<void> {
    assert(wakeIntervalMs > 0, 'wake interval must be positive');
    monitor.rethrowException();
    if (this.released) return;
    await thread.waitOn(
      wait,
      new Promise<void>((resolve) => {
        let done = false;
        let timer: TimerHandle | undefined;
        const finish = (): void => {
          if (done) return;
          done = true;
          timer?.cancel();
          unsubscribe();
          resolve();
        };
        const wake = (): void => {
          if (monitor.exception || this.released) finish();
          else timer = clock.setTimer(wakeIntervalMs, wake);
        };
        this.waiters.push(finish);
        const unsubscribe = monitor.addListener(finish);
        if (!done) timer = clock.setTimer(wakeIntervalMs, wake);
      }),
    );
    monitor.rethrowException();
  }
}

/**
 * Member names with O(1) removal. `list` is a live array: wait descriptors hold it by reference,
 * so a dump always shows exactly who is still missing without copying on every arrival (which
 * would be quadratic at 10,000 members). Removal swaps with the last entry, so order is not kept.
 */
export class MemberSet {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();

  constructor(members: Iterable<string> = []) {
    for (const m of members) this.add(m);
  }

  get size(): number {
    return this.list.length;
  }

  has(member: string): boolean {
    return this.index.has(member);
  }

  add(member: string): boolean {
    if (this.index.has(member)) return false;
    this.index.set(member, this.list.length);
    this.list.push(member);
    return true;
  }

  delete(member: string): boolean {
    const i = this.index.get(member);
    if (i === undefined) return false;
    const last = this.list.pop()!;
    this.index.delete(member);
    if (last !== member) {
      this.list[i] = last;
      this.index.set(last, i);
    }
    return true;
  }
}
