// The programmatic capture API: a Capturer holds a set of targets across rounds and takes one
// synchronized round of all of them at a given instant, into a bundle directory or into memory,
// returning every capture's record. `rollcall capture` runs it every interval into a bundle;
// `rollcall watch` runs it every interval into memory with a sliding window.
//
// A round: shortly before its instant each target is armed (connection opened, process held at a
// gate, attach socket connected); at the instant all are released back to back; then each local
// JVM's per-thread CPU is read, and every capture streams to its sink under size and time limits.
// Rounds may overlap — a slow target still busy at the next instant is skipped for that round and
// recorded so; a target that fails (or whose process died) is recorded with the reason, and is
// tried again the next round.
import { setMaxListeners } from 'node:events';
import type { BundleRound, BundleTarget, CaptureRecord } from '../dumps/bundle.js';
import { sanitizeNodeDir } from '../dumps/bundle.js';
import type { ThreadCpuSample } from '../dumps/thread-cpu.js';
import { assert } from '../util/assert.js';
import { captureOne, type CaptureEnv } from './capture-one.js';
import { sleepUntil, untilOrBefore } from './clock.js';
import { listJvms, jvmMatches, parseJvmMatcher, type DiscoveryContext } from './jvm/discovery.js';
import { createRunner, type JvmMethod, type TargetRunner } from './runners.js';
import { InstantBatches } from './scheduler.js';
import type { CaptureSink } from './sink.js';
import { findJvmTool, type JvmTool } from './sources/process.js';
import { targetProblem, type TargetSpec } from './targets.js';

export const DEFAULT_CAPTURE_TIMEOUT_MS = 10_000;
export const MAX_CAPTURE_BYTES = 64 * 1024 * 1024;
export const MAX_TARGETS = 1000;
/** Captures are armed (connections opened, processes started and held) this long before their instant. */
export const PREPARE_LEAD_MS = 200;

export interface CapturerOptions {
  timeoutMs?: number;
  maxBytes?: number;
  /** Local JVMs: 'auto' (attach, falling back to jcmd/jstack where attach cannot work), or one method. */
  jvmMethod?: JvmMethod;
  /** jcmd/jstack (tests); default: found in $JAVA_HOME/bin or PATH. */
  jvmTool?: JvmTool | null;
  /** Bound on waiting for a JVM's attach socket after SIGQUIT. */
  socketWaitMs?: number;
  /** Request headers for URL and agent targets, e.g. Authorization: Bearer <adminToken>. */
  headers?: Record<string, string>;
  /** Read per-thread CPU of local JVMs at each instant (default: on Linux). */
  threadCpu?: boolean;
  discovery?: DiscoveryContext;
  /** Cuts running captures off (recorded as cancelled). */
  signal?: AbortSignal;
}

/** One finished round. */
export interface RoundResult {
  round: BundleRound;
  records: CaptureRecord[];
  /** MemorySink: each node's dump bytes. */
  outputs: Map<string, Buffer>;
  /** Each node's CPU sample (local JVMs and agents). */
  cpu: Map<string, ThreadCpuSample>;
}

export interface RoundHandle {
  /** The round's records, filled in as captures finish (the same objects as in done). */
  records: CaptureRecord[];
  /** Resolves once every target has been released (or skipped): the round's request skew is known. */
  released: Promise<BundleRound>;
  /** Resolves once every capture of the round is over. Never rejects. */
  done: Promise<RoundResult>;
}

/** A readable problem with a target list, or undefined. */
export function targetsProblem(targets: readonly TargetSpec[]): string | undefined {
  if (targets.length === 0)
    return 'no targets: give --url, --jvm, --jvm-match, --cmd, --agent, --ssh, --kubectl or --targets';
  if (targets.length > MAX_TARGETS) return `at most ${MAX_TARGETS} targets, not ${targets.length}`;
  const seen = new Set<string>();
  for (const t of targets) {
    const p = targetProblem(t);
    if (p !== undefined) return p;
    if (seen.has(t.name)) return `target name '${t.name}' is used twice`;
    seen.add(t.name);
  }
  return undefined;
}

export function targetAddr(t: Pick<TargetSpec, 'kind' | 'spec'>): string | undefined {
  if (t.kind !== 'url') return undefined;
  try {
    const u = new URL(t.spec);
    return u.port ? `${u.hostname}:${u.port}` : `${u.hostname}:${u.protocol === 'https:' ? 443 : 80}`;
  } catch {
    return undefined;
  }
}

