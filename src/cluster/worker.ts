// A worker node (HBase: a region server): its own RPC server (a small default pool and a priority
// pool for barrier messages), an RPC client to the master, the procedure member with its
// subprocedure pool, a WAL and an optional load generator. Protocol code: substrate I/O only.
import { ProcedureMember, RpcProcedureMemberRpcs, type ProcedureMemberRpcs } from '../barrier/index.js';
import { RpcClient, RpcError, RpcServer, type Peer } from '../rpc/index.js';
import type { Address, Substrate, TimerHandle } from '../substrate/types.js';
import { NetworkError, formatAddress, joinPath } from '../substrate/types.js';
import { ThreadRegistry, type LogicalThread } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { MASTER_DEFAULTS, WORKER_DEFAULTS, queuesFor, type WorkerConfig } from './config.js';
import { sleep } from './io.js';
import { startNodeRpc } from './node-rpc.js';
import { WalLoadGenerator } from './loadgen.js';
import { LogRollBackupSubprocedure, parseLogRollArgs, type LogRollHost } from './logroll.js';
import { MASTER_METHODS, WORKER_METHODS, type SanityCheckRequest, type WalStatus } from './messages.js';
import { Wal } from './wal.js';

const FRAMES = {
  reportForDuty: 'rollcall.regionserver.HRegionServer.reportForDuty',
  report: 'rollcall.regionserver.HRegionServer.tryRegionServerReport',
  getWalStatus: 'rollcall.regionserver.RSRpcServices.getWalStatus',
  open: 'rollcall.regionserver.HRegionServer.setupWALAndReplication',
  stopped: 'rollcall.regionserver.HRegionServer.reportStopped',
} as const;

const REGISTER_PAUSE_MS = 100;
const REGISTER_MAX_PAUSE_MS = 2000;
/** How long a stopping worker waits to tell the master it leaves (it is dropped by its lease anyway). */
const STOPPED_REPORT_TIMEOUT_MS = 1000;

export type WorkerSettings = Partial<WorkerConfig> & Pick<WorkerConfig, 'name' | 'listen' | 'dataDir' | 'master'>;

export function workerConfig(c: WorkerSettings): WorkerConfig {
  return { ...WORKER_DEFAULTS, masterName: MASTER_DEFAULTS.name, ...c };
}

export class Worker {
  readonly config: WorkerConfig;
  readonly threads: ThreadRegistry;
  readonly server: RpcServer;
  readonly client: RpcClient;
  readonly member: ProcedureMember;
  private walValue: Wal | undefined;
  private loadgen: WalLoadGenerator | undefined;
  private reportTimer: TimerHandle | undefined;
  private reportWake: (() => void) | undefined;
  private reportLoop: Promise<void> | undefined;
  private advertised: Address | undefined;
  /** The master a coordination transport told this worker to follow (replaces config.master). */
  private followed: Peer | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private readonly log: (message: string) => void;

  constructor(
    config: WorkerSettings,
    readonly substrate: Substrate,
  ) {
    this.config = workerConfig(config);
    const c = this.config;
    this.log = c.log ?? (() => {});
    ({
      threads: this.threads,
      server: this.server,
      client: this.client,
    } = startNodeRpc(
      {
        name: c.name,
        role: 'worker',
        listen: c.listen,
        handlers: c.handlers,
        queues: queuesFor(c.handlers),
        priorityHandlers: c.priorityHandlers,
        priorityQueues: queuesFor(c.priorityHandlers),
        queueLengthPerHandler: c.queueLengthPerHandler,
        rpcTimeoutMs: c.rpcTimeoutMs,
        log: this.log,
      },
      substrate,
    ));
    const ctx = {
      node: c.name,
      substrate,
      server: this.server,
      client: this.client,
      threads: this.threads,
      coordinator: () => this.masterPeer,
      followMaster: (m: { name: string; address: Address }) => this.followMaster(m),
    };
    const transport: ProcedureMemberRpcs = c.memberTransport
      ? c.memberTransport(ctx)
      : new RpcProcedureMemberRpcs({
          member: c.name,
          server: this.server,
          pool: 'priority',
          client: this.client,
          coordinator: ctx.coordinator,
          callTimeoutMs: c.rpcTimeoutMs,
        });
    const host: LogRollHost = {
      wal: () => this.wal,
      sanityCheck: (thread, req, signal) => this.sanityCheck(thread, req, signal),
    };
    this.member = new ProcedureMember({
      node: c.name,
      rpcs: transport,
      threads: this.threads,
      clock: substrate.clock,
      poolThreads: c.memberThreads,
      timeoutMs: c.memberTimeoutMs,
      wakeIntervalMs: c.wakeIntervalMs,
      log: this.log,
      factory: (sctx, ref, args) => new LogRollBackupSubprocedure(sctx, ref, parseLogRollArgs(args), host),
    });
  }

