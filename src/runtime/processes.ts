// A cluster of OS processes on this machine: each node runs `rollcall node` in its own process.
// No orphans: children exit when their stdin closes (the parent died, however it died), and the
// parent kills any child still running when it exits.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { NodeEndpoint } from './inprocess.js';
import { atExit } from './exit-hooks.js';
import { writeSecretFile } from './secrets.js';
import { makeTempDir, removeDir } from './tempdir.js';

export interface ProcessClusterOptions {
  workers: number;
  host?: string;
  /** Generate a cluster secret and make every node authenticate (default true). */
  secret?: boolean;
  /** Flags passed to every `rollcall node` (e.g. ['--rpc-timeout-ms', '3000']). */
  nodeArgs?: string[];
  masterArgs?: string[];
  workerArgs?: string[];
  dataDir?: string;
  cliPath?: string;
  readyTimeoutMs?: number;
  log?: (message: string) => void;
  /** Told when a node's process ends while the cluster runs (not when stop() ends it). */
  onExit?: (exit: NodeExit) => void;
}

/** A node process that ended on its own (crashed, killed, or exited). */
export interface NodeExit {
  name: string;
  role: 'master' | 'worker';
  pid: number | undefined;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Nodes of the cluster still running. */
  running: number;
}

export interface ProcessCluster {
  master: NodeEndpoint;
  endpoints: NodeEndpoint[];
  dataDir: string;
  secretFile?: string;
  pids(): number[];
  stop(): Promise<void>;
}

interface ReadyLine {
  event: 'ready';
  role: 'master' | 'worker';
  name: string;
  rpc: string;
  admin: string;
  pid: number;
}

const STOP_GRACE_MS = 5000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  atExit(() => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export function defaultCliPath(): string {
  const here = fileURLToPath(import.meta.url);
  const sibling = path.resolve(path.dirname(here), '../cli/bin.js');
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  // Running from TypeScript sources (tests): use the build.
  return path.resolve(path.dirname(here), '../../dist/src/cli/bin.js');
}

export async function startProcessCluster(options: ProcessClusterOptions): Promise<ProcessCluster> {
  installExitHook();
  const host = options.host ?? '127.0.0.1';
  const cli = options.cliPath ?? defaultCliPath();
  if (!existsSync(cli)) throw new Error(`cannot find the rollcall CLI at ${cli} (run npm run build)`);
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await makeTempDir('rollcall-procs'));
  const secretFile = options.secret === false ? undefined : await writeSecretFile(dataDir);
  const children: ChildProcess[] = [];
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;

  const launch = (role: 'master' | 'worker', name: string, extra: string[]): Promise<NodeEndpoint> => {
    const args = [
      cli,
      'node',
      '--role',
      role,
      '--name',
      name,
      '--listen',
      `${host}:0`,
      '--admin',
      `${host}:0`,
      '--data',
      path.join(dataDir, name),
      '--json',
      '--exit-on-stdin-close',
      ...(secretFile ? ['--secret-file', secretFile] : []),
      ...(options.nodeArgs ?? []),
      ...extra,
    ];
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(child);
    live.add(child);
    let ready = false;
    child.once('exit', (code, signal) => {
      live.delete(child);
      // Before it was ready, the failed start says why; during stop(), ending is the point.
      if (stopping || !ready) return;
      const running = children.filter((c) => c.exitCode === null && c.signalCode === null).length;
      options.onExit?.({ name, role, pid: child.pid, code, signal, running });
    });
    return new Promise<NodeEndpoint>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} not ready after ${readyTimeoutMs} ms`)), readyTimeoutMs);
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        if (!line.startsWith('{')) return;
        try {
          const msg = JSON.parse(line) as ReadyLine;
          if (msg.event !== 'ready') return;
          clearTimeout(timer);
          ready = true;
          resolve({ name: msg.name, role: msg.role, rpc: msg.rpc, admin: msg.admin, pid: msg.pid });
        } catch {
          // Not a protocol line.
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited before it was ready (${signal ?? `code ${code}`})`));
      });
    });
  };

  let stopping = false;
  const stopAll = async (): Promise<void> => {
    stopping = true;
    await Promise.all(children.map((c) => stopChild(c)));
    if (ownDir) await removeDir(dataDir);
  };

  try {
    const master = await launch('master', 'master', options.masterArgs ?? []);
    const workers = await Promise.all(
      Array.from({ length: options.workers }, (_, i) =>
        launch('worker', `worker-${i + 1}`, ['--master', master.rpc, ...(options.workerArgs ?? [])]),
      ),
    );
    let stopped: Promise<void> | undefined;
    return {
      master,
      endpoints: [master, ...workers],
      dataDir,
      ...(secretFile ? { secretFile } : {}),
      pids: () => children.map((c) => c.pid).filter((p): p is number => p !== undefined),
      stop: () => (stopped ??= stopAll()),
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** SIGTERM, then SIGKILL after a grace period; resolves when the child has exited. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
    child.stdin?.end();
  });
}
