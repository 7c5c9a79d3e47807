// Issue 16, the CLI, process and disk rows: through the built CLI, as a user runs it. No failure is
// silent or a stack trace; bad input and lost peers exit 2 with one line; nothing hangs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { defaultCliPath, startLocalCluster, startProcessCluster } from '../../src/runtime/index.js';
import { zkClusterSettings } from '../../src/coordination/zookeeper/index.js';
import { describeUnexpected } from '../../src/cli/main.js';
import { eventually } from '../barrier/fixture.js';
import { requireTool } from '../support/environment.js';
import { tempDirs } from '../support/tempdir.js';
import { REFUSED_PORT } from '../support/refused.js';

const cli = defaultCliPath();
const tempDir = tempDirs('rollcall-rel');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI; a run killed by the timeout (a hang) has status null. */
function rollcall(
  args: string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; prefix?: string[] } = {},
): Run {
  const [cmd, ...pre] = options.prefix ?? [process.execPath];
  const argv = [...pre, ...(options.prefix ? [process.execPath] : []), cli, ...args];
  const r = spawnSync(cmd!, argv, {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 30_000,
    env: { ...process.env, ...options.env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One line on stderr, no stack frame. */
function expectOneLine(r: Run, pattern: RegExp): void {
  expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr.trimEnd()).toMatch(pattern);
}

describe('row 1: the master dies under a client running rolllog', () => {
  it('exits 2 with one line, and --json prints the runs so far with the error', async () => {
    const pc = await startProcessCluster({ workers: 2 });
    try {
      const child = spawn(
        process.execPath,
        [cli, 'rolllog', '--master', pc.master.rpc, '--secret-file', pc.secretFile!, '--runs', '3000', '--json'],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      // Runs are under way once the master has written backup-table rows for one.
      const table = join(pc.dataDir, 'master', 'backup', 'backup-system-table.log');
      await eventually(() => existsSync(table) && statSync(table).size > 0, 60_000);
      process.kill(pc.master.pid!, 'SIGKILL');
      expect(await exited).toBe(2);
      expectOneLine(
        { status: 2, stdout, stderr },
        /^rollcall rolllog: lost the master at 127\.0\.0\.1:\d+ after \d+ of 3000 runs: /,
      );
      const report = JSON.parse(stdout) as { runs: { outcome: string }[]; error: string };
      expect(report.runs.length).toBeGreaterThan(0);
      expect(report.runs.length).toBeLessThan(3000);
      expect(report.error).toMatch(/^lost the master at /);
    } finally {
      await pc.stop();
    }
  }, 120_000);
});

describe('row 16: a master that is not there', () => {
  it('rolllog --master 127.0.0.1:1 exits 2 with one line', () => {
    const r = rollcall(['rolllog', '--master', `127.0.0.1:${REFUSED_PORT}`]);
    expect(r.status).toBe(2);
    expectOneLine(r, /^rollcall: the master at 127\.0\.0\.1:1 did not answer: .*ECONNREFUSED/);
  });
});

describe('row 10: ZooKeeper unreachable', () => {
  const url = `zookeeper://127.0.0.1:${REFUSED_PORT}/x`;

  it('rolllog --nodes 3 --coordination exits 2 at once with one line, leaving nothing running', () => {
    const r = rollcall(['rolllog', '--nodes', '3', '--coordination', url], { timeoutMs: 12_000 });
    expect(r.status).toBe(2);
    expectOneLine(r, /cannot reach ZooKeeper at zookeeper:\/\/127\.0\.0\.1:1\/x \(127\.0\.0\.1:1: connection refused/);
  });

  it('an in-process cluster whose master cannot join ZooKeeper closes every listener it opened', async () => {
    const servers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const before = servers();
    const zk = zkClusterSettings(url, { procedureTimeoutMs: 5000, connectTimeoutMs: 300 });
    await expect(startLocalCluster({ workers: 2, master: zk.master, worker: zk.worker })).rejects.toThrow(
      /cannot reach ZooKeeper/,
    );
    await eventually(() => servers() === before, 5000);
  });
});

describe('row 11: more nodes than this process may open files for', () => {
  const hasPrlimit = spawnSync('prlimit', ['--version']).status === 0;
  it.runIf(requireTool('prlimit', hasPrlimit, 'install util-linux'))(
    'rolllog --nodes 5000 refuses before any work, saying how many fit',
    () => {
      const r = rollcall(['rolllog', '--nodes', '5000'], { prefix: ['prlimit', '--nofile=4096:4096'] });
      expect(r.status).toBe(2);
      expectOneLine(r, /--nodes 5000 needs about [\d,]+ open files .* may open 4,096 .*use at most \d+ workers here/);
    },
  );
});

describe('row 18: a reader that closes the pipe', () => {
  it('parse … | head -c 100 exits quietly', async () => {
    const dump = join(process.cwd(), 'fixtures', 'java-locks', 'juc-cycle-jstack-l.txt');
    const child = spawn(process.execPath, [cli, 'parse', '--json', ...Array<string>(60).fill(dump)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // Like head -c 100: read a little, then close the pipe while the CLI still writes.
    child.stdout!.once('data', () => child.stdout!.destroy());
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});

describe('row 20: rollcall node with bad --data or --coordination', () => {
  const node = (extra: string[]): Run =>
    rollcall(['node', '--role', 'master', '--listen', '127.0.0.1:0', '--admin', '127.0.0.1:0', ...extra], {
      timeoutMs: 15_000,
    });

  it('--data FILE', () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const r = node(['--data', file]);
    expect(r.status).toBe(2);
    expectOneLine(r, /--data .*a-file: a file is in the way/);
  });

  it('--data /proc/x (Node’s recursive mkdir spun a CPU for ever there)', () => {
    const r = node(['--data', '/proc/x']);
    expect(r.status).toBe(2);
    expectOneLine(r, /--data \/proc\/x: it cannot be created there/);
  });

  it('--coordination with nothing listening', () => {
    const r = node(['--data', tempDir(), '--coordination', `zookeeper://127.0.0.1:${REFUSED_PORT}/x`]);
    expect(r.status).toBe(2);
    expectOneLine(r, /cannot reach ZooKeeper/);
  });
});

describe('output directories are checked before the work', () => {
  it('demo --out /proc/x exits 2 at once (Node’s recursive mkdir spun there for ever)', () => {
    const r = rollcall(['demo', '--out', '/proc/x'], { timeoutMs: 15_000 });
    expect(r.status).toBe(2);
    expectOneLine(r, /--out \/proc\/x: it cannot be created there/);
  });
});

describe('an error no command expected', () => {
  // A WAL "segment" that is a directory: reading it fails in a way no command handles.
  function brokenDataDir(): string {
    const dir = tempDir();
    mkdirSync(join(dir, 'wal', 'wal.000000000001'), { recursive: true });
    writeFileSync(join(dir, 'wal', 'wal.000000000002'), '');
    return dir;
  }

  it('is one line naming the command, exit 2; ROLLCALL_DEBUG=1 adds the stack', () => {
    const dir = brokenDataDir();
    const r = rollcall(['verify', dir]);
    expect(r.status).toBe(2);
    expectOneLine(r, /^rollcall verify: EISDIR: .* \(ROLLCALL_DEBUG=1 shows the stack\)$/);
    const debug = rollcall(['verify', dir], { env: { ROLLCALL_DEBUG: '1' } });
    expect(debug.status).toBe(2);
    expect(debug.stderr).toMatch(/^\s+at /m);
  });

  it('describeUnexpected keeps a multi-line message on one line', () => {
    expect(describeUnexpected(new TypeError('a\n  b'))).toBe('a b (TypeError; ROLLCALL_DEBUG=1 shows the stack)');
    expect(describeUnexpected('thrown string')).toBe('thrown string (ROLLCALL_DEBUG=1 shows the stack)');
  });
});

describe('cluster start --processes', () => {
  it('says when a node process dies, on stderr and as a JSON event', async () => {
    const child = spawn(process.execPath, [cli, 'cluster', 'start', '--nodes', '2', '--processes', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const events: {
      event: string;
      name?: string;
      signal?: string;
      pid?: number;
      nodes?: { name: string; pid: number }[];
    }[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => l.startsWith('{') && events.push(JSON.parse(l)));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      await eventually(() => events.length > 0, 60_000);
      const worker = events[0]!.nodes!.find((n) => n.name === 'worker-2')!;
      process.kill(worker.pid, 'SIGKILL');
      await eventually(() => events.some((e) => e.event === 'exit'), 30_000);
      expect(events[1]).toEqual({
        event: 'exit',
        name: 'worker-2',
        role: 'worker',
        pid: worker.pid,
        code: null,
        signal: 'SIGKILL',
        running: 2,
      });
      expect(stderr).toMatch(
        /rollcall cluster: worker worker-2 \(pid \d+\) killed by SIGKILL; 2 node\(s\) still running/,
      );
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
