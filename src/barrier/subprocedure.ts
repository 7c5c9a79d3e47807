// A member's part of a procedure (HBase's Subprocedure): acquire locally, report acquired, wait for
// the coordinator's reached, run the inside-barrier work, report completed with its result. Any
// local error or the member timer cancels it and tells the coordinator; an abort from the
// coordinator cancels it without echoing back.
import type { Clock } from '../substrate/types.js';
import type { LogicalThread, ThreadRegistry } from '../threads/index.js';
import { ForeignException } from './errors.js';
import { FRAMES } from './frames.js';
import { BarrierLatch, ForeignExceptionDispatcher } from './latch.js';
import type { ProcedureMemberRpcs, ProcedureRef } from './transport.js';

/** What a subprocedure needs from its member. */
export interface SubprocedureContext {
  member: string;
  /** The coordinator that sent acquire: the node the 'reached' wait names. */
  coordinator: string;
  rpcs: ProcedureMemberRpcs;
  clock: Clock;
  threads: ThreadRegistry;
  wakeIntervalMs: number;
  timeoutMs: number;
  log: (message: string) => void;
}

export abstract class Subprocedure {
  protected readonly monitor = new ForeignExceptionDispatcher();
  private readonly inGlobalBarrier = new BarrierLatch();
  private completeValue = false;
  private reportedAbort = false;
  private phase: 'created' | 'acquiring' | 'waiting-reached' | 'inside' | 'reporting' | 'done' = 'created';
  private resolveDone!: () => void;
  /** Aborted with the subprocedure: calls made inside it are withdrawn, releasing its thread. */
  private readonly cancellation = new AbortController();
  /** Resolves when call() returned, whatever the outcome. */
  readonly done: Promise<void>;

  constructor(
    protected readonly ctx: SubprocedureContext,
    readonly ref: ProcedureRef,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Gathers what the barrier needs locally (a no-op for rolllog). */
  abstract acquireBarrier(thread: LogicalThread): Promise<void>;
  /** The work done while every member holds the barrier; returns the member's result (JSON). */
  abstract insideBarrier(thread: LogicalThread): Promise<unknown>;
  /** Releases whatever acquireBarrier or insideBarrier left behind after a failure. */
  async cleanup(_thread: LogicalThread, _error: ForeignException): Promise<void> {}

  get isComplete(): boolean {
    return this.completeValue;
  }

  /** Pass to blocking calls made inside the barrier, so an abort releases this member at once. */
  protected get signal(): AbortSignal {
    return this.cancellation.signal;
  }

  get error(): ForeignException | null {
    return this.monitor.exception;
  }

  /** The subprocedure thread's body. */
  async call(thread: LogicalThread): Promise<void> {
    const { clock, rpcs } = this.ctx;
    const timer = clock.setTimer(this.ctx.timeoutMs, () =>
      this.cancel(
        new ForeignException(
          this.ctx.member,
          `subprocedure ${this.ref.name} (instance ${this.ref.instance}) timed out after ${this.ctx.timeoutMs} ms in phase ${this.phase}`,
          true,
        ),
      ),
    );
    try {
      this.monitor.rethrowException();
      this.phase = 'acquiring';
      await thread.run(FRAMES.acquireBarrier, () => this.acquireBarrier(thread));
      this.monitor.rethrowException();
      await thread.run(FRAMES.sendMemberAcquired, () => rpcs.sendMemberAcquired(thread, this.ref));
      this.phase = 'waiting-reached';
      await thread.run(FRAMES.waitForReachedGlobalBarrier, () =>
        this.inGlobalBarrier.await(
          thread,
          {
            kind: 'barrier',
            procedure: this.ref.name,
            instance: this.ref.instance,
            phase: 'reached',
            missing: [this.ctx.coordinator],
          },
          this.monitor,
          clock,
          this.ctx.wakeIntervalMs,
        ),
      );
      this.phase = 'inside';
      const data = await thread.run(FRAMES.insideBarrier, () => this.insideBarrier(thread));
      this.monitor.rethrowException();
      this.phase = 'reporting';
      await thread.run(FRAMES.sendMemberCompleted, () => rpcs.sendMemberCompleted(thread, this.ref, data));
    } catch (err) {
      const error = ForeignException.wrap(this.ctx.member, err);
      this.monitor.receive(error);
      const first = this.monitor.exception!;
      if (this.claimReport(first)) await this.reportAbort(thread, first);
      try {
        await thread.run(FRAMES.subprocedureCleanup, () => this.cleanup(thread, first));
      } catch (e) {
        this.ctx.log(`${this.ctx.member}: cleanup of ${this.ref.name} failed: ${(e as Error).message}`);
      }
    } finally {
      timer.cancel();
      this.phase = 'done';
      this.completeValue = true;
      this.resolveDone();
    }
  }

  receiveReachedGlobalBarrier(): void {
    this.inGlobalBarrier.release();
  }

  /**
   * Cancels from outside the subprocedure thread (member timer, coordinator abort, shutdown). A
   * local error is reported to the coordinator at once from a short-lived thread, since the
   * subprocedure thread may be parked in a call it cannot leave (HBase reports from its timer
   * thread the same way).
   */
  cancel(error: ForeignException): void {
    if (this.phase === 'done') return;
    // HBase marks a cancelled subprocedure complete at once, so the next acquire of the same
    // name is accepted even while this thread is still stuck in a call.
    this.completeValue = true;
    if (!this.monitor.receive(error)) return;
    this.cancellation.abort(error);
    this.ctx.log(`${this.ctx.member}: subprocedure ${this.ref.name} cancelled: ${error.message}`);
    if (!this.claimReport(error)) return;
    void this.ctx.threads
      .withThread(`member: '${this.ctx.member}' abort-notifier`, FRAMES.timeoutInjector, (t) =>
        this.reportAbort(t, error),
      )
      .catch(() => {});
  }

  private claimReport(error: ForeignException): boolean {
    if (error.remote || this.reportedAbort) return false;
    this.reportedAbort = true;
    return true;
  }

  private async reportAbort(thread: LogicalThread, error: ForeignException): Promise<void> {
    try {
      await thread.run(FRAMES.sendMemberAborted, () => this.ctx.rpcs.sendMemberAborted(thread, this.ref, error));
    } catch (e) {
      this.ctx.log(
        `${this.ctx.member}: cannot reach the coordinator to report ${error.message}: ${(e as Error).message}`,
      );
    }
  }
}

/** Builds the subprocedure for an acquire message; throws if the arguments are unusable. */
export type SubprocedureFactory = (ctx: SubprocedureContext, ref: ProcedureRef, args: unknown) => Subprocedure;