  get name(): string {
    return this.config.name;
  }

  get address(): Address {
    assert(this.advertised, `worker ${this.name} not started`);
    return this.advertised;
  }

  get wal(): Wal {
    assert(this.walValue, `worker ${this.name} has no open WAL`);
    return this.walValue;
  }

  /** Entries the load generator appended (0 without one). */
  get written(): number {
    return this.loadgen?.written ?? 0;
  }

  /** Sets the admin URL this worker registers with (call before start). */
  advertiseAdmin(url: string): void {
    this.config.adminUrl = url;
  }

  /** Where this worker's master calls go: the configured master, or the one it was told to follow. */
  get masterPeer(): Peer {
    return this.followed ?? { node: this.config.masterName, addr: this.config.master };
  }

  /**
   * Sends this worker's master calls (registration, reports, the legacy sanity check) to `master`
   * from now on; a coordination transport calls it when another master becomes active (ZooKeeper:
   * masters/active changed). A running worker registers with the new master at once.
   */
  followMaster(master: { name: string; address: Address }): void {
    const current = this.masterPeer;
    if (
      current.node === master.name &&
      current.addr.host === master.address.host &&
      current.addr.port === master.address.port
    ) {
      return;
    }
    this.followed = { node: master.name, addr: { ...master.address } };
    this.log(
      `${this.name}: following master ${master.name} at ${formatAddress(master.address)} ` +
        `(was ${current.node} at ${formatAddress(current.addr)})`,
    );
    if (this.state === 'running') this.registerNow();
  }

  /** Opens (recovering) the WAL, starts serving, and registers with the master. */
  async start(): Promise<Address> {
    assert(this.state === 'new', `worker ${this.name} already started`);
    this.state = 'starting';
    const c = this.config;
    this.walValue = await this.threads.withThread(`${c.name}.main`, FRAMES.open, (t) =>
      Wal.open(
        {
          disk: this.substrate.disk,
          dir: joinPath(c.dataDir, 'wal'),
          clock: this.substrate.clock,
          log: this.log,
          preallocate: c.walPreallocate,
          refillDelayMs: c.walRefillDelayMs,
        },
        t,
      ),
    );
    this.server.register(
      WORKER_METHODS.getWalStatus,
      'default',
      async (): Promise<WalStatus> => ({
        name: c.name,
        currentSegment: this.wal.currentSegment,
        highestClosed: this.wal.highestClosed,
        appended: this.wal.appended,
      }),
      FRAMES.getWalStatus,
    );
    await this.member.start();
    const bound = await this.server.start();
    this.advertised = c.advertise ?? bound;
    await this.threads.withThread(`${c.name}.main`, FRAMES.reportForDuty, (t) => this.reportForDuty(t));
    if (c.reportIntervalMs > 0) {
      this.reportLoop = this.threads.withThread(`${c.name}.regionServerReport`, FRAMES.report, (t) =>
        this.reportPeriodically(t),
      );
    }
    if (c.writeRate > 0) {
      this.loadgen = new WalLoadGenerator(() => this.wal, this.threads, this.substrate.clock, c.writeRate, c.name);
      this.loadgen.start();
    }
    this.state = 'running';
    return this.advertised;
  }

  /**
   * Stops serving, drains the load generator and seals the WAL. With `leave` (the default) it first
   * tells the master, which drops it at once; a whole cluster stopping together skips that.
   */
  async stop(options: { leave?: boolean } = {}): Promise<void> {
    if (this.state === 'stopped') return;
    const wasRunning = this.state === 'running';
    this.state = 'stopped';
    this.reportTimer?.cancel();
    this.reportWake?.();
    await this.loadgen?.stop();
    await this.member.close();
    if (wasRunning && options.leave !== false) await this.reportStopped();
    // Closing the client fails a report in flight, so the report loop ends at once.
    this.client.close();
    await this.reportLoop;
    await this.server.stop();
    await this.walValue?.close();
  }

