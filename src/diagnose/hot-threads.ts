// The hottest threads: CPU each thread used between its first and last sample, from `cpu=` in the
// dumps or the per-thread CPU capture stores beside them. The tracks keep the first and last
// reading (tracks.ts), so this is a pass over the tracks at the end.
import type { AnalysisState } from './model.js';

/** Threads listed in `hotThreads`. */
export const MAX_HOT_THREADS = 10;

export interface HotThread {
  node: string;
  thread: string;
  /** CPU used between the thread's first and last sample, in milliseconds. */
  cpuMsDelta: number;
  /** That CPU over the wall time between those samples: 1 = one core busy all the time. */
  coreShare: number;
}

/** The threads that used the most CPU over the span, hottest first. */
export function hotThreads(state: AnalysisState, limit = MAX_HOT_THREADS): HotThread[] {
  const out: HotThread[] = [];
  for (const tr of state.tracks) {
    if (tr.cpuFirstMs === undefined || tr.cpuLastMs === undefined) continue;
    const cpuMsDelta = tr.cpuLastMs - tr.cpuFirstMs;
    if (!(cpuMsDelta > 0)) continue;
    const spanMs =
      tr.cpuFirstAtMs !== undefined && tr.cpuLastAtMs !== undefined ? tr.cpuLastAtMs - tr.cpuFirstAtMs : Number.NaN;
    out.push({
      node: state.nodes[tr.node]!.name,
      thread: tr.name,
      cpuMsDelta: Math.round(cpuMsDelta * 1000) / 1000,
      coreShare: spanMs > 0 ? Math.round((cpuMsDelta / spanMs) * 1000) / 1000 : 0,
    });
  }
  return out.sort((a, b) => b.cpuMsDelta - a.cpuMsDelta || a.thread.localeCompare(b.thread)).slice(0, limit);
}
