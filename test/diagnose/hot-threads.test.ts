// The hottest threads, kept top-k while walking the tracks, are exactly the head of a stable sort.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hotThreads, type HotThread } from '../../src/diagnose/hot-threads.js';
import type { AnalysisState } from '../../src/diagnose/model.js';

interface TrackCpu {
  node: number;
  name: string;
  cpuFirstMs?: number;
  cpuLastMs?: number;
  cpuFirstAtMs?: number;
  cpuLastAtMs?: number;
}

/** The plain way: every thread with CPU, sorted (stably), the first `limit`. */
function reference(tracks: readonly TrackCpu[], names: readonly string[], limit: number): HotThread[] {
  const out: HotThread[] = [];
  for (const tr of tracks) {
    if (tr.cpuFirstMs === undefined || tr.cpuLastMs === undefined) continue;
    const d = tr.cpuLastMs - tr.cpuFirstMs;
    if (!(d > 0)) continue;
    const span = tr.cpuFirstAtMs !== undefined && tr.cpuLastAtMs !== undefined ? tr.cpuLastAtMs - tr.cpuFirstAtMs : NaN;
    out.push({
      node: names[tr.node]!,
      thread: tr.name,
      cpuMsDelta: Math.round(d * 1000) / 1000,
      coreShare: span > 0 ? Math.round((d / span) * 1000) / 1000 : 0,
    });
  }
  return out.sort((a, b) => b.cpuMsDelta - a.cpuMsDelta || a.thread.localeCompare(b.thread)).slice(0, limit);
}

const track = fc.record({
  node: fc.integer({ min: 0, max: 2 }),
  name: fc.constantFrom('a', 'b', 'B', 'c', 'handler-1', 'handler-10', 'handler-2'),
  cpuFirstMs: fc.option(fc.constantFrom(0, 1, 2.5, 10), { nil: undefined }),
  cpuLastMs: fc.option(fc.constantFrom(0, 1, 2.5, 10, 10.0004, 30, 30.0001), { nil: undefined }),
  cpuFirstAtMs: fc.option(fc.constantFrom(0, 1000), { nil: undefined }),
  cpuLastAtMs: fc.option(fc.constantFrom(0, 5000), { nil: undefined }),
});

describe('hotThreads', () => {
  it('lists what a stable sort of every thread lists, for any limit', () => {
    fc.assert(
      fc.property(fc.array(track, { maxLength: 60 }), fc.integer({ min: 0, max: 12 }), (tracks, limit) => {
        const names = ['n0', 'n1', 'n2'];
        const state = { tracks, nodes: names.map((name) => ({ name })) } as unknown as AnalysisState;
        expect(hotThreads(state, limit)).toEqual(reference(tracks, names, limit));
      }),
      { numRuns: 500 },
    );
  });
});
