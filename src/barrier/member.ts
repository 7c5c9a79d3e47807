// The worker side of the barrier framework (HBase's ProcedureMember): builds a subprocedure for
// each acquire and runs it on the member's subprocedure pool; routes reached and abort to it.
import type { Clock } from '../substrate/types.js';
import type { ThreadRegistry } from '../threads/index.js';
import { ForeignException, ProcedureRejectedError, RejectedExecutionError } from './errors.js';
import { ThreadPoolExecutor } from './executor.js';
import { FRAMES } from './frames.js';
import type { Subprocedure, SubprocedureFactory } from './subprocedure.js';
import type { MemberCallbacks, ProcedureMemberRpcs, ProcedureRef } from './transport.js';
import { formatRef } from './transport.js';

export const MEMBER_DEFAULTS = {
  poolThreads: 10,
  timeoutMs: 60_000,
  wakeIntervalMs: 500,
} as const;

export interface MemberOptions {
  node: string;
  rpcs: ProcedureMemberRpcs;
  threads: ThreadRegistry;
  clock: Clock;
  factory: SubprocedureFactory;
  poolThreads?: number;
  /** The member timer: a subprocedure running longer aborts locally. */
  timeoutMs?: number;
  wakeIntervalMs?: number;
  log?: (message: string) => void;
}

export class ProcedureMember implements MemberCallbacks {
  readonly name: string;
  private readonly pool: ThreadPoolExecutor;
  /** Subprocedures by procedure name; a finished one stays until the next of its name replaces it. */
  private readonly subprocs = new Map<string, Subprocedure>();
  private readonly log: (message: string) => void;
  private closed = false;

  constructor(private readonly options: MemberOptions) {
    this.name = options.node;
    this.log = options.log ?? (() => {});
    this.pool = new ThreadPoolExecutor({
      threads: options.threads,
      pool: 'subprocedure',
      threadName: (n) => `member: '${options.node}' subprocedure-pool-${n}`,
      maxThreads: options.poolThreads ?? MEMBER_DEFAULTS.poolThreads,
      maxQueued: 0,
      onError: this.log,
    });
  }

  async start(): Promise<void> {
    await this.options.rpcs.start(this);
  }

  receivedAcquire(ref: ProcedureRef, args: unknown, coordinator: string): void {
    if (this.closed) throw new ProcedureRejectedError(`member ${this.name} is shutting down`);
    const existing = this.subprocs.get(ref.name);
    if (existing) {
      // A repeated acquire for the same run (a retried send) is not an error.
      if (existing.ref.instance === ref.instance) return;
      if (!existing.isComplete) {
        throw new ProcedureRejectedError(
          `subprocedure '${ref.name}' is already running on ${this.name} (instance ${existing.ref.instance})`,
        );
      }
    }
    const sub = this.options.factory(
      {
        member: this.name,
        coordinator,
        rpcs: this.options.rpcs,
        clock: this.options.clock,
        threads: this.options.threads,
        wakeIntervalMs: this.options.wakeIntervalMs ?? MEMBER_DEFAULTS.wakeIntervalMs,
        timeoutMs: this.options.timeoutMs ?? MEMBER_DEFAULTS.timeoutMs,
        log: this.log,
      },
      ref,
      args,
    );
    try {
      this.pool.submit(FRAMES.subprocedureCall, (thread) => sub.call(thread));
    } catch (err) {
      if (err instanceof RejectedExecutionError) {
        throw new ProcedureRejectedError(`subprocedure pool of ${this.name} is full: ${err.message}`);
      }
      throw err;
    }
    this.subprocs.set(ref.name, sub);
  }

  receivedReachedGlobalBarrier(ref: ProcedureRef): void {
    const sub = this.find(ref);
    if (!sub) {
      this.log(`${this.name}: reached for ${formatRef(ref)}, which does not run here; ignored`);
      return;
    }
    sub.receiveReachedGlobalBarrier();
  }

  receiveAbortProcedure(ref: ProcedureRef, error: ForeignException): void {
    // An abort for a run this member never started (or already finished) needs no action.
    this.find(ref)?.cancel(error);
  }

  /** The subprocedure of that name, running or the last finished. */
  subprocedure(name: string): Subprocedure | undefined {
    return this.subprocs.get(name);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.subprocs.values()) {
      if (!s.isComplete) s.cancel(new ForeignException(this.name, 'member is shutting down'));
    }
    this.pool.close();
    await this.options.rpcs.close();
  }

  private find(ref: ProcedureRef): Subprocedure | undefined {
    const sub = this.subprocs.get(ref.name);
    return sub && sub.ref.instance === ref.instance ? sub : undefined;
  }
}
