// Shared by zookeeper-seeds-*.test.ts: hundreds of seeds of the ZooKeeper-coordinated cluster with random faults (master crashes and
// restarts, worker crashes, session expiries, partitions from ZooKeeper and from the masters).
// Every seed is held to the invariants (src/sim/invariants.ts); a seed that breaks one, or meets
// any bug, fails the test with its replay command.
import { describe, expect, it } from 'vitest';
import { SimCrash } from '../../src/sim/crash.js';
import { formatFaultPlan } from '../../src/sim/faults.js';
import { randomFaultPlan } from '../../src/sim/random-faults.js';
import { runZkSimulation } from '../../src/sim/zookeeper.js';

const WORKERS = (seed: number): number => 3 + (seed % 4);
const RUN_GAP_MS = 100;

/** 500 seeds run in CI, split over two files so the two test workers share them. */
export const CI_SEEDS = 500;

/** Declares the test for seeds FIRST_SEED .. FIRST_SEED + SEEDS - 1 (ZK_SEEDS_FROM / ZK_SEEDS override). */
export function seedsTest(firstSeed: number, seeds: number): void {
  const FIRST_SEED = Number(process.env['ZK_SEEDS_FROM'] ?? firstSeed);
  const SEEDS = Number(process.env['ZK_SEEDS'] ?? seeds);
  describe(`ZooKeeper coordination over seeds ${FIRST_SEED}..${FIRST_SEED + SEEDS - 1} with random faults`, () => {
    it('keeps every invariant on every seed', async () => {
      const outcomes = new Map<string, number>();
      let failovers = 0;
      for (let seed = FIRST_SEED; seed < FIRST_SEED + SEEDS; seed++) {
        const workers = WORKERS(seed);
        const plan = randomFaultPlan(seed, workers, 'zookeeper');
        const replay = `rollcall simulate --coordination zookeeper --nodes ${workers} --mode fixed --seed ${seed} --run-gap-ms ${RUN_GAP_MS} --faults '${formatFaultPlan(plan)}'`;
        try {
          const results = await runZkSimulation({
            workers,
            mode: 'fixed',
            handlers: 30,
            seed,
            faults: plan,
            runGapMs: RUN_GAP_MS,
            limits: { maxEvents: 5_000_000 },
          });
          for (const r of results) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
          if (results.some((r) => r.master === 'master-2')) failovers++;
        } catch (err) {
          if (err instanceof SimCrash) throw new Error(`seed ${seed}: ${err.message}\nreplay: ${replay}`);
          throw err;
        }
      }
      // The faults bite, and the protocol mostly gets through them.
      expect(outcomes.get('ok') ?? 0).toBeGreaterThan((outcomes.get('aborted') ?? 0) + (outcomes.get('timeout') ?? 0));
      expect(outcomes.get('aborted') ?? 0).toBeGreaterThan(SEEDS / 20);
      expect(failovers).toBeGreaterThan(SEEDS / 10);
    }, 600_000);
  });
}
