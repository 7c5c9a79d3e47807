// The cluster coordinated through ZooKeeper, on the simulated world: the simulated ZooKeeper server
// on node 'zookeeper', an active master and a standby ('master', 'master-2'), the workers and a
// client that follows the active master — the same master, standby, worker and client code the
// real nodes run with --coordination zookeeper://…, over simulated sessions on virtual time.
//
// Rolllogs run back to back until every scheduled fault has happened (and at least --runs of
// them). Then the world settles and the invariants are checked (invariants.ts); a broken one, like
// any bug, is a SimCrash with everything needed to replay it.
import {
  BackupAdminClient,
  CLIENT_NODE,
  MASTER_DEFAULTS,
  MAX_CLUSTER_WORKERS,
  Master,
  Worker,
  defaultWorkerName,
  type BackupRow,
} from '../cluster/index.js';
import { ActiveMasterTracker } from '../coordination/zookeeper/active-master.js';
import { parseZkUrl } from '../coordination/zookeeper/connection.js';
import {
  zkCoordinatorTransport,
  zkMemberTransport,
  type ZkTransportOptions,
} from '../coordination/zookeeper/transports.js';
import type { Peer } from '../rpc/index.js';
import { RpcClient } from '../rpc/index.js';
import { SimWorld } from '../substrate/sim/index.js';
import { SimZooKeeperServer, SIM_ZK_DEFAULTS, simZkConnector } from '../substrate/sim/zookeeper/index.js';
import type { ZkSession } from '../substrate/zookeeper.js';
import { ThreadRegistry, type LogicalThread } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { CrashWatch, SimCrash, crashFrom, driveWorld } from './crash.js';
import { realElapsedMs } from './drive.js';
import { FaultSpecError, applyFaultPlan, emptyPlan, type FaultPlan } from './faults.js';
import { InvariantMonitor } from './invariants.js';
import {
  MAX_RUNS_PER_CLUSTER,
  SIM_DEFAULTS,
  runClientRolllog,
  simWorldFor,
  type SimRunOptions,
  type SimRunResult,
} from './run.js';

export const ZK_NODE = 'zookeeper';
export const STANDBY_MASTER = 'master-2';
export const MASTER_NAMES = [MASTER_DEFAULTS.name, STANDBY_MASTER] as const;
export const ZK_SIM_DEFAULTS = {
  /** Short enough that a failover takes seconds of virtual time, long enough for a loaded link. */
  sessionTimeoutMs: 2_000,
  zkWriteMs: SIM_ZK_DEFAULTS.writeMs,
} as const;
const ZK_URL = `zookeeper://${ZK_NODE}:${SIM_ZK_DEFAULTS.port}/rollcall`;

export interface ZkSimOptions extends SimRunOptions {
  /** Requested ZooKeeper session timeout of every node. */
  sessionTimeoutMs?: number;
  /** Time of one group commit on the simulated ZooKeeper server. */
  zkWriteMs?: number;
}

/** The nodes a ZooKeeper-coordinated cluster of `workers` workers has, in world order. */
export function zkNodeNames(workers: number): string[] {
  return [ZK_NODE, ...MASTER_NAMES, ...Array.from({ length: workers }, (_, i) => defaultWorkerName(i)), CLIENT_NODE];
}

/** What a fault plan may do to this cluster: anything but crash ZooKeeper or the client. */
export function checkZkFaultPlan(plan: FaultPlan): void {
  for (const f of [...plan.crashes, ...plan.restarts]) {
    if (f.node === ZK_NODE || f.node === CLIENT_NODE) {
      throw new FaultSpecError(
        `${f.node} cannot crash or restart in this simulation (it stands for a ZooKeeper ensemble and the operator's client)`,
      );
    }
  }
  for (const e of plan.expiries) {
    if (e.node === ZK_NODE)
      throw new FaultSpecError('expire= names the node whose session ZooKeeper expires, not zookeeper');
  }
}

export class ZkSimCluster {
  readonly invariants: InvariantMonitor;
  private originValue = 0;
  private startupWallValue = 0;
  private readonly masters = new Map<string, Master>();
  /** Every master incarnation started, ghosts of crashed ones included. */
  private readonly allMasters: { name: string; master: Master }[] = [];
  private readonly workers = new Map<string, Worker>();
  private admin!: BackupAdminClient;
  private tracker!: ActiveMasterTracker;
  private clientSession!: ZkSession;
  private clientRpc!: RpcClient;
  private runs = 0;
  private lastFaultMs = 0;
  private closed = false;

