// Transport factories: what a master's `coordinatorTransport` and a worker's `memberTransport`
// hooks take when a node runs with --coordination zookeeper://… (real nodes get the real client
// through index.ts; the simulator passes its own connector).
//
// Node construction is synchronous and a ZooKeeper session is not, so each transport opens its
// node's own session in start() (one session per node: liveness is per session) and closes it in
// close(). The master's transport also runs the election before it reports itself started: a
// standby blocks there until it leads; any other master fails fast when another one is active,
// instead of two masters coordinating the same znodes. It publishes the node's bound RPC address in
// masters/active and, on winning, resumes leftover runs with the node's resume policy (a master
// finishes fixed-mode rolllogs, writing their backup-table rows) on the node's own coordinator.
// The worker's transport watches masters/active and moves the worker's master calls to the leader.
import type { ForeignException } from '../../barrier/errors.js';
import type {
  EndedLeftover,
  CoordinatorCallbacks,
  LeftoverRun,
  MemberCallbacks,
  ProcedureCoordinatorRpcs,
  ProcedureMemberRpcs,
  ProcedureRef,
  ResumeDecision,
} from '../../barrier/transport.js';
import { formatAddress, type Address, type Substrate, type TimerHandle } from '../../substrate/types.js';
import type { ZkConnector, ZkSession } from '../../substrate/zookeeper.js';
import type { LogicalThread, ThreadRegistry } from '../../threads/index.js';
import { ActiveMasterTracker } from './active-master.js';
import { parseZkUrl, ZkStartupError, type ZkConnectionSpec } from './connection.js';
import { ZkCoordinatorRpcs } from './coordinator-rpcs.js';
import { LeaderElection } from './election.js';
import { ZkMasterRole } from './master.js';
import { ZkMemberRpcs } from './member-rpcs.js';
import type { RecoveredRun, ResumePolicy } from './recovery.js';

export interface ZkTransportOptions {
  /** zookeeper://HOST:PORT[,HOST:PORT]/CHROOT[?sessionTimeoutMs=N], or its parsed form. */
  url: string | ZkConnectionSpec;
  /** Opens each node's session: the real client, or the simulated one. */
  connect: ZkConnector;
  /** Overrides the URL's session timeout. */
  sessionTimeoutMs?: number;
  connectTimeoutMs?: number;
  log?: (message: string) => void;
}

export interface ZkCoordinatorTransportOptions extends ZkTransportOptions {
  /** The master's procedure timer, recorded with each run for a standby that resumes it. */
  procedureTimeoutMs: number;
  /** Wait as a standby until elected (rollcall node --role master --standby). */
  standby?: boolean;
  /**
   * The master's RPC address, published in masters/active when the node does not say (its
   * context's advertised() wins: that is the bound address, never port 0).
   */
  rpcAddress?: string;
  adminAddress?: string;
  /**
   * What to do with runs a previous master left. Default: the node's own resumePolicy (a master
   * resumes what it has the after-barrier work for, e.g. fixed-mode rolllog's backup-table write),
   * else abort them cleanly. A policy given here overrides the node's.
   */
  policy?: ResumePolicy;
  wakeIntervalMs?: number;
  onActive?: (recovered: RecoveredRun[]) => void;
  onStandby?: (reason: string) => void;
}

/** What the factories need from the node; the cluster's transport contexts have these fields. */
export interface ZkNodeContext {
  node: string;
  /** The node's substrate: its clock times the transport's waits, its pid is published. */
  substrate: Substrate;
  threads: ThreadRegistry;
  /**
   * Master: its advertised RPC address and admin URL, read when it campaigns (after its listener
   * bound), for masters/active.
   */
  advertised?: () => { rpc?: Address; adminUrl?: string };
  /** Master: what it does with a run a previous master left (unless the options give a policy). */
  resumePolicy?: (run: LeftoverRun) => ResumeDecision;
  /**
   * Master: told of every run a previous master left that ended here (aborted or already
   * aborting), so a client that polls for it by instance learns how it ended.
   */
  leftoverEnded?: (run: EndedLeftover) => void;
  /** Worker: told when another master becomes active, so its master calls follow it. */
  followMaster?: (master: { name: string; address: Address }) => void;
}

/** The nodes' default: a leftover run is aborted (members released, znodes removed), never half-resumed. */
export const abortLeftoverRuns: ResumePolicy = (state) => ({
  abort: `it was started by ${state.coordinator}, which held its after-barrier work; run it again`,
});

/** A master that is not a standby waits this long past one session timeout for the election. */
const ELECTION_GRACE_MS = 3_000;

