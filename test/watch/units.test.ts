// The watch's parts on their own: confirmation over consecutive windows, the bounded window, the
// parser's own frame table started afresh without changing any verdict, and metric label bounds.
import { describe, expect, it } from 'vitest';
import type { RoundResult } from '../../src/capture/index.js';
import type { PoolSummary } from '../../src/diagnose/index.js';
import { Confirmation, alertOf, analyzeWindow, RoundParser, RoundWindow, WatchMetrics } from '../../src/watch/index.js';
import { boundPools, MAX_METRIC_POOLS_PER_NODE } from '../../src/watch/metrics.js';
import { legacyCluster } from '../diagnose/rollcall-cluster.js';
import { sample, samples } from '../support/prometheus.js';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** A captured round of the legacy hang (or of a live cluster) as the Capturer hands it over. */
function capturedRound(round: number, starved: boolean): RoundResult {
  const dumps = legacyCluster({ workers: 4, handlers: 3, queues: 1, starved }, round);
  const outputs = new Map(dumps.map((d) => [d.node, Buffer.from(JSON.stringify(d))]));
  return {
    round: { round, scheduledAt: 1_700_000_000_000 + round * 250, skewMs: 0.5 },
    records: dumps.map((d) => ({ node: d.node, round, scheduledAt: 0, method: 'http' as const })),
    outputs,
    cpu: new Map(),
  };
}

describe('Confirmation', () => {
  it('fires once the condition holds in two consecutive windows, once per incident', () => {
    const c = new Confirmation(2);
    const seen = [false, true, false, true, true, true, true, false, true, true].map((x) => c.observe(x));
    expect(seen).toEqual([false, false, false, false, true, false, false, false, false, true]);
  });
});

describe('alertOf', () => {
  const base = analyzeWindow([new RoundParser().parse(capturedRound(0, true))]);
  it('alerts on a deadlock whatever --alert-on says, and on stuck or an exhausted pool only with stuck', () => {
    expect(alertOf(base, 'deadlock')).toBe('deadlock');
    const stuck = { ...base, verdict: 'stuck' as const, deadlocks: [] };
    expect(alertOf(stuck, 'deadlock')).toBeUndefined();
    expect(alertOf(stuck, 'stuck')).toBe('stuck');
    const exhausted = { ...base, verdict: 'slow' as const, pools: [{ exhausted: true } as PoolSummary] };
    expect(alertOf(exhausted, 'stuck')).toBe('stuck');
    expect(alertOf({ ...exhausted, pools: [] }, 'stuck')).toBeUndefined();
  });
});

describe('RoundWindow', () => {
  it('keeps the last K rounds, in order', () => {
    const parser = new RoundParser();
    const w = new RoundWindow(3);
    for (let r = 0; r < 10; r++) w.push(parser.parse(capturedRound(r, true)));
    expect(w.rounds.map((r) => r.round)).toEqual([7, 8, 9]);
    expect(() => w.push(parser.parse(capturedRound(5, true)))).toThrow(/in order/);
  });
});

describe('RoundParser', () => {
  it('starts a fresh frame table past its bound and re-parses the window: the same analysis', () => {
    const small = new RoundParser(10);
    const plain = new RoundParser();
    const windowSmall = new RoundWindow(3);
    const windowPlain = new RoundWindow(3);
    for (let r = 0; r < 6; r++) {
      windowSmall.push(small.parse(capturedRound(r, true)));
      if (small.renewIfFull()) for (const x of windowSmall.rounds) small.reparse(x);
      windowPlain.push(plain.parse(capturedRound(r, true)));
      const a = analyzeWindow(windowSmall.rounds);
      const b = analyzeWindow(windowPlain.rounds);
      expect(a.verdict).toBe(b.verdict);
      expect(a.deadlocks).toEqual(b.deadlocks);
      expect(a.threads).toEqual(b.threads);
    }
    expect(small.renewals).toBeGreaterThanOrEqual(5);
    expect(plain.renewals).toBe(0);
    expect(analyzeWindow(windowSmall.rounds).verdict).toBe('deadlock');
  });

  it('counts an answer without a thread dump as a failed capture', () => {
    const r = capturedRound(0, true);
    r.outputs.set('w1', Buffer.from('<html>login</html>'));
    const parsed = new RoundParser().parse(r);
    expect(parsed.failed).toEqual([{ node: 'w1', error: expect.stringMatching(/^no thread dump in the answer/) }]);
    expect(parsed.records.find((x) => x.node === 'w1')!.error).toMatch(/no thread dump/);
    expect(parsed.dumps.map((d) => d.node)).toEqual(['master', 'w2', 'w3', 'w4']);
  });
});

describe('WatchMetrics', () => {
  it('gives at most 32 pools per node series, exhausted first, and counts the rest', () => {
    const pools = Array.from(
      { length: 40 },
      (_, i) => ({ node: 'n', pool: `p${i}`, size: i, exhausted: i === 3 }) as unknown as PoolSummary,
    );
    const { shown, omitted } = boundPools(pools);
    expect(shown).toHaveLength(MAX_METRIC_POOLS_PER_NODE);
    expect(omitted).toBe(40 - MAX_METRIC_POOLS_PER_NODE);
    expect(shown[0]!.pool).toBe('p3');
    expect(shown[1]!.pool).toBe('p39');
  });

  it('rebuilds per-node series from each window: nodes and pools that are gone leave none behind', async () => {
    const metrics = new WatchMetrics();
    const parser = new RoundParser();
    metrics.analysis(analyzeWindow([parser.parse(capturedRound(0, true))]), 0.01);
    const one = parsePrometheusTextFormat(await metrics.text());
    expect(new Set(samples(one, 'rollcall_threads').map((s) => s.labels['node']))).toEqual(
      new Set(['master', 'w1', 'w2', 'w3', 'w4']),
    );
    const r = capturedRound(1, true);
    for (const n of ['w1', 'w2', 'w3', 'w4']) r.outputs.delete(n);
    metrics.analysis(analyzeWindow([parser.parse(r)]), 0.01);
    const two = parsePrometheusTextFormat(await metrics.text());
    expect(new Set(samples(two, 'rollcall_threads').map((s) => s.labels['node']))).toEqual(new Set(['master']));
    expect(samples(two, 'rollcall_pool_size').every((s) => s.labels['node'] === 'master')).toBe(true);
    expect(sample(two, 'rollcall_watch_analysis_seconds')).toBe(2);
  });
});
