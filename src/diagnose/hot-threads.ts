// The hottest threads: CPU each thread used between its first and last sample, from `cpu=` in the
// dumps or the per-thread CPU capture stores beside them. Fed the same rounds as the Analyzer (it
// needs only the first and last reading of each thread, so memory is two numbers per thread).
import type { ProcessDump, ThreadDump } from '../dumps/model.js';

/** Threads listed in `hotThreads`. */
export const MAX_HOT_THREADS = 10;
/** Threads followed at most; beyond, new threads are not tracked (bounded memory). */
export const MAX_HOT_TRACKED = 1_000_000;

export interface HotThread {
  node: string;
  thread: string;
  /** CPU used between the thread's first and last sample, in milliseconds. */
  cpuMsDelta: number;
  /** That CPU over the wall time between those samples: 1 = one core busy all the time. */
  coreShare: number;
}

interface Reading {
  cpuMs: number;
  atMs: number | undefined;
}

interface Track {
  node: string;
  name: string;
  first: Reading;
  last: Reading;
}

export class HotThreads {
  private readonly tracks = new Map<string, Track>();

  /** One round: each node's dump; atMs is when the round was taken (else the dumps' own times). */
  addRound(dumps: readonly ProcessDump[], atMs?: number): void {
    for (const d of dumps) {
      const at = atMs ?? d.capturedAtMs;
      for (const t of d.threads) {
        if (t.cpuMs === undefined) continue;
        const key = `${d.node}\u0000${threadKey(t)}`;
        const reading = { cpuMs: t.cpuMs, atMs: at };
        const tr = this.tracks.get(key);
        if (tr !== undefined) {
          tr.last = reading;
          tr.name = t.name;
        } else if (this.tracks.size < MAX_HOT_TRACKED) {
          this.tracks.set(key, { node: d.node, name: t.name, first: reading, last: reading });
        }
      }
    }
  }

  /** The threads that used the most CPU over the span, hottest first. */
  finish(limit = MAX_HOT_THREADS): HotThread[] {
    const out: HotThread[] = [];
    for (const tr of this.tracks.values()) {
      const cpuMsDelta = tr.last.cpuMs - tr.first.cpuMs;
      if (!(cpuMsDelta > 0)) continue;
      const spanMs =
        tr.first.atMs !== undefined && tr.last.atMs !== undefined ? tr.last.atMs - tr.first.atMs : Number.NaN;
      out.push({
        node: tr.node,
        thread: tr.name,
        cpuMsDelta: Math.round(cpuMsDelta * 1000) / 1000,
        coreShare: spanMs > 0 ? Math.round((cpuMsDelta / spanMs) * 1000) / 1000 : 0,
      });
    }
    return out.sort((a, b) => b.cpuMsDelta - a.cpuMsDelta || a.thread.localeCompare(b.thread)).slice(0, limit);
  }
}

/** Same thread across samples: its native id, else its Java id, else its name. */
function threadKey(t: ThreadDump): string {
  if (t.nid !== undefined) return `n${t.nid}`;
  if (t.javaId !== undefined) return `j${t.javaId}`;
  return `s${t.name}`;
}
