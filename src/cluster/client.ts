// The client side of rolllog (HBase's BackupAdmin / Admin.execProcedure): starts the procedure on
// the master and reports the outcome. Legacy mode makes one blocking call that holds a master
// handler for the whole barrier; fixed mode gets a procedure id back and polls with a short,
// growing pause, so no handler is parked.
import { isTimeout } from '../barrier/index.js';
import { RemoteError, RpcError, type Peer, type RpcClient } from '../rpc/index.js';
import { NetworkError, type Clock } from '../substrate/types.js';
import type { LogicalThread } from '../threads/index.js';
import { ROLLLOG_NAME, ROLLLOG_SIGNATURE, type RolllogMode } from './config.js';
import { sleep } from './io.js';
import {
  MASTER_METHODS,
  type ClusterStatus,
  type ExecProcedureResponse,
  type GetProcedureResultRequest,
  type ProcedureResult,
} from './messages.js';

export type RolllogOutcome = 'ok' | 'timeout' | 'failed';

export interface RolllogRequest {
  mode: RolllogMode;
  backupRoot?: string;
  /** Per-call deadline of the client's calls. */
  rpcTimeoutMs: number;
  /** The procedure timer; the fixed-mode client gives up polling a little after it. */
  procedureTimeoutMs: number;
  pollInitialMs?: number;
  pollMaxMs?: number;
}

export interface RolllogRunResult {
  outcome: RolllogOutcome;
  durationMs: number;
  error?: string;
  procId?: number;
  /** The master's summary of the procedure, when it answered with one. */
  result?: ProcedureResult;
  /** The run failed because the master could not be reached at all (refused, reset, closed). */
  unreachable?: boolean;
}

export const POLL_DEFAULTS = {
  initialMs: 1,
  maxMs: 5,
  factor: 1.5,
} as const;

const FRAMES = {
  rolllog: 'rollcall.backup.impl.BackupAdminImpl.rollWALs',
  execProcedure: 'rollcall.client.HBaseAdmin.execProcedure',
  poll: 'rollcall.client.HBaseAdmin$ProcedureFuture.waitProcedureResult',
  waitIdle: 'rollcall.client.HBaseAdmin.waitForProcedureEnd',
} as const;

export class BackupAdminClient {
  /**
   * `master` is the master's peer, or a function giving the current one: a client that follows the
   * active master (ZooKeeper's masters/active) passes a function. Such a client keeps polling a
   * fixed-mode run through a failover (an unreachable or standby master is retried until the
   * deadline), finding the run on the master that resumed it by its instance.
   */
  constructor(
    private readonly client: RpcClient,
    private readonly master: Peer | (() => Peer),
    private readonly clock: Clock,
    private readonly thread: LogicalThread,
  ) {}

  /** The master calls go to now. */
  get masterPeer(): Peer {
    return typeof this.master === 'function' ? this.master() : this.master;
  }

  private get following(): boolean {
    return typeof this.master === 'function';
  }

  async rolllog(req: RolllogRequest): Promise<RolllogRunResult> {
    const t0 = this.clock.nowMs();
    const t = this.thread;
    const elapsed = (): number => this.clock.nowMs() - t0;
    try {
      return await t.run(FRAMES.rolllog, async () => {
        const exec = await t.run(FRAMES.execProcedure, () =>
          this.client.call<ExecProcedureResponse>(
            this.masterPeer,
            MASTER_METHODS.execProcedure,
            {
              signature: ROLLLOG_SIGNATURE,
              name: ROLLLOG_NAME,
              mode: req.mode,
              ...(req.backupRoot ? { backupRoot: req.backupRoot } : {}),
            },
            { thread: t, timeoutMs: req.rpcTimeoutMs },
          ),
        );
        if (req.mode === 'legacy') {
          return {
            outcome: 'ok',
            durationMs: elapsed(),
            procId: exec.procId,
            ...(exec.result ? { result: exec.result } : {}),
          };
        }
        const result = await t.run(FRAMES.poll, () => this.poll(exec.procId, exec.instance, req, t0));
        return fromResult(result, elapsed());
      });
    } catch (err) {
      return {
        outcome: isClientTimeout(err) ? 'timeout' : 'failed',
        durationMs: elapsed(),
        error: (err as Error).message,
        ...(isUnreachable(err) ? { unreachable: true } : {}),
      };
    }
  }