  private constructor(
    readonly world: SimWorld,
    readonly server: SimZooKeeperServer,
    readonly options: ZkSimOptions,
    private readonly crashes: CrashWatch,
    private readonly transport: Omit<ZkTransportOptions, 'url'> & { url: string },
  ) {
    this.invariants = new InvariantMonitor(world, {
      masters: () => this.allMasters,
      latestMasters: this.masters,
      workers: () => [...this.workers.entries()].map(([name, worker]) => ({ name, worker })),
      server,
      chroot: parseZkUrl(ZK_URL).chroot,
      mode: options.mode,
    });
  }

  static async start(opts: ZkSimOptions): Promise<ZkSimCluster> {
    assert(
      Number.isInteger(opts.workers) && opts.workers >= 1 && opts.workers <= MAX_CLUSTER_WORKERS,
      `a simulated cluster needs 1..${MAX_CLUSTER_WORKERS} workers`,
    );
    const plan = opts.faults ?? emptyPlan();
    checkZkFaultPlan(plan);
    const wallStart = realElapsedMs();
    const world = simWorldFor(opts);
    for (const n of zkNodeNames(opts.workers)) world.addNode(n);
    const crashes = new CrashWatch(() => world.nowMs);
    let sc: ZkSimCluster | undefined;
    try {
      const server = await driveSetup(
        world,
        crashes,
        SimZooKeeperServer.start(world.substrate(ZK_NODE), {
          listen: { host: ZK_NODE, port: SIM_ZK_DEFAULTS.port },
          writeMs: opts.zkWriteMs ?? ZK_SIM_DEFAULTS.zkWriteMs,
          ...(opts.log ? { log: opts.log } : {}),
        }),
        'start the ZooKeeper server',
      );
      sc = new ZkSimCluster(world, server, opts, crashes, {
        url: ZK_URL,
        connect: simZkConnector,
        sessionTimeoutMs: opts.sessionTimeoutMs ?? ZK_SIM_DEFAULTS.sessionTimeoutMs,
        ...(opts.log ? { log: opts.log } : {}),
      });
      const cluster = sc;
      world.scheduler.afterEvent = () => {
        crashes.check();
        cluster.invariants.checkInstant();
      };
      await driveSetup(world, crashes, cluster.startMaster(MASTER_DEFAULTS.name, false), 'start the active master');
      // The standby waits in its start() until it wins; it only has to have joined the election.
      void cluster.startMaster(STANDBY_MASTER, true);
      await driveSetup(world, crashes, cluster.electionHas(2), 'let the standby master join the election');
      await driveSetup(
        world,
        crashes,
        Promise.all(Array.from({ length: opts.workers }, (_, i) => cluster.startWorker(defaultWorkerName(i)))),
        'start the workers',
      );
      await driveSetup(world, crashes, cluster.startClient(), 'start the client');
      world.record('cluster up');
      cluster.originValue = world.nowMs;
      cluster.startupWallValue = realElapsedMs() - wallStart;
      cluster.lastFaultMs = lastFaultMs(plan);
      applyFaultPlan(world, plan, cluster.originMs, {
        crashed: (node) => cluster.invariants.noteCrash(node),
        restarted: (node) => cluster.restarted(node),
        expire: (node) => {
          server.expireSessionsOf(node);
        },
      });
      return cluster;
    } catch (err) {
      world.scheduler.afterEvent = null;
      crashes.close();
      if (err instanceof FaultSpecError) throw err;
      throw crashFrom(err, world.nowMs);
    }
  }

  /** Virtual time the cluster was up (the first rolllog's start): fault times count from here. */
  get originMs(): number {
    return this.originValue;
  }

  /** Real time the cluster took to start. */
  get startupWallMs(): number {
    return this.startupWallValue;
  }

  get procedureTimeoutMs(): number {
    return this.options.procedureTimeoutMs ?? SIM_DEFAULTS.procedureTimeoutMs;
  }

  get rpcTimeoutMs(): number {
    return this.options.rpcTimeoutMs ?? SIM_DEFAULTS.rpcTimeoutMs;
  }

  get sessionTimeoutMs(): number {
    return this.options.sessionTimeoutMs ?? ZK_SIM_DEFAULTS.sessionTimeoutMs;
  }

