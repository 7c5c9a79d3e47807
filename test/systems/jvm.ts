// Test support for real Java systems started by tests: a JVM launcher that reads the process's
// `rollcall-fixture ROLE TEXT` event lines, lets a test wait for one (no sleeps), writes commands to
// its stdin, and always kills what it started (SIGKILL on stop, and on the test process's exit);
// and a compile cache keyed by the sources' hash, so parallel test files compile once.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Small, quick-starting JVMs: fixtures need little memory and no JIT to speak of. */
export const SMALL_JVM_FLAGS = ['-Xmx96m', '-Xss512k', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xshare:auto'];
/** Event lines kept per process (a ring: the newest win); waiters see every line as it comes. */
export const MAX_EVENTS_KEPT = 2_000;
const EVENT_PREFIX = 'rollcall-fixture ';
/** Output kept for error messages when a process dies or a wait times out. */
const MAX_TAIL_LINES = 40;

export function commandWorks(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Every file under dir whose name ends with one of `exts`, sorted (stable hashes). */
export function filesUnder(dir: string, exts: readonly string[]): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory()
        ? filesUnder(join(dir, e.name), exts)
        : exts.some((x) => e.name.endsWith(x))
          ? [join(dir, e.name)]
          : [],
    )
    .sort();
}

/**
 * Builds into `<buildDir>/<hash of the sources>` once: `build(tmp)` fills a temporary folder and the
 * first rename wins, so concurrent test files never see a half-built output. Returns the folder.
 */
export function buildCached(
  root: string,
  sources: readonly string[],
  buildDir: string,
  build: (out: string) => void,
): string {
  const hash = createHash('sha256');
  for (const f of sources) hash.update(relative(root, f)).update('\0').update(readFileSync(f)).update('\0');
  const out = join(buildDir, hash.digest('hex').slice(0, 16));
  if (existsSync(join(out, '.complete'))) return out;
  mkdirSync(buildDir, { recursive: true });
  const tmp = join(buildDir, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true });
  try {
    build(tmp);
    writeFileSync(join(tmp, '.complete'), '');
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  try {
    renameSync(tmp, out);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another process won the race
  }
  return out;
}

/** Runs a build tool; throws with its output when it fails. */
export function runTool(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...(cwd !== undefined ? { cwd } : {}) });
  if (r.status !== 0)
    throw new Error(`${cmd} failed (${r.status}): ${(r.stderr || r.stdout || r.error?.message) ?? ''}`);
}

export interface LaunchOptions {
  /** The name tests capture it under: 'orders', 'zk1'… */
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called with every event line as it arrives (besides the ring kept for events()). */
  onEvent?: (event: string) => void;
  /** Called with every line the process prints on stdout (events included). */
  onStdoutLine?: (line: string) => void;
}

export type EventMatch = RegExp | ((event: string) => boolean);

/** One process started by a test. */
export interface LaunchedProcess {
  name: string;
  pid: number;
  /** The newest event lines (`ROLE TEXT` after the `rollcall-fixture ` prefix), oldest first. */
  events(): string[];
  /** Resolves with the first event line from now on (or already kept, with `past`) matching `match`. */
  waitForEvent(match: EventMatch, timeoutMs: number, options?: { past?: boolean }): Promise<string>;
  /** Writes one command line to its stdin. */
  send(line: string): void;
  /** The last lines it printed (any stream), for error messages. */
  tail(): string;
  exited(): boolean;
  /** SIGKILL and wait for the exit. Safe to call twice. */
  kill(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every process still running when the test process exits, whatever the test did. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export function launch(options: LaunchOptions): LaunchedProcess {
  installExitHook();
  const child = spawn(options.command, options.args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.cwd !== undefined ? { cwd: options.cwd } : {}),
  });
  live.add(child);
  const events: string[] = [];
  const tail: string[] = [];
  const waiters = new Set<(line: string) => void>();
  const exitWaiters = new Set<() => void>();
  child.once('exit', () => {
    live.delete(child);
    for (const w of [...exitWaiters]) w();
  });
  // An EPIPE on a dead process's stdin must not crash the test process.
  child.stdin!.on('error', () => undefined);
  const onLine = (line: string): void => {
    tail.push(line);
    if (tail.length > MAX_TAIL_LINES) tail.shift();
    const at = line.indexOf(EVENT_PREFIX);
    if (at < 0) return;
    const event = line.slice(at + EVENT_PREFIX.length);
    events.push(event);
    if (events.length > MAX_EVENTS_KEPT) events.shift();
    options.onEvent?.(event);
    for (const w of [...waiters]) w(event);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    const stdout = stream === child.stdout ? options.onStdoutLine : undefined;
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      buf += s;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trimEnd();
        buf = buf.slice(nl + 1);
        stdout?.(line);
        onLine(line);
      }
    });
  }
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const waitForEvent = (match: EventMatch, timeoutMs: number, opts: { past?: boolean } = {}): Promise<string> =>
    new Promise((resolve, reject) => {
      const test = typeof match === 'function' ? match : (e: string) => match.test(e);
      const what = typeof match === 'function' ? 'the awaited event' : String(match);
      if (opts.past === true) {
        const hit = events.find(test);
        if (hit !== undefined) return resolve(hit);
      }
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(onEvent);
        exitWaiters.delete(onExit);
      };
      const onEvent = (e: string): void => {
        if (!test(e)) return;
        done();
        resolve(e);
      };
      const onExit = (): void => {
        done();
        reject(new Error(`${options.name} exited before ${what}; last output:\n${tail.join('\n')}`));
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${options.name}: no ${what} within ${timeoutMs} ms; last output:\n${tail.join('\n')}`));
      }, timeoutMs);
      if (exited()) return onExit();
      waiters.add(onEvent);
      exitWaiters.add(onExit);
    });
  return {
    name: options.name,
    pid: child.pid!,
    events: () => [...events],
    waitForEvent,
    send: (line) => {
      if (!exited()) child.stdin!.write(`${line}\n`);
    },
    tail: () => tail.join('\n'),
    exited,
    kill: () =>
      new Promise<void>((resolve) => {
        if (exited()) return resolve();
        exitWaiters.add(resolve);
        child.kill('SIGKILL');
      }),
  };
}

/** Kills them all, in parallel. */
export async function killAll(processes: readonly LaunchedProcess[]): Promise<void> {
  await Promise.all(processes.map((p) => p.kill()));
}
