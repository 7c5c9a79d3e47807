import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { lineChartSvg, observedCliff, sweepChartSvg } from '../../src/report/charts.js';

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