/** Bundle targets (with their folder names) for a list of target specs. */
export function bundleTargets(targets: readonly TargetSpec[]): BundleTarget[] {
  const taken = new Set<string>();
  return targets.map((t) => {
    const addr = targetAddr(t);
    return {
      name: t.name,
      kind: t.kind,
      spec: t.spec,
      ...(addr ? { addr } : {}),
      dir: sanitizeNodeDir(t.name, taken),
      ...(t.match !== undefined ? { match: t.match } : {}),
      ...(t.mainClass !== undefined ? { mainClass: t.mainClass } : {}),
    };
  });
}

export class Capturer {
  readonly targets: BundleTarget[];
  readonly timeoutMs: number;
  readonly maxBytes: number;
  private readonly runners: TargetRunner[];
  private readonly cancel = new AbortController();
  private readonly env: CaptureEnv;
  private readonly running = new Set<Promise<unknown>>();
  /** Resolves when the runner's current capture is over. */
  private readonly idle = new Map<TargetRunner, Promise<void>>();
  private closed = false;

  constructor(
    targets: readonly TargetSpec[],
    private readonly options: CapturerOptions = {},
  ) {
    const problem = targetsProblem(targets);
    if (problem !== undefined) throw new Error(problem);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_CAPTURE_TIMEOUT_MS;
    this.maxBytes = options.maxBytes ?? MAX_CAPTURE_BYTES;
    this.targets = bundleTargets(targets);
    const platform = options.discovery?.platform ?? process.platform;
    const method = options.jvmMethod ?? 'auto';
    const jvmTool =
      options.jvmTool !== undefined
        ? options.jvmTool
        : findJvmTool(process.env, method === 'jcmd' || method === 'jstack' ? method : undefined);
    const pidsInUse = (): Set<number> =>
      new Set(this.targets.filter((t) => t.kind === 'jvm').map((t) => Number(t.spec)));
    this.runners = this.targets.map((t) =>
      createRunner(t, {
        jvmMethod: method,
        jvmTool,
        headers: options.headers ?? {},
        timeoutMs: this.timeoutMs,
        maxBytes: this.maxBytes,
        threadCpu: options.threadCpu ?? platform === 'linux',
        ...(options.socketWaitMs !== undefined ? { socketWaitMs: options.socketWaitMs } : {}),
        ...(options.discovery !== undefined ? { discovery: options.discovery } : {}),
        relocate: (target, currentPid) => this.relocate(target, currentPid, pidsInUse()),
      }),
    );
    // One abort listener per running capture, up to every target of a few overlapping rounds.
    setMaxListeners(this.targets.length * 4 + 10, this.cancel.signal);
    this.env = {
      batches: new InstantBatches(this.cancel.signal),
      signal: this.cancel.signal,
      timeoutMs: this.timeoutMs,
      maxBytes: this.maxBytes,
    };
    options.signal?.addEventListener('abort', () => this.cancel.abort(), { once: true });
  }

