// The barrier transport over rollcall RPC. Coordinator -> member messages go to the member's
// priority pool and are sent by a bounded dispatcher pool on the coordinator (HBase procedure-v2's
// RSProcedureDispatcher), so a procedure over thousands of members is not serialized behind one
// thread's round trips. Member -> coordinator reports are synchronous calls from the subprocedure
// thread to the coordinator's priority pool, retried on a full queue.
import type { Address } from '../substrate/types.js';
import type { LogicalThread, ThreadRegistry } from '../threads/index.js';
import type { Peer, RpcClient, RpcServer } from '../rpc/index.js';
import { assert } from '../util/assert.js';
import { ForeignException, isForeignExceptionWire, type ForeignExceptionWire } from './errors.js';
import { ThreadPoolExecutor } from './executor.js';
import type {
  CoordinatorCallbacks,
  MemberCallbacks,
  ProcedureCoordinatorRpcs,
  ProcedureMemberRpcs,
  ProcedureRef,
} from './transport.js';
import { isProcedureRef } from './transport.js';

export const BARRIER_METHODS = {
  acquire: 'ProcedureMemberService.acquire',
  reached: 'ProcedureMemberService.reached',
  abort: 'ProcedureMemberService.abort',
  memberAcquired: 'ProcedureCoordinatorService.memberAcquired',
  memberCompleted: 'ProcedureCoordinatorService.memberCompleted',
  memberAborted: 'ProcedureCoordinatorService.memberAborted',
} as const;

const SERVICE_FRAMES = {
  acquire: 'rollcall.procedure.rpc.ProcedureMemberService.acquire',
  reached: 'rollcall.procedure.rpc.ProcedureMemberService.reached',
  abort: 'rollcall.procedure.rpc.ProcedureMemberService.abort',
  memberAcquired: 'rollcall.procedure.rpc.ProcedureCoordinatorService.memberAcquired',
  memberCompleted: 'rollcall.procedure.rpc.ProcedureCoordinatorService.memberCompleted',
  memberAborted: 'rollcall.procedure.rpc.ProcedureCoordinatorService.memberAborted',
  dispatch: 'rollcall.procedure.rpc.RpcProcedureDispatcher.send',
} as const;

export const DISPATCHER_DEFAULTS = {
  threads: 128,
  /** Bound on sends waiting for a dispatcher thread: members x messages in flight. */
  maxQueued: 1_000_000,
  retries: 3,
  retryPauseMs: 20,
} as const;

interface AcquireMessage {
  ref: ProcedureRef;
  args: unknown;
  coordinator: string;
}

interface RefMessage {
  ref: ProcedureRef;
}

interface AbortMessage {
  ref: ProcedureRef;
  error: ForeignExceptionWire;
}

interface MemberReport {
  ref: ProcedureRef;
  member: string;
  data?: unknown;
}

export interface RpcCoordinatorRpcsOptions {
  node: string;
  server: RpcServer;
  /** Pool of `server` that serves member reports (keep it apart from client calls). */
  pool: string;
  client: RpcClient;
  threads: ThreadRegistry;
  /** Where a member listens; undefined for an unknown member (reported as its failure). */
  resolveMember: (member: string) => Address | undefined;
  callTimeoutMs: number;
  dispatcherThreads?: number;
  retries?: number;
  retryPauseMs?: number;
  log?: (message: string) => void;
}

export class RpcProcedureCoordinatorRpcs implements ProcedureCoordinatorRpcs {
  private coordinator: CoordinatorCallbacks | undefined;
  private readonly dispatcher: ThreadPoolExecutor;
  private readonly log: (message: string) => void;

  constructor(private readonly options: RpcCoordinatorRpcsOptions) {
    this.log = options.log ?? (() => {});
    this.dispatcher = new ThreadPoolExecutor({
      threads: options.threads,
      pool: 'procedure-dispatcher',
      threadName: (n) => `RSProcedureDispatcher-pool-${n}`,
      maxThreads: options.dispatcherThreads ?? DISPATCHER_DEFAULTS.threads,
      maxQueued: DISPATCHER_DEFAULTS.maxQueued,
      onError: this.log,
    });
  }

  async start(coordinator: CoordinatorCallbacks): Promise<void> {
    assert(!this.coordinator, 'coordinator rpcs already started');
    this.coordinator = coordinator;
    const { server, pool } = this.options;
    server.register(
      BARRIER_METHODS.memberAcquired,
      pool,
      async (a) => {
        const m = parseReport(a);
        coordinator.memberAcquiredBarrier(m.ref, m.member);
        return null;
      },
      SERVICE_FRAMES.memberAcquired,
    );
    server.register(
      BARRIER_METHODS.memberCompleted,
      pool,
      async (a) => {
        const m = parseReport(a);
        coordinator.memberFinishedBarrier(m.ref, m.member, m.data ?? null);
        return null;
      },
      SERVICE_FRAMES.memberCompleted,
    );
    server.register(
      BARRIER_METHODS.memberAborted,
      pool,
      async (a) => {
        const m = parseAbort(a);
        coordinator.memberAborted(m.ref, ForeignException.fromWire(m.error));
        return null;
      },
      SERVICE_FRAMES.memberAborted,
    );
  }

  async sendGlobalBarrierAcquire(
    _thread: LogicalThread,
    ref: ProcedureRef,
    args: unknown,
    members: readonly string[],
  ): Promise<void> {
    const msg: AcquireMessage = { ref, args, coordinator: this.options.node };
    for (const m of members) this.dispatch(m, BARRIER_METHODS.acquire, msg, ref, true);
  }

