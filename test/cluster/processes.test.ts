// Multi-process clusters and the node/cluster/rolllog commands, through the built CLI.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import {
  adminToken,
  defaultCliPath,
  readSecretFile,
  runRolllog,
  startProcessCluster,
} from '../../src/runtime/index.js';
import { eventually } from '../barrier/fixture.js';
import { nodeArgs } from '../support/cli.js';
import { alive } from '../support/processes.js';

const cli = defaultCliPath();

function rollcall(args: string[], timeoutMs = 60_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('CLI build', () => {
  it('exists (npm test builds first)', () => {
    expect(existsSync(cli), `${cli} missing: run npm run build`).toBe(true);
  });
});

describe('multi-process cluster', () => {
  it('starts, runs rolllog with an authenticated client, and stops leaving no process behind', async () => {
    const pc = await startProcessCluster({ workers: 3 });
    const pids = pc.pids();
    try {
      expect(pids).toHaveLength(4);
      expect(pids.every(alive)).toBe(true);
      expect(pc.secretFile).toBeDefined();
      const report = await runRolllog({
        nodes: 0,
        mode: 'fixed',
        runs: 2,
        master: pc.master.rpc,
        security: { secretFile: pc.secretFile! },
      });
      expect(report.summary.ok).toBe(2);
      expect(report.nodes).toBe(3);
      const legacy = await runRolllog({
        nodes: 0,
        mode: 'legacy',
        runs: 1,
        master: pc.master.rpc,
        security: { secretFile: pc.secretFile! },
      });
      expect(legacy.summary.ok).toBe(1);
      // The admin listener answers with the node's dump, to a request with the secret's token only.
      const worker = pc.endpoints.find((e) => e.role === 'worker')!;
      expect((await fetch(`${worker.admin}/stacks`)).status).toBe(401);
      const authorization = `Bearer ${adminToken(readSecretFile(pc.secretFile!))}`;
      const stacks = await (await fetch(`${worker.admin}/stacks`, { headers: { authorization } })).text();
      expect(stacks).toContain(`node=${worker.name} role=worker`);
      expect(stacks).toContain('RpcServer.priority.FPBQ.Fifo.handler=0');
    } finally {
      await pc.stop();
    }
    expect(pids.filter(alive)).toEqual([]);
    expect(existsSync(pc.dataDir)).toBe(false);
  });

  it('`cluster start --processes` prints every node and stops them all on SIGINT', async () => {
    const child = spawn(process.execPath, [cli, 'cluster', 'start', '--nodes', '2', '--processes', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const ready = await new Promise<{
      nodes: { name: string; rpc: string; admin: string; pid: number }[];
      secretFile: string;
    }>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        if (l.startsWith('{')) resolve(JSON.parse(l));
      });
      child.once('exit', () => reject(new Error(`cluster exited early: ${stderr}`)));
    });
    expect(ready.nodes.map((n) => n.name)).toEqual(['master', 'worker-1', 'worker-2']);
    for (const n of ready.nodes) {
      expect(n.rpc).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(n.admin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    const out = rollcall([
      'rolllog',
      '--master',
      ready.nodes[0]!.rpc,
      '--secret-file',
      ready.secretFile,
      '--runs',
      '2',
      '--json',
    ]);
    expect(out.status, out.stderr).toBe(0);
    const report = JSON.parse(out.stdout) as { nodes: number; summary: { ok: number } };
    expect(report.nodes).toBe(2);
    expect(report.summary.ok).toBe(2);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await eventually(() => ready.nodes.every((n) => !alive(n.pid)), 10_000);
  });
});

describe('rollcall node', () => {
  it('refuses a non-loopback listen address without a secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-node-'));
    try {
      const r = rollcall([
        'node',
        '--role',
        'master',
        '--listen',
        '0.0.0.0:0',
        '--admin',
        '127.0.0.1:0',
        '--data',
        dir,
      ]);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/refusing to listen for RPC on 0\.0\.0\.0 without authentication/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a worker with the wrong secret, with a clear error on both sides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rollcall-node-'));
    writeFileSync(join(dir, 'a.secret'), 'a'.repeat(32), { mode: 0o600 });
    writeFileSync(join(dir, 'b.secret'), 'b'.repeat(32), { mode: 0o600 });
    const master = spawn(
      process.execPath,
      [cli, ...nodeArgs('master', join(dir, 'm'), '--secret-file', join(dir, 'a.secret'), '--json')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let masterErr = '';
    master.stderr!.on('data', (d: Buffer) => (masterErr += d.toString()));
    try {
      const rpc = await new Promise<string>((resolve) =>
        createInterface({ input: master.stdout! }).on(
          'line',
          (l) => l.startsWith('{') && resolve((JSON.parse(l) as { rpc: string }).rpc),
        ),
      );
      const worker = rollcall(
        nodeArgs(
          'worker',
          join(dir, 'w'),
          '--name',
          'intruder',
          '--master',
          rpc,
          '--secret-file',
          join(dir, 'b.secret'),
        ),
        30_000,
      );
      // A key the master does not share is a configuration error: exit 2, one line, no retries.
      expect(worker.status).toBe(2);
      expect(worker.stderr.trim().split('\n')).toHaveLength(1);
      expect(worker.stderr).toMatch(
        /cannot register with the master: .*TLS handshake with 127\.0\.0\.1:\d+ failed \(.*\): does the peer use the same cluster secret\?/,
      );
      await eventually(() => /TLS handshake from 127\.0\.0\.1 failed: /.test(masterErr), 5000);
    } finally {
      master.kill('SIGTERM');
      await new Promise((r) => master.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('rollcall rolllog', () => {
  it('prints the JSON contract', () => {
    const r = rollcall(['rolllog', '--nodes', '3', '--runs', '2', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(o)).toEqual(['mode', 'nodes', 'handlers', 'runs', 'summary']);
    expect(o).toMatchObject({ mode: 'fixed', nodes: 3, handlers: 30 });
    const runs = o.runs as { outcome: string; durationMs: number }[];
    expect(runs).toHaveLength(2);
    expect(runs.every((x) => x.outcome === 'ok' && typeof x.durationMs === 'number')).toBe(true);
    expect(Object.keys(o.summary as object)).toEqual(['ok', 'failed', 'p50Ms', 'p99Ms', 'maxMs']);
  });

  it('Ctrl-C stops the in-process cluster and removes its data', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'rollcall-sigint-'));
    try {
      const child = spawn(process.execPath, [cli, 'rolllog', '--nodes', '4', '--runs', '100000'], {
        stdio: 'ignore',
        env: { ...process.env, TMPDIR: tmp },
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await eventually(() => readdirSync(tmp).some((n) => n.startsWith('rollcall-cluster-')), 20_000);
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('rejects bad flags with exit 2', () => {
    expect(rollcall(['rolllog', '--nodes', '3', '--mode', 'sideways']).status).toBe(2);
    expect(rollcall(['rolllog']).stderr).toMatch(/needs --nodes/);
  });
});
