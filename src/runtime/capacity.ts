// What a cluster on this machine needs, checked before it starts. In one process: open files. Every in-process node holds several descriptors (RPC
// and admin listeners, both ends of its connections, WAL segments), and a worker's WAL opens its
// preallocated segments together at start. A cluster past the limit used to die with EMFILE half
// started; now the command refuses before any work, saying how many nodes fit. Node itself raises
// the soft limit to the hard one when it starts, so the hard limit is what this machine can meet.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { DEFAULT_START_CONCURRENCY, REAL_WAL_PREALLOCATE } from '../cluster/index.js';
import { NodeConfigError } from './secrets.js';

/** Measured ≈ 8 per worker after a rolllog; the rest covers --detect's admin connections and a ZooKeeper session. */
export const FDS_PER_NODE = 12;
/** The process itself: stdio, the event loop, libraries. */
export const FDS_BASE = 64;
/** A worker opening its WAL holds its preallocated segments and the active one at once. */
const FDS_PER_STARTING_WORKER = REAL_WAL_PREALLOCATE + 1;

export interface FdLimits {
  soft: number;
  hard: number;
}

/** Descriptors an in-process cluster of `workers` needs at its peak (startup). */
export function fdsNeeded(workers: number): number {
  return (
    FDS_BASE + (workers + 1) * FDS_PER_NODE + Math.min(workers, DEFAULT_START_CONCURRENCY) * FDS_PER_STARTING_WORKER
  );
}

/** This process's open-file limits (Linux /proc), or undefined where they cannot be read. */
export function readFdLimits(): FdLimits | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!m) return undefined;
  const value = (v: string): number => (v === 'unlimited' ? Infinity : Number(v));
  return { soft: value(m[1]!), hard: value(m[2]!) };
}

/**
 * Throws NodeConfigError, with the largest worker count that fits, when this process may not open
 * what `workers` in-process workers need. `what` names the flag, e.g. '--nodes 5000'.
 */
export function ensureFdsFor(workers: number, what: string): void {
  const need = fdsNeeded(workers);
  const limits = readFdLimits();
  if (limits === undefined || need <= limits.soft) return;
  const n = (x: number): string => x.toLocaleString('en-US');
  throw new NodeConfigError(
    `${what} needs about ${n(need)} open files (${FDS_PER_NODE} per node, more while they start) but this process ` +
      `may open ${n(limits.soft)} (ulimit -n; hard limit ${n(limits.hard)}): use at most ` +
      `${n(maxWorkersWithin(limits.soft))} workers here, or raise the hard limit (ulimit -Hn, as root)`,
  );
}

/** The largest worker count whose need fits in `fds`. */
export function maxWorkersWithin(fds: number): number {
  let lo = 0;
  let hi = 1_000_000;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fdsNeeded(mid) <= fds) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The parent's descriptors per child of `cluster start --processes` (stdin and stdout pipes, margin). */
const FDS_PER_CHILD = 3;
/** Resident memory of one `rollcall node` process, measured ≈ 90 MB. */
export const NODE_PROCESS_BYTES = 100 * 1024 * 1024;

/**
 * The same check for a cluster of OS processes (one node each): the parent's pipes to every child,
 * and every child's memory against this machine's.
 */
export function ensureProcessesFor(workers: number, what: string): void {
  const nodes = workers + 1;
  const limits = readFdLimits();
  const n = (x: number): string => x.toLocaleString('en-US');
  const needFds = FDS_BASE + nodes * FDS_PER_CHILD;
  if (limits !== undefined && needFds > limits.soft) {
    throw new NodeConfigError(
      `${what} needs about ${n(needFds)} open files for its children's pipes but this process may open ` +
        `${n(limits.soft)} (ulimit -n): use at most ${n(Math.floor((limits.soft - FDS_BASE) / FDS_PER_CHILD) - 1)} workers`,
    );
  }
  const needBytes = nodes * NODE_PROCESS_BYTES;
  if (needBytes > os.totalmem()) {
    const gib = (b: number): string => (b / 2 ** 30).toFixed(1);
    throw new NodeConfigError(
      `${what} starts ${n(nodes)} node processes of about ${NODE_PROCESS_BYTES / 2 ** 20} MiB each (${gib(needBytes)} GiB) ` +
        `but this machine has ${gib(os.totalmem())} GiB: use at most ${n(Math.floor(os.totalmem() / NODE_PROCESS_BYTES) - 1)} workers`,
    );
  }
}
