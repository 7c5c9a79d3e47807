// --detect and --predict for `rollcall rolllog` (and the demo): the runtime glue around
// src/detect. Detection collects every node's dump over its admin listener — never through the
// RPC pools, which are what is stuck — and aborts the procedure through the master's priority pool
// (or directly, in process). Prediction watches every node's waits while the cluster runs.
import { AdminReader } from '../admin/client.js';
import { BackupAdminClient } from '../cluster/index.js';
import {
  DeadlockDetector,
  DEFAULT_DETECT_INTERVAL_MS,
  watchCluster,
  type DetectorRound,
  type LatentDeadlockPredictor,
  type Prediction,
} from '../detect/index.js';
import { RpcClient } from '../rpc/index.js';
import { realSubstrate, type RealSubstrate } from '../substrate/real/index.js';
import { parseAddress } from '../substrate/types.js';
import { ThreadRegistry } from '../threads/index.js';
import type { NodeDump } from '../threads/types.js';
import type { RolllogContext, RolllogHooks, RolllogReport, RunReport } from './rolllog.js';
import { adminAuthOf } from './secrets.js';

export const DETECTOR_SOURCE = 'deadlock-detector';

export interface DetectorCost {
  rounds: number;
  collectMsP50: number;
  collectMsMax: number;
  analyzeMsP50: number;
  analyzeMsMax: number;
}

/** Hooks that run the online detector during every run. */
export function detectHooks(
  options: {
    intervalMs?: number;
    log?: (m: string) => void;
    /**
     * Keep one detector running across all runs (as a detector deployed beside a master would),
     * instead of one per run: used to measure what detection costs a healthy cluster.
     */
    continuous?: boolean;
  } = {},
): RolllogHooks & {
  cost(): DetectorCost;
} {
  // Replaced in start() by one with the cluster's link security, to reach a remote master.
  let substrate: RealSubstrate = realSubstrate();
  const rounds: DetectorRound[] = [];
  let detector: DeadlockDetector | undefined;
  let urls: string[] = [];
  let abortRemote: ((reason: string) => Promise<void>) | undefined;
  let remoteRpc: RpcClient | undefined;

  let reader = new AdminReader();
  const collect = (): Promise<NodeDump[]> => Promise.all(urls.map((u) => reader.dump(u)));

  return {
    start(ctx: RolllogContext) {
      const s = ctx.status;
      reader.close();
      reader = new AdminReader(undefined, adminAuthOf(ctx.security));
      urls = [s.master.adminUrl, ...s.members.map((m) => m.adminUrl)].filter((u): u is string => typeof u === 'string');
      if (urls.length < s.members.length + 1) {
        options.log?.(
          `--detect: ${s.members.length + 1 - urls.length} node(s) advertise no admin listener; they are not watched`,
        );
      }
      if (!ctx.local) {
        // A separate client and thread: the run's own client thread is parked in the rolllog call.
        substrate = realSubstrate(ctx.security.link ? { security: ctx.security.link } : {});
        const threads = new ThreadRegistry('detector', 'client', substrate.pid, substrate.clock);
        const rpc = (remoteRpc = new RpcClient({ node: 'detector', substrate }));
        const admin = new BackupAdminClient(
          rpc,
          { node: s.master.name, addr: parseAddress(s.master.rpc) },
          substrate.clock,
          threads.spawn('deadlock-detector', { daemon: true }),
        );
        abortRemote = async (reason) => {
          await admin.abortProcedure('rolllog', reason, DETECTOR_SOURCE);
        };
      }
    },
    beforeRun(ctx: RolllogContext) {
      if (detector && options.continuous) return;
      detector = new DeadlockDetector({
        clock: substrate.clock,
        intervalMs: options.intervalMs ?? DEFAULT_DETECT_INTERVAL_MS,
        collect,
        abort: (error) => {
          if (ctx.local) return ctx.local.cluster.abortProcedure(error, { source: DETECTOR_SOURCE });
          void abortRemote?.(error).catch((e: unknown) => options.log?.(`--detect: abort failed: ${String(e)}`));
          return true;
        },
      });
      detector.start();
    },
    afterRun(_ctx: RolllogContext, _index: number, run: RunReport) {
      if (!detector) return;
      const d = detector.result;
      if (options.continuous && !d) return;
      detector.stop();
      rounds.push(...detector.rounds());
      if (d) {
        run.outcome = 'deadlock-detected';
        run.detectedAfterMs = Math.round(d.detectedAfterMs);
        run.cycle = d.cycle;
        run.error = d.error;
      }
      detector = undefined;
    },
    finish() {
      // An open connection to a remote master, or to an admin listener, would keep the CLI alive.
      remoteRpc?.close();
      reader.close();
      if (!detector) return;
      detector.stop();
      rounds.push(...detector.rounds());
      detector = undefined;
    },
    cost(): DetectorCost {
      const c = rounds.map((r) => r.collectMs).sort((a, b) => a - b);
      const a = rounds.map((r) => r.analyzeMs).sort((x, y) => x - y);
      const mid = (v: number[]) => (v.length ? v[Math.floor((v.length - 1) / 2)]! : 0);
      return {
        rounds: rounds.length,
        collectMsP50: round1(mid(c)),
        collectMsMax: round1(c[c.length - 1] ?? 0),
        analyzeMsP50: round1(mid(a)),
        analyzeMsMax: round1(a[a.length - 1] ?? 0),
      };
    },
  };
}

/** Hooks that watch an in-process cluster's waits and add `predictions` to the report. */
export function predictHooks(): RolllogHooks & { predictor(): LatentDeadlockPredictor | undefined } {
  let watch: ReturnType<typeof watchCluster> | undefined;
  return {
    start(ctx: RolllogContext) {
      if (!ctx.local)
        throw new Error('--predict watches the waits of an in-process cluster; it cannot be used with --master');
      watch = watchCluster(ctx.local.cluster);
    },
    afterRun() {
      watch?.predictor.countRun();
    },
    finish(_ctx: RolllogContext, report: RolllogReport) {
      watch?.detach();
      report.predictions = (watch?.predictor.predictions() ?? []) satisfies Prediction[];
    },
    predictor: () => watch?.predictor,
  };
}

/** Runs several hook sets in order. */
export function combineHooks(...all: (RolllogHooks | undefined)[]): RolllogHooks {
  const hooks = all.filter((h): h is RolllogHooks => h !== undefined);
  return {
    async start(ctx) {
      for (const h of hooks) await h.start?.(ctx);
    },
    async beforeRun(ctx, i) {
      for (const h of hooks) await h.beforeRun?.(ctx, i);
    },
    async afterRun(ctx, i, run) {
      for (const h of hooks) await h.afterRun?.(ctx, i, run);
    },
    async finish(ctx, report) {
      for (const h of hooks) await h.finish?.(ctx, report);
    },
  };
}

function round1(v: number): number {
  return Math.round(v * 10) / 10;
}
