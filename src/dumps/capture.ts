// Synchronized capture: on a fixed schedule (round k at t0 + k·interval, never drifting with how
// long captures take), every target of a round is released at the round's instant. Shortly before
// it, each capture is prepared (HTTP connection opened, process started and held at a gate), so
// that at the instant a target costs one write and a round's launches stay within a millisecond
// or so of each other. Each capture streams straight to its file under size and time limits; a
// failed, slow or still-busy target is recorded with its error and the others go on.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import {
  BUNDLE_VERSION,
  captureFileName,
  prepareBundleDir,
  sanitizeNodeDir,
  writeManifest,
  type BundleManifest,
  type BundleTarget,
  type CaptureRecord,
  type TargetKind,
} from './bundle.js';
import { PreparedGet } from './http-get.js';

export const DEFAULT_CAPTURE_TIMEOUT_MS = 10_000;
export const MAX_CAPTURE_BYTES = 64 * 1024 * 1024;
export const MAX_TARGETS = 1000;
export const MAX_ROUNDS = 100_000;
/** Bound on rounds × targets: every capture has a record in the manifest. */
export const MAX_CAPTURES = 500_000;
/** The manifest is rewritten after a round at most this often (and always at the end). */
const MANIFEST_WRITE_INTERVAL_MS = 5000;
/** Captures are prepared (connections opened, processes started and held) this long before their instant. */
export const PREPARE_LEAD_MS = 200;
/** Round 0 is scheduled this far ahead, so it is prepared like every other round. */
const FIRST_ROUND_LEAD_MS = PREPARE_LEAD_MS + 20;
/** How far ahead of an instant the scheduler wakes up to spin to it. */
const SPIN_MS = 2;
/** How long a killed capture may take to report its end before it is given up on. */
const KILL_GRACE_MS = 2000;
/** Longest stderr excerpt kept in an error message. */
const MAX_STDERR_CHARS = 500;

export interface TargetSpec {
  name: string;
  kind: TargetKind;
  /** URL, pid (as text) or shell command. */
  spec: string;
}

export interface CaptureOptions {
  targets: TargetSpec[];
  intervalMs: number;
  count: number;
  outDir: string;
  timeoutMs?: number;
  maxBytes?: number;
  /** Overwrite an existing non-empty bundle directory (removes only what this bundle writes). */
  force?: boolean;
  /** Epoch ms of round 0; default: now plus a short lead. */
  startAtMs?: number;
  /** Called as each capture finishes (for progress bars). */
  onCapture?: (record: CaptureRecord, manifest: BundleManifest) => void;
  /** Stops scheduling further rounds; running captures are cut off and recorded. */
  signal?: AbortSignal;
  /** jcmd/jstack lookup (tests); default: PATH and $JAVA_HOME/bin. */
  jvmTool?: JvmTool | null;
}

export interface JvmTool {
  /** Absolute path or bare command name. */
  command: string;
  kind: 'jcmd' | 'jstack';
}

/** Precise epoch milliseconds (fractional), comparable across the captures of one process. */
export function epochNowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** jcmd if available, else jstack, searched in $JAVA_HOME/bin then PATH; null when neither. */
export function findJvmTool(env: NodeJS.ProcessEnv = process.env): JvmTool | null {
  const dirs = [
    ...(env.JAVA_HOME ? [join(env.JAVA_HOME, 'bin')] : []),
    ...(env.PATH ?? '').split(delimiter).filter((d) => d.length > 0),
  ];
  const exe = process.platform === 'win32' ? '.exe' : '';
  for (const kind of ['jcmd', 'jstack'] as const) {
    for (const d of dirs) {
      const p = join(d, kind + exe);
      if (existsSync(p)) return { command: p, kind };
    }
  }
  return null;
}

export function targetAddr(t: TargetSpec): string | undefined {
  if (t.kind !== 'url') return undefined;
  try {
    const u = new URL(t.spec);
    return u.port ? `${u.hostname}:${u.port}` : `${u.hostname}:${u.protocol === 'https:' ? 443 : 80}`;
  } catch {
    return undefined;
  }
}