  /**
   * Waits until no procedure of that name runs (after a failed run, so the next one is not
   * rejected as a duplicate). Polls with short calls: the default pool may still be stuck.
   */
  async waitForProcedureEnd(name: string, timeoutMs: number): Promise<boolean> {
    const t = this.thread;
    const deadline = this.clock.nowMs() + timeoutMs;
    return t.run(FRAMES.waitIdle, async () => {
      while (this.clock.nowMs() < deadline) {
        try {
          const r = await this.getProcedureResult({ name }, Math.min(2000, Math.max(1, deadline - this.clock.nowMs())));
          if (r.state !== 'running') return true;
        } catch (err) {
          // A master that refuses connections is gone, not busy (unless a failover may bring another).
          if (err instanceof NetworkError && !this.following) return false;
          // A stuck default pool times the poll out; try again until the deadline.
        }
        await sleep(t, this.clock, 50, 'wait-for-procedure-end');
      }
      return false;
    });
  }

  getProcedureResult(req: GetProcedureResultRequest, timeoutMs: number): Promise<ProcedureResult> {
    return this.client.call<ProcedureResult>(this.masterPeer, MASTER_METHODS.getProcedureResult, req, {
      thread: this.thread,
      timeoutMs,
    });
  }

  clusterStatus(timeoutMs = 10_000): Promise<ClusterStatus> {
    return this.client.call<ClusterStatus>(
      this.masterPeer,
      MASTER_METHODS.getClusterStatus,
      {},
      { thread: this.thread, timeoutMs },
    );
  }

  async abortProcedure(name: string, reason: string, source: string, timeoutMs = 10_000): Promise<boolean> {
    const r = await this.client.call<{ aborted: boolean }>(
      this.masterPeer,
      MASTER_METHODS.abortProcedure,
      { name, reason, source },
      { thread: this.thread, timeoutMs },
    );
    return r.aborted;
  }

  private async poll(
    procId: number,
    instance: string | undefined,
    req: RolllogRequest,
    t0: number,
  ): Promise<ProcedureResult> {
    const t = this.thread;
    // The procedure ends by its own timer; allow one call's timeout beyond it before giving up.
    const deadline = t0 + req.procedureTimeoutMs + req.rpcTimeoutMs;
    let pauseMs = req.pollInitialMs ?? POLL_DEFAULTS.initialMs;
    const maxMs = req.pollMaxMs ?? POLL_DEFAULTS.maxMs;
    for (;;) {
      await sleep(t, this.clock, pauseMs, 'procedure-result-poll');
      pauseMs = Math.min(maxMs, pauseMs * POLL_DEFAULTS.factor);
      let r: ProcedureResult;
      try {
        // Polls are idempotent: a lost or slow one is simply asked again, until the deadline. The
        // instance (when the master gave one) also finds the run on a master that resumed it.
        r = await this.getProcedureResult(
          { procId, ...(instance ? { instance } : {}) },
          Math.min(req.rpcTimeoutMs, POLL_CALL_TIMEOUT_MS),
        );
      } catch (err) {
        // Following the active master, a dead one (connection refused) is waited out too.
        const retryable = err instanceof RpcError ? err.retryable : this.following && err instanceof NetworkError;
        if (retryable && this.clock.nowMs() < deadline) {
          if (this.following) pauseMs = Math.max(pauseMs, FOLLOW_RETRY_PAUSE_MS);
          continue;
        }
        throw err;
      }
      if (r.state === 'finished') return r;
      if (r.state === 'not-found') throw new Error(`procedure ${procId} is unknown to the master (did it restart?)`);
      if (this.clock.nowMs() > deadline) {
        const e = new Error(
          `procedure ${procId} still running ${Math.round(this.clock.nowMs() - t0)} ms after it started`,
        );
        e.name = 'TimeoutException';
        throw e;
      }
    }
  }
}

/** Pause between polls while a followed master is unreachable (a failover takes a session timeout). */
const FOLLOW_RETRY_PAUSE_MS = 100;

/** Bound on one poll: a lost answer costs this, not a whole RPC timeout. */
const POLL_CALL_TIMEOUT_MS = 5_000;

function fromResult(r: ProcedureResult, durationMs: number): RolllogRunResult {
  if (r.ok) return { outcome: 'ok', durationMs, procId: r.procId, result: r };
  const e = r.error;
  return {
    outcome: e?.timeout ? 'timeout' : 'failed',
    durationMs,
    error: e ? `${e.source}: ${e.message}` : 'procedure failed',
    procId: r.procId,
    result: r,
  };
}

/** A failure to reach a node at all (refused, reset, closed), as opposed to a slow or failing call. */
export function isUnreachable(err: unknown): boolean {
  if (err instanceof NetworkError) return true;
  return err instanceof RpcError && (err.type === 'ConnectionClosed' || err.type === 'ConnectFailed');
}

function isClientTimeout(err: unknown): boolean {
  if (err instanceof RemoteError) return err.remoteType === 'TimeoutException';
  return isTimeout(err);
}
