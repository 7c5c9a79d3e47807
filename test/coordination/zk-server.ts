// A real ZooKeeper server for tests: scripts/zk.sh on a free loopback port with its own data
// directory. When it cannot start (no Java, no package, no permission to install), tests skip and
// say why, never silently, and in CI they fail (test/support/environment.ts).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireTool } from '../support/environment.js';
import { untilSlow } from '../support/gate.js';
import { alive } from '../support/processes.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCRIPT = path.join(ROOT, 'scripts/zk.sh');
/** zk.sh waits up to 20 s for 'ruok'; leave room for a slow first JVM start. */
const START_LIMIT_MS = 40_000;
const STOP_LIMIT_MS = 10_000;

export interface ZkServer {
  port: number;
  dir: string;
  /** zookeeper://127.0.0.1:PORT/<chroot> */
  url(chroot: string): string;
  /** Stops the process and waits until it is gone (the data directory stays). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory (sessions survive a short restart). */
  start(): Promise<void>;
  /** Stops and removes the data directory. */
  destroy(): Promise<void>;
}

export type ZkStartResult = { ok: true; server: ZkServer } | { ok: false; reason: string };

/** The suite's server: undefined (tests skip, saying why) when it cannot start, an error in CI. */
export async function zkServerForTests(): Promise<ZkServer | undefined> {
  const started = await startZkServer();
  if (started.ok) return started.server;
  requireTool('ZooKeeper server', false, started.reason);
  return undefined;
}

/** Ports tried before giving up: a free port can be taken by another test before the JVM binds it. */
const START_ATTEMPTS = 3;

export async function startZkServer(): Promise<ZkStartResult> {
  let last: ZkStartResult = { ok: false, reason: 'not tried' };
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    last = await startZkServerOnce();
    if (last.ok) return last;
    console.warn(`ZooKeeper start attempt ${attempt}/${START_ATTEMPTS} failed: ${last.reason}`);
  }
  return last;
}

async function startZkServerOnce(): Promise<ZkStartResult> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rollcall-zk-'));
  const run = (cmd: 'start' | 'stop'): Promise<{ ok: boolean; output: string }> =>
    new Promise((resolve) => {
      execFile('bash', [SCRIPT, cmd, String(port), dir], { timeout: START_LIMIT_MS }, (err, stdout, stderr) =>
        resolve({ ok: !err, output: `${stdout}${stderr}`.trim() }),
      );
    });
  const pid = (): number | undefined => {
    try {
      return Number(fs.readFileSync(path.join(dir, 'pid'), 'utf8').trim()) || undefined;
    } catch {
      return undefined;
    }
  };
  const stop = async (): Promise<void> => {
    const p = pid();
    await run('stop');
    if (p === undefined) return;
    await untilSlow(() => !alive(p), `ZooKeeper (pid ${p}) exiting`, STOP_LIMIT_MS).catch(() =>
      process.kill(p, 'SIGKILL'),
    );
  };
  const start = async (): Promise<void> => {
    const r = await run('start');
    if (!r.ok) throw new Error(`ZooKeeper did not start on port ${port}: ${r.output}`);
  };
  const first = await run('start');
  if (!first.ok) {
    await stop(); // a server that started but never answered must not outlive the attempt
    fs.rmSync(dir, { recursive: true, force: true });
    return { ok: false, reason: first.output || 'scripts/zk.sh start failed' };
  }
  return {
    ok: true,
    server: {
      port,
      dir,
      url: (chroot) => `zookeeper://127.0.0.1:${port}${chroot.startsWith('/') ? chroot : `/${chroot}`}`,
      stop,
      start,
      destroy: async () => {
        await stop();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}
