// `rollcall watch` on real systems:
// - a rollcall cluster over TCP, watched through every node's admin /stacks at 250 ms while a
//   legacy rolllog hangs: one deadlock event, at most 3 rounds after the first round whose sample
//   shows the cycle, and a bundle `rollcall analyze` calls a deadlock;
// - the gRPC-java fixture (test/systems/grpc-shop.ts): healthy under load 4 (no event, verdict
//   healthy in the metrics), the nested deadlock at load 16 (an event within 3 rounds of the first
//   round showing it, a bundle analyze calls a deadlock, rollcall_watch_alerts_total{verdict=
//   "deadlock"} 1), then restarted: the JVMs are picked up again (found by NAME=REGEX) and healthy
//   rounds give no event. The suite watches 8 healthy rounds after the restart; `npm run
//   bench:watch-grpc` runs this test with WATCH_HEALTHY_ROUNDS=120 (60 s at 500 ms) and prints them.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveTargets } from '../../src/capture/index.js';
import type { Verdict } from '../../src/diagnose/index.js';
import { startLocalCluster } from '../../src/runtime/index.js';
import {
  FlightRecorder,
  WatchMetrics,
  Watcher,
  analyzeWindow,
  startMetricsServer,
  type RoundReport,
  type WatchEvent,
} from '../../src/watch/index.js';
import { runCli } from '../support/cli.js';
import { tempDirs } from '../support/tempdir.js';
import { until, untilSlow } from '../support/gate.js';
import { sample, scrape } from '../support/prometheus.js';
import { grpcForTests, startGrpcShop, type GrpcShop } from '../systems/grpc-shop.js';

/** Healthy rounds watched after the restart (WATCH_HEALTHY_ROUNDS; the bench sets 120: 60 s). */
const HEALTHY_ROUNDS = Number(process.env['WATCH_HEALTHY_ROUNDS'] ?? 8);
const GRPC_INTERVAL_MS = 500;
// Registered before the cleanups below: vitest runs after-hooks last-registered first, so a watch
// is stopped before its directory goes.
const tempDir = tempDirs('rollcall-watch-real');

interface Seen extends RoundReport {
  oneSample?: Verdict;
}

/** Rounds, events and notices of a watch; each round's own sample judged alone, too. */
function recorder() {
  const reports: Seen[] = [];
  const events: WatchEvent[] = [];
  const notices: string[] = [];
  return {
    reports,
    events,
    notices,
    listener: {
      round: (r: RoundReport) => {
        const oneSample = r.parsed.dumps.length > 0 ? analyzeWindow([r.parsed]).verdict : undefined;
        // Only what the assertions read: a report keeps its round's dumps otherwise.
        reports.push({ ...r, result: undefined, ...(oneSample !== undefined ? { oneSample } : {}) });
      },
      event: (e: WatchEvent) => events.push(e),
      notice: (l: string) => notices.push(l),
    },
  };
}

/** Rounds from the first whose sample alone shows a deadlock to the one that raised the alert. */
function roundsToAlert(reports: Seen[], from: number): number {
  const first = reports.findIndex((r, i) => i >= from && r.oneSample === 'deadlock');
  const alerted = reports.findIndex((r) => r.alert === 'deadlock');
  expect(first, 'a round whose sample shows the deadlock').toBeGreaterThanOrEqual(from);
  expect(alerted).toBeGreaterThanOrEqual(first);
  return alerted - first;
}

async function analyzeBundle(bundle: string): Promise<{ verdict: string; samples: number; deadlocks: unknown[] }> {
  const r = await runCli(['analyze', bundle, '--json']);
  expect([0, 1], r.stderr).toContain(r.code);
  return JSON.parse(r.stdout) as { verdict: string; samples: number; deadlocks: unknown[] };
}

