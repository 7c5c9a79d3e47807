import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  WaitGraph,
  analyzeGraph,
  computeLiveness,
  cycleSteps,
  type VertexStatus,
  type WaitMode,
} from '../../src/waitgraph/index.js';

const ev = (s: string) => ({ kind: 'other' as const, label: s, evidence: [s] });

function thread(g: WaitGraph, node: string, label: string, status: VertexStatus, mode?: WaitMode): number {
  return g.addVertex({ kind: 'thread', node, label, status, ...(mode ? { mode } : {}) });
}

describe('liveness', () => {
  it('a two-thread lock cycle is non-live and reported once', () => {
    const g = new WaitGraph();
    const a = thread(g, 'n', 'A', 'waiting');
    const b = thread(g, 'n', 'B', 'waiting');
    const c = thread(g, 'n', 'C', 'waiting');
    g.addEdge(a, b, ev('a→b'));
    g.addEdge(b, a, ev('b→a'));
    g.addEdge(c, a, ev('c→a'));
    const { liveness, cycles } = analyzeGraph(g);
    expect([...liveness.live]).toEqual([0, 0, 0]);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.members).toEqual([a, b]);
    expect(cycles[0]!.dependents).toEqual([c]);
    expect(cycleSteps(g, cycles[0]!).map((s) => `${s.from.label}>${s.to.label}`)).toEqual(['A>B', 'B>A']);
  });

  it('a pool is live while one handler is idle; starved when every handler waits on it', () => {
    const g = new WaitGraph();
    const pool = g.addVertex({ kind: 'pool', node: 'm', label: 'default', status: 'waiting', mode: 'any' });
    const hs = [0, 1, 2].map((i) => thread(g, 'm', `h${i}`, 'waiting'));
    for (const h of hs) {
      g.addEdge(pool, h, ev('handler'));
      g.addEdge(h, pool, ev('nested call queued'));
    }
    expect(analyzeGraph(g).cycles).toHaveLength(1);
    g.setStatus(hs[2]!, 'idle');
    const { liveness, cycles } = analyzeGraph(g);
    expect(cycles).toHaveLength(0);
    expect(liveness.nonLiveCount).toBe(0);
  });

  it('an all-vertex (barrier) needs every target live', () => {
    const g = new WaitGraph();
    const coord = thread(g, 'm', 'coord', 'waiting', 'all');
    const ok = thread(g, 'w1', 'ok', 'progressing');
    const stuck = thread(g, 'w2', 'stuck', 'waiting');
    g.addEdge(coord, ok, ev('member w1'));
    g.addEdge(coord, stuck, ev('member w2'));
    g.addEdge(stuck, coord, ev('waits for coordinator'));
    const { cycles } = analyzeGraph(g);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.nodes.sort()).toEqual(['m', 'w2']);
  });

  it('unknown targets are live leniently and non-live strictly', () => {
    const g = new WaitGraph();
    const a = thread(g, 'n', 'A', 'waiting');
    const x = g.addVertex({ kind: 'external', node: '', label: 'db', status: 'unknown' });
    g.addEdge(a, x, ev('jdbc'));
    const dangling = thread(g, 'n', 'B', 'waiting');
    expect(computeLiveness(g).nonLiveCount).toBe(0);
    const strict = computeLiveness(g, { strict: true });
    expect(strict.live[a]).toBe(0);
    expect(strict.live[dangling]).toBe(0);
  });

  it('self-loops are cycles; parallel edges merge their evidence', () => {
    const g = new WaitGraph();
    const a = thread(g, 'n', 'A', 'waiting');
    g.addEdge(a, a, ev('one'));
    g.addEdge(a, a, ev('two'));
    expect(g.edgeCount).toBe(1);
    expect(g.edge(0).evidence).toEqual(['one', 'two']);
    expect(analyzeGraph(g).cycles[0]!.edges).toEqual([0]);
  });

  it('prefers a cycle that crosses nodes', () => {
    const g = new WaitGraph();
    const pool = g.addVertex({ kind: 'pool', node: 'm', label: 'default', status: 'waiting', mode: 'any' });
    const h = thread(g, 'm', 'h0', 'waiting');
    const w = thread(g, 'w', 'worker', 'waiting');
    g.addEdge(pool, h, ev('handler'));
    g.addEdge(h, pool, ev('nested'));
    g.addEdge(h, w, ev('barrier'));
    g.addEdge(w, h, ev('served by'));
    const [cycle] = analyzeGraph(g).cycles;
    const labels = cycleSteps(g, cycle!).map((s) => s.from.label);
    expect(labels).toContain('worker');
  });

  it('handles a 100,000-long chain without recursion', () => {
    const g = new WaitGraph();
    const n = 100_000;
    for (let i = 0; i < n; i++) thread(g, 'n', `t${i}`, 'waiting');
    for (let i = 0; i < n; i++) g.addEdge(i, (i + 1) % n, ev('next'));
    const { cycles } = analyzeGraph(g);
    expect(cycles).toHaveLength(1);
    expect(cycles[0]!.edges).toHaveLength(n);
  });

  it('reset keeps the graph usable', () => {
    const g = new WaitGraph();
    thread(g, 'n', 'A', 'waiting');
    g.reset();
    expect(g.vertexCount).toBe(0);
    const a = g.addVertex({ kind: 'thread', node: 'n', label: 'A', status: 'idle' }, 'k');
    expect(g.find('k')).toBe(a);
  });
});

