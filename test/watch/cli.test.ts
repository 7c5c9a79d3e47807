// `rollcall watch` as a user runs it: bad usage is one line and exit 2, before any work; --json
// alerts are one line each with exactly the contract's fields; --count ends it; SIGTERM stops a
// running watch cleanly (the built CLI in its own process, metrics scraped while it runs).
import { spawn } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDirs } from '../support/tempdir.js';
import { until } from '../support/gate.js';
import { sample, scrape } from '../support/prometheus.js';
import { startCannedNodes } from './canned.js';

const CLI = 'dist/src/cli/bin.js';
// Registered before the cleanups below: vitest runs after-hooks last-registered first, so a watch
// is stopped before its directory goes.
const tempDir = tempDirs('rollcall-watch-cli');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('rollcall watch: usage', () => {
  const url = ['--url', 'a=http://127.0.0.1:1/stacks'];
  it.each([
    [[], /^rollcall: no targets: give --url/],
    [[...url, '--interval', '0'], /--interval takes 10ms to 1h, not '0'/],
    [[...url, '--window', '0'], /--window takes a whole number from 1 to 30/],
    [[...url, '--alert-on', 'slow'], /--alert-on is one of deadlock, stuck, not 'slow'/],
    [[...url, '--metrics', 'nowhere'], /--metrics: not a HOST:PORT address/],
    [[...url, '--keep', '0'], /--keep takes a whole number from 1 to 10000/],
    [['--url', 'noequals'], /--url takes NAME=VALUE, not 'noequals'/],
  ])('%j → exit 2 with one line', async (args, message) => {
    const r = await runCli(['watch', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('refuses an --out that is a file and a --metrics port in use, before watching', async () => {
    const dir = tempDir();
    const file = join(dir, 'file');
    writeFileSync(file, 'x');
    const r = await runCli(['watch', '--url', 'a=http://127.0.0.1:1/stacks', '--out', file]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(`rollcall: --out ${file} is not a directory`);
    const taken = createServer().listen(0, '127.0.0.1');
    await new Promise((res) => taken.once('listening', res));
    cleanups.push(() => new Promise<void>((res) => taken.close(() => res())));
    const port = (taken.address() as { port: number }).port;
    const m = await runCli(['watch', '--url', 'a=http://127.0.0.1:1/stacks', '--metrics', `127.0.0.1:${port}`]);
    expect(m.code).toBe(2);
    expect(m.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^rollcall: cannot serve --metrics on 127.0.0.1:${port}: .*EADDRINUSE`)),
    ]);
  });
});

describe('rollcall watch: running', () => {
  it('--json prints each alert as one line with the contract fields; --count ends the watch', async () => {
    const nodes = await startCannedNodes(4);
    cleanups.push(() => nodes.close());
    nodes.set('deadlock');
    const out = join(tempDir(), 'rec');
    const r = await runCli([
      'watch',
      ...nodes.targets.flatMap((t) => ['--url', `${t.name}=${t.spec}`]),
      // Wide instants and a few spare rounds: on a loaded machine an instant the analysis is
      // still behind on is skipped (and counted), and three analyzed rounds confirm the alert.
      '--interval',
      '250ms',
      '--count',
      '6',
      '--json',
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(Object.keys(event)).toEqual(['event', 'at', 'verdict', 'cycle', 'nodes', 'bundle']);
    expect(event).toMatchObject({ event: 'deadlock', verdict: 'deadlock', bundle: expect.stringContaining(out) });
    expect(readdirSync(out)).toHaveLength(1);
    const err = r.stderr.trim().split('\n');
    expect(err[0]).toMatch(
      /^rollcall watch: 5 target\(s\) every 250 ms, window 3 rounds, alerting on deadlock; bundles in /,
    );
    expect(err[err.length - 1]).toMatch(/^rollcall watch: stopped after [3-6] rounds, 1 alert\(s\)/);
  });

  it('stops cleanly on SIGTERM: the metrics listener closes and the exit status is 0', async () => {
    const nodes = await startCannedNodes(2);
    cleanups.push(() => nodes.close());
    const child = spawn(
      process.execPath,
      [
        CLI,
        'watch',
        ...nodes.targets.flatMap((t) => ['--url', `${t.name}=${t.spec}`]),
        '--interval',
        '100ms',
        '--metrics',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(() => void child.kill('SIGKILL'));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    await until(() => /metrics at (\S+);/.test(stderr), 'the start line', 30_000);
    const url = /metrics at (\S+);/.exec(stderr)![1]!;
    await until(() => nodes.served('w2') >= 3, 'three rounds', 30_000, 20);
    const m = await scrape(url);
    expect(sample(m, 'rollcall_watch_rounds_total')).toBeGreaterThanOrEqual(1);
    expect(sample(m, 'process_cpu_seconds_total')).toBeGreaterThan(0);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/rollcall watch: SIGTERM: stopping after the round in flight\n/);
    expect(stderr).toMatch(/rollcall watch: stopped after \d+ rounds, 0 alert\(s\)\n$/);
    await expect(fetch(url)).rejects.toThrow();
  }, 60_000);
});