/** Checks targets and options; returns a readable problem or undefined. */
export function validateCapture(opts: CaptureOptions): string | undefined {
  if (opts.targets.length === 0) return 'no targets: give --url, --jvm, --cmd or --targets';
  if (opts.targets.length > MAX_TARGETS) return `at most ${MAX_TARGETS} targets, not ${opts.targets.length}`;
  if (!Number.isInteger(opts.count) || opts.count < 1 || opts.count > MAX_ROUNDS) {
    return `count must be 1 to ${MAX_ROUNDS}`;
  }
  if (!(opts.intervalMs >= 0)) return 'interval must be 0 or more';
  if (opts.count * opts.targets.length > MAX_CAPTURES) {
    return `at most ${MAX_CAPTURES} captures (rounds × targets), not ${opts.count * opts.targets.length}`;
  }
  const seen = new Set<string>();
  for (const t of opts.targets) {
    if (t.name.length === 0) return 'a target has an empty name';
    if (seen.has(t.name)) return `target name '${t.name}' is used twice`;
    seen.add(t.name);
    if (t.kind === 'url') {
      let u: URL;
      try {
        u = new URL(t.spec);
      } catch {
        return `target '${t.name}': '${t.spec}' is not a URL`;
      }
      if (u.protocol !== 'http:' && u.protocol !== 'https:') return `target '${t.name}': only http and https URLs`;
    } else if (t.kind === 'jvm') {
      if (!/^\d+$/.test(t.spec)) return `target '${t.name}': a JVM is given by its pid, not '${t.spec}'`;
    } else if (t.spec.trim().length === 0) return `target '${t.name}': empty command`;
  }
  return undefined;
}

/**
 * Captures every target every interval for count rounds into a bundle directory, and returns the
 * manifest (also written to DIR/manifest.json after every round). Throws only on bad options or
 * when the directory cannot be prepared (BundleExistsError when it is not empty and !force).
 */