  async sendGlobalBarrierReached(_thread: LogicalThread, ref: ProcedureRef, members: readonly string[]): Promise<void> {
    const msg: RefMessage = { ref };
    for (const m of members) this.dispatch(m, BARRIER_METHODS.reached, msg, ref, true);
  }

  async sendAbortToMembers(
    _thread: LogicalThread,
    ref: ProcedureRef,
    error: ForeignException,
    members: readonly string[],
  ): Promise<void> {
    const msg: AbortMessage = { ref, error: error.toWire() };
    for (const m of members) this.dispatch(m, BARRIER_METHODS.abort, msg, ref, false);
  }

  async resetMembers(): Promise<void> {
    // Members drop a finished subprocedure by themselves; RPC keeps no shared state to clear.
  }

  async close(): Promise<void> {
    this.dispatcher.close();
  }

  /** Sends on a dispatcher thread; a failed acquire or reached is that member's failure. */
  private dispatch(member: string, method: string, msg: unknown, ref: ProcedureRef, reportFailure: boolean): void {
    const fail = (reason: string): void => {
      if (reportFailure) this.coordinator?.memberAborted(ref, new ForeignException(member, reason));
      else this.log(`${this.options.node}: ${method} to ${member} failed: ${reason}`);
    };
    const addr = this.options.resolveMember(member);
    if (!addr) {
      fail(`member ${member} is not known to ${this.options.node}`);
      return;
    }
    const peer: Peer = { node: member, addr };
    try {
      this.dispatcher.submit(SERVICE_FRAMES.dispatch, async (thread) => {
        try {
          await this.options.client.call(peer, method, msg, {
            thread,
            timeoutMs: this.options.callTimeoutMs,
            retries: this.options.retries ?? DISPATCHER_DEFAULTS.retries,
            retryPauseMs: this.options.retryPauseMs ?? DISPATCHER_DEFAULTS.retryPauseMs,
          });
        } catch (err) {
          fail(`cannot deliver ${method}: ${(err as Error).message}`);
        }
      });
    } catch (err) {
      fail((err as Error).message);
    }
  }
}

export interface RpcMemberRpcsOptions {
  member: string;
  server: RpcServer;
  /** Pool of `server` that serves coordinator messages. */
  pool: string;
  client: RpcClient;
  /** Where the coordinator listens (the master). */
  coordinator: () => Peer;
  callTimeoutMs: number;
  retries?: number;
  retryPauseMs?: number;
}

export class RpcProcedureMemberRpcs implements ProcedureMemberRpcs {
  readonly memberName: string;
  private started = false;

  constructor(private readonly options: RpcMemberRpcsOptions) {
    this.memberName = options.member;
  }

  async start(member: MemberCallbacks): Promise<void> {
    assert(!this.started, 'member rpcs already started');
    this.started = true;
    const { server, pool } = this.options;
    server.register(
      BARRIER_METHODS.acquire,
      pool,
      async (a) => {
        const m = parseAcquire(a);
        member.receivedAcquire(m.ref, m.args, m.coordinator);
        return null;
      },
      SERVICE_FRAMES.acquire,
    );
    server.register(
      BARRIER_METHODS.reached,
      pool,
      async (a) => {
        member.receivedReachedGlobalBarrier(parseRef(a).ref);
        return null;
      },
      SERVICE_FRAMES.reached,
    );
    server.register(
      BARRIER_METHODS.abort,
      pool,
      async (a) => {
        const m = parseAbort(a);
        member.receiveAbortProcedure(m.ref, ForeignException.fromWire(m.error));
        return null;
      },
      SERVICE_FRAMES.abort,
    );
  }

  sendMemberAcquired(thread: LogicalThread, ref: ProcedureRef): Promise<void> {
    const msg: MemberReport = { ref, member: this.memberName };
    return this.report(thread, BARRIER_METHODS.memberAcquired, msg);
  }

  sendMemberCompleted(thread: LogicalThread, ref: ProcedureRef, data: unknown): Promise<void> {
    const msg: MemberReport = { ref, member: this.memberName, data: data ?? null };
    return this.report(thread, BARRIER_METHODS.memberCompleted, msg);
  }

  sendMemberAborted(thread: LogicalThread, ref: ProcedureRef, error: ForeignException): Promise<void> {
    const msg: AbortMessage = { ref, error: error.toWire() };
    return this.report(thread, BARRIER_METHODS.memberAborted, msg);
  }

  async close(): Promise<void> {}

  private async report(thread: LogicalThread, method: string, msg: unknown): Promise<void> {
    await this.options.client.call(this.options.coordinator(), method, msg, {
      thread,
      timeoutMs: this.options.callTimeoutMs,
      retries: this.options.retries ?? DISPATCHER_DEFAULTS.retries,
      retryPauseMs: this.options.retryPauseMs ?? DISPATCHER_DEFAULTS.retryPauseMs,
    });
  }
}

function bad(what: string): Error {
  return new Error(`malformed ${what} message`);
}

function parseRef(a: unknown): RefMessage {
  if (typeof a !== 'object' || a === null || !isProcedureRef((a as RefMessage).ref)) throw bad('procedure');
  return a as RefMessage;
}

function parseAcquire(a: unknown): AcquireMessage {
  const m = parseRef(a) as AcquireMessage;
  if (typeof m.coordinator !== 'string') throw bad('acquire');
  return m;
}

function parseAbort(a: unknown): AbortMessage {
  const m = parseRef(a) as AbortMessage;
  if (!isForeignExceptionWire(m.error)) throw bad('abort');
  return m;
}

function parseReport(a: unknown): MemberReport {
  const m = parseRef(a) as MemberReport;
  if (typeof m.member !== 'string') throw bad('member report');
  return m;
}
