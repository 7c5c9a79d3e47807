// The coordinator's view of one run of a two-phase procedure (HBase's Procedure): send acquire,
// wait for every member to acquire, send reached, wait for every member to finish, then complete —
// or abort on the first error from anyone, or when the procedure timer fires.
import type { Clock } from '../substrate/types.js';
import type { LogicalThread, WaitDescriptor } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { ForeignException } from './errors.js';
import { FRAMES } from './frames.js';
import { BarrierLatch, ForeignExceptionDispatcher, MemberSet } from './latch.js';
import type { ProcedureCoordinatorRpcs, ProcedureRef } from './transport.js';

export type ProcedureState = 'pending' | 'acquiring' | 'in-barrier' | 'after-barrier' | 'completed' | 'aborted';

/** Runs on the coordinator thread once every member finished; its result completes the procedure. */
export type AfterBarrier<R> = (thread: LogicalThread, results: ReadonlyMap<string, unknown>) => Promise<R>;

/** Monotonic milliseconds at which each phase ended (undefined if it never did). */
export interface PhaseTimes {
  startedMs: number;
  acquiredMs?: number;
  releasedMs?: number;
  afterBarrierMs?: number;
  finishedMs?: number;
}

export interface ProcedureOutcome<R> {
  ok: boolean;
  procId: number;
  ref: ProcedureRef;
  members: number;
  error?: ForeignException;
  result?: R;
  results: ReadonlyMap<string, unknown>;
  phases: PhaseTimes;
}

export interface MemberTiming {
  member: string;
  /** Milliseconds from the procedure's start to the member's report. */
  acquiredAfterMs?: number;
  completedAfterMs?: number;
}

export interface ProcedureEnv {
  coordinator: string;
  rpcs: ProcedureCoordinatorRpcs;
  clock: Clock;
  wakeIntervalMs: number;
  log: (message: string) => void;
  onFinished: (proc: Procedure<unknown>) => void;
}

export class Procedure<R = unknown> {
  private readonly monitor = new ForeignExceptionDispatcher();
  private readonly expected: readonly string[];
  private readonly acquiring: MemberSet;
  private readonly inBarrier = new MemberSet();
  private readonly acquiredLatch = new BarrierLatch();
  private readonly releasedLatch = new BarrierLatch();
  private readonly results = new Map<string, unknown>();
  private readonly acquiredAt = new Map<string, number>();
  private readonly completedAt = new Map<string, number>();
  /** Threads parked in waitForCompleted: their wait descriptor follows the phase. */
  private readonly watchers = new Set<LogicalThread>();
  private stateValue: ProcedureState = 'pending';
  private readonly phases: PhaseTimes;
  private outcomeValue: ProcedureOutcome<R> | undefined;
  private resolveCompletion!: (o: ProcedureOutcome<R>) => void;
  /** Resolves (never rejects) when the procedure completed or aborted. */
  readonly completion: Promise<ProcedureOutcome<R>>;
  readonly deadlineMs: number;

  constructor(
    private readonly env: ProcedureEnv,
    readonly procId: number,
    readonly ref: ProcedureRef,
    readonly args: unknown,
    members: readonly string[],
    readonly timeoutMs: number,
    private readonly afterBarrier?: AfterBarrier<R>,
  ) {
    assert(timeoutMs > 0, 'procedure timeout must be positive');
    this.expected = [...members];
    this.acquiring = new MemberSet(members);
    assert(this.acquiring.size === members.length, `procedure ${ref.name}: duplicate member names`);
    const now = env.clock.nowMs();
    this.phases = { startedMs: now };
    this.deadlineMs = now + timeoutMs;
    this.completion = new Promise((r) => (this.resolveCompletion = r));
    if (members.length === 0) {
      this.acquiredLatch.release();
      this.releasedLatch.release();
    }
  }

  get state(): ProcedureState {
    return this.stateValue;
  }

  get members(): readonly string[] {
    return this.expected;
  }

  get outcome(): ProcedureOutcome<R> | undefined {
    return this.outcomeValue;
  }

  get phaseTimes(): Readonly<PhaseTimes> {
    return this.phases;
  }

  get error(): ForeignException | null {
    return this.monitor.exception;
  }

  /** Members whose report the procedure is waiting for in its current phase (a live view). */
  missing(): readonly string[] {
    return this.stateValue === 'acquiring' || this.stateValue === 'pending' ? this.acquiring.list : this.inBarrier.list;
  }

  timings(): MemberTiming[] {
    const start = this.phases.startedMs;
    return this.expected.map((m) => {
      const a = this.acquiredAt.get(m);
      const c = this.completedAt.get(m);
      return {
        member: m,
        ...(a === undefined ? {} : { acquiredAfterMs: a - start }),
        ...(c === undefined ? {} : { completedAfterMs: c - start }),
      };
    });
  }

