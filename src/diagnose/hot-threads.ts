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

/** Hottest first; among equals, by name. */
const hotter = (a: HotThread, b: HotThread): number => b.cpuMsDelta - a.cpuMsDelta || a.thread.localeCompare(b.thread);

/**
 * The threads that used the most CPU over the span, hottest first (equal ones in track order, as a
 * stable sort leaves them). Only the top `limit` are kept while the tracks are walked: sorting tens
 * of thousands of threads, names compared by locale, to list ten would be the end of the analysis'
 * longest step.
 */
export function hotThreads(state: AnalysisState, limit = MAX_HOT_THREADS): HotThread[] {
  const top: HotThread[] = [];
  if (limit <= 0) return top;
  for (const tr of state.tracks) {
    if (tr.cpuFirstMs === undefined || tr.cpuLastMs === undefined) continue;
    const cpuMsDelta = tr.cpuLastMs - tr.cpuFirstMs;
    if (!(cpuMsDelta > 0)) continue;
    const rounded = Math.round(cpuMsDelta * 1000) / 1000;
    const last = top.length === limit ? top[limit - 1]! : undefined;
    // Not before the last kept one: it would sort after it.
    if (
      last !== undefined &&
      (rounded < last.cpuMsDelta || (rounded === last.cpuMsDelta && tr.name.localeCompare(last.thread) >= 0))
    )
      continue;
    const spanMs =
      tr.cpuFirstAtMs !== undefined && tr.cpuLastAtMs !== undefined ? tr.cpuLastAtMs - tr.cpuFirstAtMs : Number.NaN;
    const hot: HotThread = {
      node: state.nodes[tr.node]!.name,
      thread: tr.name,
      cpuMsDelta: rounded,
      coreShare: spanMs > 0 ? Math.round((cpuMsDelta / spanMs) * 1000) / 1000 : 0,
    };
    let i = top.length;
    while (i > 0 && hotter(hot, top[i - 1]!) < 0) i--;
    top.splice(i, 0, hot);
    if (top.length > limit) top.pop();
  }
  return top;
}