describe('properties', () => {
  const statuses: VertexStatus[] = ['progressing', 'idle', 'waiting', 'unknown'];
  const arbGraph = fc.record({
    vertices: fc.array(fc.record({ status: fc.constantFrom(...statuses), all: fc.boolean() }), {
      minLength: 1,
      maxLength: 40,
    }),
    edges: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 120 }),
    strict: fc.boolean(),
  });

  it('liveness is the least fixpoint; cycles are closed walks of non-live vertices with evidence', () => {
    fc.assert(
      fc.property(arbGraph, ({ vertices, edges, strict }) => {
        const g = new WaitGraph();
        vertices.forEach((v, i) =>
          g.addVertex({
            kind: 'thread',
            node: `n${i % 3}`,
            label: `t${i}`,
            status: v.status,
            mode: v.all ? 'all' : 'any',
          }),
        );
        const n = vertices.length;
        for (const [a, b] of edges) g.addEdge(a % n, b % n, ev(`${a % n}>${b % n}`));
        const { liveness, cycles } = analyzeGraph(g, { strict });
        // Naive fixpoint.
        const out: number[][] = Array.from({ length: n }, () => []);
        for (let e = 0; e < g.edgeCount; e++) out[g.edgeSource(e)]!.push(g.edgeTarget(e));
        const live = vertices.map((v, i) =>
          v.status === 'progressing' || v.status === 'idle'
            ? true
            : !strict && (v.status === 'unknown' || (v.status === 'waiting' && out[i]!.length === 0)),
        );
        for (let changed = true; changed;) {
          changed = false;
          for (let i = 0; i < n; i++) {
            if (live[i] || vertices[i]!.status !== 'waiting') continue;
            if (out[i]!.length === 0) continue; // waiting on nothing known: only lenient mode trusts it
            const targets = out[i]!.map((t) => live[t]!);
            const ok = vertices[i]!.all ? targets.every(Boolean) : targets.some(Boolean);
            if (ok) live[i] = changed = true;
          }
        }
        expect([...liveness.live].map(Boolean)).toEqual(live);
        for (const c of cycles) {
          expect(c.edges.length).toBeGreaterThan(0);
          for (const m of c.members) expect(liveness.live[m]).toBe(0);
          for (let i = 0; i < c.edges.length; i++) {
            const e = c.edges[i]!;
            const next = c.edges[(i + 1) % c.edges.length]!;
            expect(g.edgeTarget(e)).toBe(g.edgeSource(next));
            expect(g.edge(e).evidence.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
