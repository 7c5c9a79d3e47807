// A coordinator and N members with scripted subprocedures: over real TCP on loopback, or on a
// simulated world (pass `world`) where timing tests assert exact virtual times.
import {
  ProcedureCoordinator,
  ProcedureMember,
  RpcProcedureCoordinatorRpcs,
  RpcProcedureMemberRpcs,
  Subprocedure,
  type ForeignException,
  type ProcedureRef,
  type SubprocedureContext,
} from '../../src/barrier/index.js';
import { RpcClient, RpcServer } from '../../src/rpc/index.js';
import { realSubstrate } from '../../src/substrate/real/index.js';
import type { SimWorld } from '../../src/substrate/sim/index.js';
import type { Address, Substrate } from '../../src/substrate/types.js';
import { ThreadRegistry, type LogicalThread } from '../../src/threads/index.js';
import { until } from '../support/gate.js';

export type Behaviour =
  | { kind: 'ok'; result?: unknown }
  | { kind: 'fail-inside'; message: string }
  /** Never finishes acquire (until the fixture stops). */
  | { kind: 'hang-acquire' }
  /** Acquires after delayMs. */
  | { kind: 'slow-acquire'; delayMs: number }
  /** Stays inside the barrier until cancelled. */
  | { kind: 'stay-inside' };

export interface MemberHandle {
  name: string;
  member: ProcedureMember;
  threads: ThreadRegistry;
  events: string[];
  /** Errors its subprocedures received (aborts). */
  aborts: ForeignException[];
  /** When (the member's clock) each subprocedure started acquiring, and each abort was cleaned up. */
  acquiredAtMs: number[];
  abortedAtMs: number[];
}

const real = realSubstrate();

class ScriptedSubprocedure extends Subprocedure {
  constructor(
    ctx: SubprocedureContext,
    ref: ProcedureRef,
    private readonly behaviour: Behaviour,
    private readonly handle: MemberHandle,
    private readonly release: Promise<void>,
  ) {
    super(ctx, ref);
  }

  async acquireBarrier(thread: LogicalThread): Promise<void> {
    this.handle.events.push('acquire');
    this.handle.acquiredAtMs.push(this.ctx.clock.nowMs());
    if (this.behaviour.kind === 'hang-acquire') {
      await thread.waitOn({ kind: 'io', what: 'hang' }, this.release);
    } else if (this.behaviour.kind === 'slow-acquire') {
      const ms = this.behaviour.delayMs;
      const clock = this.ctx.clock;
      await thread.waitOn(
        { kind: 'timer', untilMs: clock.nowMs() + ms, reason: 'slow' },
        new Promise<void>((r) => clock.setTimer(ms, r)),
      );
    }
  }

  async insideBarrier(thread: LogicalThread): Promise<unknown> {
    this.handle.events.push('inside');
    if (this.behaviour.kind === 'fail-inside') throw new Error(this.behaviour.message);
    if (this.behaviour.kind === 'stay-inside') {
      // Parked until an abort (the coordinator's, or the member timer) cancels the subprocedure.
      const signal = this.signal;
      await thread.waitOn(
        { kind: 'io', what: 'stay' },
        new Promise<void>((resolve) => {
          if (signal.aborted) resolve();
          else signal.addEventListener('abort', () => resolve(), { once: true });
        }),
      );
      this.monitor.rethrowException();
    }
    return this.behaviour.kind === 'ok' ? (this.behaviour.result ?? { member: this.ctx.member }) : null;
  }

  override async cleanup(_t: LogicalThread, error: ForeignException): Promise<void> {
    this.handle.events.push('cleanup');
    this.handle.aborts.push(error);
    this.handle.abortedAtMs.push(this.ctx.clock.nowMs());
  }
}

export interface BarrierFixture {
  coordinator: ProcedureCoordinator;
  coordinatorThreads: ThreadRegistry;
  members: MemberHandle[];
  stop(): Promise<void>;
}

