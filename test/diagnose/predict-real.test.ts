// `rollcall analyze --predict` on real, healthy systems started by the test, captured the way a
// user captures staging (`rollcall capture`, many rounds), against what those systems do when run
// with more load or more nodes:
// - gRPC-java (fixtures/grpc), 4 concurrent calls into an orders pool of 8 with the nested Audit
//   callback: a prediction at 8 concurrent Place calls naming the pool and Place → Reserve → Audit;
//   the same services without the callback: none.
// - The HBase-shaped fixture (fixtures/java), 2 region servers and 4 master handlers, backing up
//   over and over: a prediction in region servers — and the same fixture with one more region
//   server deadlocks (the analysis of its dumps says so, and no backup completes).
// - rollcall's own cluster, 3 workers running legacy rolllogs: the bundle predicts what the
//   runtime predictor watching the same runs predicts (29 workers for 30 handlers).
// (Healthy ZooKeeper and Tomcat predict nothing: test/diagnose/real-systems.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { watchCluster } from '../../src/detect/index.js';
import type { AnalysisResult, Prediction } from '../../src/diagnose/index.js';
import { captureBundle } from '../../src/capture/index.js';
import { startLocalCluster } from '../../src/runtime/index.js';
import { javaForTests, startJavaCluster, type JavaClusterOptions } from '../dumps/java-fixture.js';
import { runCli } from '../support/cli.js';
import { grpcForTests, startGrpcShop, type GrpcShop } from '../systems/grpc-shop.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function bundleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-predict-'));
  dirs.push(dir);
  return join(dir, 'bundle');
}

/**
 * `rollcall capture --jvm …` for `rounds` rounds `interval` apart, then `rollcall analyze --predict
 * --json`. jcmd on a loaded 2-core machine may skip rounds: at least `minSamples` must be there.
 */
async function capturePredict(
  targets: { name: string; pid: number }[],
  rounds: number,
  interval = '1s',
  minSamples = 3,
): Promise<AnalysisResult> {
  const bundle = bundleDir();
  const cap = await runCli([
    'capture',
    ...targets.flatMap((t) => ['--jvm', `${t.name}=${t.pid}`]),
    '--interval',
    interval,
    '--count',
    String(rounds),
    '--out',
    bundle,
    '--json',
  ]);
  expect(cap.code, cap.stderr).toBe(0);
  const res = await runCli(['analyze', bundle, '--predict', '--json']);
  expect([0, 1], res.stderr).toContain(res.code);
  const result = JSON.parse(res.stdout) as AnalysisResult;
  expect(result.samples).toBeGreaterThanOrEqual(minSamples);
  return result;
}

const describePrediction = (p: Prediction[] | undefined): string =>
  JSON.stringify((p ?? []).map((x) => [x.summary, x.confidence, x.confidenceWhy]));

describe.skipIf(!grpcForTests())('analyze --predict: gRPC-java shop (real JVMs)', () => {
  let shop: GrpcShop | undefined;
  afterAll(async () => {
    await shop?.stop();
  });

  it('nested, 4 concurrent calls into a pool of 8: fires at 8 Place calls; without the callback: nothing', async () => {
    shop = await startGrpcShop({ pool: 8, mode: 'nested', load: 4 });
    await shop.waitForCompleted(100);
    const nested = await capturePredict(shop.servers(), 8);
    // Healthy (a loaded machine may see the pool without an idle thread for a moment: slow, not stuck).
    expect(['healthy', 'slow'], nested.reason).toContain(nested.verdict);
    expect(nested.predictions, describePrediction(nested.predictions)).toHaveLength(1);
    const p = nested.predictions![0]!;
    expect(p.pool).toMatch(/^orders\/pool-\d+$/);
    expect(p).toMatchObject({ node: 'orders', size: 8 });
    expect(Math.abs(p.firesAtConcurrency - 8)).toBeLessThanOrEqual(1);
    // Place → Reserve → Audit: what the orders pool serves, what it calls, what is called back.
    const path = p.path.flatMap((s) => [s.serving ?? '', s.waitsOn]).join(' | ');
    expect(path).toMatch(/Orders\/place \| rpc Inventory\/reserve \| Inventory\/reserve \| rpc Orders\/audit/i);
    for (const e of p.evidence) expect(e.threads.length).toBeGreaterThan(0);

    await shop.restart({ mode: 'fixed', load: 4 });
    await shop.waitForCompleted(100);
    const fixed = await capturePredict(shop.servers(), 8);
    expect(fixed.predictions, describePrediction(fixed.predictions)).toEqual([]);
  }, 300_000);
});

