// The master node: an RPC server with HBase's default and priority pools, its own RPC client,
// the procedure coordinator, the backup system table, and the registered workers. Protocol code:
// all I/O comes from the substrate, so the same master runs over TCP and in the simulator.
import {
  ForeignException,
  ProcedureCoordinator,
  RpcProcedureCoordinatorRpcs,
  type EndedLeftover,
  type LeftoverRun,
  type ProcedureCoordinatorRpcs,
} from '../barrier/index.js';
import { RpcClient, RpcError, RpcServer, type CallContext, type Peer } from '../rpc/index.js';
import type { Address, Substrate } from '../substrate/types.js';
import { formatAddress, joinPath } from '../substrate/types.js';
import { ThreadRegistry } from '../threads/index.js';
import { assert } from '../util/assert.js';
import { BACKUP_TABLE_FRAMES, BackupSystemTable } from './backup-table.js';
import { MASTER_DEFAULTS, ROLLLOG_SIGNATURE, queuesFor, type MasterConfig, type RolllogMode } from './config.js';
import { sleep } from './io.js';
import { startNodeRpc } from './node-rpc.js';
import { LOGROLL_FRAMES, LogRollMasterProcedureManager } from './logroll.js';
import { Membership } from './membership.js';
import {
  MASTER_METHODS,
  isObject,
  requireNumber,
  requireString,
  type AbortProcedureRequest,
  type ClusterStatus,
  type ExecProcedureRequest,
  type GetProcedureResultRequest,
  type MemberStatus,
  type SanityCheckRequest,
} from './messages.js';

const FRAMES = {
  execProcedure: 'rollcall.master.MasterRpcServices.execProcedure',
  getProcedureResult: 'rollcall.master.MasterRpcServices.getProcedureResult',
  sanityCheck: 'rollcall.backup.master.BackupMasterServices.sanityCheckLogRoll',
  verify: 'rollcall.backup.master.BackupMasterServices.verifyServerWals',
  readLastLogRoll: 'rollcall.backup.impl.BackupSystemTableService.readRegionServerLastLogRollResult',
  regionServerStartup: 'rollcall.master.MasterRpcServices.regionServerStartup',
  getClusterStatus: 'rollcall.master.MasterRpcServices.getClusterStatus',
  regionServerStopped: 'rollcall.master.MasterRpcServices.regionServerStopped',
  abortProcedure: 'rollcall.master.MasterRpcServices.abortProcedure',
} as const;

/** Bound on registered workers (the simulator's largest cluster, with room). */
export const MAX_MEMBERS = 100_000;

/** Fills a master configuration from defaults; the three fields every master needs are required. */
export function masterConfig(c: Partial<MasterConfig> & Pick<MasterConfig, 'listen' | 'dataDir'>): MasterConfig {
  const handlers = c.handlers ?? MASTER_DEFAULTS.handlers;
  const priorityHandlers = c.priorityHandlers ?? MASTER_DEFAULTS.priorityHandlers;
  return {
    ...MASTER_DEFAULTS,
    ...c,
    handlers,
    priorityHandlers,
    queues: queuesFor(handlers, c.queues),
    priorityQueues: queuesFor(priorityHandlers, c.priorityQueues),
  };
}

export class Master {
  readonly config: MasterConfig;
  readonly threads: ThreadRegistry;
  readonly server: RpcServer;
  readonly client: RpcClient;
  readonly coordinator: ProcedureCoordinator;
  private readonly transport: ProcedureCoordinatorRpcs;
  private readonly manager: LogRollMasterProcedureManager;
  private readonly members: Membership;
  private table: BackupSystemTable | undefined;
  private advertised: Address | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopped' = 'new';
  private readonly log: (message: string) => void;

