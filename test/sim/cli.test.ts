import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { lineChartSvg, observedCliff, sweepChartSvg } from '../../src/report/charts.js';
import { MAX_CLUSTER_WORKERS } from '../../src/cluster/index.js';
import { MAX_HANDLERS_PER_POOL } from '../../src/rpc/index.js';
import { MAX_SIM_WORKERS } from '../../src/sim/nodes.js';

const run = runCli;

const dir = mkdtempSync(join(tmpdir(), 'rollcall-sim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('rollcall simulate', () => {
  it('prints the JSON contract and writes the plot', async () => {
    const plot = join(dir, 'cliff.svg');
    const r = await run([
      'simulate',
      '--nodes',
      '3,4,6',
      '--mode',
      'legacy',
      '--handlers',
      '5',
      '--seed',
      '7',
      '--json',
      '--plot',
      plot,
    ]);
    expect(r.code).toBe(0);
    const o = JSON.parse(r.stdout) as {
      mode: string;
      seed: number;
      handlers: number;
      results: {
        nodes: number;
        outcome: string;
        durationMs: number;
        wallMs: number;
        traceHash: string;
        events: number;
      }[];
    };
    expect(o).toMatchObject({ mode: 'legacy', seed: 7, handlers: 5 });
    expect(o.results.map((x) => [x.nodes, x.outcome])).toEqual([
      [3, 'ok'],
      [4, 'timeout'],
      [6, 'timeout'],
    ]);
    for (const x of o.results) {
      expect(x.traceHash).toMatch(/^[0-9a-f]{16}$/);
      expect(x.events).toBeGreaterThan(0);
      expect(x.wallMs).toBeGreaterThanOrEqual(0);
    }
    expect(o.results[1]!.durationMs).toBeGreaterThanOrEqual(60_000);
    expect(o.results[1]!.durationMs).toBeLessThanOrEqual(61_000);
    const svg = readFileSync(plot, 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('timeout wall 60,000 ms');
    expect(svg).toContain('first failure at 4');
  });

  it('prints a table with the cliff, and rejects bad flags with exit 2', async () => {
    const r = await run(['simulate', '--nodes', '2..3', '--mode', 'legacy,fixed', '--handlers', '4']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('cliff: legacy with 4 handlers is ok at 2 workers and fails from 3');
    expect(r.stdout).toMatch(/fixed\s+4\s+3\s+ok/);
    expect((await run(['simulate', '--nodes', '0'])).code).toBe(2);
    expect((await run(['simulate', '--faults', 'crash=worker-99@1ms', '--nodes', '5'])).stderr).toMatch(/worker-99/);
    expect((await run(['simulate', '--faults', 'explode=1'])).code).toBe(2);
    expect((await run(['simulate', '--mode', 'sideways'])).code).toBe(2);
  });
});

describe('rollcall simulate: limits, output paths and ZooKeeper coordination', () => {
  it('refuses a size above the cluster limit before any work, in one line, from the limit the harness enforces', async () => {
    expect(MAX_SIM_WORKERS).toBe(MAX_CLUSTER_WORKERS);
    const r = await run(['simulate', '--nodes', String(MAX_CLUSTER_WORKERS + 5000)]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toEqual([
      `rollcall: size '${MAX_CLUSTER_WORKERS + 5000}' in '${MAX_CLUSTER_WORKERS + 5000}' is not a whole number from 1 to ${MAX_CLUSTER_WORKERS}`,
    ]);
    expect((await run(['simulate', '--handlers', String(MAX_HANDLERS_PER_POOL + 1)])).code).toBe(2);
    expect(
      (await run(['simulate', '--nodes', '1..10000', '--mode', 'legacy,fixed', '--handlers', '1,2'])).stderr,
    ).toMatch(/limit is 20000/);
  });

  it('refuses an unwritable --plot before the run, not after it', async () => {
    const r = await run(['simulate', '--nodes', '10000', '--mode', 'fixed', '--plot', '/nonexistent/x.svg']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toBe(
      'rollcall: --plot /nonexistent/x.svg: directory /nonexistent does not exist or is not writable',
    );
    expect((await run(['simulate', '--plot', dir])).stderr).toMatch(/is a directory/);
  });

  it('--coordination zookeeper: ok through the standby after a master crash, the same traceHash for the same seed', async () => {
    const args = ['simulate', '--coordination', 'zookeeper', '--nodes', '8', '--mode', 'fixed'];
    const once = async (): Promise<{ results: { outcome: string; master?: string; traceHash: string }[] }> => {
      const r = await run([...args, '--faults', 'crash=master@300ms', '--seed', '7', '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { results: { outcome: string; master?: string; traceHash: string }[] };
    };
    const a = await once();
    expect(a.results.at(-1)).toMatchObject({ outcome: 'ok', master: 'master-2' });
    expect((await once()).results.map((x) => x.traceHash)).toEqual(a.results.map((x) => x.traceHash));
    // expire= needs ZooKeeper; zookeeper itself cannot crash.
    expect((await run(['simulate', '--faults', 'expire=master@1s'])).stderr).toMatch(/needs --coordination zookeeper/);
    expect((await run([...args, '--faults', 'crash=zookeeper@1s'])).code).toBe(2);
  });

  it('--faults random over several seeds names each seed and its plan', async () => {
    const r = await run([
      'simulate',
      '--coordination',
      'zookeeper',
      '--nodes',
      '3',
      '--mode',
      'fixed',
      '--faults',
      'random',
      '--seeds',
      '3',
      '--seed',
      '40',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as {
      seeds: number;
      invariants: string[];
      results: { seed: number; faults: string }[];
    };
    expect(o.seeds).toBe(3);
    expect(o.invariants).toEqual(['one-active-coordinator', 'runs-end-once', 'members-leave-barrier', 'znodes-clean']);
    expect([...new Set(o.results.map((x) => x.seed))]).toEqual([40, 41, 42]);
    for (const x of o.results) expect(x.faults).toMatch(/^(crash|expire|partition)=/);
  });
});

describe('charts', () => {
  it('renders a generic line chart and finds the observed cliff', async () => {
    const svg = await lineChartSvg(
      [
        { x: 1, y: 2, series: 'a' },
        { x: 2, y: 3, series: 'a' },
      ],
      { xTitle: 'x', yTitle: 'y', rules: [{ y: 2.5, label: 'limit' }], xRules: [{ x: 1.5, label: 'here' }] },
    );
    expect(svg).toContain('<svg');
    expect(svg).toContain('limit');
    expect(
      observedCliff([
        { nodes: 5, outcome: 'ok' },
        { nodes: 10, outcome: 'timeout' },
        { nodes: 20, outcome: 'timeout' },
      ]),
    ).toBe(10);
    expect(observedCliff([{ nodes: 5, outcome: 'timeout' }])).toBeUndefined();
    const sweep = await sweepChartSvg([{ nodes: 1, durationMs: 5, outcome: 'ok', series: 'fixed' }], {
      timeoutMs: 1000,
    });
    expect(sweep).toContain('timeout wall 1,000 ms');
  });
});