  /** The current incarnation of a master (a ghost after a crash, until it restarts). */
  master(name: string): Master | undefined {
    return this.masters.get(name);
  }

  worker(name: string): Worker | undefined {
    return this.workers.get(name);
  }

  /** Whether another rolllog should run: every fault has happened, and at least --runs ran. */
  get wantsMoreRuns(): boolean {
    if (this.runs >= MAX_RUNS_PER_CLUSTER) return false;
    return this.runs < (this.options.runs ?? 1) || this.world.nowMs - this.originMs <= this.lastFaultMs;
  }

  /** One rolllog from the client node, following the active master, until the client has its outcome. */
  async rolllog(): Promise<SimRunResult> {
    assert(!this.closed, 'simulated cluster is closed');
    const { raw, startedMs, result } = await runClientRolllog({
      world: this.world,
      options: this.options,
      client: this.admin,
      run: this.runs++,
      startupMs: this.originMs,
      startupWallMs: this.startupWallMs,
      drive: (until) => this.drive(until),
    });
    this.invariants.noteRun({
      run: result.run,
      outcome: result.outcome,
      ...(result.master ? { master: result.master } : {}),
      ...(raw.result?.instance ? { instance: raw.result.instance } : {}),
      startedMs,
      endedMs: this.world.nowMs,
    });
    return result;
  }

  /**
   * Lets the world settle (aborts propagate, sessions of dead nodes expire, the active master cleans
   * up), then checks the end-state invariants; throws a SimCrash naming the first broken one.
   */
  async finish(): Promise<void> {
    const boundMs =
      Math.max(this.procedureTimeoutMs, this.options.worker?.memberTimeoutMs ?? this.procedureTimeoutMs) +
      this.rpcTimeoutMs +
      4 * this.sessionTimeoutMs;
    const deadlineMs = this.world.nowMs + boundMs;
    let quiet = false;
    const look = (): void => {
      quiet = this.invariants.settled();
      if (!quiet && this.world.nowMs < deadlineMs) this.world.at(this.world.nowMs + SETTLE_CHECK_MS, 'settle', look);
    };
    look();
    await this.drive(() => this.world.run(() => quiet || this.world.nowMs >= deadlineMs));
    this.world.record('settled');
    const broken = this.invariants.checkEnd();
    if (broken) throw new SimCrash('invariant', broken, this.world.nowMs);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.world.scheduler.afterEvent = null;
    this.crashes.close();
    this.tracker?.stop();
    this.clientRpc?.close();
  }

  private async startMaster(name: string, standby: boolean): Promise<void> {
    const substrate = this.world.substrate(name);
    const o = this.options;
    const rpcTimeoutMs = this.rpcTimeoutMs;
    const m = new Master(
      {
        handlers: o.handlers,
        checkCostMs: o.checkCostMs ?? SIM_DEFAULTS.checkCostMs,
        rpcTimeoutMs,
        procedureTimeoutMs: this.procedureTimeoutMs,
        defaultMode: o.mode,
        ...o.master,
        name,
        listen: { host: name, port: SIM_DEFAULTS.masterPort },
        dataDir: `/data/${name}`,
        ...(o.log ? { log: o.log } : {}),
        onBackupRowsWritten: (rows: readonly BackupRow[]) => this.invariants.noteRows(name, rows),
        coordinatorTransport: zkCoordinatorTransport({
          ...this.transport,
          procedureTimeoutMs: this.procedureTimeoutMs,
          standby,
        }),
      },
      substrate,
    );
    this.masters.set(name, m);
    this.allMasters.push({ name, master: m });
    try {
      await m.start();
    } catch (err) {
      // A master that cannot start (its session expired while it campaigned, say) is a dead node,
      // not a protocol outcome: log it; the invariants judge what the cluster did without it.
      if (this.masters.get(name) === m && substrate.alive)
        o.log?.(`${name} could not start: ${(err as Error).message}`);
      if (!standby) throw err;
    }
  }

