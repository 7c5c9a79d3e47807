// Sweeps over cluster sizes (and modes, and handler counts): one fresh simulated world per point,
// so every point is reproducible on its own from (mode, handlers, size, seed, faults).
import type { RolllogMode } from '../cluster/index.js';
import { CLIENT_NODE, MASTER_DEFAULTS, defaultWorkerName } from '../cluster/index.js';
import { FaultSpecError, nodesNamed, type FaultPlan } from './faults.js';
import { crashFrom } from './crash.js';
import { zkNodeNames } from './zookeeper.js';
import { runSimulation, type SimRunOptions, type SimRunResult } from './run.js';

export interface SweepOptions extends Omit<SimRunOptions, 'workers' | 'mode' | 'handlers'> {
  sizes: readonly number[];
  modes: readonly RolllogMode[];
  handlers: readonly number[];
  /** Called after each point (for a progress bar). */
  onPoint?: (done: number, total: number, point: SweepPoint) => void;
  /** Runs one cluster (default: runSimulation; the ZooKeeper runner for --coordination zookeeper). */
  runner?: (opts: SimRunOptions) => Promise<SimRunResult[]>;
}

export interface SweepPoint extends SimRunResult {
  mode: RolllogMode;
  handlers: number;
}

/** Bound on points in one sweep (sizes × modes × handler counts). */
export const MAX_SWEEP_POINTS = 20_000;

/** Throws FaultSpecError when the plan names a node some size of the sweep does not have. */
export function checkFaultNodes(
  plan: FaultPlan,
  sizes: readonly number[],
  coordination: 'rpc' | 'zookeeper' = 'rpc',
): void {
  const smallest = Math.min(...sizes);
  const zk = coordination === 'zookeeper';
  const valid = new Set(zk ? zkNodeNames(smallest) : [MASTER_DEFAULTS.name, CLIENT_NODE]);
  for (let i = 0; i < smallest; i++) valid.add(defaultWorkerName(i));
  for (const r of plan.restarts) {
    // Without ZooKeeper a restarted master would not find its workers' procedures: only workers.
    if (!zk && (r.node === MASTER_DEFAULTS.name || r.node === CLIENT_NODE)) {
      throw new FaultSpecError(`restart=${r.node}@${r.atMs}ms: only workers can be restarted`);
    }
  }
  for (const n of nodesNamed(plan)) {
    if (!valid.has(n)) {
      throw new FaultSpecError(
        `the fault spec names ${n}, which a ${smallest}-worker cluster does not have (nodes: ${
          zk ? 'zookeeper, master, master-2' : 'master'
        }, worker-1..worker-${smallest}, client)`,
      );
    }
  }
}

export async function sweep(opts: SweepOptions): Promise<SweepPoint[]> {
  const total = opts.sizes.length * opts.modes.length * opts.handlers.length;
  if (total > MAX_SWEEP_POINTS) throw new Error(`a sweep of ${total} points is too many (limit ${MAX_SWEEP_POINTS})`);

  const { sizes, modes, handlers, onPoint, runner = runSimulation, ...rest } = opts;
  const out: SweepPoint[] = [];
  let done = 0;
  for (const mode of modes) {
    for (const h of handlers) {
      for (const workers of sizes) {
        let results: SimRunResult[];
        try {
          results = await runner({ ...rest, workers, mode, handlers: h });
        } catch (err) {
          if (err instanceof FaultSpecError) throw err;
          // A crash is never a result: the sweep stops, saying which cluster to replay.
          const crash = crashFrom(err, 0);
          crash.point = { nodes: workers, mode, handlers: h, seed: rest.seed };
          crash.before = out;
          throw crash;
        }
        done++;
        for (const r of results) {
          const p: SweepPoint = { mode, handlers: h, ...r };
          out.push(p);
        }
        onPoint?.(done, total, { mode, handlers: h, ...results[results.length - 1]! });
      }
    }
  }
  return out;
}

/** The smallest size that failed above a size that succeeded, per series (mode + handlers). */
export function cliffs(
  points: readonly SweepPoint[],
): { mode: RolllogMode; handlers: number; lastOk: number; firstFail: number }[] {
  const out: { mode: RolllogMode; handlers: number; lastOk: number; firstFail: number }[] = [];
  const keys = new Set(points.map((p) => `${p.mode}/${p.handlers}`));
  for (const k of keys) {
    const series = points
      .filter((p) => `${p.mode}/${p.handlers}` === k && p.run === 0)
      .sort((a, b) => a.nodes - b.nodes);
    const firstFail = series.find((p) => p.outcome !== 'ok');
    const lastOk = [...series].reverse().find((p) => p.outcome === 'ok' && (!firstFail || p.nodes < firstFail.nodes));
    if (firstFail && lastOk)
      out.push({
        mode: firstFail.mode,
        handlers: firstFail.handlers,
        lastOk: lastOk.nodes,
        firstFail: firstFail.nodes,
      });
  }
  return out;
}

/** The first rolllog of every cluster, as points of the sweep chart (one series per mode and pool size). */
export function sweepChartPoints(
  points: readonly SweepPoint[],
): { nodes: number; durationMs: number; outcome: string; series: string }[] {
  return points
    .filter((p) => p.run === 0)
    .map((p) => ({
      nodes: p.nodes,
      durationMs: p.durationMs,
      outcome: p.outcome,
      series: `${p.mode}, ${p.handlers} handlers`,
    }));
}