export async function captureBundle(opts: CaptureOptions): Promise<BundleManifest> {
  const problem = validateCapture(opts);
  if (problem !== undefined) throw new Error(problem);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS;
  const maxBytes = opts.maxBytes ?? MAX_CAPTURE_BYTES;
  const taken = new Set<string>();
  const targets: BundleTarget[] = opts.targets.map((t) => {
    const addr = targetAddr(t);
    return { name: t.name, kind: t.kind, spec: t.spec, ...(addr ? { addr } : {}), dir: sanitizeNodeDir(t.name, taken) };
  });
  await prepareBundleDir(opts.outDir, targets, opts.force ?? false);
  const jvmTool = opts.jvmTool === undefined ? findJvmTool() : opts.jvmTool;

  const t0 = opts.startAtMs ?? Math.ceil(epochNowMs()) + FIRST_ROUND_LEAD_MS;
  const manifest: BundleManifest = {
    version: BUNDLE_VERSION,
    createdAt: Math.round(epochNowMs()),
    intervalMs: opts.intervalMs,
    count: opts.count,
    timeoutMs,
    maxBytes,
    targets,
    rounds: [],
    captures: [],
  };
  await writeManifest(opts.outDir, manifest);

  const busy = new Set<string>();
  const running = new Set<Promise<void>>();
  const pendingRounds = new Set<Promise<void>>();
  const cancel = new AbortController();
  // One listener per running capture, up to every target at once.
  setMaxListeners(targets.length * 2 + 10, cancel.signal);
  const limits: RunLimits = { timeoutMs, maxBytes, jvmTool, signal: cancel.signal };
  const onAbort = (): void => cancel.abort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });

  // Manifest writes are serialized so a slow one never lands after a newer one, and throttled so
  // a long capture does not rewrite a large manifest every round.
  let writing: Promise<void> = Promise.resolve();
  let lastWriteMs = epochNowMs();
  const persist = (force: boolean): Promise<void> => {
    if (!force && epochNowMs() - lastWriteMs < MANIFEST_WRITE_INTERVAL_MS) return writing;
    lastWriteMs = epochNowMs();
    return (writing = writing.then(() => writeManifest(opts.outDir, manifest)));
  };

  try {
    for (let round = 0; round < opts.count; round++) {
      if (cancel.signal.aborted) break;
      const scheduledAt = t0 + round * opts.intervalMs;
      // Connections are opened and processes started (held at a gate) ahead of the instant, so
      // that at the instant each target costs only a write: that is what keeps skew low.
      await sleepUntil(scheduledAt - Math.min(PREPARE_LEAD_MS, opts.intervalMs / 2), cancel.signal);
      if (cancel.signal.aborted) break;
      const records: CaptureRecord[] = [];
      const armed: { target: BundleTarget; rec: CaptureRecord; capture: PreparedCapture }[] = [];
      // Targets whose previous capture is still running get until the instant to finish it: a
      // slow answer (a loaded machine, a big dump) then costs this round a late connection, not
      // its sample. Only a target still busy at the instant is skipped.
      const late: { target: BundleTarget; rec: CaptureRecord }[] = [];
      for (const t of targets) {
        const rec: CaptureRecord = { node: t.name, round, scheduledAt };
        records.push(rec);
        manifest.captures.push(rec);
        if (busy.has(t.name)) {
          late.push({ target: t, rec });
          continue;
        }
        busy.add(t.name);
        armed.push({ target: t, rec, capture: prepareCapture(t, rec, opts.outDir, limits) });
      }
      await sleepUntil(scheduledAt, cancel.signal);
      if (cancel.signal.aborted) {
        for (const a of armed) {
          a.capture.cancel();
          a.rec.error = 'cancelled before its instant';
          busy.delete(a.target.name);
        }
        for (const l of late) l.rec.error = 'cancelled before its instant';
        manifest.rounds.push({ round, scheduledAt, skewMs: 0 });
        break;
      }
      for (const { target, rec } of late) {
        if (busy.has(target.name)) {
          rec.error = 'skipped: the previous capture of this target is still running';
          opts.onCapture?.(rec, manifest);
          continue;
        }
        busy.add(target.name);
        armed.push({ target, rec, capture: prepareCapture(target, rec, opts.outDir, limits) });
      }
      // Every target is released here, back to back, in one synchronous stretch; the bookkeeping
      // of each capture comes after the last release.
      for (const a of armed) a.capture.fire();
      const launches = armed.map(({ target, rec, capture }) => {
        const p = capture.follow().then(() => {
          busy.delete(target.name);
          running.delete(p);
          opts.onCapture?.(rec, manifest);
        });
        running.add(p);
        return p;
      });
      const starts = records.flatMap((r) => (r.startedAt === undefined ? [] : [r.startedAt]));
      const skewMs = starts.length === 0 ? 0 : Math.max(...starts) - Math.min(...starts);
      manifest.rounds.push({ round, scheduledAt, skewMs: Number(skewMs.toFixed(3)) });
      const done = Promise.all(launches).then(() => persist(false));
      pendingRounds.add(done);
      void done.finally(() => pendingRounds.delete(done));
    }
    await Promise.all([...running]);
    await Promise.all([...pendingRounds]);
    if (!cancel.signal.aborted) manifest.completedAt = Math.round(epochNowMs());
    await persist(true);
    return manifest;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    cancel.abort();
    await Promise.allSettled([...running]);
    await writing.catch(() => undefined);
  }
}

