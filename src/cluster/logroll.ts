// The log-roll procedure of HBase's incremental backup, both sides: the master's procedure
// manager (LogRollMasterProcedureManager) and the worker's subprocedure (LogRollBackupSubprocedure).
import {
  ForeignException,
  Subprocedure,
  type AfterBarrier,
  type EndedLeftover,
  type LeftoverRun,
  type Procedure,
  type ProcedureCoordinator,
  type ProcedureRef,
  type ResumeDecision,
  type SubprocedureContext,
} from '../barrier/index.js';
import type { Clock } from '../substrate/types.js';
import type { LogicalThread } from '../threads/index.js';
import { BACKUP_TABLE_FRAMES, type BackupRow, type BackupSystemTable } from './backup-table.js';
import { DEFAULT_BACKUP_ROOT, ROLLLOG_MODES, ROLLLOG_NAME, ROLLLOG_SIGNATURE, type RolllogMode } from './config.js';
import {
  isLogRollMemberResult,
  isObject,
  type ExecProcedureRequest,
  type ExecProcedureResponse,
  type GetProcedureResultRequest,
  type LogRollMemberResult,
  type ProcedureResult,
  type SanityCheckRequest,
} from './messages.js';
import type { RollResult, Wal } from './wal.js';

export const LOGROLL_FRAMES = {
  execProcedure: 'rollcall.backup.master.LogRollMasterProcedureManager.execProcedure',
  writeResults: 'rollcall.backup.master.LogRollMasterProcedureManager.writeRollResults',
  insideBarrier: 'rollcall.backup.regionserver.LogRollBackupSubprocedure.insideBarrier',
  prepareRoll: 'rollcall.backup.regionserver.LogRollBackupSubprocedure.acquireBarrier',
  rolllog: 'rollcall.backup.regionserver.LogRollBackupSubprocedure.rolllog',
  sanityCheck: 'rollcall.backup.regionserver.LogRollBackupSubprocedure.sanityCheck',
} as const;

/** What the coordinator sends to every member with acquire. */
export interface LogRollArgs {
  mode: RolllogMode;
  backupRoot: string;
}

export function parseLogRollArgs(a: unknown): LogRollArgs {
  if (!isObject(a) || !ROLLLOG_MODES.includes(a.mode as RolllogMode) || typeof a.backupRoot !== 'string') {
    throw new Error(`bad rolllog arguments: ${JSON.stringify(a)}`);
  }
  return { mode: a.mode as RolllogMode, backupRoot: a.backupRoot };
}

/** The worker services a log-roll subprocedure uses. */
export interface LogRollHost {
  wal(): Wal;
  /** Legacy: the synchronous sanity-check call into the master's default pool. */
  sanityCheck(thread: LogicalThread, req: SanityCheckRequest, signal: AbortSignal): Promise<void>;
}

export class LogRollBackupSubprocedure extends Subprocedure {
  constructor(
    ctx: SubprocedureContext,
    ref: ProcedureRef,
    private readonly args: LogRollArgs,
    private readonly host: LogRollHost,
  ) {
    super(ctx, ref);
  }

  async acquireBarrier(thread: LogicalThread): Promise<void> {
    // HBase's acquire is a no-op. Here it creates the next WAL segment: file creation contends
    // with fsyncs, and during acquire no member is fsyncing, so the roll inside the barrier is
    // then only seal-and-switch. It holds nothing another procedure could wait for.
    await thread.run(LOGROLL_FRAMES.prepareRoll, () => this.host.wal().prepareRoll(thread));
  }

  async insideBarrier(thread: LogicalThread): Promise<LogRollMemberResult> {
    const roll: RollResult = await thread.run(LOGROLL_FRAMES.rolllog, () => this.host.wal().roll(thread));
    this.monitor.rethrowException();
    if (this.args.mode === 'legacy') {
      // The incident: a synchronous call back into the master's default pool, made while the
      // master's procedure (and the client's call holding a default handler) waits for us.
      await thread.run(LOGROLL_FRAMES.sanityCheck, () =>
        this.host.sanityCheck(
          thread,
          {
            server: this.ctx.member,
            backupRoot: this.args.backupRoot,
            highest: roll.highestClosed,
            rolledAtMs: roll.rolledAtMs,
            instance: this.ref.instance,
          },
          this.signal,
        ),
      );
    }
    return { highest: roll.highestClosed, rolledAtMs: roll.rolledAtMs, rollMs: roll.durationMs };
  }
}

