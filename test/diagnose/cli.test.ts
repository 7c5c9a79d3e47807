// `rollcall analyze` as a command: inputs (files, --node samples, bundle folders), the --json
// contract, --fail-on exit codes, --rules validation, --show-unparsed, and terminal output.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDumpText } from '../../src/threads/index.js';
import { legacyCluster } from './rollcall-cluster.js';
import { runCli, type CliResult } from '../support/cli.js';

const JUC = fileURLToPath(new URL('../../fixtures/java-locks/juc-cycle-no-section.txt', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'rollcall-analyze-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]): Promise<CliResult> {
  return runCli(['analyze', ...args]);
}

describe('rollcall analyze (CLI)', () => {
  it('prints the JSON contract for a file', async () => {
    const { code, stdout } = await cli(JUC, '--json');
    expect(code).toBe(0);
    const o = JSON.parse(stdout) as Record<string, unknown>;
    expect(Object.keys(o).slice(0, 8)).toEqual([
      'verdict',
      'samples',
      'spanMs',
      'nodes',
      'threads',
      'pools',
      'stuck',
      'deadlocks',
    ]);
    expect(o['verdict']).toBe('deadlock');
    const nodes = o['nodes'] as Record<string, unknown>[];
    expect(Object.keys(nodes[0]!)).toEqual(
      expect.arrayContaining(['name', 'threadsPerSample', 'blocked', 'progressing', 'idle']),
    );
    expect(Object.keys(o['threads'] as object)).toEqual(
      expect.arrayContaining(['total', 'blocked', 'runningStuck', 'progressing', 'idle']),
    );
    const stuck = (o['stuck'] as Record<string, unknown>[])[0]!;
    expect(Object.keys(stuck)).toEqual(expect.arrayContaining(['node', 'thread', 'state', 'frame', 'samples']));
    const d = (o['deadlocks'] as Record<string, unknown>[])[0]!;
    expect(Object.keys(d)).toEqual(expect.arrayContaining(['kind', 'nodes', 'cycle']));
    const step = (d['cycle'] as Record<string, unknown>[])[0]!;
    expect(Object.keys(step)).toEqual(expect.arrayContaining(['node', 'thread', 'waitsFor', 'evidence']));
    expect(o).not.toHaveProperty('detail');
  });

  it('--fail-on deadlock exits 1 after printing; --fail-on stuck too; healthy exits 0', async () => {
    const bad = await cli(JUC, '--fail-on', 'deadlock');
    expect(bad.code).toBe(1);
    expect(bad.stdout.split('\n')[0]).toMatch(/^DEADLOCK /);
    expect(bad.stdout.includes('\u001b[')).toBe(false); // no colour off a TTY
    expect((await cli(JUC, '--fail-on', 'stuck')).code).toBe(1);
    const healthy = join(tmp, 'healthy.json');
    writeFileSync(
      healthy,
      JSON.stringify(legacyCluster({ workers: 2, handlers: 30, queues: 3, starved: false }, 0)[1]),
    );
    expect((await cli(healthy, '--fail-on', 'deadlock')).code).toBe(0);
  });

  it('--node NAME=FILE repeated gives a node several samples; dumps keep their own names as aliases', async () => {
    const dir = join(tmp, 'nodes');
    mkdirSync(dir, { recursive: true });
    const args: string[] = [];
    for (const round of [0, 1]) {
      legacyCluster({ workers: 40, handlers: 30, queues: 3, starved: true }, round).forEach((nd, i) => {
        const f = join(dir, `${nd.node}-${round}.txt`);
        writeFileSync(f, formatDumpText(nd));
        // Analyze under other names than the dumps give themselves: rpc targets must still resolve.
        args.push('--node', `n${i}=${f}`);
      });
    }
    const { code, stdout } = await cli(...args, '--json', '--detail');
    expect(code).toBe(0);
    const o = JSON.parse(stdout) as {
      verdict: string;
      samples: number;
      nodes: { name: string }[];
      deadlocks: { nodes: string[] }[];
      detail: { graph: { vertices: unknown[] } };
    };
    expect(o.samples).toBe(2);
    expect(o.nodes.map((n) => n.name)).toContain('n0');
    expect(o.verdict).toBe('deadlock');
    expect(o.deadlocks[0]!.nodes).toContain('n0');
    expect(o.detail.graph.vertices.length).toBeGreaterThan(0);
  });

  it('reads a plain folder of node folders as a bundle', async () => {
    const bundle = join(tmp, 'bundle');
    for (const n of ['a', 'b']) {
      mkdirSync(join(bundle, n), { recursive: true });
      for (const r of [0, 1, 2]) copyFileSync(JUC, join(bundle, n, `${r}.txt`));
    }
    const { code, stdout } = await cli(bundle, '--json');
    expect(code).toBe(0);
    const o = JSON.parse(stdout) as { samples: number; nodes: { threadsPerSample: number[] }[]; deadlocks: unknown[] };
    expect(o.samples).toBe(3);
    expect(o.nodes.map((n) => n.threadsPerSample)).toEqual([
      [22, 22, 22],
      [22, 22, 22],
    ]);
    expect(o.deadlocks).toHaveLength(2);
  });

  it('rejects bad input with exit 2 and a message', async () => {
    expect((await cli()).code).toBe(2);
    expect((await cli(join(tmp, 'missing.txt'))).code).toBe(2);
    const rules = join(tmp, 'rules.json');
    writeFileSync(rules, '{"pools":[{"threadName":"(","pool":"x"}]}');
    const r = await cli(JUC, '--rules', rules);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/pools\.0\.threadName/);
    expect((await cli(JUC, '--node-addr', 'nope')).code).toBe(2);
    expect((await cli(JUC, '--fail-on', 'sometimes')).code).toBe(2);
    const empty = join(tmp, 'empty.txt');
    writeFileSync(empty, 'nothing here\n');
    expect((await cli(empty)).code).toBe(2);
  });

  it('--show-unparsed lists what the parser skipped', async () => {
    const f = join(tmp, 'noisy.txt');
    writeFileSync(
      f,
      'garbage line one\n' +
        formatDumpText(legacyCluster({ workers: 1, handlers: 30, queues: 3, starved: false }, 0)[1]!),
    );
    const { stdout } = await cli(f, '--show-unparsed');
    expect(stdout).toMatch(/Unparsed lines/);
    expect(stdout).toMatch(/noisy\.txt:1: garbage line one/);
  });
});
