// A coordinator and N members over real TCP on loopback, with scripted subprocedures.
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
import type { Address } from '../../src/substrate/types.js';
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
}

const sub = realSubstrate();

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
    if (this.behaviour.kind === 'hang-acquire') {
      await thread.waitOn({ kind: 'io', what: 'hang' }, this.release);
    } else if (this.behaviour.kind === 'slow-acquire') {
      const ms = this.behaviour.delayMs;
      await thread.waitOn({ kind: 'timer', untilMs: 0, reason: 'slow' }, new Promise((r) => setTimeout(r, ms)));
    }
  }

  async insideBarrier(thread: LogicalThread): Promise<unknown> {
    this.handle.events.push('inside');
    if (this.behaviour.kind === 'fail-inside') throw new Error(this.behaviour.message);
    if (this.behaviour.kind === 'stay-inside') {
      // Parked until an abort arrives (the monitor wakes nothing here, so poll the error).
      await thread.waitOn(
        { kind: 'io', what: 'stay' },
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (this.error) resolve();
            else setTimeout(check, 5);
          };
          check();
        }),
      );
      this.monitor.rethrowException();
    }
    return this.behaviour.kind === 'ok' ? (this.behaviour.result ?? { member: this.ctx.member }) : null;
  }

  override async cleanup(_t: LogicalThread, error: ForeignException): Promise<void> {
    this.handle.events.push('cleanup');
    this.handle.aborts.push(error);
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
}): Promise<BarrierFixture> {
  const threads = new ThreadRegistry('coord', 'master', process.pid, sub.clock);
  const server = new RpcServer({
    node: 'coord',
    substrate: sub,
    threads,
    listen: { host: '127.0.0.1', port: 0 },
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
    const mThreads = new ThreadRegistry(name, 'worker', process.pid, sub.clock);
    const mServer = new RpcServer({
      node: name,
      substrate: sub,
      threads: mThreads,
      listen: { host: '127.0.0.1', port: 0 },
      pools: [{ name: 'priority', handlers: 2, queues: 1, maxQueueLength: 20 }],
    });
    const mClient = new RpcClient({ node: name, substrate: sub });
    const handle: MemberHandle = { name, threads: mThreads, events: [], aborts: [] } as unknown as MemberHandle;
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
      clock: sub.clock,
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