export interface ManagerEnv {
  coordinator: ProcedureCoordinator;
  table: () => BackupSystemTable;
  /** Told of rows once they are durable. */
  rowsWritten?: (rows: readonly BackupRow[]) => void;
  members: () => string[];
  clock: Clock;
  defaultMode: RolllogMode;
  procedureTimeoutMs: number;
}

/** Bound on cached result summaries (one per finished procedure still in the coordinator's history). */
const SUMMARY_CACHE_LIMIT = 1000;

export class LogRollMasterProcedureManager {
  private readonly summaries = new Map<number, ProcedureResult>();
  /** Results of runs a previous master left that ended here (a failover), by instance. */
  private readonly endedLeftovers = new Map<string, ProcedureResult>();

  constructor(private readonly env: ManagerEnv) {}

  /**
   * Starts a rolllog. Fixed mode answers at once with the procedure id (the client polls);
   * legacy mode holds the calling handler until the procedure ends, as HBase's
   * execProcedureWithRet does.
   */
  async execProcedure(thread: LogicalThread, req: ExecProcedureRequest): Promise<ExecProcedureResponse> {
    if (req.signature !== ROLLLOG_SIGNATURE) throw new Error(`unknown procedure signature '${req.signature}'`);
    const mode = req.mode ?? this.env.defaultMode;
    if (!ROLLLOG_MODES.includes(mode)) throw new Error(`unknown rolllog mode '${String(mode)}'`);
    const backupRoot = req.backupRoot ?? DEFAULT_BACKUP_ROOT;
    const args: LogRollArgs = { mode, backupRoot };
    const proc: Procedure<number> = this.env.coordinator.startProcedure<number>({
      signature: ROLLLOG_SIGNATURE,
      name: req.name ?? ROLLLOG_NAME,
      args,
      members: this.env.members(),
      timeoutMs: this.env.procedureTimeoutMs,
      ...(mode === 'fixed' ? { afterBarrier: this.resultsWriter(backupRoot, () => proc.ref) } : {}),
    });
    if (mode === 'fixed') return { procId: proc.procId, instance: proc.ref.instance };
    const outcome = await proc.waitForCompleted(thread);
    if (!outcome.ok) throw outcome.error ?? new ForeignException('master', 'procedure failed');
    return {
      procId: proc.procId,
      instance: proc.ref.instance,
      result: { ...this.result(proc as Procedure<unknown>), master: this.env.coordinator.name },
    };
  }

  /**
   * The after-barrier work of a rolllog run another master started, for a master that resumes it
   * after a failover: fixed mode writes the members' roll results (they travel in their reports,
   * so the new master has them all) to this master's backup table. Throws, saying why, for a run it
   * cannot finish: legacy mode (its rows come from the workers' callbacks, and the client call that
   * waited for it died with the old master), another signature, malformed arguments.
   */
  afterBarrierFor(ref: ProcedureRef, args: unknown): AfterBarrier<number> {
    if (ref.signature !== ROLLLOG_SIGNATURE) throw new Error(`no procedure manager for signature '${ref.signature}'`);
    const a = parseLogRollArgs(args);
    if (a.mode !== 'fixed') {
      throw new Error(
        `a ${a.mode}-mode rolllog has no after-barrier work to resume (its client's call died with the old master); run it again`,
      );
    }
    return this.resultsWriter(a.backupRoot, () => ref);
  }

  /** The master's policy for runs a previous master left: resume fixed-mode rolllogs, abort the rest. */
  resumePolicy(run: LeftoverRun): ResumeDecision {
    try {
      return { afterBarrier: this.afterBarrierFor(run.ref, run.args) as AfterBarrier<unknown> };
    } catch (err) {
      return { abort: (err as Error).message };
    }
  }

