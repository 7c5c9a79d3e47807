// RPC methods of the master and workers, their arguments and results.
import type { ForeignExceptionWire } from '../barrier/index.js';
import type { RolllogMode } from './config.js';

export const MASTER_METHODS = {
  /** Default pool: the client's call (HBase MasterService.execProcedure). */
  execProcedure: 'MasterService.execProcedure',
  /** Default pool: the fixed-mode client's poll (procedure-v2 getProcedureResult). */
  getProcedureResult: 'MasterService.getProcedureResult',
  /** Default pool: a worker's synchronous sanity check after its roll (legacy mode). */
  sanityCheckLogRoll: 'BackupService.sanityCheckLogRoll',
  /** Default pool: the backup-table read the sanity check makes as a nested call. */
  readLastLogRoll: 'BackupSystemTableService.readRegionServerLastLogRollResult',
  /** Priority pool: worker registration (HBase RegionServerStatusService.regionServerStartup). */
  regionServerStartup: 'RegionServerStatusService.regionServerStartup',
  /** Priority pool: a worker that stops leaves the membership at once (no lease to wait out). */
  regionServerStopped: 'RegionServerStatusService.regionServerStopped',
  /** Priority pool: members and procedures, answered even when the default pool is stuck. */
  getClusterStatus: 'MasterService.getClusterStatus',
  /** Priority pool: aborts a running procedure (the online detector's lever). */
  abortProcedure: 'MasterService.abortProcedure',
} as const;

export const WORKER_METHODS = {
  getWalStatus: 'AdminService.getWalStatus',
} as const;

export interface ExecProcedureRequest {
  signature: string;
  name?: string;
  mode?: RolllogMode;
  backupRoot?: string;
}

export interface ExecProcedureResponse {
  procId: number;
  instance: string;
  /** Legacy mode answers only when the procedure ended: then with its result. */
  result?: ProcedureResult;
}

export type ProcedureStateName = 'running' | 'finished' | 'not-found';

export interface ProcedureResult {
  procId: number;
  name: string;
  instance: string;
  state: ProcedureStateName;
  ok?: boolean;
  error?: ForeignExceptionWire;
  members: number;
  /** Milliseconds from the procedure's start to each phase's end. */
  phasesMs?: { acquired?: number; released?: number; afterBarrier?: number; finished?: number };
  /** The slowest members to complete, for "where did the time go". */
  slowest?: { member: string; acquiredAfterMs?: number; completedAfterMs?: number }[];
  /** Per-member WAL roll times (median and max), fixed and legacy alike. */
  rollMs?: { p50: number; max: number };
  /** The master that answered (after a failover, the one that resumed or aborted the run). */
  master?: string;
}

export interface GetProcedureResultRequest {
  procId?: number;
  /** The latest procedure of that name (when the client lost the id, e.g. after a timeout). */
  name?: string;
  /**
   * The run's instance (from execProcedure): unique across masters, so it also finds a run that a
   * standby master resumed after a failover. Wins over procId and name.
   */
  instance?: string;
}

export interface SanityCheckRequest {
  server: string;
  backupRoot: string;
  highest: number;
  rolledAtMs: number;
  instance: string;
}

export interface RegionServerStartupRequest {
  name: string;
  host: string;
  port: number;
  adminUrl?: string;
}

export interface MemberStatus {
  name: string;
  rpc: string;
  adminUrl?: string;
}

export interface ClusterStatus {
  master: { name: string; rpc: string; adminUrl?: string };
  members: MemberStatus[];
  running: { name: string; instance: string; procId: number; state: string; missing: number }[];
}

export interface AbortProcedureRequest {
  name: string;
  reason: string;
  source?: string;
}

/** What a rolllog member reports in its completed message. */
export interface LogRollMemberResult {
  highest: number;
  rolledAtMs: number;
  rollMs: number;
}

export interface WalStatus {
  name: string;
  currentSegment: number;
  highestClosed: number;
  appended: number;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function requireString(o: Record<string, unknown>, field: string, what: string): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length === 0) throw new Error(`${what}: '${field}' must be a non-empty string`);
  return v;
}

export function requireNumber(o: Record<string, unknown>, field: string, what: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${what}: '${field}' must be a number`);
  return v;
}

export function isLogRollMemberResult(v: unknown): v is LogRollMemberResult {
  return isObject(v) && typeof v.highest === 'number' && typeof v.rolledAtMs === 'number';
}