  constructor(
    config: Partial<MasterConfig> & Pick<MasterConfig, 'listen' | 'dataDir'>,
    readonly substrate: Substrate,
  ) {
    this.config = masterConfig(config);
    const c = this.config;
    this.log = c.log ?? (() => {});
    this.members = new Membership({
      clock: substrate.clock,
      leaseMs: c.memberLeaseMs,
      maxMembers: MAX_MEMBERS,
      log: this.log,
      onDropped: (member, why) => this.abortRunsWaitingFor(member, why),
    });
    ({
      threads: this.threads,
      server: this.server,
      client: this.client,
    } = startNodeRpc(
      {
        name: c.name,
        role: 'master',
        listen: c.listen,
        handlers: c.handlers,
        queues: c.queues,
        priorityHandlers: c.priorityHandlers,
        priorityQueues: c.priorityQueues,
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
      resolveMember: (m: string) => this.members.get(m)?.addr,
      advertised: () => ({
        ...(this.advertised ? { rpc: this.advertised } : {}),
        ...(this.config.adminUrl ? { adminUrl: this.config.adminUrl } : {}),
      }),
      resumePolicy: (run: LeftoverRun) => this.manager.resumePolicy(run),
      leftoverEnded: (run: EndedLeftover) => this.manager.recordEndedLeftover(run),
    };
    this.transport = c.coordinatorTransport
      ? c.coordinatorTransport(ctx)
      : new RpcProcedureCoordinatorRpcs({
          ...ctx,
          pool: 'priority',
          callTimeoutMs: c.rpcTimeoutMs,
          dispatcherThreads: c.dispatcherThreads,
          log: this.log,
        });
    this.coordinator = new ProcedureCoordinator({
      node: c.name,
      rpcs: this.transport,
      threads: this.threads,
      clock: substrate.clock,
      poolThreads: c.coordinatorThreads,
      timeoutMs: c.procedureTimeoutMs,
      wakeIntervalMs: c.wakeIntervalMs,
      log: this.log,
    });
    this.manager = new LogRollMasterProcedureManager({
      coordinator: this.coordinator,
      table: () => this.backupTable,
      // A transport that tracks membership (ZooKeeper's ephemeral members/ znodes) knows who is alive
      // better than RPC registrations, which a crashed worker keeps until memberExpiryMs: with those,
      // every run would abort on the dead worker for a minute.
      members: () => [...(this.transport.liveMembers?.() ?? this.liveMembers())],
      ...(c.onBackupRowsWritten ? { rowsWritten: c.onBackupRowsWritten } : {}),
      clock: substrate.clock,
      defaultMode: c.defaultMode,
      procedureTimeoutMs: c.procedureTimeoutMs,
    });
  }

  get name(): string {
    return this.config.name;
  }

  /** The address workers and clients use. */
  get address(): Address {
    assert(this.advertised, `master ${this.name} not started`);
    return this.advertised;
  }

  get peer(): Peer {
    return { node: this.name, addr: this.address };
  }

  get backupTable(): BackupSystemTable {
    assert(this.table, `master ${this.name} not started`);
    return this.table;
  }

  /**
   * Whether this master coordinates procedures now: started, and (ZooKeeper) the election's leader.
   * A standby, or a master that lost its session, is not.
   */
  get isActive(): boolean {
    return this.state === 'running' && (this.transport.isActive?.() ?? true);
  }

  /** Sets the admin URL reported in cluster status (the admin listener starts beside the node). */
  advertiseAdmin(url: string): void {
    this.config.adminUrl = url;
  }

  memberNames(): string[] {
    return this.members.names();
  }

  /** Registered members whose lease has not ended (Membership drops the others as their leases end). */
  private liveMembers(): string[] {
    return this.members.names();
  }

  /**
   * A dropped member will never report: a run still waiting for it aborts now, naming it, instead
   * of at its procedure timer.
   */
  private abortRunsWaitingFor(member: string, why: string): void {
    for (const p of this.coordinator.runningProcedures()) {
      if (p.missing().includes(member)) {
        this.coordinator.memberAborted(p.ref, new ForeignException(member, `member ${member} was dropped: ${why}`));
      }
    }
  }

  async start(): Promise<Address> {
    assert(this.state === 'new', `master ${this.name} already started`);
    this.state = 'starting';
    const { disk, clock } = this.substrate;
    this.table = await BackupSystemTable.open(disk, joinPath(this.config.dataDir, 'backup'), clock, this.log);
    this.registerMethods();
    // Bound before the coordinator starts: a ZooKeeper master publishes this address when it wins
    // the election (a standby waits inside coordinator.start() and turns clients away meanwhile).
    const bound = await this.server.start();
    this.advertised = this.config.advertise ?? bound;
    await this.coordinator.start();
    this.state = 'running';
    return this.advertised;
  }

  /** Aborts the running procedure `name`; the error names `source` (e.g. the deadlock detector). */
  abortProcedure(name: string, reason: string | Error, source = 'operator'): boolean {
    const error =
      reason instanceof ForeignException
        ? reason
        : new ForeignException(source, reason instanceof Error ? reason.message : reason);
    return this.coordinator.abortProcedure(name, error);
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.members.close();
    await this.coordinator.close();
    this.client.close();
    await this.server.stop();
    await this.table?.close();
  }

  status(): ClusterStatus {
    return {
      master: {
        name: this.name,
        rpc: this.advertised ? formatAddress(this.advertised) : '',
        ...(this.config.adminUrl ? { adminUrl: this.config.adminUrl } : {}),
      },
      members: this.members.all().map((m): MemberStatus => ({
        name: m.name,
        rpc: formatAddress(m.addr),
        ...(m.adminUrl ? { adminUrl: m.adminUrl } : {}),
      })),
      running: this.coordinator.runningProcedures().map((p) => ({
        name: p.ref.name,
        instance: p.ref.instance,
        procId: p.procId,
        state: p.state,
        missing: p.missing().length,
      })),
    };
  }

  private registerMethods(): void {
    const s = this.server;
    s.register(
      MASTER_METHODS.execProcedure,
      'default',
      async (a, ctx) => {
        this.checkActive('execProcedure');
        return this.execProcedure(a, ctx);
      },
      FRAMES.execProcedure,
    );
    s.register(
      MASTER_METHODS.getProcedureResult,
      'default',
      async (a) => {
        this.checkActive('getProcedureResult');
        return { ...this.manager.getProcedureResult(parseGetResult(a)), master: this.name };
      },
      FRAMES.getProcedureResult,
    );
    s.register(
      MASTER_METHODS.sanityCheckLogRoll,
      'default',
      async (a, ctx) => {
        this.checkActive('sanityCheckLogRoll');
        return this.sanityCheck(a, ctx);
      },
      FRAMES.sanityCheck,
    );
    s.register(
      MASTER_METHODS.readLastLogRoll,
      'default',
      async (a) => {
        if (!isObject(a)) throw new Error('readRegionServerLastLogRollResult: bad request');
        return this.backupTable.readRegionServerLastLogRollResult(requireString(a, 'backupRoot', 'read'));
      },
      FRAMES.readLastLogRoll,
    );
    s.register(
      MASTER_METHODS.regionServerStartup,
      'priority',
      async (a) => this.regionServerStartup(a),
      FRAMES.regionServerStartup,
    );
    s.register(
      MASTER_METHODS.regionServerStopped,
      'priority',
      async (a) => {
        if (!isObject(a)) throw new Error('regionServerStopped: bad request');
        const name = requireString(a, 'name', 'regionServerStopped');
        const addr = {
          host: requireString(a, 'host', 'regionServerStopped'),
          port: requireNumber(a, 'port', 'regionServerStopped'),
        };
        return { dropped: this.members.deregister(name, addr) };
      },
      FRAMES.regionServerStopped,
    );
    s.register(MASTER_METHODS.getClusterStatus, 'priority', async () => this.status(), FRAMES.getClusterStatus);
    s.register(
      MASTER_METHODS.abortProcedure,
      'priority',
      async (a) => {
        if (!isObject(a)) throw new Error('abortProcedure: bad request');
        const req: AbortProcedureRequest = {
          name: requireString(a, 'name', 'abortProcedure'),
          reason: requireString(a, 'reason', 'abortProcedure'),
          ...(typeof a.source === 'string' ? { source: a.source } : {}),
        };
        this.checkActive('abortProcedure');
        return { aborted: this.abortProcedure(req.name, req.reason, req.source) };
      },
      FRAMES.abortProcedure,
    );
  }

  /**
   * Turns a procedure call away while this master is not the active one (HBase: a backup master's
   * PleaseHoldException). Retryable: the caller tries again, or finds the active master.
   */
  private checkActive(method: string): void {
    if (this.isActive) return;
    throw new RpcError(
      'ServerNotRunningYet',
      `master ${this.name} is not the active master (${this.state === 'running' ? 'standby' : this.state}); ${method} refused`,
      true,
    );
  }

  private async execProcedure(a: unknown, ctx: CallContext): Promise<unknown> {
    if (!isObject(a)) throw new Error('execProcedure: bad request');
    const req: ExecProcedureRequest = {
      signature: typeof a.signature === 'string' ? a.signature : ROLLLOG_SIGNATURE,
      ...(typeof a.name === 'string' ? { name: a.name } : {}),
      ...(typeof a.mode === 'string' ? { mode: a.mode as RolllogMode } : {}),
      ...(typeof a.backupRoot === 'string' ? { backupRoot: a.backupRoot } : {}),
    };
    return ctx.thread.run(LOGROLL_FRAMES.execProcedure, () => this.manager.execProcedure(ctx.thread, req));
  }

  /**
   * The legacy sanity check: some real work on this handler, then a nested synchronous call
   * through the master's own client into its own default pool, then the backup-table write.
   * With H default handlers, H-1 concurrent checks leave no handler for the nested calls.
   */
  private async sanityCheck(a: unknown, ctx: CallContext): Promise<unknown> {
    if (!isObject(a)) throw new Error('sanityCheckLogRoll: bad request');
    const req: SanityCheckRequest = {
      server: requireString(a, 'server', 'sanityCheck'),
      backupRoot: requireString(a, 'backupRoot', 'sanityCheck'),
      highest: requireNumber(a, 'highest', 'sanityCheck'),
      rolledAtMs: requireNumber(a, 'rolledAtMs', 'sanityCheck'),
      instance: requireString(a, 'instance', 'sanityCheck'),
    };
    const t = ctx.thread;
    const clock = this.substrate.clock;
    if (this.config.checkCostMs > 0) {
      // Modelled as a timed wait so it costs the same virtual time in the simulator.
      await t.run(FRAMES.verify, () => sleep(t, clock, this.config.checkCostMs, 'sanity-check-work'));
    }
    // The check belongs to a procedure: once that procedure is aborted (its timer, a member, the
    // deadlock detector), the nested call is withdrawn so this handler returns to its pool.
    const signal = this.procedureSignal(req.instance);
    const current = await t.run(BACKUP_TABLE_FRAMES.read, () =>
      this.client.call<Record<string, number>>(
        this.peer,
        MASTER_METHODS.readLastLogRoll,
        { backupRoot: req.backupRoot },
        { thread: t, timeoutMs: this.config.rpcTimeoutMs, signal },
      ),
    );
    const stored = current[req.server];
    if (stored !== undefined && stored > req.highest) {
      this.log(`won't update ${req.server}'s last roll result: current=${stored} new=${req.highest}`);
      return { written: false };
    }
    const row = {
      backupRoot: req.backupRoot,
      server: req.server,
      segment: req.highest,
      rolledAtMs: req.rolledAtMs,
      procedure: req.instance,
    };
    await t.run(BACKUP_TABLE_FRAMES.write, () => this.backupTable.writeRegionServerLastLogRollResult(t, [row]));
    this.config.onBackupRowsWritten?.([row]);
    return { written: true };
  }

  /** Aborted when the procedure run `instance` ends in failure, or at once if it is not running. */
  private procedureSignal(instance: string): AbortSignal {
    const proc = this.coordinator.runningProcedures().find((p) => p.ref.instance === instance);
    const ctl = new AbortController();
    if (!proc) {
      ctl.abort(new Error(`procedure ${instance} is no longer running`));
      return ctl.signal;
    }
    void proc.completion.then((o) => {
      if (!o.ok) ctl.abort(o.error ?? new Error(`procedure ${instance} failed`));
    });
    return ctl.signal;
  }

  private regionServerStartup(a: unknown): unknown {
    if (!isObject(a)) throw new Error('regionServerStartup: bad request');
    const name = requireString(a, 'name', 'regionServerStartup');
    const host = requireString(a, 'host', 'regionServerStartup');
    const port = requireNumber(a, 'port', 'regionServerStartup');
    this.members.register(name, { host, port }, typeof a.adminUrl === 'string' ? a.adminUrl : undefined);
    return { master: this.name, members: this.members.size };
  }
}

function parseGetResult(a: unknown): GetProcedureResultRequest {
  if (!isObject(a)) throw new Error('getProcedureResult: bad request');
  if (typeof a.instance === 'string') {
    return { instance: a.instance, ...(typeof a.procId === 'number' ? { procId: a.procId } : {}) };
  }
  if (typeof a.procId === 'number') return { procId: a.procId };
  if (typeof a.name === 'string') return { name: a.name };
  throw new Error('getProcedureResult: give instance, procId or name');
}