describe.skipIf(!javaForTests())('analyze --predict: HBase-shaped fixture (real JVMs)', () => {
  // A backup right after the previous one; the nested getTableState costs 800 ms so that samples
  // catch it (as a slow meta read would); the checks overlap within the 200 ms check delay.
  const shape: JavaClusterOptions = { handlers: 4, checkDelayMs: 200, tableStateMs: 800, backupIntervalMs: 0 };

  it('2 region servers back up fine and predict the size at which the same fixture deadlocks: 3', async () => {
    let predicted: number | undefined;
    const small = await startJavaCluster({ ...shape, regionServerJvms: 2 });
    try {
      await small.waitForEvent(/procedure rolllog completed/, 30_000, 2);
      const result = await capturePredict(small.processes, 6);
      expect(result.verdict, result.reason).not.toBe('deadlock');
      expect(result.predictions, describePrediction(result.predictions)).toHaveLength(1);
      const p = result.predictions![0]!;
      expect(p).toMatchObject({ node: 'master', role: 'master', size: 4, firesAtConcurrency: 3 });
      expect(p.requests.find((r) => !r.held)).toMatchObject({
        serving: 'ClientService/get',
        callerRole: 'regionserver',
        perNode: 1,
      });
      predicted = p.firesAtNodes;
      expect(small.events.some((e) => /procedure rolllog failed/.test(e))).toBe(false);
    } finally {
      await small.stop();
    }
    // Run bigger: one more region server than the healthy run.
    const big = await startJavaCluster({ ...shape, regionServerJvms: 3 });
    try {
      await big.waitForEvent(/checking backup table on master/, 30_000, 3);
      // Two samples tell a deadlock from a slow moment.
      const result = await capturePredict(big.processes, 3, '2s', 2);
      expect(result.verdict, result.reason).toBe('deadlock');
      expect(big.events.some((e) => /procedure rolllog completed/.test(e))).toBe(false);
    } finally {
      await big.stop();
    }
    expect(predicted).toBeDefined();
    expect(Math.abs(predicted! - 3)).toBeLessThanOrEqual(1);
  }, 300_000);
});

describe("analyze --predict: rollcall's own cluster (in process, real TCP)", () => {
  it('a bundle of a 3-worker legacy run predicts what rolllog --predict predicts from the same runs', async () => {
    const lc = await startLocalCluster({ workers: 3, master: { handlers: 30 }, worker: { walPreallocate: 0 } });
    const watch = watchCluster(lc.cluster);
    let stop = false;
    let runs = 0;
    const loop = (async () => {
      while (!stop) {
        const r = await lc.cluster.rolllog({ mode: 'legacy' });
        expect(r.outcome).toBe('ok');
        watch.predictor.countRun();
        runs++;
      }
    })();
    const bundle = bundleDir();
    try {
      // The nested call lasts a few ms of each run: many quick rounds catch it.
      await captureBundle({
        targets: lc.endpoints().map((e) => ({ name: e.name, kind: 'url', spec: `${e.admin!}/stacks` })),
        intervalMs: 50,
        count: 80,
        outDir: bundle,
      });
    } finally {
      stop = true;
      await loop;
      watch.detach();
      await lc.stop();
    }
    expect(runs).toBeGreaterThan(0);
    const runtime = watch.predictor.predictions()[0]!;
    expect(runtime).toMatchObject({ pool: 'master/default', firesAtNodes: 29 });
    const res = await runCli(['analyze', bundle, '--predict', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const result = JSON.parse(res.stdout) as AnalysisResult;
    expect(result.predictions, describePrediction(result.predictions)).toHaveLength(1);
    const p = result.predictions![0]!;
    expect(p).toMatchObject({
      pool: runtime.pool,
      size: runtime.size,
      firesAtConcurrency: runtime.firesAtConcurrency,
      firesAtNodes: runtime.firesAtNodes,
      confirm: runtime.confirm,
    });
    const text = await runCli(['analyze', bundle, '--predict']);
    expect(text.stdout).toContain(
      'confirm in the simulator: rollcall simulate --nodes 27..31 --mode legacy --handlers 30',
    );
  }, 120_000);
});
