// `--on-alert CMD`: a shell command run for each alert, told what happened through its environment
// (ROLLCALL_EVENT, ROLLCALL_VERDICT, ROLLCALL_BUNDLE, ROLLCALL_NODES, ROLLCALL_EVENT_JSON). It runs
// beside the watch loop, never in it: bounded in time (its process group is killed at the timeout),
// in number (at most MAX_RUNNING at once; an alert beyond that is reported and not run) and in the
// output kept (the first MAX_OUTPUT_BYTES of stdout and stderr, written to on-alert.log in the
// bundle when there is one).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const DEFAULT_ON_ALERT_TIMEOUT_MS = 30_000;
export const MAX_RUNNING = 2;
export const MAX_OUTPUT_BYTES = 1024 * 1024;
/** After SIGTERM to its group, how long a command has before SIGKILL. */
const KILL_GRACE_MS = 2000;

export interface AlertRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  durationMs: number;
  timedOut: boolean;
  /** stdout and stderr interleaved as they came, cut at MAX_OUTPUT_BYTES. */
  output: string;
  truncated: boolean;
  /** Where the output was written, if anywhere. */
  logFile?: string;
  /** The command could not be started. */
  error?: string;
}

export interface AlertEnv {
  event: string;
  verdict: string;
  bundle: string | null;
  nodes: readonly string[];
  json: string;
}

export class AlertCommand {
  private readonly running = new Set<Promise<AlertRun>>();
  private readonly children = new Set<number>();

  constructor(
    readonly command: string,
    readonly timeoutMs = DEFAULT_ON_ALERT_TIMEOUT_MS,
  ) {}

  get busy(): number {
    return this.running.size;
  }

  /** Starts the command for an alert; undefined when MAX_RUNNING are still running. Never rejects. */
  run(env: AlertEnv): Promise<AlertRun> | undefined {
    if (this.running.size >= MAX_RUNNING) return undefined;
    const p = this.spawn(env);
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return p;
  }

  /** Waits for running commands up to graceMs, then kills what is left and waits for it. */
  async close(graceMs: number): Promise<void> {
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    await Promise.race([Promise.allSettled([...this.running]), grace]);
    clearTimeout(timer);
    for (const pid of this.children) killGroup(pid, 'SIGKILL');
    await Promise.allSettled([...this.running]);
  }

  private spawn(env: AlertEnv): Promise<AlertRun> {
    const started = performance.now();
    return new Promise<AlertRun>((resolve) => {
      const chunks: Buffer[] = [];
      let bytes = 0;
      let truncated = false;
      let timedOut = false;
      const child = spawn('/bin/sh', ['-c', this.command], {
        // Its own process group, so a timeout ends everything it started.
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          ROLLCALL_EVENT: env.event,
          ROLLCALL_VERDICT: env.verdict,
          ROLLCALL_BUNDLE: env.bundle ?? '',
          ROLLCALL_NODES: env.nodes.join(','),
          ROLLCALL_EVENT_JSON: env.json,
        },
      });
      const keep = (c: Buffer): void => {
        if (bytes >= MAX_OUTPUT_BYTES) {
          truncated = true;
          return;
        }
        const room = MAX_OUTPUT_BYTES - bytes;
        if (c.length > room) truncated = true;
        const part = c.length > room ? c.subarray(0, room) : c;
        chunks.push(part);
        bytes += part.length;
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      const pid = child.pid;
      if (pid !== undefined) this.children.add(pid);
      let killTimer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        if (pid !== undefined) killGroup(pid, 'SIGTERM');
        killTimer = setTimeout(() => pid !== undefined && killGroup(pid, 'SIGKILL'), KILL_GRACE_MS);
      }, this.timeoutMs);
      const finish = (code: number | null, signal: NodeJS.Signals | null, error?: string): void => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        if (pid !== undefined) this.children.delete(pid);
        resolve({
          code,
          signal,
          durationMs: Math.round(performance.now() - started),
          timedOut,
          output: Buffer.concat(chunks).toString('utf8'),
          truncated,
          ...(error !== undefined ? { error } : {}),
        });
      };
      child.once('error', (err) => finish(null, null, err.message));
      child.once('close', (code, signal) => finish(code, signal));
    }).then(async (run) => {
      if (env.bundle === null) return run;
      const logFile = join(env.bundle, 'on-alert.log');
      const head = `$ ${this.command}\n`;
      const tail = `\n[${describeRun(run)}]\n`;
      try {
        await writeFile(logFile, head + run.output + tail);
        return { ...run, logFile };
      } catch {
        return run;
      }
    });
  }
}

/** `exit 0 in 120 ms`, `killed after the 30000 ms timeout`, `could not start: …`. */
export function describeRun(run: AlertRun): string {
  if (run.error !== undefined) return `could not start: ${run.error}`;
  const how = run.timedOut
    ? `killed after its ${run.durationMs} ms timeout`
    : run.signal !== null
      ? `ended by ${run.signal} after ${run.durationMs} ms`
      : `exit ${run.code} in ${run.durationMs} ms`;
  return run.truncated ? `${how}; output cut at ${MAX_OUTPUT_BYTES} bytes` : how;
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}
