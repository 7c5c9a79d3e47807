// `rollcall rolllog` as a function: start an in-process cluster (or connect to one), run rolllog
// K times, report each run and a summary. The demo and later flags (--detect, --predict,
// --coordination) plug in through RolllogHooks instead of forking this loop.
import { setTimeout as delay } from 'node:timers/promises';
import {
  BackupAdminClient,
  isUnreachable,
  MASTER_DEFAULTS,
  ROLLLOG_NAME,
  WORKER_DEFAULTS,
  type ClusterStatus,
  type RolllogMode,
  type RolllogRunResult,
} from '../cluster/index.js';
import {
  ActiveMasterTracker,
  openZkSession,
  zkClusterSettings,
  type ZkSession,
} from '../coordination/zookeeper/index.js';
import { RpcClient, type Peer } from '../rpc/index.js';
import { realSubstrate } from '../substrate/real/index.js';
import { formatAddress, parseAddress } from '../substrate/types.js';
import { ThreadRegistry } from '../threads/index.js';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from './inprocess.js';
import { NodeConfigError, configErrorOf, loadSecurity, type NodeSecurity, type SecurityFiles } from './secrets.js';

export type RunOutcome = 'ok' | 'timeout' | 'failed' | 'deadlock-detected';

export interface RunReport {
  outcome: RunOutcome;
  durationMs: number;
  error?: string;
  /** Online detection (--detect): when the deadlock was proven, and its cycle. */
  detectedAfterMs?: number;
  cycle?: unknown;
}

