// Who the master counts as a member over RPC: workers named by their bound address, one live
// worker per name, and a lease that drops a worker that stops answering — aborting a run that
// waits for it at once, instead of at the procedure timer.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MASTER_DEFAULTS, ROLLLOG_NAME, type Master } from '../../src/cluster/index.js';
import {
  NodeConfigError,
  adminToken,
  readSecretFile,
  runRolllog,
  startNode,
  startProcessCluster,
  type RunningNode,
} from '../../src/runtime/index.js';
import { parseFaultSpec } from '../../src/sim/faults.js';
import { SimCluster } from '../../src/sim/run.js';
import { untilAsync } from '../support/gate.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('worker names', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'rollcall-names-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const startMaster = async (): Promise<RunningNode> => {
    const m = await startNode({
      role: 'master',
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      dataDir: join(dir, `master-${Math.random()}`),
      log: () => {},
    });
    cleanups.push(() => m.stop());
    return m;
  };
  const startWorker = async (master: RunningNode, name?: string): Promise<RunningNode> => {
    const [host, port] = master.rpc.split(':');
    const w = await startNode({
      role: 'worker',
      ...(name ? { name } : {}),
      listen: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      master: { host: host!, port: Number(port) },
      dataDir: join(dir, `worker-${Math.random()}`),
      log: () => {},
    });
    cleanups.push(() => w.stop());
    return w;
  };

  it('come from the bound address, so two workers on port 0 are two members', async () => {
    const master = await startMaster();
    const a = await startWorker(master);
    const b = await startWorker(master);
    expect(a.name).toBe(`worker@${a.rpc}`);
    expect(b.name).toBe(`worker@${b.rpc}`);
    expect(a.name).not.toBe(b.name);
    expect((master.node as Master).memberNames().sort()).toEqual([a.name, b.name].sort());
  });

  it('are refused at registration while a live worker holds them; a clean stop frees the name', async () => {
    const master = await startMaster();
    const first = await startWorker(master, 'worker-7');
    const err = await startWorker(master, 'worker-7').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeConfigError);
    expect((err as Error).message).toMatch(
      /worker name 'worker-7' is already registered by a live worker at 127\.0\.0\.1:\d+ .*give each worker a unique --name/,
    );
    expect((master.node as Master).status().members).toEqual([
      expect.objectContaining({ name: 'worker-7', rpc: first.rpc }),
    ]);
    await first.stop();
    expect((master.node as Master).memberNames()).toEqual([]);
    const second = await startWorker(master, 'worker-7');
    expect((master.node as Master).status().members).toEqual([
      expect.objectContaining({ name: 'worker-7', rpc: second.rpc }),
    ]);
  });
});

describe('the member lease', () => {
  it('on virtual time: a worker that dies mid-run is dropped exactly one lease after it was last heard, and the run aborts at that instant', async () => {
    const lease = MASTER_DEFAULTS.memberLeaseMs;
    const drops: { atMs: number; line: string }[] = [];
    let sim: SimCluster | undefined = undefined;
    // Legacy mode with 3 handlers for 5 workers deadlocks: only the procedure timer (60 s) would end it.
    sim = await SimCluster.start({
      workers: 5,
      mode: 'legacy',
      handlers: 3,
      seed: 16,
      faults: parseFaultSpec('crash=worker-3@100ms'),
      log: (line) => {
        if (/^worker \S+ dropped: /.test(line)) drops.push({ atMs: sim!.world.nowMs, line });
      },
    });
    cleanups.push(() => sim!.close());
    const r = await sim.rolllog();
    expect(r.outcome).toBe('aborted');
    expect(drops, JSON.stringify(drops)).toHaveLength(1);
    expect(drops[0]!.line).toBe(`worker worker-3 dropped: not heard from for ${lease} ms (lease ${lease} ms)`);
    const proc = sim.cluster.master.coordinator.latest(ROLLLOG_NAME)!;
    expect(proc.outcome?.error?.message).toMatch(/member worker-3 was dropped: not heard from for 10000 ms/);
    expect(proc.phaseTimes.finishedMs).toBe(drops[0]!.atMs);
    // Dropped 100 ms into the run at most one report interval plus the lease later, not at 60 s.
    expect(drops[0]!.atMs - sim.originMs).toBeLessThanOrEqual(100 + lease);
    expect(sim.cluster.master.memberNames()).not.toContain('worker-3');

    // Later runs go on without it.
    const fixed = sim.cluster.rolllog({ mode: 'fixed' });
    await sim.world.run(fixed);
    const next = await fixed;
    expect(next.outcome, next.error).toBe('ok');
    expect(next.result?.members).toBe(4);
  });

  it('over real TCP: a run waiting for a worker killed with SIGKILL aborts when its lease ends', async () => {
    const pc = await startProcessCluster({
      workers: 3,
      nodeArgs: [
        '--handlers',
        '2',
        '--member-lease-ms',
        '1500',
        '--report-interval-ms',
        '300',
        '--procedure-timeout-ms',
        '120000',
        '--rpc-timeout-ms',
        '120000',
      ],
      masterArgs: ['--mode', 'legacy'],
    });
    cleanups.push(() => pc.stop());
    const victim = pc.endpoints.find((e) => e.name === 'worker-2')!;
    const run = runRolllog({
      nodes: 0,
      mode: 'legacy',
      runs: 1,
      master: pc.master.rpc,
      rpcTimeoutMs: 120_000,
      procedureTimeoutMs: 120_000,
      security: { secretFile: pc.secretFile! },
    });
    // Wait until the run is stuck (every worker inside the barrier), then kill one worker.
    const auth = { authorization: `Bearer ${adminToken(readSecretFile(pc.secretFile!))}` };
    await untilAsync(
      async () =>
        (await (await fetch(`${pc.master.admin}/stacks`, { headers: auth })).text()).includes('sanityCheckLogRoll'),
      'the legacy run stuck in its sanity checks',
      30_000,
    );
    process.kill(victim.pid!, 'SIGKILL');
    const report = await run;
    expect(report.runs[0]!.outcome).toBe('failed');
    expect(report.runs[0]!.error).toMatch(/member worker-2 was dropped: not heard from for \d+ ms \(lease 1500 ms\)/);
  });
});
