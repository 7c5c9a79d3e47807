// rollcall's own dumps: explicit caller↔handler links, queued calls with their queue, barrier waits.
// A hand-built legacy-mode hang (see rollcall-cluster.ts) must come out as a deadlock spanning the
// master and the workers, through text dumps, JSON dumps, and the online detector alike.
import { describe, expect, it } from 'vitest';
import { OnlineDeadlockDetector } from '../../src/detect/index.js';
import { Analyzer, type AnalysisResult } from '../../src/diagnose/index.js';
import { FrameTable, parseDumpText } from '../../src/dumps/index.js';
import { formatDumpText } from '../../src/threads/index.js';
import { legacyCluster } from './rollcall-cluster.js';

function analyzeRounds(
  rounds: ReturnType<typeof legacyCluster>[],
  form: 'text' | 'json',
  feed: 'round' | 'dump' = 'round',
): AnalysisResult {
  const frames = new FrameTable();
  const a = new Analyzer();
  for (const round of rounds) {
    const dumps = round.map((nd) => {
      const text = form === 'text' ? formatDumpText(nd) : JSON.stringify(nd);
      const r = parseDumpText(text, { frames });
      expect(r.dumps).toHaveLength(1);
      return r.dumps[0]!;
    });
    if (feed === 'round') a.addRound(dumps);
    else {
      // As `rollcall analyze` feeds it: each dump as it arrives, then the end of the round.
      for (const d of dumps) a.addDump(d);
      a.endRound();
    }
  }
  return a.finish();
}

describe('rollcall legacy hang (hand-built NodeDumps)', () => {
  const opts = { workers: 60, handlers: 30, queues: 3, starved: true };
  const rounds = [0, 1, 2].map((r) => legacyCluster(opts, r));

  for (const form of ['text', 'json'] as const) {
    it(`is a deadlock spanning master and workers (${form} dumps)`, () => {
      const res = analyzeRounds(rounds, form);
      expect(res.verdict).toBe('deadlock');
      expect(res.samples).toBe(3);
      expect(res.nodes).toHaveLength(61);
      expect(res.deadlocks.length).toBeGreaterThanOrEqual(1);
      const d = res.deadlocks[0]!;
      expect(['distributed', 'pool-starvation']).toContain(d.kind);
      expect(d.nodes).toContain('master');
      expect(d.nodes.some((n) => /^w\d+$/.test(n))).toBe(true);
      // The readable chain crosses nodes, and every step carries evidence.
      expect(new Set(d.cycle.map((s) => s.node)).size).toBeGreaterThan(1);
      for (const s of d.cycle) expect(s.evidence.length).toBeGreaterThan(0);
      expect(JSON.stringify(d.cycle)).toMatch(/checkRoll/);
      const pool = res.pools.find((p) => p.node === 'master' && p.pool === 'default')!;
      expect(pool.exhausted).toBe(true);
      expect(pool.size).toBe(30);
      expect(pool.queued).toBe(29 + 31);
      // Each call queue starves on its own; workers beyond the free handlers wait behind (queued).
      const stuckInOrBehind = res.deadlocks.reduce((n, x) => n + x.memberCount + x.blockedBehindCount, 0);
      expect(stuckInOrBehind).toBeGreaterThan(90);
      expect(res.threads.blocked).toBeGreaterThanOrEqual(91);
    });
  }

  it('comes out the same fed one dump at a time (links span the dumps of a round)', () => {
    const byRound = analyzeRounds(rounds, 'text');
    const byDump = analyzeRounds(rounds, 'text', 'dump');
    expect(byDump.verdict).toBe('deadlock');
    expect(byDump).toEqual(byRound);
  });

  it('is not a deadlock when the nested calls are being served and handlers progress', () => {
    const live = [0, 1, 2].map((r) => legacyCluster({ ...opts, starved: false }, r));
    const res = analyzeRounds(live, 'text');
    expect(res.verdict).not.toBe('deadlock');
    expect(res.deadlocks).toEqual([]);
  });

  it('still shows the cycle when a node is missing from the last round', () => {
    const partial = [rounds[0]!, rounds[1]!, rounds[2]!.filter((d) => d.node !== 'master')];
    const res = analyzeRounds(partial, 'json');
    expect(res.verdict).toBe('deadlock');
    expect(res.deadlocks[0]!.nodes).toContain('master');
  });

  it('a single sample is enough to see the cycle', () => {
    const res = analyzeRounds([rounds[0]!], 'json');
    expect(res.verdict).toBe('deadlock');
  });
});

describe('online detector (same computation over live NodeDumps)', () => {
  it('finds the cycle in one snapshot, with a stable key across snapshots', () => {
    const det = new OnlineDeadlockDetector();
    const a = det.check(legacyCluster({ workers: 60, handlers: 30, queues: 3, starved: true }, 0));
    const b = det.check(legacyCluster({ workers: 60, handlers: 30, queues: 3, starved: true }, 1));
    expect(a.deadlocks.length).toBeGreaterThanOrEqual(1);
    expect(a.deadlocks[0]!.nodes).toContain('master');
    expect(a.keys).toEqual(b.keys);
  });

  it('finds nothing below the threshold or when calls are served', () => {
    const det = new OnlineDeadlockDetector();
    expect(det.check(legacyCluster({ workers: 10, handlers: 30, queues: 3, starved: false }, 0)).deadlocks).toEqual([]);
    expect(det.check(legacyCluster({ workers: 60, handlers: 30, queues: 3, starved: false }, 0)).deadlocks).toEqual([]);
  });

  // Its cost at 300 nodes is a figure (npm run bench:report), not an assertion; here, that it finds
  // the deadlock there.
  it('finds the deadlock at 300 nodes', () => {
    const dumps = legacyCluster({ workers: 300, handlers: 30, queues: 3, starved: true }, 0);
    expect(new OnlineDeadlockDetector().check(dumps).deadlocks.length).toBeGreaterThan(0);
  });
});