export interface RolllogSummary {
  ok: number;
  failed: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface RolllogReport {
  mode: RolllogMode;
  nodes: number;
  handlers: number;
  runs: RunReport[];
  summary: RolllogSummary;
  /** Latent-deadlock predictions (--predict). */
  predictions?: unknown[];
  /** What online detection cost (--detect): collection and analysis per round. */
  detector?: unknown;
  /** Why the runs stopped before --runs (the master was lost): the report is partial. */
  error?: string;
}

export interface RolllogOptions {
  /** Workers of the in-process cluster (ignored with `master`). */
  nodes: number;
  mode: RolllogMode;
  runs: number;
  handlers?: number;
  priorityHandlers?: number;
  memberPool?: number;
  coordinatorPool?: number;
  rpcTimeoutMs?: number;
  procedureTimeoutMs?: number;
  memberTimeoutMs?: number;
  wakeIntervalMs?: number;
  checkCostMs?: number;
  writeRate?: number;
  /** The in-process master's member lease, and its workers' report interval (which renews it). */
  memberLeaseMs?: number;
  reportIntervalMs?: number;
  backupRoot?: string;
  /** HOST:PORT of an existing cluster's master: run there instead of starting one. */
  master?: string;
  /** The cluster secret and/or TLS certificates: for the in-process cluster, or to reach an existing one. */
  security?: SecurityFiles;
  /** zookeeper://HOST:PORT/CHROOT: the in-process cluster's barrier runs through ZooKeeper. */
  coordination?: string;
  /**
   * zookeeper://HOST:PORT/CHROOT of an existing cluster: run against its active master (published
   * in masters/active; `master`, when given, is only where to start) and follow it across
   * failovers, so a fixed-mode run that a standby resumed still reports its outcome.
   */
  masterFrom?: string;
  /** Called after each run, e.g. for progress on a terminal. */
  onRun?: (index: number, run: RunReport, total: number) => void;
  hooks?: RolllogHooks;
  /** Extra settings for the in-process nodes (e.g. a coordination transport from --coordination). */
  masterSettings?: LocalClusterOptions['master'];
  workerSettings?: LocalClusterOptions['worker'];
  /** Extra admin endpoints per in-process node (e.g. /waits for the online detector). */
  adminRoutes?: LocalClusterOptions['adminRoutes'];
  log?: (message: string) => void;
  /** Aborting stops the cluster at once (removing its data) and rejects with RolllogInterrupted. */
  signal?: AbortSignal;
}

export class RolllogInterrupted extends Error {
  override name = 'RolllogInterrupted';
}

/** rolllog could not start: the master did not answer (the CLI exits 2 with this message). */
export class RolllogStartError extends Error {
  override name = 'RolllogStartError';
}

/** What hooks see: the cluster (when in-process), a client, and the cluster's status. */
export interface RolllogContext {
  options: RolllogOptions;
  /** How nodes are reached: hooks that talk to them (the detector) use the same keys. */
  security: NodeSecurity;
  local?: LocalCluster;
  client: BackupAdminClient;
  status: ClusterStatus;
}

export interface RolllogHooks {
  start?(ctx: RolllogContext): Promise<void> | void;
  /** Before run i starts (e.g. arm a detector). */
  beforeRun?(ctx: RolllogContext, index: number): Promise<void> | void;
  /** After run i; may rewrite the run (e.g. outcome 'deadlock-detected'). */
  afterRun?(ctx: RolllogContext, index: number, run: RunReport): Promise<void> | void;
  /** Before the report is returned; may add fields (e.g. predictions). */
  finish?(ctx: RolllogContext, report: RolllogReport): Promise<void> | void;
}

export const MAX_RUNS = 100_000;

export async function runRolllog(options: RolllogOptions): Promise<RolllogReport> {
  const rpcTimeoutMs = options.rpcTimeoutMs ?? MASTER_DEFAULTS.rpcTimeoutMs;
  const procedureTimeoutMs = options.procedureTimeoutMs ?? MASTER_DEFAULTS.procedureTimeoutMs;
  const handlers = options.handlers ?? MASTER_DEFAULTS.handlers;
  const security = loadSecurity(options.security ?? {});
  let local: LocalCluster | undefined;
  let remote: { rpc: RpcClient; client: BackupAdminClient } | undefined;
  let follower: { session: ZkSession; tracker: ActiveMasterTracker } | undefined;
  // Stopping the cluster fails the call in flight, so the loop below ends promptly.
  const onAbort = (): void => {
    remote?.rpc.close();
    follower?.tracker.stop();
    void local?.stop();
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const checkAborted = (): void => {
    if (options.signal?.aborted) throw new RolllogInterrupted('rolllog interrupted');
  };
  try {
    let client: BackupAdminClient;
    if (options.master || options.masterFrom) {
      const substrate = realSubstrate({
        ...(options.log ? { log: options.log } : {}),
        ...(security.link ? { security: security.link } : {}),
      });
      const threads = new ThreadRegistry('client', 'client', substrate.pid, substrate.clock);
      const rpc = new RpcClient({ node: 'client', substrate });
      const given: Peer | undefined = options.master
        ? { node: 'master', addr: parseAddress(options.master) }
        : undefined;
      let master: Peer | (() => Peer);
      if (options.masterFrom) {
        const f = await followActiveMaster(options.masterFrom, given === undefined, options.log);
        follower = f;
        checkAborted();
        // The active master now, else the last one seen (between two leaders), else --master.
        const first = given ?? peerOf(f.tracker)!;
        master = () => peerOf(f.tracker) ?? first;
      } else {
        master = given!;
      }
      client = new BackupAdminClient(rpc, master, substrate.clock, threads.spawn('main', { daemon: false }));
      remote = { rpc, client };
    } else {
      const zk = options.coordination
        ? zkClusterSettings(options.coordination, { procedureTimeoutMs, ...(options.log ? { log: options.log } : {}) })
        : undefined;
      local = await startLocalCluster({
        workers: options.nodes,
        master: {
          handlers,
          ...(options.priorityHandlers !== undefined ? { priorityHandlers: options.priorityHandlers } : {}),
          ...(options.coordinatorPool !== undefined ? { coordinatorThreads: options.coordinatorPool } : {}),
          rpcTimeoutMs,
          procedureTimeoutMs,
          wakeIntervalMs: options.wakeIntervalMs ?? MASTER_DEFAULTS.wakeIntervalMs,
          checkCostMs: options.checkCostMs ?? MASTER_DEFAULTS.checkCostMs,
          ...(options.memberLeaseMs !== undefined ? { memberLeaseMs: options.memberLeaseMs } : {}),
          defaultMode: options.mode,
          ...zk?.master,
        },
        worker: {
          rpcTimeoutMs,
          memberTimeoutMs: options.memberTimeoutMs ?? procedureTimeoutMs,
          memberThreads: options.memberPool ?? WORKER_DEFAULTS.memberThreads,
          wakeIntervalMs: options.wakeIntervalMs ?? WORKER_DEFAULTS.wakeIntervalMs,
          writeRate: options.writeRate ?? 0,
          ...(options.reportIntervalMs !== undefined ? { reportIntervalMs: options.reportIntervalMs } : {}),
          ...zk?.worker,
        },
        security,
        ...(options.log ? { log: options.log } : {}),
      });
      client = local.cluster.client;
    }
    checkAborted();
    const masterAddress = (): string => formatAddress(client.masterPeer.addr);
    let status: ClusterStatus;
    try {
      status = await client.clusterStatus(Math.min(rpcTimeoutMs, 10_000));
    } catch (err) {
      checkAborted();
      // A refused key or certificate is the operator's to fix: one line, exit 2.
      const config = configErrorOf(err);
      if (config) throw new NodeConfigError(`cannot reach the master: ${config.message}`);
      throw new RolllogStartError(`the master at ${masterAddress()} did not answer: ${(err as Error).message}`);
    }
    const ctx: RolllogContext = { options, security, client, status, ...(local ? { local } : {}) };
    await options.hooks?.start?.(ctx);
    const runs: RunReport[] = [];
    let lost: string | undefined;
    const total = Math.min(options.runs, MAX_RUNS);
    for (let i = 0; i < total; i++) {
      await options.hooks?.beforeRun?.(ctx, i);
      const result = await client.rolllog({
        mode: options.mode,
        rpcTimeoutMs,
        procedureTimeoutMs,
        ...(options.backupRoot ? { backupRoot: options.backupRoot } : {}),
      });
      checkAborted();
      const run = toRunReport(result);
      await options.hooks?.afterRun?.(ctx, i, run);
      runs.push(run);
      options.onRun?.(i, run, total);
      // A dead master fails every later run at once: stop and say so instead of reporting
      // thousands of failures (or, waiting below, retrying for minutes). A master that is only
      // slow or stuck is a result, and is not probed.
      if (result.unreachable) lost = await masterLost(client, follower !== undefined, checkAborted);
      if (lost !== undefined) break;
      if (run.outcome !== 'ok' && i + 1 < total) {
        // The procedure may outlive the client's call (its timer, stuck handlers): the next run
        // would be rejected as a duplicate, so wait for it to end.
        await client.waitForProcedureEnd(ROLLLOG_NAME, procedureTimeoutMs + rpcTimeoutMs + 5_000);
      }
    }
    const report: RolllogReport = {
      mode: options.mode,
      nodes: remote ? status.members.length : options.nodes,
      handlers,
      runs,
      summary: summarize(runs),
      ...(lost !== undefined
        ? { error: `lost the master at ${masterAddress()} after ${runs.length} of ${total} runs: ${lost}` }
        : {}),
    };
    await options.hooks?.finish?.(ctx, report);
    return report;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    remote?.rpc.close();
    follower?.tracker.stop();
    await follower?.session.close();
    await local?.stop();
  }
}

/** How long a client without --master waits for masters/active (a failover takes a session timeout). */
const WAIT_FOR_MASTER_MS = 30_000;

/** Probes of a master that may be gone, and the pause between them; following ZooKeeper, a failover's worth. */
const MASTER_PROBES = 3;
const MASTER_PROBE_PAUSE_MS = 500;
const MASTER_PROBE_TIMEOUT_MS = 5_000;

/**
 * After a run that could not reach the master: undefined once it answers again (or only times out:
 * a stuck master is a result, not a lost one), else why it is lost.
 */
async function masterLost(
  client: BackupAdminClient,
  following: boolean,
  checkAborted: () => void,
): Promise<string | undefined> {
  const probes = following ? Math.ceil(WAIT_FOR_MASTER_MS / MASTER_PROBE_PAUSE_MS) : MASTER_PROBES;
  let last: Error | undefined;
  for (let i = 0; i < probes; i++) {
    if (i > 0) await delay(MASTER_PROBE_PAUSE_MS);
    checkAborted();
    try {
      await client.clusterStatus(MASTER_PROBE_TIMEOUT_MS);
      return undefined;
    } catch (err) {
      if (!isUnreachable(err)) return undefined;
      last = err as Error;
    }
  }
  return last?.message ?? 'unreachable';
}

/** A ZooKeeper session watching masters/active; waits for a master when there is no other to start with. */
async function followActiveMaster(
  url: string,
  waitForOne: boolean,
  log?: (message: string) => void,
): Promise<{ session: ZkSession; tracker: ActiveMasterTracker }> {
  const session = await openZkSession(url, { owner: 'rolllog-client', ...(log ? { log } : {}) });
  const tracker = new ActiveMasterTracker(session, 'rolllog-client', log);
  try {
    await tracker.start();
    if (waitForOne) await tracker.waitForMaster(WAIT_FOR_MASTER_MS);
  } catch (err) {
    tracker.stop();
    await session.close();
    throw err;
  }
  tracker.onChange((info, address) => log?.(`rolllog: following master ${info.name} at ${formatAddress(address)}`));
  return { session, tracker };
}

function peerOf(tracker: ActiveMasterTracker): Peer | undefined {
  const c = tracker.current;
  return c ? { node: c.info.name, addr: c.address } : undefined;
}

function toRunReport(r: RolllogRunResult): RunReport {
  return {
    outcome: r.outcome,
    durationMs: round3(r.durationMs),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

export function summarize(runs: readonly RunReport[]): RolllogSummary {
  const ok = runs.filter((r) => r.outcome === 'ok').length;
  const d = runs.map((r) => r.durationMs).sort((a, b) => a - b);
  return {
    ok,
    failed: runs.length - ok,
    p50Ms: round3(percentile(d, 50)),
    p99Ms: round3(percentile(d, 99)),
    maxMs: round3(d.length > 0 ? d[d.length - 1]! : 0),
  };
}

/** Nearest-rank percentile of sorted values (0 for none). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(sorted.length, rank) - 1]!;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