  /**
   * Gets every target ready ahead of the first round (attach listeners started, bounded by the
   * socket wait); failures are not thrown: they show in the first round's records.
   */
  async open(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.setup()));
  }

  /**
   * Captures round number `round` at atMs into sink. Arms each target at atMs − leadMs (call this
   * at least that early; a late call arms at once), releases all at atMs, and resolves `done` when
   * every capture is over.
   */
  round(round: number, atMs: number, sink: CaptureSink, leadMs = PREPARE_LEAD_MS): RoundHandle {
    assert(!this.closed, 'capturer closed');
    assert(Number.isInteger(round) && round >= 0, `round must be a whole number, not ${round}`);
    assert(Number.isFinite(atMs) && leadMs >= 0, 'a round needs a finite instant and a lead of 0 or more');
    const records: CaptureRecord[] = this.targets.map((t) => ({ node: t.name, round, scheduledAt: atMs }));
    let release!: (r: BundleRound) => void;
    const released = new Promise<BundleRound>((r) => (release = r));
    const done = this.runRound(round, atMs, sink, leadMs, records, release);
    this.running.add(done);
    void done.finally(() => this.running.delete(done));
    return { records, released, done };
  }

  /** Cuts off running captures (recorded as cancelled) and releases every target's resources. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cancel.abort();
    await Promise.allSettled([...this.running]);
    for (const r of this.runners) r.close();
  }

  private async runRound(
    round: number,
    atMs: number,
    sink: CaptureSink,
    leadMs: number,
    records: CaptureRecord[],
    release: (r: BundleRound) => void,
  ): Promise<RoundResult> {
    const signal = this.cancel.signal;
    const info: BundleRound = { round, scheduledAt: atMs, skewMs: 0 };
    const result: RoundResult = { round: info, records, outputs: new Map(), cpu: new Map() };
    await sleepUntil(atMs - leadMs, signal);
    // Set-up (an attach handshake) gets until shortly before the instant; a target not ready then
    // is recorded as such and keeps getting ready for the next round.
    const setups = this.runners.map((r) => (r.busy ? undefined : r.setup())).filter((p) => p !== undefined);
    if (setups.length > 0) await untilOrBefore(Promise.all(setups), atMs - 1, signal);
    const captures: Promise<void>[] = [];
    const late: number[] = [];
    this.runners.forEach((runner, i) => {
      if (runner.busy) late.push(i);
      else captures.push(this.capture(runner, records[i]!, atMs, sink, result));
    });
    // Targets still busy with an earlier round get until the instant to finish: each is armed as
    // soon as it is free, so a slow answer costs this round nothing. Only a target still busy at
    // the instant is skipped.
    let instantPassed = false;
    for (const i of late) {
      const runner = this.runners[i]!;
      void this.idle.get(runner)?.then(() => {
        if (!instantPassed && !runner.busy) captures.push(this.capture(runner, records[i]!, atMs, sink, result));
      });
    }
    const fired = await this.env.batches.at(atMs, () => {
      instantPassed = true;
      for (const i of late) {
        const rec = records[i]!;
        if (rec.method === undefined && rec.error === undefined) {
          rec.error = 'skipped: the previous capture of this target is still running';
        }
      }
    });
    summarize(info, records);
    release(info);
    await Promise.all(captures);
    summarize(info, records);
    if (!fired) for (const r of records) if (r.startedAt === undefined) r.error ??= 'cancelled before its instant';
    return result;
  }

  /** One target's capture in a round, tracked so a later round knows when the target is free. */
  private async capture(
    runner: TargetRunner,
    rec: CaptureRecord,
    atMs: number,
    sink: CaptureSink,
    result: RoundResult,
  ): Promise<void> {
    let free!: () => void;
    this.idle.set(runner, new Promise<void>((r) => (free = r)));
    try {
      const out = await captureOne(runner, rec, atMs, sink, this.env);
      if (out.data !== undefined) result.outputs.set(rec.node, out.data);
      if (out.cpu !== undefined) result.cpu.set(rec.node, out.cpu);
    } finally {
      free();
    }
  }

  /** A JVM matching a --jvm-match target's pattern, not already captured, for a restarted JVM. */
  private relocate(target: BundleTarget, currentPid: number, inUse: Set<number>): number | undefined {
    if (target.match === undefined) return undefined;
    let matcher;
    try {
      matcher = parseJvmMatcher(target.match);
    } catch {
      return undefined;
    }
    const found = listJvms(this.options.discovery).find(
      (j) => j.pid !== currentPid && !inUse.has(j.pid) && jvmMatches(matcher, j),
    );
    if (found === undefined) return undefined;
    target.spec = String(found.pid);
    return found.pid;
  }
}

/** Skew of a round from its request instants (and first bytes), over the captures that have them. */
function summarize(info: BundleRound, records: readonly CaptureRecord[]): void {
  const spread = (xs: number[]): number => (xs.length === 0 ? 0 : Math.max(...xs) - Math.min(...xs));
  const requested = records.flatMap((r) => {
    const t = r.requestedAtMs ?? r.startedAt;
    return t === undefined ? [] : [t];
  });
  const firstBytes = records.flatMap((r) => (r.firstByteAtMs === undefined ? [] : [r.firstByteAtMs]));
  info.skewMs = Number(spread(requested).toFixed(3));
  if (firstBytes.length > 0) info.firstByteSkewMs = Number(spread(firstBytes).toFixed(3));
}
