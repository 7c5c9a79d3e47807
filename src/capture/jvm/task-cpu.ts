// Per-thread CPU of a local process at an instant, from /proc/<pid>/task/<tid>/stat. The thread
// list is refreshed when a round is prepared and each stat file is kept open, so at the instant a
// thread costs one pread (a few microseconds) instead of open+read+close. A sample is read in one
// synchronous stretch right before the instant (the scheduler wakes early by estimateMs()), so
// that its threads are read together and the dumps' answers are not delayed by it.
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { CPU_SAMPLE_VERSION, type ThreadCpu, type ThreadCpuSample } from '../../dumps/thread-cpu.js';
import { epochNowMs, roundUs } from '../clock.js';
import { ProcFs } from './procfs.js';

/** Threads read per process (a JVM rarely has more than a few thousand). */
export const MAX_SAMPLED_THREADS = 100_000;
/** Stat files kept open across all samplers; beyond this a thread's file is opened per read. */
const MAX_OPEN_TASK_FILES = 8192;
/** Cost of reading one thread before any sample was measured (a loaded 2-core machine). */
const FIRST_ESTIMATE_MS_PER_THREAD = 0.02;
/**
 * USER_HZ, the unit of utime/stime: 100 on every Linux architecture Java runs on (the kernel's
 * internal HZ differs, but /proc reports in USER_HZ). Node cannot call sysconf(_SC_CLK_TCK).
 */
export const TICKS_PER_SECOND = 100;
const STAT_BUFFER_BYTES = 1024;

let openTaskFiles = 0;

interface Task {
  tid: number;
  /** The tid as the process sees it (its nid in a dump). */
  nid: number;
  fd: number | undefined;
}

export class TaskCpuSampler {
  private tasks = new Map<number, Task>();
  private readonly buf = Buffer.alloc(STAT_BUFFER_BYTES);
  private truncated = false;
  private closed = false;
  private lastDurationMs: number | undefined;

  /** nsPid differs from pid inside a pid namespace: nids then come from each task's NSpid. */
  constructor(
    readonly pid: number,
    private readonly nsPid: number = pid,
    private readonly proc = new ProcFs(),
  ) {}

  /** Re-reads the thread list (ahead of an instant): opens new threads' files, closes gone ones'. */
  refresh(): boolean {
    if (this.closed) return false;
    const tids = this.proc.tasks(this.pid, MAX_SAMPLED_THREADS + 1);
    if (tids === undefined) return false;
    this.truncated = tids.length > MAX_SAMPLED_THREADS;
    const now = new Set(tids.slice(0, MAX_SAMPLED_THREADS));
    for (const [tid, t] of this.tasks) {
      if (now.has(tid)) continue;
      closeTask(t);
      this.tasks.delete(tid);
    }
    for (const tid of now) {
      if (this.tasks.has(tid)) continue;
      const nid = this.nsPid === this.pid ? tid : (this.proc.status(tid)?.nsPid ?? tid);
      this.tasks.set(tid, { tid, nid, fd: openTask(this.statPath(tid)) });
    }
    return true;
  }

  /** How long the next sample will take, from the last one (with margin). */
  estimateMs(): number {
    if (this.lastDurationMs !== undefined) return this.lastDurationMs * 1.2 + 0.2;
    return this.tasks.size * FIRST_ESTIMATE_MS_PER_THREAD;
  }

  /** Reads every thread's CPU and state now, in one stretch; undefined when the process is gone. */
  sample(): ThreadCpuSample | undefined {
    if (this.closed) return undefined;
    if (this.tasks.size === 0 && !this.refresh()) return undefined;
    const atMs = epochNowMs();
    const threads: ThreadCpu[] = [];
    for (const t of this.tasks.values()) {
      const parsed = this.read(t);
      if (parsed === undefined) continue; // the thread ended since the refresh
      threads.push(parsed);
    }
    this.lastDurationMs = epochNowMs() - atMs;
    if (threads.length === 0 && !this.proc.exists(this.pid)) return undefined;
    return {
      version: CPU_SAMPLE_VERSION,
      pid: this.pid,
      atMs: roundUs(atMs),
      durationMs: roundUs(epochNowMs() - atMs),
      ticksPerSecond: TICKS_PER_SECOND,
      threads,
      ...(this.truncated ? { truncated: true } : {}),
    };
  }

  close(): void {
    this.closed = true;
    for (const t of this.tasks.values()) closeTask(t);
    this.tasks.clear();
  }

  private statPath(tid: number): string {
    return join(this.proc.pidDir(this.pid), 'task', String(tid), 'stat');
  }

  private read(t: Task): ThreadCpu | undefined {
    let n: number;
    try {
      if (t.fd !== undefined) n = readSync(t.fd, this.buf, 0, STAT_BUFFER_BYTES, 0);
      else {
        const fd = openSync(this.statPath(t.tid), 'r');
        try {
          n = readSync(fd, this.buf, 0, STAT_BUFFER_BYTES, 0);
        } finally {
          closeSync(fd);
        }
      }
    } catch {
      return undefined;
    }
    return parseTaskStat(this.buf.toString('latin1', 0, n), t.nid);
  }
}

/** One line of /proc/<pid>/task/<tid>/stat → state, CPU and name. */
export function parseTaskStat(line: string, nid: number): ThreadCpu | undefined {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const f = line.slice(close + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return {
    nid,
    state: f[0] ?? '?',
    cpuMs: ((utime + stime) * 1000) / TICKS_PER_SECOND,
    name: line.slice(open + 1, close),
  };
}

function openTask(path: string): number | undefined {
  if (openTaskFiles >= MAX_OPEN_TASK_FILES) return undefined;
  try {
    const fd = openSync(path, 'r');
    openTaskFiles++;
    return fd;
  } catch {
    return undefined;
  }
}

function closeTask(t: Task): void {
  if (t.fd === undefined) return;
  try {
    closeSync(t.fd);
  } catch {
    /* already gone */
  }
  openTaskFiles--;
  t.fd = undefined;
}
