// Many seeds of the barrier protocol under random faults, on the real cluster code: after every
// rolllog (and time for aborts and member timers to play out) the invariants must hold.
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKUP_ROOT, ROLLLOG_NAME, isLogRollMemberResult } from '../../src/cluster/index.js';
import { SimRandom } from '../../src/substrate/sim/random.js';
import { SimCluster } from '../../src/sim/run.js';
import { emptyPlan, formatFaultPlan, type FaultPlan } from '../../src/sim/faults.js';

const SEEDS = 200;
const PROCEDURE_TIMEOUT_MS = 2000;
const RPC_TIMEOUT_MS = 1000;

interface Scenario {
  workers: number;
  mode: 'legacy' | 'fixed';
  handlers: number;
  plan: FaultPlan;
}

/** A random small cluster and a random mix of faults, all from the seed. */
function scenario(seed: number): Scenario {
  const rng = new SimRandom(seed * 7919 + 1);
  const workers = 2 + rng.int(5);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  const worker = (): string => `worker-${1 + rng.int(workers)}`;
  const plan: FaultPlan = emptyPlan();
  if (rng.chance(0.3)) plan.rates.push({ kind: 'drop', rate: pick([0.01, 0.03, 0.1]), fromMs: 0, toMs: Infinity });
  if (rng.chance(0.2)) plan.rates.push({ kind: 'dup', rate: pick([0.01, 0.05]), fromMs: 0, toMs: Infinity });
  if (rng.chance(0.2)) plan.rates.push({ kind: 'reorder', rate: pick([0.05, 0.2]), fromMs: 0, toMs: Infinity });
  if (rng.chance(0.35)) {
    const fromMs = rng.int(40);
    const side = [...new Set([worker(), ...(rng.chance(0.3) ? [worker()] : [])])];
    plan.partitions.push({ fromMs, toMs: fromMs + 50 + rng.int(3000), side });
  }
  if (rng.chance(0.35)) {
    const node = worker();
    const atMs = rng.int(40);
    plan.crashes.push({ node, atMs });
    if (rng.chance(0.6)) plan.restarts.push({ node, atMs: atMs + 100 + rng.int(1500) });
  }
  return { workers, mode: rng.chance(0.5) ? 'legacy' : 'fixed', handlers: pick([3, 4, 30]), plan };
}

describe(`barrier protocol invariants over ${SEEDS} seeds with random faults`, () => {
  it('ends each procedure exactly once; success means every member rolled; aborts reach every live member that acquired', async () => {
    const outcomes = new Map<string, number>();
    for (let seed = 0; seed < SEEDS; seed++) {
      const sc = scenario(seed);
      const where = `seed ${seed}: ${sc.workers} workers, ${sc.mode}, ${sc.handlers} handlers, faults '${formatFaultPlan(sc.plan)}'`;
      const logs: string[] = [];
      const sim = await SimCluster.start({
        workers: sc.workers,
        mode: sc.mode,
        handlers: sc.handlers,
        seed,
        procedureTimeoutMs: PROCEDURE_TIMEOUT_MS,
        rpcTimeoutMs: RPC_TIMEOUT_MS,
        faults: sc.plan,
        log: (m) => logs.push(m),
        limits: { maxEvents: 2_000_000 },
      });
      try {
        const crashed = new Set(sc.plan.crashes.map((c) => c.node));
        for (let run = 0; run < 2; run++) {
          const startedMs = sim.world.nowMs;
          const r = await sim.rolllog();
          outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
          // Time for aborts, member timers and held frames to play out.
          await sim.settle(PROCEDURE_TIMEOUT_MS + 2 * RPC_TIMEOUT_MS + 500);
          const master = sim.cluster.master;
          const proc = master.coordinator.latest(ROLLLOG_NAME);
          if (proc === undefined || proc.phaseTimes.startedMs < startedMs) {
            // The master never started this one (the client could not reach it, or the name was busy).
            expect(r.outcome, where).not.toBe('ok');
            continue;
          }
          const instance = proc.ref.instance;
          // Exactly once: a terminal state, nothing left running, at most one abort logged.
          expect(['completed', 'aborted'], where).toContain(proc.state);
          expect(master.coordinator.getRunning(ROLLLOG_NAME), where).toBeUndefined();
          const outcome = proc.outcome!;
          expect(outcome.ok, where).toBe(proc.state === 'completed');
          const aborts = logs.filter((l) => l.startsWith(`procedure ${ROLLLOG_NAME} (instance ${instance}) aborted`));
          expect(aborts.length, where).toBe(outcome.ok ? 0 : 1);
          if (r.outcome === 'ok') expect(outcome.ok, where).toBe(true);
          if (!outcome.ok) expect(r.outcome, where).not.toBe('ok');

          if (outcome.ok) {
            // Success: every member rolled, its row is in the backup table, its segment is durable.
            const table = master.backupTable.readRegionServerLastLogRollResult(DEFAULT_BACKUP_ROOT);
            expect(outcome.results.size, where).toBe(proc.members.length);
            for (const m of proc.members) {
              const res = outcome.results.get(m);
              expect(isLogRollMemberResult(res), `${where}: ${m} result`).toBe(true);
              if (!isLogRollMemberResult(res)) continue;
              expect(res.highest, where).toBeGreaterThanOrEqual(1);
              expect(table[m], `${where}: table row of ${m}`).toBeGreaterThanOrEqual(res.highest);
              if (sim.world.isAlive(m)) {
                expect(sim.worker(m).wal.highestClosed, `${where}: WAL of ${m}`).toBeGreaterThanOrEqual(res.highest);
              }
            }
          } else {
            // Abort: every member that acquired, is still the same process and did not finish,
            // has had its subprocedure ended with an error (the abort, or its own timer).
            const timings = new Map(proc.timings().map((t) => [t.member, t]));
            for (const m of proc.members) {
              const t = timings.get(m);
              if (t?.acquiredAfterMs === undefined || crashed.has(m)) continue;
              const sub = sim.worker(m).member.subprocedure(ROLLLOG_NAME);
              if (sub === undefined || sub.ref.instance !== instance) {
                // A later acquire of the next run replaced it; only possible after this one ended.
                continue;
              }
              expect(sub.isComplete, `${where}: ${m} still runs ${instance}`).toBe(true);
              if (t.completedAfterMs === undefined) {
                expect(sub.error, `${where}: ${m} acquired but never heard of the abort`).not.toBeNull();
              }
            }
          }
        }
      } finally {
        sim.close();
      }
    }
    // The faults must actually bite sometimes, and the protocol must often get through.
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(SEEDS / 4);
    expect((outcomes.get('aborted') ?? 0) + (outcomes.get('timeout') ?? 0)).toBeGreaterThan(SEEDS / 10);
  }, 120_000);
});