  /** Registers with the master, retrying while it is unreachable, until registerTimeoutMs. */
  private async reportForDuty(thread: LogicalThread): Promise<void> {
    const clock = this.substrate.clock;
    const deadline = clock.nowMs() + this.config.registerTimeoutMs;
    let pauseMs = REGISTER_PAUSE_MS;
    for (;;) {
      try {
        await this.client.call(this.masterPeer, MASTER_METHODS.regionServerStartup, this.registration(), {
          thread,
          timeoutMs: Math.min(this.config.rpcTimeoutMs, 10_000),
        });
        return;
      } catch (err) {
        // A refused key or certificate, or a name in use, does not change by retrying.
        const retryable =
          err instanceof RpcError ? err.retryable : !(err instanceof NetworkError && err.code === 'EAUTH');
        if (!retryable || clock.nowMs() + pauseMs > deadline) {
          throw new Error(`worker ${this.name} cannot register with the master: ${(err as Error).message}`, {
            cause: err,
          });
        }
        await sleep(thread, clock, pauseMs, 'report-for-duty-retry');
        pauseMs = Math.min(REGISTER_MAX_PAUSE_MS, pauseMs * 2);
      }
    }
  }

  /** One registration with the current master, now (after a master change); the reports retry it. */
  private registerNow(): void {
    void this.threads.withThread(`${this.name}.masterChange`, FRAMES.reportForDuty, async (thread) => {
      const peer = this.masterPeer;
      try {
        await this.client.call(peer, MASTER_METHODS.regionServerStartup, this.registration(), {
          thread,
          timeoutMs: Math.min(this.config.rpcTimeoutMs, 10_000),
        });
      } catch (err) {
        if (!this.isStopped())
          this.log(`${this.name}: registering with master ${peer.node} failed: ${(err as Error).message}`);
      }
    });
  }

  /** Tells the master this worker leaves, so a run waiting for it aborts now and its name is free. */
  private async reportStopped(): Promise<void> {
    await this.threads.withThread(`${this.name}.main`, FRAMES.stopped, async (thread) => {
      try {
        await this.client.call(
          this.masterPeer,
          MASTER_METHODS.regionServerStopped,
          { name: this.name, host: this.address.host, port: this.address.port },
          { thread, timeoutMs: Math.min(this.config.rpcTimeoutMs, STOPPED_REPORT_TIMEOUT_MS) },
        );
      } catch (err) {
        this.log(`${this.name}: could not tell the master it stops: ${(err as Error).message}`);
      }
    });
  }

  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  /** Reports every reportIntervalMs, so a restarted master learns about this worker again. */
  private async reportPeriodically(thread: LogicalThread): Promise<void> {
    const clock = this.substrate.clock;
    const every = this.config.reportIntervalMs;
    while (!this.isStopped()) {
      await thread.waitOn(
        { kind: 'timer', untilMs: clock.nowMs() + every, reason: 'region-server-report-interval' },
        new Promise<void>((resolve) => {
          this.reportWake = resolve;
          this.reportTimer = clock.setTimer(every, resolve);
        }),
      );
      if (this.isStopped()) return;
      try {
        await this.client.call(this.masterPeer, MASTER_METHODS.regionServerStartup, this.registration(), {
          thread,
          timeoutMs: Math.min(this.config.rpcTimeoutMs, every),
        });
      } catch (err) {
        this.log(`${this.name}: report to the master failed: ${(err as Error).message}`);
      }
    }
  }

  private registration(): Record<string, unknown> {
    return {
      name: this.name,
      host: this.address.host,
      port: this.address.port,
      ...(this.config.adminUrl ? { adminUrl: this.config.adminUrl } : {}),
    };
  }

  private async sanityCheck(thread: LogicalThread, req: SanityCheckRequest, signal: AbortSignal): Promise<void> {
    await this.client.call(this.masterPeer, MASTER_METHODS.sanityCheckLogRoll, req, {
      thread,
      signal,
      timeoutMs: this.config.rpcTimeoutMs,
    });
  }
}