describe('rollcall watch on a rollcall cluster', () => {
  it('alerts within 3 rounds of a legacy rolllog hanging, at 250 ms', async () => {
    const timeoutMs = 120_000;
    const lc = await startLocalCluster({
      workers: 8,
      master: { handlers: 6, rpcTimeoutMs: timeoutMs, procedureTimeoutMs: timeoutMs },
      worker: { rpcTimeoutMs: timeoutMs, memberTimeoutMs: timeoutMs, walPreallocate: 0 },
    });
    const seen = recorder();
    const rec = new FlightRecorder(join(tempDir(), 'rec'), 5);
    await rec.open();
    const watcher = new Watcher({
      targets: lc.endpoints().map((e) => ({ name: e.name, kind: 'url' as const, spec: `${e.admin!}/stacks` })),
      intervalMs: 250,
      recorder: rec,
      listener: seen.listener,
    });
    const run = watcher.run();
    let rolllog: Promise<unknown> | undefined;
    try {
      await until(() => seen.reports.length >= 3, 'three healthy rounds', 30_000);
      expect(seen.reports.map((r) => r.verdict)).toEqual(['healthy', 'healthy', 'healthy']);
      const from = seen.reports.length;
      rolllog = lc.cluster.rolllog({ mode: 'legacy' }).catch(() => undefined);
      await untilSlow(() => seen.events.length > 0, 'the deadlock event', 30_000);
      expect(roundsToAlert(seen.reports, from)).toBeLessThanOrEqual(3);
      const e = seen.events[0]!;
      expect(e).toMatchObject({ event: 'deadlock', verdict: 'deadlock' });
      expect(e.nodes).toContain('master');
      expect(JSON.stringify(e.cycle)).toMatch(/sanityCheckLogRoll/);
      const result = await analyzeBundle(e.bundle!);
      expect(result).toMatchObject({ verdict: 'deadlock', samples: 3 });
    } finally {
      watcher.stop(true);
      await run;
      lc.cluster.abortProcedure('test done');
      await rolllog;
      await lc.stop();
    }
  }, 90_000);
});

