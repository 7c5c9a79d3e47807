// The master side of the barrier framework (HBase's ProcedureCoordinator): starts procedures on
// its own pool of coordinator threads, routes member reports to the running procedure, and keeps
// a bounded history of finished ones for clients that poll.
import type { Clock } from '../substrate/types.js';
import type { ThreadRegistry } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { ForeignException, ProcedureRejectedError, RejectedExecutionError } from './errors.js';
import { ThreadPoolExecutor } from './executor.js';
import { FRAMES } from './frames.js';
import { Procedure, type AfterBarrier } from './procedure.js';
import type { CoordinatorCallbacks, ProcedureCoordinatorRpcs, ProcedureRef, ResumeSpec } from './transport.js';
import { formatRef } from './transport.js';

export const COORDINATOR_DEFAULTS = {
  poolThreads: 8,
  timeoutMs: 60_000,
  wakeIntervalMs: 500,
  historyLimit: 1000,
} as const;

export interface CoordinatorOptions {
  /** The coordinator's node name; members waiting for 'reached' wait on it. */
  node: string;
  rpcs: ProcedureCoordinatorRpcs;
  threads: ThreadRegistry;
  clock: Clock;
  poolThreads?: number;
  timeoutMs?: number;
  wakeIntervalMs?: number;
  /** Finished procedures kept for getProcedure; older ones are forgotten. */
  historyLimit?: number;
  log?: (message: string) => void;
}

export interface StartSpec<R> {
  signature: string;
  name: string;
  args: unknown;
  members: readonly string[];
  timeoutMs?: number;
  afterBarrier?: AfterBarrier<R>;
}

export class ProcedureCoordinator implements CoordinatorCallbacks {
  readonly name: string;
  private readonly pool: ThreadPoolExecutor;
  /** Running procedures by name: at most one per name. */
  private readonly running = new Map<string, Procedure<unknown>>();
  /** Running and recently finished procedures by id, oldest first. */
  private readonly byId = new Map<number, Procedure<unknown>>();
  private nextId = 1;
  /** Distinguishes this coordinator's instances from an earlier incarnation's after a restart. */
  private readonly epoch: string;
  private readonly log: (message: string) => void;
  private started = false;

  constructor(private readonly options: CoordinatorOptions) {
    this.name = options.node;
    this.log = options.log ?? (() => {});
    this.epoch = Math.floor(options.clock.wallMs()).toString(36);
    this.pool = new ThreadPoolExecutor({
      threads: options.threads,
      pool: 'proc-coordinator',
      threadName: (n) => `(${options.node})-proc-coordinator-pool-${n}`,
      maxThreads: options.poolThreads ?? COORDINATOR_DEFAULTS.poolThreads,
      maxQueued: 0,
      onError: this.log,
    });
  }

  async start(): Promise<void> {
    assert(!this.started, 'coordinator already started');
    this.started = true;
    await this.options.rpcs.start(this);
  }

  /**
   * Starts a procedure on a coordinator thread and returns it at once. Throws
   * ProcedureRejectedError when one of that name is running or the pool is full.
   */
  startProcedure<R>(spec: StartSpec<R>): Procedure<R> {
    this.checkNotRunning(spec.name, 'the new request');
    const procId = this.nextId++;
    const ref: ProcedureRef = { signature: spec.signature, name: spec.name, instance: `${procId}.${this.epoch}` };
    return this.launch<R>(
      procId,
      ref,
      spec.args,
      spec.members,
      spec.timeoutMs ?? this.options.timeoutMs ?? COORDINATOR_DEFAULTS.timeoutMs,
      spec.afterBarrier,
    );
  }

  /**
   * Takes over a run another coordinator started (after a master failover): same ref, members and
   * args, the time it has left, and a local procId. It is tracked like this coordinator's own runs
   * (member reports, getProcedure, latest, findByInstance). Throws like startProcedure.
   */
  resumeProcedure(spec: ResumeSpec): Procedure<unknown> {
    this.checkNotRunning(spec.ref.name, `the resumed run ${spec.ref.instance}`);
    return this.launch<unknown>(this.nextId++, spec.ref, spec.args, spec.members, spec.timeoutMs, spec.afterBarrier);
  }

