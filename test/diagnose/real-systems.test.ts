// Diagnosis on real Java systems nobody here wrote, started by the test from Debian's packages
// (test/systems harnesses) and captured with `rollcall capture --jvm` (3 synchronized rounds), then
// `rollcall analyze`:
// - gRPC-java (fixtures/grpc): the nested blocking callback into a fixed pool at 16 concurrent calls
//   is a deadlock whose cycle crosses both JVMs and names the pool and both services and methods;
//   the same services at 4 concurrent calls are neither stuck nor deadlocked, with no thread stuck.
// - A 3-server ZooKeeper ensemble and Tomcat 10, both under light load: no thread listed stuck
//   (their idle acceptors, joins and latches are waiting, not stuck), and no latent deadlock
//   predicted (--predict).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnalysisResult } from '../../src/diagnose/index.js';
import { runCli } from '../support/cli.js';
import { grpcForTests, startGrpcShop, type GrpcShop } from '../systems/grpc-shop.js';
import { startHttpLoad, startTomcat, tomcatForTests } from '../systems/tomcat.js';
import { startZkEnsemble, startZkLoad, zkEnsembleForTests } from '../systems/zookeeper-ensemble.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** 3 rounds 3 s apart (jcmd on a loaded 2-core machine can take seconds), then analyze. */
async function captureAndAnalyze(
  targets: { name: string; pid: number }[],
  extra: string[] = [],
): Promise<{ result: AnalysisResult; code: number; bundle: string; stdout: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'rollcall-real-'));
  dirs.push(dir);
  const bundle = join(dir, 'bundle');
  const cap = await runCli([
    'capture',
    ...targets.flatMap((t) => ['--jvm', `${t.name}=${t.pid}`]),
    '--interval',
    '3s',
    '--count',
    '3',
    '--out',
    bundle,
    '--json',
  ]);
  expect(cap.code, cap.stderr).toBe(0);
  const res = await runCli(['analyze', bundle, '--json', ...extra]);
  expect([0, 1], res.stderr).toContain(res.code);
  const result = JSON.parse(res.stdout) as AnalysisResult;
  // A slow jcmd may skip a round; two are the least that tell blocked from slow.
  expect(result.samples).toBeGreaterThanOrEqual(2);
  return { result, code: res.code, bundle, stdout: res.stdout };
}

const stuckList = (r: AnalysisResult): string[] => r.stuck.map((s) => `${s.node}/${s.thread} at ${s.frame}`);

describe.skipIf(!grpcForTests())('gRPC-java: orders and inventory (real JVMs)', () => {
  let shop: GrpcShop | undefined;
  afterAll(async () => {
    await shop?.stop();
  });

  it('healthy at 4 concurrent calls; the nested callback deadlocks at 16, across both JVMs', async () => {
    shop = await startGrpcShop({ pool: 8, mode: 'nested', load: 4 });
    await shop.waitForCompleted(100);
    const healthy = await captureAndAnalyze(shop.servers());
    expect(healthy.result.verdict, healthy.result.reason).not.toBe('deadlock');
    expect(healthy.result.verdict, healthy.result.reason).not.toBe('stuck');
    expect(stuckList(healthy.result)).toEqual([]);
    expect(healthy.result.stuckTotal).toBe(0);

    await shop.load(16);
    await shop.waitForStalled();
    const { result, code, bundle } = await captureAndAnalyze(shop.servers(), ['--fail-on', 'deadlock']);
    expect(code, `${result.reason}; ${result.notes.join('; ')}`).toBe(1);
    expect(result.verdict).toBe('deadlock');
    const d = result.deadlocks.find((x) => x.nodes.includes('orders') && x.nodes.includes('inventory'))!;
    expect(d, JSON.stringify(result.deadlocks.map((x) => [x.kind, x.nodes]))).toBeDefined();
    expect(d.kind).toBe('distributed');
    // The cycle names the orders pool and both calls: Place → Inventory/reserve → Orders/audit.
    const pool = result.pools.find((p) => p.node === 'orders' && /^pool-\d+$/.test(p.pool))!;
    expect(pool).toMatchObject({ size: 8, exhausted: true, family: 'executor' });
    expect(pool.serves).toContain('Orders');
    const calls = d.cycle.filter((s) => s.service !== undefined).map((s) => `${s.service}/${s.method}`);
    expect(calls).toEqual(expect.arrayContaining(['Inventory/reserve', 'Orders/audit']));
    expect(d.cycle.some((s) => s.pool === pool.pool || s.waitsFor === `orders/${pool.pool}`)).toBe(true);
    for (const s of d.cycle) expect(s.evidence.length).toBeGreaterThan(0);
    // gRPC's own cached executor makes threads on demand: busy, but never exhausted.
    const grpc = result.pools.find((p) => p.node === 'inventory' && p.pool === 'grpc-default-executor')!;
    expect(grpc).toMatchObject({ unbounded: true, exhausted: false });

    // --explain says why one of the orders threads is stuck.
    const thread = d.cycle.find((s) => s.node === 'orders' && s.thread !== undefined)!.thread!;
    const explained = await runCli(['analyze', bundle, '--explain', `orders/${thread}`]);
    expect(explained.code).toBe(0);
    expect(explained.stdout).toContain(`orders/${thread}: blocked`);
    expect(explained.stdout).toMatch(/calling Inventory\/reserve \(grpc\)/);
    expect(explained.stdout).toMatch(/member of deadlock 1/);

    // The harness's restart (issues 14 and 15 reuse it): fresh JVMs, healthy again.
    const before = shop.servers().map((s) => s.pid);
    await shop.restart({ load: 4 });
    expect(shop.servers().map((s) => s.pid)).not.toEqual(before);
    await shop.waitForCompleted(100);
  }, 240_000);
});

describe.skipIf(!zkEnsembleForTests())('ZooKeeper: a healthy 3-server ensemble (real servers)', () => {
  it('under light load: no thread listed stuck, not a deadlock', async () => {
    const zk = await startZkEnsemble();
    const load = await startZkLoad(zk);
    try {
      const { result } = await captureAndAnalyze(zk.servers, ['--predict']);
      expect(stuckList(result)).toEqual([]);
      // No latent deadlock either (issue 14): nothing cycles through a bounded pool.
      expect(result.predictions).toEqual([]);
      expect(['healthy', 'slow'], result.reason).toContain(result.verdict);
      // The leader's acceptor, the election listeners, main in join: waiting, listed apart.
      expect(result.threads.waiting).toBeGreaterThan(0);
    } finally {
      await load.stop();
      await zk.stop();
    }
  }, 120_000);
});

describe.skipIf(!tomcatForTests())('Tomcat 10: a healthy server (real JVM)', () => {
  it('under light load: no thread listed stuck, not a deadlock; its executor is a pool', async () => {
    const tomcat = await startTomcat();
    const load = startHttpLoad(tomcat.url, 2);
    try {
      const { result } = await captureAndAnalyze([tomcat], ['--predict']);
      expect(stuckList(result)).toEqual([]);
      expect(result.predictions).toEqual([]);
      expect(['healthy', 'slow'], result.reason).toContain(result.verdict);
      expect(load.failures()).toBe(0);
      // http-nio-…-exec-N threads run Tomcat's ThreadPoolExecutor$Worker: an executor pool by frames.
      expect(result.pools.some((p) => /exec$/.test(p.pool) && p.family === 'executor')).toBe(true);
    } finally {
      await load.stop();
      await tomcat.stop();
    }
  }, 120_000);
});