describe.skipIf(!grpcForTests())('rollcall watch on gRPC-java (real JVMs)', () => {
  let shop: GrpcShop | undefined;
  afterAll(async () => {
    await shop?.stop();
  });

  it(
    'healthy under load, one alert once the nested deadlock forms, healthy again after a restart',
    async () => {
      // A deadline of its own tells this test's JVMs from other fixtures running on the machine.
      const deadlineMs = 300_000 + Math.floor(Math.random() * 100_000);
      shop = await startGrpcShop({ pool: 8, mode: 'nested', load: 4, deadlineMs });
      await shop.waitForCompleted(50);
      // Found as a user would, by main class and arguments, and so followed across the restart.
      const { targets } = await resolveTargets({
        explicit: [],
        jvmMatch: [
          `orders=OrdersServer .*--deadline-ms ${deadlineMs}`,
          `inventory=InventoryServer .*--deadline-ms ${deadlineMs}`,
        ],
        agents: [],
        ssh: [],
        kubectl: [],
      });
      expect(targets.map((t) => [t.name, Number(t.spec)])).toEqual([
        ['orders', shop.orders.pid],
        ['inventory', shop.inventory.pid],
      ]);
      const seen = recorder();
      const metrics = new WatchMetrics();
      const server = await startMetricsServer(metrics, '127.0.0.1', 0);
      const rec = new FlightRecorder(join(tempDir(), 'rec'), 5);
      await rec.open();
      const watcher = new Watcher({
        targets,
        intervalMs: GRPC_INTERVAL_MS,
        metrics,
        recorder: rec,
        listener: seen.listener,
      });
      const run = watcher.run();
      try {
        // Healthy: three full windows, no event, verdict healthy in the metrics.
        await untilSlow(() => seen.reports.length >= 5, 'five healthy rounds', 60_000);
        expect(seen.events).toEqual([]);
        expect(seen.reports.slice(2).map((r) => r.verdict)).toEqual(seen.reports.slice(2).map(() => 'healthy'));
        let m = await scrape(server.url);
        expect(sample(m, 'rollcall_watch_verdict', { verdict: 'healthy' })).toBe(1);
        expect(sample(m, 'rollcall_pool_size', { node: 'orders', pool: 'pool-1' })).toBe(8);

        // The nested deadlock: an event within 3 rounds of the first round that shows it.
        const from = seen.reports.length;
        await shop.load(16);
        await untilSlow(() => seen.events.length > 0, 'the deadlock event', 60_000);
        expect(roundsToAlert(seen.reports, from)).toBeLessThanOrEqual(3);
        const e = seen.events[0]!;
        expect(e).toMatchObject({ event: 'deadlock', verdict: 'deadlock' });
        expect(e.nodes).toEqual(['inventory', 'orders']);
        const calls = e.cycle.filter((s) => s.service !== undefined).map((s) => `${s.service}/${s.method}`);
        expect(calls).toEqual(expect.arrayContaining(['Inventory/reserve', 'Orders/audit']));
        const result = await analyzeBundle(e.bundle!);
        expect(result.verdict).toBe('deadlock');
        m = await scrape(server.url);
        expect(sample(m, 'rollcall_watch_alerts_total', { verdict: 'deadlock' })).toBe(1);
        expect(sample(m, 'rollcall_watch_verdict', { verdict: 'deadlock' })).toBe(1);

        // Restarted: new JVMs, picked up by their patterns; healthy windows, no further event.
        await shop.restart({ load: 4 });
        const restarted = seen.reports.length;
        await untilSlow(() => seen.reports.slice(restarted).some((r) => r.failed.length === 0), 'the new JVMs', 60_000);
        const pickedUp = seen.reports.findIndex((r, i) => i >= restarted && r.failed.length === 0);
        await untilSlow(
          () => seen.reports.length - pickedUp >= HEALTHY_ROUNDS,
          `${HEALTHY_ROUNDS} rounds after the restart`,
          HEALTHY_ROUNDS * GRPC_INTERVAL_MS * 4 + 30_000,
        );
        const after = seen.reports.slice(pickedUp);
        // No event, and nothing an alert could be raised on; a window may read `slow` for a moment
        // when the machine is loaded (a handler seen blocked in one sample), which is not an alert.
        expect(
          after.filter((r) => r.verdict === 'deadlock' || r.verdict === 'stuck').map((r) => [r.round, r.verdict]),
        ).toEqual([]);
        expect(seen.events).toHaveLength(1);
        if (process.env['WATCH_HEALTHY_ROUNDS'] !== undefined) {
          const spanS = (after[after.length - 1]!.atMs - after[0]!.atMs) / 1000;
          console.log(
            `after the restart: ${after.length} rounds over ${spanS.toFixed(1)} s of healthy load (load 4), ` +
              `${after.filter((r) => r.verdict === 'healthy').length} healthy and ${after.filter((r) => r.verdict === 'slow').length} slow windows, ${seen.events.length - 1} events`,
          );
        }
        const back = seen.reports[pickedUp]!;
        expect(back.parsed.records.map((x) => x.pid)).toEqual([shop.orders.pid, shop.inventory.pid]);
        m = await scrape(server.url);
        expect(sample(m, 'rollcall_watch_alerts_total', { verdict: 'deadlock' })).toBe(1);
        // Nothing alertable in the current window (it may read `slow` for a moment under load).
        expect(sample(m, 'rollcall_watch_verdict', { verdict: 'deadlock' })).toBe(0);
        expect(sample(m, 'rollcall_watch_verdict', { verdict: 'stuck' })).toBe(0);
      } finally {
        watcher.stop(true);
        await run;
        await server.close();
      }
    },
    300_000 + HEALTHY_ROUNDS * GRPC_INTERVAL_MS * 4,
  );
});