  /** The coordinator thread's body (HBase's Procedure.call). */
  async call(thread: LogicalThread): Promise<void> {
    const clock = this.env.clock;
    const timer = clock.setTimer(this.timeoutMs, () => {
      const missing = this.missing();
      this.receive(
        new ForeignException(
          this.env.coordinator,
          `procedure ${this.ref.name} (instance ${this.ref.instance}) timed out after ${this.timeoutMs} ms in phase ${this.stateValue}; ` +
            `${missing.length} of ${this.expected.length} members missing: ${listMembers(missing)}`,
          true,
        ),
      );
    });
    let result: R | undefined;
    try {
      this.monitor.rethrowException();
      this.setState('acquiring');
      await thread.run(FRAMES.sendGlobalBarrierStart, () =>
        this.env.rpcs.sendGlobalBarrierAcquire(thread, this.ref, this.args, this.expected),
      );
      await thread.run(FRAMES.waitForLatch, () =>
        this.acquiredLatch.await(thread, this.barrierWait('acquired'), this.monitor, clock, this.env.wakeIntervalMs),
      );
      this.phases.acquiredMs = clock.nowMs();
      this.setState('in-barrier');
      await thread.run(FRAMES.sendGlobalBarrierReached, () =>
        this.env.rpcs.sendGlobalBarrierReached(thread, this.ref, [...this.inBarrier.list]),
      );
      await thread.run(FRAMES.waitForLatch, () =>
        this.releasedLatch.await(thread, this.barrierWait('completed'), this.monitor, clock, this.env.wakeIntervalMs),
      );
      this.phases.releasedMs = clock.nowMs();
      this.setState('after-barrier');
      if (this.afterBarrier) {
        const after = this.afterBarrier;
        result = await thread.run(FRAMES.afterBarrier, () => after(thread, this.results));
      }
      // An error that arrives after the after-barrier work succeeded must not undo the outcome.
      this.phases.afterBarrierMs = clock.nowMs();
    } catch (err) {
      this.monitor.receive(ForeignException.wrap(this.env.coordinator, err));
      const error = this.monitor.exception!;
      this.env.log(`procedure ${this.ref.name} (instance ${this.ref.instance}) aborted: ${error.message}`);
      try {
        await thread.run(FRAMES.sendAbortToMembers, () =>
          this.env.rpcs.sendAbortToMembers(thread, this.ref, error, this.expected),
        );
      } catch (e) {
        this.env.log(`procedure ${this.ref.name}: sending abort failed: ${(e as Error).message}`);
      }
    } finally {
      timer.cancel();
      try {
        await thread.run(FRAMES.sendGlobalBarrierComplete, () =>
          this.env.rpcs.resetMembers(thread, this.ref, this.expected),
        );
      } catch (e) {
        this.env.log(`procedure ${this.ref.name}: reset failed: ${(e as Error).message}`);
      }
      this.finish(result);
    }
  }

  /** A member acquired its part of the barrier. */
  barrierAcquiredByMember(member: string): void {
    if (!this.acquiring.delete(member)) {
      if (!this.inBarrier.has(member)) this.env.log(`procedure ${this.ref.name}: unexpected acquire from ${member}`);
      return;
    }
    this.acquiredAt.set(member, this.env.clock.nowMs());
    this.inBarrier.add(member);
    if (this.acquiring.size === 0) this.acquiredLatch.release();
  }

  /** A member finished its inside-barrier work; `data` is its result. */
  barrierReleasedByMember(member: string, data: unknown): void {
    if (this.acquiring.size > 0 || !this.inBarrier.delete(member)) {
      this.env.log(`procedure ${this.ref.name}: unexpected completion from ${member}`);
      return;
    }
    this.completedAt.set(member, this.env.clock.nowMs());
    this.results.set(member, data);
    if (this.inBarrier.size === 0) this.releasedLatch.release();
  }

  /** Aborts the procedure with `error` (first error wins); the coordinator thread tells the members. */
  receive(error: ForeignException): void {
    this.monitor.receive(error);
  }

  /**
   * Parks `thread` until the procedure ends (how a legacy client call holds its handler). The
   * wait descriptor names the members the procedure still waits for and follows its phases.
   */
  async waitForCompleted(thread: LogicalThread): Promise<ProcedureOutcome<R>> {
    if (this.outcomeValue) return this.outcomeValue;
    this.watchers.add(thread);
    try {
      return await thread.run(FRAMES.waitForCompleted, () =>
        thread.waitOn(this.barrierWait(this.waitPhase()), this.completion),
      );
    } finally {
      this.watchers.delete(thread);
    }
  }

  private waitPhase(): 'acquired' | 'completed' {
    return this.stateValue === 'pending' || this.stateValue === 'acquiring' ? 'acquired' : 'completed';
  }

  private barrierWait(phase: 'acquired' | 'completed'): WaitDescriptor {
    return {
      kind: 'barrier',
      procedure: this.ref.name,
      instance: this.ref.instance,
      phase,
      missing: phase === 'acquired' ? this.acquiring.list : this.inBarrier.list,
      deadlineMs: this.deadlineMs,
    };
  }

  private setState(state: ProcedureState): void {
    this.stateValue = state;
    if (this.watchers.size === 0) return;
    const phase = this.waitPhase();
    const missing = phase === 'acquired' ? this.acquiring.list : this.inBarrier.list;
    for (const t of this.watchers) t.updateWait({ phase, missing });
  }

  private finish(result: R | undefined): void {
    const error = this.monitor.exception ?? undefined;
    this.phases.finishedMs = this.env.clock.nowMs();
    this.setState(error ? 'aborted' : 'completed');
    this.outcomeValue = {
      ok: error === undefined,
      procId: this.procId,
      ref: this.ref,
      members: this.expected.length,
      ...(error ? { error } : { result }),
      results: this.results,
      phases: this.phases,
    };
    this.env.onFinished(this as Procedure<unknown>);
    this.resolveCompletion(this.outcomeValue);
  }
}

/** Lists members for an error message: all of them up to a bound, then a count. */
export function listMembers(members: readonly string[], max = 20): string {
  if (members.length === 0) return '(none)';
  const shown = [...members].sort().slice(0, max).join(', ');
  return members.length > max ? `${shown} and ${members.length - max} more` : shown;
}
