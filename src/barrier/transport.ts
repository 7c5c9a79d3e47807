// The barrier framework's transport: how a coordinator and its members exchange the five
// messages of a two-phase procedure. Two implementations are planned: RPC (rpc-transport.ts) and
// ZooKeeper, with HBase's znode layout:
//
//   <root>/<signature>/acquired/<name>/<member>   member -> coordinator: acquired (data: instance)
//   <root>/<signature>/reached/<name>             coordinator -> members: run inside the barrier
//   <root>/<signature>/reached/<name>/<member>    member -> coordinator: completed (data: result)
//   <root>/<signature>/abort/<name>               either way: a serialized ForeignExceptionWire
//
// Contract for an implementation:
// - Every message names its procedure with a ProcedureRef; a receiver drops messages whose
//   `instance` is not the one it runs (stale messages from an earlier run of the same name).
// - Sends may complete before delivery. A send that cannot reach a member must be reported as
//   that member's failure (CoordinatorCallbacks.memberAborted with a ForeignException whose
//   source is the member), so the procedure aborts naming it instead of waiting for its timer.
// - Sends run on the logical thread passed in; an implementation that blocks (a ZooKeeper
//   round trip) must park that thread with thread.waitOn so dumps show it.
// - args and member data are JSON values (they are serialized into messages or znodes).
import type { LogicalThread } from '../threads/index.js';
import type { ForeignException } from './errors.js';
import type { AfterBarrier, Procedure } from './procedure.js';

/** Names one run of a procedure. */
export interface ProcedureRef {
  /** Procedure kind, e.g. 'rolllog-proc' (HBase's signature). */
  signature: string;
  /** Running-procedure key: one at a time per name, e.g. 'rolllog'. */
  name: string;
  /** Unique per run and coordinator incarnation; stale messages are recognized by it. */
  instance: string;
}

/** What a coordinator offers its transport: member reports. */
export interface CoordinatorCallbacks {
  readonly name: string;
  memberAcquiredBarrier(ref: ProcedureRef, member: string): void;
  memberFinishedBarrier(ref: ProcedureRef, member: string, data: unknown): void;
  memberAborted(ref: ProcedureRef, error: ForeignException): void;
  /**
   * Optional: takes over a run another coordinator started (a transport that keeps procedure state,
   * like ZooKeeper, recovers it after a master failover). The run keeps its ref; it is tracked like
   * the coordinator's own, so member reports reach it and clients polling this coordinator see it.
   * Throws when it cannot be taken (one of that name is running, the pool is full).
   */
  resumeProcedure?(spec: ResumeSpec): Procedure<unknown>;
}

/** A run another coordinator left, as a standby that took over sees it. */
export interface LeftoverRun {
  ref: ProcedureRef;
  args: unknown;
  members: readonly string[];
  /** The coordinator that started it. */
  coordinator: string;
}

/** A leftover run that ended on the coordinator that took over: aborted, or found aborting. */
export interface EndedLeftover {
  ref: ProcedureRef;
  error: ForeignException;
  members: number;
}

/** What a master does with a leftover run: finish it (with its after-barrier work) or abort it. */
export type ResumeDecision = { afterBarrier?: AfterBarrier<unknown> } | { abort: string };

/** A run resumed on a coordinator that did not start it (CoordinatorCallbacks.resumeProcedure). */
export interface ResumeSpec {
  ref: ProcedureRef;
  args: unknown;
  members: readonly string[];
  /** What is left of the run's own timeout. */
  timeoutMs: number;
  afterBarrier?: AfterBarrier<unknown>;
}

/** Coordinator side of the transport (HBase's ProcedureCoordinatorRpcs). */
export interface ProcedureCoordinatorRpcs {
  /** Binds the coordinator that receives member reports; called once before any send. */
  start(coordinator: CoordinatorCallbacks): Promise<void>;
  /** Asks each member to create its subprocedure and acquire its part of the barrier. */
  sendGlobalBarrierAcquire(
    thread: LogicalThread,
    ref: ProcedureRef,
    args: unknown,
    members: readonly string[],
  ): Promise<void>;
  /** Tells the members that everyone acquired: run the inside-barrier work. */
  sendGlobalBarrierReached(thread: LogicalThread, ref: ProcedureRef, members: readonly string[]): Promise<void>;
  /** Tells every member to abort its subprocedure (best effort; failures are not re-reported). */
  sendAbortToMembers(
    thread: LogicalThread,
    ref: ProcedureRef,
    error: ForeignException,
    members: readonly string[],
  ): Promise<void>;
  /** Clears per-procedure state after the procedure ended (znodes; nothing for RPC). */
  resetMembers(thread: LogicalThread, ref: ProcedureRef, members: readonly string[]): Promise<void>;
  /**
   * Members the transport itself knows to be alive (ZooKeeper: the members/ registrations), or
   * undefined when it does not track membership and the coordinator's owner keeps the list. Lets
   * a standby master that took over run procedures without workers re-registering with it.
   */
  liveMembers?(): readonly string[] | undefined;
  /**
   * Whether this coordinator may run procedures now (ZooKeeper: it leads the master election and
   * has recovered what the previous leader left); absent means always. A master that is not active
   * turns clients away with a retryable error, so they find the one that is.
   */
  isActive?(): boolean;
  close(): Promise<void>;
}

/** What a member offers its transport: coordinator messages. */
export interface MemberCallbacks {
  readonly name: string;
  /** Creates and starts the subprocedure; throws when it cannot (the coordinator then aborts). */
  receivedAcquire(ref: ProcedureRef, args: unknown, coordinator: string): void;
  receivedReachedGlobalBarrier(ref: ProcedureRef): void;
  receiveAbortProcedure(ref: ProcedureRef, error: ForeignException): void;
}

/** Member side of the transport (HBase's ProcedureMemberRpcs). */
export interface ProcedureMemberRpcs {
  readonly memberName: string;
  start(member: MemberCallbacks): Promise<void>;
  sendMemberAcquired(thread: LogicalThread, ref: ProcedureRef): Promise<void>;
  /** Reports the inside-barrier work done; `data` is the member's result (JSON). */
  sendMemberCompleted(thread: LogicalThread, ref: ProcedureRef, data: unknown): Promise<void>;
  sendMemberAborted(thread: LogicalThread, ref: ProcedureRef, error: ForeignException): Promise<void>;
  close(): Promise<void>;
}

export function isProcedureRef(v: unknown): v is ProcedureRef {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.signature === 'string' && typeof o.name === 'string' && typeof o.instance === 'string';
}

export function formatRef(ref: ProcedureRef): string {
  return `${ref.name} (${ref.signature}, instance ${ref.instance})`;
}
