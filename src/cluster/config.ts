// Node configuration. Defaults follow HBase (DESIGN §1); every field is a CLI flag somewhere.
import type {
  EndedLeftover,
  LeftoverRun,
  ProcedureCoordinatorRpcs,
  ProcedureMemberRpcs,
  ResumeDecision,
} from '../barrier/index.js';
import type { RpcClient, RpcServer, Peer } from '../rpc/index.js';
import type { Address, Substrate } from '../substrate/types.js';
import type { BackupRow } from './backup-table.js';
import type { ThreadRegistry } from '../threads/index.js';

export type RolllogMode = 'legacy' | 'fixed';
export const ROLLLOG_MODES: readonly RolllogMode[] = ['fixed', 'legacy'];

/** What a coordinator transport factory gets from the master (the ZooKeeper transport plugs in here). */
export interface CoordinatorTransportContext {
  node: string;
  /** The master's substrate: a transport takes its clock (and anything else it needs) from here. */
  substrate: Substrate;
  server: RpcServer;
  client: RpcClient;
  threads: ThreadRegistry;
  resolveMember: (member: string) => Address | undefined;
  /** The master's advertised RPC address (bound before its transport starts) and admin URL. */
  advertised: () => { rpc?: Address; adminUrl?: string };
  /**
   * What this master does with a run another master started and left (after a failover): finish it
   * with its after-barrier work, or abort it (LogRollMasterProcedureManager.resumePolicy).
   */
  resumePolicy: (run: LeftoverRun) => ResumeDecision;
  /** Told of a leftover run that ended here instead (LogRollMasterProcedureManager.recordEndedLeftover). */
  leftoverEnded: (run: EndedLeftover) => void;
}

export interface MemberTransportContext {
  node: string;
  substrate: Substrate;
  server: RpcServer;
  client: RpcClient;
  threads: ThreadRegistry;
  coordinator: () => Peer;
  /** Moves the worker's master calls (registration, reports, legacy sanity check) to another master. */
  followMaster: (master: { name: string; address: Address }) => void;
}

export interface MasterConfig {
  name: string;
  listen: Address;
  /** Address others use to reach this node (default: the bound listen address). */
  advertise?: Address;
  /** This node's admin listener, reported in cluster status (real runtime only). */
  adminUrl?: string;
  dataDir: string;
  /** Default pool (client calls, the legacy sanity check and its nested call). */
  handlers: number;
  queues: number;
  /** Priority pool (worker reports, registration, status, abort). */
  priorityHandlers: number;
  priorityQueues: number;
  /** Per-queue limit as a multiple of the pool's handlers (HBase: 10). */
  queueLengthPerHandler: number;
  coordinatorThreads: number;
  dispatcherThreads: number;
  rpcTimeoutMs: number;
  procedureTimeoutMs: number;
  wakeIntervalMs: number;
  /** Work the master does for each legacy sanity check before its nested call. */
  checkCostMs: number;
  /**
   * A worker not heard from for this long (its reports every reportIntervalMs renew it) is dropped:
   * left out of new procedures, and a run still waiting for it aborts.
   */
  memberLeaseMs: number;
  defaultMode: RolllogMode;
  log?: (message: string) => void;
  coordinatorTransport?: (ctx: CoordinatorTransportContext) => ProcedureCoordinatorRpcs;
  /** Told of every batch of rows this master made durable in its backup table (tools, the simulator's checks). */
  onBackupRowsWritten?: (rows: readonly BackupRow[]) => void;
}

export interface WorkerConfig {
  name: string;
  listen: Address;
  advertise?: Address;
  adminUrl?: string;
  /** The master's RPC address (a transport that knows the active master may move it: followMaster). */
  master: Address;
  masterName: string;
  dataDir: string;
  handlers: number;
  priorityHandlers: number;
  queueLengthPerHandler: number;
  memberThreads: number;
  rpcTimeoutMs: number;
  /** The member timer: a subprocedure running longer aborts itself. */
  memberTimeoutMs: number;
  wakeIntervalMs: number;
  /** WAL entries per second from the load generator (0: none). */
  writeRate: number;
  /** Future WAL segment files kept preallocated (see wal.ts); 0 creates each when needed. */
  walPreallocate: number;
  /** Idle time after a roll before preallocated WAL segments are topped up. */
  walRefillDelayMs: number;
  /** Bound on the worker's attempts to register with the master. */
  registerTimeoutMs: number;
  /** Period of the worker's report to the master (re-registers it after a master restart); 0: none. */
  reportIntervalMs: number;
  log?: (message: string) => void;
  memberTransport?: (ctx: MemberTransportContext) => ProcedureMemberRpcs;
}

export const MASTER_DEFAULTS = {
  name: 'master',
  handlers: 30,
  queues: 3,
  priorityHandlers: 20,
  priorityQueues: 2,
  queueLengthPerHandler: 10,
  coordinatorThreads: 8,
  dispatcherThreads: 128,
  rpcTimeoutMs: 60_000,
  procedureTimeoutMs: 60_000,
  wakeIntervalMs: 500,
  checkCostMs: 20,
  // Three of the workers' 3 s reports, and a second of slack.
  memberLeaseMs: 10_000,
  defaultMode: 'fixed',
} as const satisfies Partial<MasterConfig>;

export const WORKER_DEFAULTS = {
  handlers: 4,
  priorityHandlers: 4,
  queueLengthPerHandler: 10,
  memberThreads: 10,
  rpcTimeoutMs: 60_000,
  memberTimeoutMs: 60_000,
  wakeIntervalMs: 500,
  writeRate: 0,
  // Protocol default: no preallocation (the simulator's disk has no file-creation cost); the real
  // runtime sets REAL_WAL_PREALLOCATE.
  walPreallocate: 0,
  walRefillDelayMs: 1000,
  registerTimeoutMs: 30_000,
  // HBase's hbase.regionserver.msginterval.
  reportIntervalMs: 3_000,
} as const satisfies Partial<WorkerConfig>;

/** WAL segments a worker on a real disk keeps preallocated: covers bursts of back-to-back rolls. */
export const REAL_WAL_PREALLOCATE = 24;

/** HBase's names for the log-roll procedure. */
export const ROLLLOG_SIGNATURE = 'rolllog-proc';
export const ROLLLOG_NAME = 'rolllog';
export const DEFAULT_BACKUP_ROOT = 'backup://default';

/** Queue count for a pool: HBase's default of one queue per ten handlers, at least one. */
export function queuesFor(handlers: number, explicit?: number): number {
  return Math.max(1, Math.min(handlers, explicit ?? Math.ceil(handlers / 10)));
}