  /**
   * Remembers how a run a previous master started ended on this one (aborted at the takeover), so
   * its client, polling by instance after following the new master, gets that answer rather than
   * "unknown procedure".
   */
  recordEndedLeftover(run: EndedLeftover): void {
    this.endedLeftovers.set(run.ref.instance, {
      procId: -1,
      name: run.ref.name,
      instance: run.ref.instance,
      state: 'finished',
      ok: false,
      error: run.error.toWire(),
      members: run.members,
    });
    if (this.endedLeftovers.size > SUMMARY_CACHE_LIMIT)
      this.endedLeftovers.delete(this.endedLeftovers.keys().next().value!);
  }

  getProcedureResult(req: GetProcedureResultRequest): ProcedureResult {
    const c = this.env.coordinator;
    // The instance first: unique across masters, so a client that started a run on a master that
    // died finds it on the one that resumed it (where it has another procId).
    const proc =
      req.instance !== undefined
        ? c.findByInstance(req.instance)
        : req.procId !== undefined
          ? c.getProcedure(req.procId)
          : req.name !== undefined
            ? c.latest(req.name)
            : undefined;
    const ended = req.instance !== undefined && !proc ? this.endedLeftovers.get(req.instance) : undefined;
    if (ended) return ended;
    if (!proc) {
      return {
        procId: req.procId ?? -1,
        name: req.name ?? '',
        instance: req.instance ?? '',
        state: 'not-found',
        members: 0,
      };
    }
    return this.result(proc);
  }

  private resultsWriter(backupRoot: string, ref: () => ProcedureRef): AfterBarrier<number> {
    return (t, results) => this.writeResults(t, ref(), backupRoot, results);
  }

  private async writeResults(
    thread: LogicalThread,
    ref: ProcedureRef,
    backupRoot: string,
    results: ReadonlyMap<string, unknown>,
  ): Promise<number> {
    const rows: BackupRow[] = [];
    for (const [server, data] of results) {
      if (!isLogRollMemberResult(data)) throw new ForeignException(server, `sent a malformed roll result`);
      rows.push({ backupRoot, server, segment: data.highest, rolledAtMs: data.rolledAtMs, procedure: ref.instance });
    }
    await thread.run(LOGROLL_FRAMES.writeResults, () =>
      thread.run(BACKUP_TABLE_FRAMES.write, () => this.env.table().writeRegionServerLastLogRollResult(thread, rows)),
    );
    this.env.rowsWritten?.(rows);
    return rows.length;
  }

  private result(proc: Procedure<unknown>): ProcedureResult {
    const cached = this.summaries.get(proc.procId);
    if (cached) return cached;
    const outcome = proc.outcome;
    const base: ProcedureResult = {
      procId: proc.procId,
      name: proc.ref.name,
      instance: proc.ref.instance,
      state: outcome ? 'finished' : 'running',
      members: proc.members.length,
    };
    if (!outcome) return base;
    const p = outcome.phases;
    const rel = (t: number | undefined): number | undefined => (t === undefined ? undefined : t - p.startedMs);
    const rollTimes: number[] = [];
    for (const d of outcome.results.values()) if (isLogRollMemberResult(d)) rollTimes.push(d.rollMs);
    rollTimes.sort((a, b) => a - b);
    const timings = proc.timings();
    const done: ProcedureResult = {
      ...base,
      ok: outcome.ok,
      ...(outcome.error ? { error: outcome.error.toWire() } : {}),
      phasesMs: {
        acquired: rel(p.acquiredMs),
        released: rel(p.releasedMs),
        afterBarrier: rel(p.afterBarrierMs),
        finished: rel(p.finishedMs),
      },
      slowest: timings.sort((a, b) => (b.completedAfterMs ?? Infinity) - (a.completedAfterMs ?? Infinity)).slice(0, 3),
      ...(rollTimes.length > 0
        ? { rollMs: { p50: rollTimes[Math.floor((rollTimes.length - 1) / 2)]!, max: rollTimes[rollTimes.length - 1]! } }
        : {}),
    };
    this.summaries.set(proc.procId, done);
    if (this.summaries.size > SUMMARY_CACHE_LIMIT) this.summaries.delete(this.summaries.keys().next().value!);
    return done;
  }
}