  private async startWorker(name: string): Promise<void> {
    const o = this.options;
    const rpcTimeoutMs = this.rpcTimeoutMs;
    const first = this.masters.get(MASTER_DEFAULTS.name);
    assert(first, 'the workers start after the master');
    const w = new Worker(
      {
        rpcTimeoutMs,
        memberTimeoutMs: this.procedureTimeoutMs,
        ...o.worker,
        name,
        listen: { host: name, port: SIM_DEFAULTS.workerPort },
        dataDir: `/data/${name}`,
        master: { host: MASTER_DEFAULTS.name, port: SIM_DEFAULTS.masterPort },
        masterName: MASTER_DEFAULTS.name,
        ...(o.log ? { log: o.log } : {}),
        memberTransport: zkMemberTransport(this.transport),
      },
      this.world.substrate(name),
    );
    this.workers.set(name, w);
    await w.start();
  }

  private async startClient(): Promise<void> {
    const substrate = this.world.substrate(CLIENT_NODE);
    this.clientSession = await simZkConnector(
      parseZkUrl(ZK_URL),
      {
        owner: CLIENT_NODE,
        sessionTimeoutMs: this.sessionTimeoutMs,
        ...(this.options.log ? { log: this.options.log } : {}),
      },
      substrate,
    );
    this.tracker = new ActiveMasterTracker(this.clientSession, CLIENT_NODE, this.options.log);
    await this.tracker.start();
    const first = await this.tracker.waitForMaster(this.sessionTimeoutMs * 4);
    const threads = new ThreadRegistry(CLIENT_NODE, 'client', substrate.pid, substrate.clock);
    const thread: LogicalThread = threads.spawn('main', { daemon: false });
    this.clientRpc = new RpcClient({ node: CLIENT_NODE, substrate });
    const initial: Peer = { node: first.info.name, addr: first.address };
    const tracker = this.tracker;
    this.admin = new BackupAdminClient(
      this.clientRpc,
      () => {
        const c = tracker.current;
        return c ? { node: c.info.name, addr: c.address } : initial;
      },
      substrate.clock,
      thread,
    );
  }

  /** A crashed node came back: masters return as standbys, workers rejoin on their disks. */
  private restarted(node: string): void {
    const start = (MASTER_NAMES as readonly string[]).includes(node)
      ? this.startMaster(node, true)
      : this.startWorker(node);
    start.catch((err: unknown) => this.options.log?.(`restart of ${node} failed: ${(err as Error).message}`));
  }

  private electionHas(candidates: number): Promise<void> {
    const dir = `${parseZkUrl(ZK_URL).chroot}/masters/election`;
    return new Promise<void>((resolve) => {
      const look = (): void => {
        if (this.server.tree.has(dir) && this.server.tree.children(dir).length >= candidates) resolve();
        else this.world.at(this.world.nowMs + SETTLE_CHECK_MS, 'election', look);
      };
      look();
    });
  }

  private drive(until: Promise<unknown> | (() => Promise<unknown>)): Promise<void> {
    return driveWorld(this.world, this.crashes, until, 'the client never got an outcome');
  }
}

/** How often the harness looks whether the cluster settled (virtual ms). */
const SETTLE_CHECK_MS = 50;

async function driveSetup<T>(world: SimWorld, crashes: CrashWatch, step: Promise<T>, what: string): Promise<T> {
  if ((await world.run(step)) === 'idle') {
    throw new SimCrash(
      'stall',
      `could not ${what}: the simulated world stalled at ${world.nowMs.toFixed(3)} ms`,
      world.nowMs,
    );
  }
  crashes.check();
  return step;
}

/** When the last scheduled fault of a plan happens (ms from the origin). */
function lastFaultMs(plan: FaultPlan): number {
  let last = 0;
  for (const r of plan.rates) last = Math.max(last, r.fromMs, r.toMs === Infinity ? 0 : r.toMs);
  for (const p of plan.partitions) last = Math.max(last, p.fromMs, p.toMs === Infinity ? 0 : p.toMs);
  for (const f of [...plan.crashes, ...plan.restarts, ...plan.expiries]) last = Math.max(last, f.atMs);
  return last;
}

/**
 * Builds the ZooKeeper-coordinated cluster, runs rolllogs back to back until every fault happened
 * (at least `runs`), settles and checks the invariants. Returns one result per rolllog; any bug or
 * broken invariant throws a SimCrash.
 */
export async function runZkSimulation(opts: ZkSimOptions): Promise<SimRunResult[]> {
  const sc = await ZkSimCluster.start(opts);
  try {
    const results: SimRunResult[] = [];
    while (sc.wantsMoreRuns) results.push(await sc.rolllog());
    await sc.finish();
    return results;
  } finally {
    sc.close();
  }
}