function sleepUntil(epochMs: number, signal: AbortSignal): Promise<void> {
  const delay = epochMs - epochNowMs();
  if (delay <= 0) return Promise.resolve();
  return new Promise((resolveSleep) => {
    // Wake a little early and spin to the instant: timers fire late by a millisecond or so, and
    // can fire early on some platforms; this keeps starts on, not around, the schedule.
    const t = setTimeout(
      () => {
        signal.removeEventListener('abort', onAbort);
        while (epochNowMs() < epochMs) {
          /* at most SPIN_MS */
        }
        resolveSleep();
      },
      Math.max(0, delay - SPIN_MS),
    );
    const onAbort = (): void => {
      clearTimeout(t);
      resolveSleep();
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

interface RunLimits {
  timeoutMs: number;
  maxBytes: number;
  jvmTool: JvmTool | null;
  signal: AbortSignal;
}

interface PreparedCapture {
  /** Starts the capture now and records startedAt: as little work as possible. */
  fire(): void;
  /** After fire(): resolves when the capture is over and rec is filled in; never rejects. */
  follow(): Promise<void>;
  /** Instead of fire(): releases what was prepared (closes the connection, kills the process). */
  cancel(): void;
}

/** Arms one capture of t into <outDir>/<dir>/<round>.txt; fire() releases it. */
function prepareCapture(t: BundleTarget, rec: CaptureRecord, outDir: string, limits: RunLimits): PreparedCapture {
  const file = `${t.dir}/${captureFileName(rec.round)}`;
  let source: Source | undefined;
  let setupError: string | undefined;
  try {
    source = t.kind === 'url' ? httpSource(t.spec) : processSource(t, limits);
  } catch (err) {
    setupError = (err as Error).message;
  }
  return {
    fire(): void {
      rec.startedAt = epochNowMs();
      source?.fire();
    },
    cancel(): void {
      source?.kill();
    },
    follow(): Promise<void> {
      if (source === undefined) {
        rec.error = setupError;
        rec.finishedAt = rec.startedAt;
        return Promise.resolve();
      }
      return drain(source, join(outDir, file), limits).then((r) => {
        rec.finishedAt = epochNowMs();
        if (r.wrote) {
          rec.file = file;
          rec.bytes = r.bytes;
        }
        if (r.status !== undefined) rec.status = r.status;
        if (r.error !== undefined) rec.error = r.error;
      });
    },
  };
}

/** A byte stream being captured, plus how it ended. */
interface Source {
  /** Resolves with the stream once available (HTTP needs the response first). */
  stream: Promise<Readable>;
  /** Resolves once the source is finished: an error message, or undefined, and a status code. */
  done: Promise<{ error?: string; status?: number }>;
  /** Releases a prepared source: sends the request, or opens the process's gate. */
  fire(): void;
  /** Stops the capture (timeout, size limit, abort). */
  kill(): void;
}

function httpSource(url: string): Source {
  // Connected now; the request itself goes out on fire(). A fresh connection per capture: a
  // pooled one could still carry a previous, slow response.
  const get = new PreparedGet(new URL(url));
  return { stream: get.body, done: get.done, fire: () => get.fire(), kill: () => get.destroy() };
}

function processSource(t: BundleTarget, limits: RunLimits): Source {
  let command: string;
  let args: string[];
  if (t.kind === 'jvm') {
    if (limits.jvmTool === null) throw new Error('neither jcmd nor jstack was found (set JAVA_HOME or PATH)');
    command = limits.jvmTool.command;
    args = limits.jvmTool.kind === 'jcmd' ? [t.spec, 'Thread.print', '-l'] : ['-l', t.spec];
  } else {
    command = t.spec;
    args = [];
  }
  const gated = process.platform !== 'win32';
  // A command gets its own process group, so a timeout kills what it started too (ssh, pipelines).
  const detached = gated && t.kind === 'cmd';
  const start = (): ChildProcess => {
    if (!gated) {
      return t.kind === 'cmd'
        ? spawn(command, { shell: true, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    }
    // Started now, held by the shell until a line arrives on stdin (fire), then replaced by the
    // real command: starting a process takes milliseconds, opening the gate microseconds.
    const script = t.kind === 'cmd' ? 'read _gate || exit 125; eval "$1"' : 'read _gate || exit 125; exec "$@"';
    return spawn('/bin/sh', ['-c', script, 'rollcall-capture', command, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      detached,
    });
  };
  let child: ChildProcess = gated ? start() : (undefined as unknown as ChildProcess);
  if (gated) {
    child.stdin!.on('error', () => undefined);
    // Warms the write path (an empty write sends nothing), as for HTTP targets.
    child.stdin!.write(Buffer.alloc(0));
  }
  const fire = (): void => {
    if (!gated) {
      child = start();
      return;
    }
    child.stdin!.end('go\n');
  };
  if (!gated) return lazyProcessSource(t, limits, () => child, fire);
  return wireProcess(t, limits, child, fire, detached);
}

/** Without a gate (Windows) the process starts on fire(); its streams are wired then. */
function lazyProcessSource(t: BundleTarget, limits: RunLimits, get: () => ChildProcess, start: () => void): Source {
  let inner: Source | undefined;
  let resolveStream!: (r: Readable) => void;
  let resolveDone!: (v: { error?: string; status?: number }) => void;
  const stream = new Promise<Readable>((r) => (resolveStream = r));
  const done = new Promise<{ error?: string; status?: number }>((r) => (resolveDone = r));
  return {
    stream,
    done,
    fire: () => {
      start();
      inner = wireProcess(t, limits, get(), () => undefined, false);
      void inner.stream.then(resolveStream);
      void inner.done.then(resolveDone);
    },
    kill: () => inner?.kill(),
  };
}

function wireProcess(
  t: BundleTarget,
  limits: RunLimits,
  child: ChildProcess,
  fire: () => void,
  groupKill: boolean,
): Source {
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (s: string) => {
    if (stderr.length < MAX_STDERR_CHARS) stderr += s;
  });
  // jcmd reports attach failures on stdout; keep its start to explain a failure.
  let stdoutHead = '';
  child.stdout!.on('data', (b: Buffer) => {
    if (stdoutHead.length < MAX_STDERR_CHARS) stdoutHead += b.toString('utf8', 0, MAX_STDERR_CHARS);
  });
  const tool = t.kind === 'jvm' ? limits.jvmTool!.kind : 'command';
  const done = new Promise<{ error?: string; status?: number }>((resolveDone) => {
    let spawnError: string | undefined;
    child.on('error', (err) => {
      spawnError = err.message;
    });
    child.on('close', (code, sig) => {
      if (spawnError !== undefined) return resolveDone({ error: `${tool}: ${spawnError}` });
      if (code === 125 && stdoutHead.length === 0) return resolveDone({ error: `${tool} was not started (cancelled)` });
      const detail = (stderr.trim() || lastLines(stdoutHead)).slice(0, MAX_STDERR_CHARS);
      if (code === 0) return resolveDone({ status: 0 });
      const how = code === null ? `killed by ${sig}` : `exited with ${code}`;
      resolveDone({
        ...(code === null ? {} : { status: code }),
        error: `${tool} ${how}${detail ? `: ${detail}` : ''}`,
      });
    });
  });
  return {
    stream: Promise.resolve(child.stdout!),
    done,
    fire,
    kill: () => {
      try {
        if (groupKill && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    },
  };
}

/** Streams source into path, enforcing the limits. */
async function drain(
  source: Source,
  path: string,
  limits: RunLimits,
): Promise<{ wrote: boolean; bytes: number; error?: string; status?: number }> {
  let bytes = 0;
  let limitError: string | undefined;
  let out: WriteStream | undefined;
  let onKilled!: () => void;
  const killed = new Promise<void>((r) => (onKilled = r));
  const stop = (why: string): void => {
    limitError ??= why;
    source.kill();
    onKilled();
  };
  const timer = setTimeout(() => stop(`timed out after ${limits.timeoutMs} ms`), limits.timeoutMs);
  const onAbort = (): void => stop('capture cancelled');
  limits.signal.addEventListener('abort', onAbort, { once: true });
  if (limits.signal.aborted) onAbort();
  try {
    let stream: Readable | undefined;
    try {
      stream = await source.stream;
    } catch {
      stream = undefined;
    }
    if (stream !== undefined) {
      const s = stream;
      const file = (out = createWriteStream(path));
      await new Promise<void>((resolveStream) => {
        const finish = (): void => resolveStream();
        s.on('data', (chunk: Buffer) => {
          if (limitError !== undefined) return;
          const room = limits.maxBytes - bytes;
          if (chunk.length > room) {
            if (room > 0) file.write(chunk.subarray(0, room));
            bytes += Math.max(0, room);
            stop(`capture larger than ${limits.maxBytes} bytes; cut off`);
            return finish();
          }
          bytes += chunk.length;
          if (!file.write(chunk)) {
            s.pause();
            file.once('drain', () => s.resume());
          }
        });
        s.on('end', finish);
        s.on('close', finish);
        s.on('error', finish);
      });
    }
    // A killed source reports its end too; the grace period only guards against one that never does.
    const result = await Promise.race([
      source.done,
      killed.then(() => delay<{ error?: string; status?: number }>(KILL_GRACE_MS, {})),
    ]);
    const error = limitError ?? result.error;
    return {
      wrote: out !== undefined,
      bytes,
      ...(error !== undefined ? { error } : {}),
      ...(result.status !== undefined ? { status: result.status } : {}),
    };
  } finally {
    clearTimeout(timer);
    limits.signal.removeEventListener('abort', onAbort);
    await closeStream(out);
  }
}

/** The meaningful end of a short output: its last two non-empty lines, without stack frames. */
function lastLines(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('at '))
    .slice(-2)
    .join(' | ');
}

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((r) => setTimeout(() => r(value), ms).unref());
}

function closeStream(out: WriteStream | undefined): Promise<void> {
  if (out === undefined) return Promise.resolve();
  return new Promise((r) => {
    out.end(() => r());
    out.on('error', () => r());
  });
}