  /** Aborts the running procedure `name` with `error`; false if none runs. */
  abortProcedure(name: string, error: ForeignException): boolean {
    const proc = this.running.get(name);
    if (!proc) return false;
    proc.receive(error);
    return true;
  }

  getProcedure(procId: number): Procedure<unknown> | undefined {
    return this.byId.get(procId);
  }

  getRunning(name: string): Procedure<unknown> | undefined {
    return this.running.get(name);
  }

  /** The run with that instance (unique across coordinators), running or finished. */
  findByInstance(instance: string): Procedure<unknown> | undefined {
    for (const p of this.running.values()) if (p.ref.instance === instance) return p;
    for (const p of this.byId.values()) if (p.ref.instance === instance) return p;
    return undefined;
  }

  /** The most recent procedure of that name, running or finished. */
  latest(name: string): Procedure<unknown> | undefined {
    const running = this.running.get(name);
    if (running) return running;
    let last: Procedure<unknown> | undefined;
    for (const p of this.byId.values()) if (p.ref.name === name) last = p;
    return last;
  }

  runningProcedures(): Procedure<unknown>[] {
    return [...this.running.values()];
  }

  memberAcquiredBarrier(ref: ProcedureRef, member: string): void {
    this.find(ref, member, 'acquired')?.barrierAcquiredByMember(member);
  }

  memberFinishedBarrier(ref: ProcedureRef, member: string, data: unknown): void {
    this.find(ref, member, 'completed')?.barrierReleasedByMember(member, data);
  }

  memberAborted(ref: ProcedureRef, error: ForeignException): void {
    this.find(ref, error.source, 'aborted')?.receive(error);
  }

  /** Aborts every running procedure and stops accepting new ones. */
  async close(): Promise<void> {
    for (const p of this.running.values()) p.receive(new ForeignException(this.name, 'coordinator is shutting down'));
    this.pool.close();
    await this.options.rpcs.close();
  }

  private checkNotRunning(name: string, what: string): void {
    const current = this.running.get(name);
    if (!current) return;
    const ageMs = Math.round(this.options.clock.nowMs() - current.phaseTimes.startedMs);
    throw new ProcedureRejectedError(
      `procedure '${name}' is already running (instance ${current.ref.instance}, started ${ageMs} ms ago, ` +
        `state ${current.state}); rejecting ${what}`,
    );
  }

  private launch<R>(
    procId: number,
    ref: ProcedureRef,
    args: unknown,
    members: readonly string[],
    timeoutMs: number,
    afterBarrier: AfterBarrier<R> | undefined,
  ): Procedure<R> {
    const proc = new Procedure<R>(
      {
        coordinator: this.name,
        rpcs: this.options.rpcs,
        clock: this.options.clock,
        wakeIntervalMs: this.options.wakeIntervalMs ?? COORDINATOR_DEFAULTS.wakeIntervalMs,
        log: this.log,
        onFinished: (p) => {
          if (this.running.get(p.ref.name) === p) this.running.delete(p.ref.name);
        },
      },
      procId,
      ref,
      args,
      members,
      timeoutMs,
      afterBarrier,
    );
    const erased = proc as unknown as Procedure<unknown>;
    this.running.set(ref.name, erased);
    try {
      this.pool.submit(FRAMES.procedureCall, (thread) => proc.call(thread));
    } catch (err) {
      this.running.delete(ref.name);
      if (err instanceof RejectedExecutionError) {
        throw new ProcedureRejectedError(`procedure '${ref.name}' rejected by the coordinator pool: ${err.message}`);
      }
      throw err;
    }
    this.remember(erased);
    return proc;
  }

  private find(ref: ProcedureRef, member: string, what: string): Procedure<unknown> | undefined {
    const proc = this.running.get(ref.name);
    if (!proc || proc.ref.instance !== ref.instance) {
      this.log(`member '${member}' reported ${what} for ${formatRef(ref)}, which is not running here; ignored`);
      return undefined;
    }
    return proc;
  }

  private remember(proc: Procedure<unknown>): void {
    this.byId.set(proc.procId, proc);
    const limit = this.options.historyLimit ?? COORDINATOR_DEFAULTS.historyLimit;
    if (this.byId.size <= limit) return;
    for (const [id, p] of this.byId) {
      if (this.byId.size <= limit) break;
      if (p.outcome) this.byId.delete(id);
    }
  }
}
