import { describe, expect, it } from 'vitest';
import { combineHooks, detectHooks, predictHooks } from '../../src/runtime/detect.js';
import { runRolllog, type RolllogContext, type RunReport } from '../../src/runtime/rolllog.js';
import { predictInSimulation, simulateWithDetector } from '../../src/sim/detect.js';
import { runSimulation } from '../../src/sim/run.js';
import { sweep, cliffs } from '../../src/sim/sweep.js';
import type { Prediction } from '../../src/detect/index.js';
import { until } from '../support/gate.js';

describe('online deadlock detection over real TCP', () => {
  it('proves the legacy deadlock at 60 workers long before the 60 s timeout, and releases every worker', async () => {
    let released = false;
    let masterFreed = false;
    const inspect = {
      async afterRun(ctx: RolllogContext, _i: number, run: RunReport) {
        expect(run.outcome).toBe('deadlock-detected');
        const cluster = ctx.local!.cluster;
        // Every worker's subprocedure thread leaves its callback; the master's handlers return to the pool.
        await until(
          () => cluster.workers.every((w) => w.threads.all().every((t) => t.wait?.kind !== 'rpc')),
          'workers released',
          5_000,
        );
        released = true;
        await until(
          () => cluster.master.server.metrics().find((p) => p.name === 'default')!.busy === 0,
          'pool freed',
          5_000,
        );
        masterFreed = true;
      },
    };
    const detect = detectHooks({ intervalMs: 250 });
    const report = await runRolllog({
      nodes: 60,
      mode: 'legacy',
      runs: 1,
      handlers: 30,
      hooks: combineHooks(detect, inspect),
    });
    const run = report.runs[0]!;
    expect(run.outcome).toBe('deadlock-detected');
    expect(run.detectedAfterMs).toBeLessThan(2_000);
    expect(run.durationMs).toBeLessThan(5_000);
    const cycle = run.cycle as { kind: string; nodes: string[]; cycle: { evidence: string[] }[] };
    expect(['distributed', 'pool-starvation']).toContain(cycle.kind);
    expect(cycle.nodes).toContain('master');
    for (const step of cycle.cycle) expect(step.evidence.length).toBeGreaterThan(0);
    expect(run.error).toMatch(/deadlock detected: .*RpcServer\.default/);
    expect(released).toBe(true);
    expect(masterFreed).toBe(true);
    expect(detect.cost().rounds).toBeGreaterThanOrEqual(2);
  });

  it('does not abort fixed-mode runs', async () => {
    const report = await runRolllog({ nodes: 20, mode: 'fixed', runs: 5, hooks: detectHooks({ intervalMs: 20 }) });
    expect(report.summary.ok).toBe(5);
  });
});

describe('latent deadlock prediction', () => {
  it('predicts, from 3 workers over real TCP, the cliff the simulator observes (handlers 10, 30, 50)', async () => {
    for (const handlers of [10, 30, 50]) {
      const predict = predictHooks();
      const report = await runRolllog({ nodes: 3, mode: 'legacy', runs: 1, handlers, hooks: predict });
      expect(report.runs[0]!.outcome).toBe('ok');
      const p = (report.predictions as Prediction[])[0]!;
      expect(p.pool).toBe('master/default');
      expect(p.handlers).toBe(handlers);
      const points = await sweep({
        sizes: [p.firesAtNodes! - 2, p.firesAtNodes! - 1, p.firesAtNodes!, p.firesAtNodes! + 1, p.firesAtNodes! + 2],
        modes: ['legacy'],
        handlers: [handlers],
        seed: 1,
      });
      const cliff = cliffs(points)[0]!;
      expect(Math.abs(cliff.firstFail - p.firesAtNodes!)).toBeLessThanOrEqual(1);
      expect(p.evidence.some((e) => e.waitsOn.startsWith('rpc ') && e.from === 'master/default')).toBe(true);
    }
  });

  it('predicts nothing in fixed mode', async () => {
    const report = await runRolllog({ nodes: 3, mode: 'fixed', runs: 3, hooks: predictHooks() });
    expect(report.predictions).toEqual([]);
    expect(await predictInSimulation({ mode: 'fixed', handlers: 30, seed: 3 })).toEqual([]);
  });
});

describe('detection in simulation, over many seeds', () => {
  it('detects the legacy deadlock within a second of virtual time on every seed', async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const r = await simulateWithDetector({ workers: 60, mode: 'legacy', handlers: 30, seed });
      expect(r.detected, `seed ${seed}`).toBe(true);
      expect(r.detectedAfterMs!).toBeLessThanOrEqual(1_000);
      expect(r.outcome).not.toBe('ok');
      expect(r.durationMs).toBeLessThan(2_000);
    }
  });

  it('never aborts slow but progressing work: saturated handlers with a 500 ms check cost', async () => {
    let compared = 0;
    for (let seed = 1; seed <= 40; seed++) {
      // 27 checks of 500 ms each plus the client's call keep 28 of 30 handlers busy for half a second.
      const opts = { workers: 27, mode: 'legacy' as const, handlers: 30, seed, checkCostMs: 500 };
      const [plain] = await runSimulation(opts);
      const watched = await simulateWithDetector(opts);
      if (plain!.outcome === 'ok') {
        compared++;
        expect(watched.detected, `seed ${seed}: false positive`).toBe(false);
        expect(watched.outcome).toBe('ok');
      }
    }
    expect(compared).toBeGreaterThan(30);
  });
});