export function zkCoordinatorTransport(
  options: ZkCoordinatorTransportOptions,
): (ctx: ZkNodeContext) => ZkMasterTransport {
  const spec = typeof options.url === 'string' ? parseZkUrl(options.url) : options.url;
  return (ctx) => new ZkMasterTransport(spec, options, ctx);
}

export function zkMemberTransport(options: ZkTransportOptions): (ctx: ZkNodeContext) => ZkWorkerTransport {
  const spec = typeof options.url === 'string' ? parseZkUrl(options.url) : options.url;
  return (ctx) => new ZkWorkerTransport(spec, options, ctx);
}

function openSession(
  spec: ZkConnectionSpec,
  options: ZkTransportOptions,
  owner: string,
  substrate: Substrate,
): Promise<ZkSession> {
  return options.connect(
    spec,
    {
      owner,
      ...(options.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
      ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
      ...(options.log ? { log: options.log } : {}),
    },
    substrate,
  );
}

/** The master's transport: its session, the barrier over it, and its place in the election. */
export class ZkMasterTransport implements ProcedureCoordinatorRpcs {
  private session: ZkSession | undefined;
  private inner: ZkCoordinatorRpcs | undefined;
  private role: ZkMasterRole | undefined;

  constructor(
    private readonly spec: ZkConnectionSpec,
    private readonly options: ZkCoordinatorTransportOptions,
    private readonly ctx: ZkNodeContext,
  ) {}

  /** The master's election role (after start). */
  get masterRole(): ZkMasterRole | undefined {
    return this.role;
  }

  get rpcs(): ZkCoordinatorRpcs | undefined {
    return this.inner;
  }

  async start(coordinator: CoordinatorCallbacks): Promise<void> {
    const o = this.options;
    const clock = this.ctx.substrate.clock;
    this.session = await openSession(this.spec, o, this.ctx.node, this.ctx.substrate);
    this.inner = new ZkCoordinatorRpcs({
      session: this.session,
      node: this.ctx.node,
      clock,
      procedureTimeoutMs: o.procedureTimeoutMs,
      ...(o.log ? { log: o.log } : {}),
    });
    await this.inner.start(coordinator);
    const advertised = this.ctx.advertised?.() ?? {};
    const resumePolicy = this.ctx.resumePolicy;
    this.role = new ZkMasterRole({
      rpcs: this.inner,
      info: {
        format: 'rollcall-zk-master/1',
        name: this.ctx.node,
        rpcAddress: advertised.rpc ? formatAddress(advertised.rpc) : (o.rpcAddress ?? ''),
        adminAddress: (advertised.adminUrl ? hostPort(advertised.adminUrl) : undefined) ?? o.adminAddress ?? '',
        pid: this.ctx.substrate.pid,
      },
      clock,
      threads: this.ctx.threads,
      policy: o.policy ?? (resumePolicy ? (state) => resumePolicy(state) : abortLeftoverRuns),
      ...(o.wakeIntervalMs ? { wakeIntervalMs: o.wakeIntervalMs } : {}),
      ...(o.log ? { log: o.log } : {}),
      onActive: (recovered) => {
        for (const r of recovered) {
          if (r.ended && r.ref.name !== '?') this.ctx.leftoverEnded?.({ ref: r.ref, ...r.ended });
        }
        o.onActive?.(recovered);
      },
      ...(o.onStandby ? { onStandby: o.onStandby } : {}),
    });
    const active = this.role.becomeActive();
    if (o.standby) {
      o.log?.(`${this.ctx.node}: standby master; waiting to win the election under ${this.spec.url}`);
      await active;
      return;
    }
    const limitMs = this.session.sessionTimeoutMs + ELECTION_GRACE_MS;
    let timer: TimerHandle | undefined;
    const lost = new Promise<'timeout'>((resolve) => {
      timer = clock.setTimer(limitMs, () => resolve('timeout'));
    });
    const won = await Promise.race([active.then(() => 'won' as const), lost]);
    timer?.cancel();
    if (won === 'timeout') {
      active.catch(() => {});
      const other = await LeaderElection.activeMaster(this.session).catch(() => null);
      const who = other
        ? `${other.name}${other.rpcAddress ? ` at ${other.rpcAddress}` : ''} (pid ${other.pid})`
        : 'another master';
      throw new ZkStartupError(
        `${who} is the active master under ${this.spec.url}; start this one with --standby, or use another chroot`,
      );
    }
  }

  sendGlobalBarrierAcquire(
    t: LogicalThread,
    ref: ProcedureRef,
    args: unknown,
    members: readonly string[],
  ): Promise<void> {
    return this.ready().sendGlobalBarrierAcquire(t, ref, args, members);
  }

  sendGlobalBarrierReached(t: LogicalThread, ref: ProcedureRef, members: readonly string[]): Promise<void> {
    return this.ready().sendGlobalBarrierReached(t, ref, members);
  }

  sendAbortToMembers(
    t: LogicalThread,
    ref: ProcedureRef,
    e: ForeignException,
    members: readonly string[],
  ): Promise<void> {
    return this.ready().sendAbortToMembers(t, ref, e, members);
  }

  resetMembers(t: LogicalThread, ref: ProcedureRef, members: readonly string[]): Promise<void> {
    return this.ready().resetMembers(t, ref, members);
  }

  liveMembers(): readonly string[] | undefined {
    return this.inner?.liveMembers();
  }

  /** Whether this master leads the election (and finished recovering leftover runs). */
  isActive(): boolean {
    return this.role?.isActive ?? false;
  }

  async close(): Promise<void> {
    await this.inner?.close();
    await this.role?.stop();
    await this.session?.close();
  }

  private ready(): ZkCoordinatorRpcs {
    if (!this.inner) throw new Error(`${this.ctx.node}: ZooKeeper transport used before start()`);
    return this.inner;
  }
}

/** A worker's transport: its session (its liveness) and the member side of the barrier. */
export class ZkWorkerTransport implements ProcedureMemberRpcs {
  readonly memberName: string;
  private session: ZkSession | undefined;
  private inner: ZkMemberRpcs | undefined;
  private tracker: ActiveMasterTracker | undefined;

  constructor(
    private readonly spec: ZkConnectionSpec,
    private readonly options: ZkTransportOptions,
    private readonly ctx: ZkNodeContext,
  ) {
    this.memberName = ctx.node;
  }

  /** The worker's session (after start), e.g. for crash() in tests. */
  get zkSession(): ZkSession | undefined {
    return this.session;
  }

  /** The worker's view of masters/active (after start). */
  get activeMaster(): ActiveMasterTracker | undefined {
    return this.tracker;
  }

  async start(member: MemberCallbacks): Promise<void> {
    this.session = await openSession(this.spec, this.options, this.memberName, this.ctx.substrate);
    this.inner = new ZkMemberRpcs({
      session: this.session,
      member: this.memberName,
      pid: this.ctx.substrate.pid,
      ...(this.options.log ? { log: this.options.log } : {}),
    });
    await this.inner.start(member);
    // Follow the active master: the worker's master calls go wherever the election's leader is.
    this.tracker = new ActiveMasterTracker(this.session, this.memberName, this.options.log);
    const follow = this.ctx.followMaster;
    if (follow) this.tracker.onChange((info, address) => follow({ name: info.name, address }));
    await this.tracker.start();
  }

  sendMemberAcquired(t: LogicalThread, ref: ProcedureRef): Promise<void> {
    return this.ready().sendMemberAcquired(t, ref);
  }

  sendMemberCompleted(t: LogicalThread, ref: ProcedureRef, data: unknown): Promise<void> {
    return this.ready().sendMemberCompleted(t, ref, data);
  }

  sendMemberAborted(t: LogicalThread, ref: ProcedureRef, e: ForeignException): Promise<void> {
    return this.ready().sendMemberAborted(t, ref, e);
  }

  async close(): Promise<void> {
    this.tracker?.stop();
    await this.inner?.close();
    await this.session?.close();
  }

  private ready(): ZkMemberRpcs {
    if (!this.inner) throw new Error(`${this.memberName}: ZooKeeper transport used before start()`);
    return this.inner;
  }
}

/** The master and worker settings that put a whole cluster's barrier on ZooKeeper. */
export function zkClusterSettings(
  url: string | ZkConnectionSpec,
  options: Omit<ZkCoordinatorTransportOptions, 'url'>,
): {
  master: { coordinatorTransport: (ctx: ZkNodeContext) => ZkMasterTransport };
  worker: { memberTransport: (ctx: ZkNodeContext) => ZkWorkerTransport };
} {
  const spec = typeof url === 'string' ? parseZkUrl(url) : url;
  const common: ZkTransportOptions = {
    url: spec,
    connect: options.connect,
    ...(options.sessionTimeoutMs !== undefined ? { sessionTimeoutMs: options.sessionTimeoutMs } : {}),
    ...(options.connectTimeoutMs !== undefined ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  return {
    master: { coordinatorTransport: zkCoordinatorTransport({ ...options, ...common }) },
    worker: { memberTransport: zkMemberTransport(common) },
  };
}

/** HOST:PORT of an admin URL (http://HOST:PORT/…), or undefined when it is not one. */
function hostPort(url: string): string | undefined {
  try {
    const u = new URL(url);
    return u.port ? u.host : undefined;
  } catch {
    return undefined;
  }
}
