// End to end on real JVMs: the HBase-shaped Java fixture (test/dumps/java-fixture.ts) captured with
// `rollcall capture --jvm` and analyzed with `rollcall analyze BUNDLE`. The deadlocking variant at
// scale must be a deadlock whose cycle spans the master and region-server processes with the
// master's default pool exhausted; the slow variant must not be a deadlock; a small cluster
// (fewer workers than free handlers) must be healthy.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { AnalysisResult } from '../../src/diagnose/index.js';
import { javaForTests, startJavaCluster, type JavaCluster, type JavaClusterOptions } from '../dumps/java-fixture.js';

const haveJava = javaForTests();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    stdout += String(s);
    return true;
  });
  try {
    const code = await main(['node', 'rollcall', ...args]);
    return { code, stdout };
  } finally {
    spy.mockRestore();
  }
}

/**
 * Starts the cluster, waits for `ready` (an event the fixture prints once the state to capture has
 * formed: handlers entering the nested call, the slow scan, the completed roll), captures 3
 * rounds 2 s apart, analyzes the bundle.
 */
async function captureAndAnalyze(
  options: JavaClusterOptions,
  ready: (c: JavaCluster) => Promise<unknown>,
  extra: string[] = [],
): Promise<{ result: AnalysisResult; code: number; cluster: JavaCluster }> {
  const cluster = await startJavaCluster(options);
  try {
    await ready(cluster);
    const bundle = join(mkdtempSync(join(tmpdir(), 'rollcall-analyze-java-')), 'bundle');
    dirs.push(join(bundle, '..'));
    const cap = await cli([
      'capture',
      ...cluster.processes.flatMap((p) => ['--jvm', `${p.name}=${p.pid}`]),
      '--interval',
      '2s',
      '--count',
      '3',
      '--out',
      bundle,
      '--json',
    ]);
    expect(cap.code).toBe(0);
    const port = /master ready port=(\d+)/.exec(cluster.events.find((e) => /master ready/.test(e)) ?? '')?.[1];
    expect(port).toBeDefined();
    const res = await cli(['analyze', bundle, '--node-addr', `master=127.0.0.1:${port}`, '--json', ...extra]);
    return { result: JSON.parse(res.stdout) as AnalysisResult, code: res.code, cluster };
  } finally {
    await cluster.stop();
  }
}

describe.skipIf(!haveJava)('analyze the Java fixture (live JVMs)', () => {
  it('deadlocking variant at scale: a cycle across master and region servers, master default pool exhausted', async () => {
    const { result, code } = await captureAndAnalyze(
      { regionServerJvms: 2, serversPerJvm: 2, handlers: 4 },
      // handlers - 1 checks make the nested call (one handler holds the client's call); the last check queues.
      (c) => c.waitForEvent(/nested call checkSystemTable/, 20_000, 3),
      ['--fail-on', 'deadlock'],
    );
    expect(code).toBe(1);
    expect(result.verdict).toBe('deadlock');
    expect(result.samples).toBeGreaterThanOrEqual(2); // a slow jcmd may skip a round
    const master = result.pools.find((p) => p.node === 'master' && /^RpcServer\.default\./.test(p.pool))!;
    expect(master.exhausted).toBe(true);
    expect(master.size).toBe(4);
    // Each call queue can starve on its own (one cycle per queue); one of them must span processes.
    const d = result.deadlocks.find((x) => x.kind === 'distributed')!;
    expect(d, JSON.stringify(result.deadlocks.map((x) => [x.kind, x.nodes]))).toBeDefined();
    expect(d.nodes).toContain('master');
    expect(d.nodes.some((n) => /^rs\d$/.test(n))).toBe(true);
    for (const step of d.cycle) expect(step.evidence.length).toBeGreaterThan(0);
    expect(JSON.stringify(d.cycle)).toMatch(/BlockingRpcCallback\.get/);
  });

  it('slow variant: handlers busy but progressing — not a deadlock', async () => {
    const { result } = await captureAndAnalyze(
      { regionServerJvms: 2, handlers: 3, mode: 'slow', slowMs: 20_000 },
      (c) => c.waitForEvent(/slow scan on/, 20_000, 2),
    );
    expect(result.verdict).not.toBe('deadlock');
    expect(result.deadlocks).toEqual([]);
  });

  it('small cluster: the roll completes — healthy', async () => {
    const { result } = await captureAndAnalyze({ regionServerJvms: 1, handlers: 4 }, (c) =>
      c.waitForEvent(/procedure rolllog completed/, 20_000),
    );
    expect(result.verdict).toBe('healthy');
  });
});