export async function startBarrierFixture(options: {
  members: number;
  behaviour?: (name: string) => Behaviour;
  timeoutMs?: number;
  memberTimeoutMs?: number;
  wakeIntervalMs?: number;
  /** Runs on this simulated world (nodes 'coord' and 'worker-1'…, added by the caller) instead of TCP. */
  world?: SimWorld;
}): Promise<BarrierFixture> {
  const { world } = options;
  const substrateOf = (node: string): Substrate => (world ? world.substrate(node) : real);
  const listenOf = (node: string, port: number): Address =>
    world ? { host: node, port } : { host: '127.0.0.1', port: 0 };
  const sub = substrateOf('coord');
  const threads = new ThreadRegistry('coord', 'master', sub.pid, sub.clock);
  const server = new RpcServer({
    node: 'coord',
    substrate: sub,
    threads,
    listen: listenOf('coord', 16000),
    pools: [{ name: 'priority', handlers: 4, queues: 1, maxQueueLength: 400 }],
  });
  const client = new RpcClient({ node: 'coord', substrate: sub });
  const addresses = new Map<string, Address>();
  const coordinator = new ProcedureCoordinator({
    node: 'coord',
    rpcs: new RpcProcedureCoordinatorRpcs({
      node: 'coord',
      server,
      pool: 'priority',
      client,
      threads,
      resolveMember: (m) => addresses.get(m),
      callTimeoutMs: 5000,
    }),
    threads,
    clock: sub.clock,
    timeoutMs: options.timeoutMs ?? 10_000,
    wakeIntervalMs: options.wakeIntervalMs ?? 500,
  });
  await coordinator.start();
  const coordAddr = await server.start();
  let releaseAll!: () => void;
  const release = new Promise<void>((r) => (releaseAll = r));
  const servers: RpcServer[] = [server];
  const clients: RpcClient[] = [client];
  const members: MemberHandle[] = [];
  for (let i = 1; i <= options.members; i++) {
    const name = `worker-${i}`;
    const mSub = substrateOf(name);
    const mThreads = new ThreadRegistry(name, 'worker', mSub.pid, mSub.clock);
    const mServer = new RpcServer({
      node: name,
      substrate: mSub,
      threads: mThreads,
      listen: listenOf(name, 16020),
      pools: [{ name: 'priority', handlers: 2, queues: 1, maxQueueLength: 20 }],
    });
    const mClient = new RpcClient({ node: name, substrate: mSub });
    const handle: MemberHandle = {
      name,
      threads: mThreads,
      events: [],
      aborts: [],
      acquiredAtMs: [],
      abortedAtMs: [],
    } as unknown as MemberHandle;
    const behaviour = options.behaviour?.(name) ?? { kind: 'ok' };
    handle.member = new ProcedureMember({
      node: name,
      rpcs: new RpcProcedureMemberRpcs({
        member: name,
        server: mServer,
        pool: 'priority',
        client: mClient,
        coordinator: () => ({ node: 'coord', addr: coordAddr }),
        callTimeoutMs: 5000,
      }),
      threads: mThreads,
      clock: mSub.clock,
      timeoutMs: options.memberTimeoutMs ?? 60_000,
      wakeIntervalMs: options.wakeIntervalMs ?? 500,
      factory: (ctx, ref) => new ScriptedSubprocedure(ctx, ref, behaviour, handle, release),
    });
    await handle.member.start();
    addresses.set(name, await mServer.start());
    servers.push(mServer);
    clients.push(mClient);
    members.push(handle);
  }
  return {
    coordinator,
    coordinatorThreads: threads,
    members,
    stop: async () => {
      releaseAll();
      await coordinator.close();
      for (const m of members) await m.member.close();
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
}

/** Polls until cond() holds (bounded); for conditions reached by message delivery, not by time. */
export function eventually(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  return until(cond, 'condition', timeoutMs, 5);
}
