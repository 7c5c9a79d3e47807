// What the analysis reports: counts per class (whole span, per node, per sample), the stuck threads
// (blocked or running-stuck) and, apart from them, the waiting ones; pools with their load and
// whether they are exhausted; and, when asked, the detail a renderer draws (every thread's stack
// per sample, the graph of the round shown).
import { assert } from '../util/assert.js';
import {
  ABSENT,
  CODE_MASK,
  NATURE_IDLE,
  type AnalysisState,
  type NodeState,
  type PoolState,
  type Track,
} from './model.js';
import type {
  AnalysisDetail,
  DeadlockOut,
  GraphEdgeOut,
  GraphVertexOut,
  NodeSummary,
  PoolSummary,
  SampleCounts,
  StuckThread,
  ThreadClass,
  WaitingThread,
} from './result.js';
import type { Prover, RoundGraph } from './verdict.js';

const MAX_GRAPH_VERTICES_OUT = 20_000;
const MAX_SERVES_LISTED = 20;

type CountKey = 'blocked' | 'runningStuck' | 'waiting' | 'progressing' | 'idle';
const countKey = (cls: ThreadClass): CountKey => (cls === 'running-stuck' ? 'runningStuck' : cls);

export interface ThreadCounts {
  threads: { total: number; blocked: number; runningStuck: number; waiting: number; progressing: number; idle: number };
  nodes: NodeSummary[];
  stuck: StuckThread[];
  stuckTotal: number;
  waiting: WaitingThread[];
  waitingTotal: number;
}

const emptySample = (): SampleCounts => ({
  total: 0,
  idle: 0,
  progressing: 0,
  blocked: 0,
  runningStuck: 0,
  waiting: 0,
});

/** Counts by class, per node and per sample; the stuck and the waiting lists (bounded). */
export function countThreads(state: AnalysisState, maxListed: number): ThreadCounts {
  const threads = { total: 0, blocked: 0, runningStuck: 0, waiting: 0, progressing: 0, idle: 0 };
  const perNode = state.nodes.map((n) => ({
    counts: { blocked: 0, progressing: 0, idle: 0, runningStuck: 0, waiting: 0 },
    samples: n.rounds.map(emptySample),
  }));
  const stuck: StuckThread[] = [];
  const waiting: WaitingThread[] = [];
  let stuckTotal = 0;
  let waitingTotal = 0;
  for (const tr of state.tracks) {
    threads.total++;
    const pn = perNode[tr.node]!;
    const key = countKey(tr.cls);
    threads[key]++;
    pn.counts[key]++;
    const rounds = state.nodes[tr.node]!.rounds;
    for (let k = 0; k < rounds.length; k++) {
      const c = tr.codes[rounds[k]!]!;
      if (c === ABSENT) continue;
      const s = pn.samples[k]!;
      s.total++;
      if ((c & NATURE_IDLE) !== 0) s.idle++;
      else s[key]++;
    }
    if (tr.cls === 'blocked' || tr.cls === 'running-stuck') {
      stuckTotal++;
      if (stuck.length < maxListed) stuck.push({ ...listed(state, tr), state: tr.cls });
    } else if (tr.cls === 'waiting') {
      waitingTotal++;
      if (waiting.length < maxListed) waiting.push(listed(state, tr));
    }
  }
  assert(
    threads.total === threads.blocked + threads.runningStuck + threads.waiting + threads.progressing + threads.idle,
    'every thread has exactly one class',
  );
  const nodes: NodeSummary[] = state.nodes.map((n, i) => ({
    name: n.name,
    threadsPerSample: n.threadsPerSample,
    ...perNode[i]!.counts,
    rounds: n.rounds,
    roles: [...n.roles],
    format: n.format,
    samples: perNode[i]!.samples,
    unparsedLines: n.unparsedLines,
  }));
  return { threads, nodes, stuck, stuckTotal, waiting, waitingTotal };
}

function listed(state: AnalysisState, tr: Track): WaitingThread {
  return {
    node: state.nodes[tr.node]!.name,
    thread: tr.name,
    frame: tr.lastFacts.top,
    samples: tr.present,
    javaState: tr.lastState,
    ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
  };
}

/** Every pool with its load per sample; exhausted first, then saturated, then by size. */
export function summarizePools(state: AnalysisState): PoolSummary[] {
  const out: PoolSummary[] = [];
  for (const n of state.nodes) {
    for (const p of n.pools.values()) {
      if (p.family === 'generic' && p.tracks.length < 2) continue;
      out.push(poolSummary(state, n, p));
    }
  }
  out.sort(
    (a, b) => Number(b.exhausted) - Number(a.exhausted) || Number(b.saturated) - Number(a.saturated) || b.size - a.size,
  );
  return out;
}

function poolSummary(state: AnalysisState, n: NodeState, p: PoolState): PoolSummary {
  const perSample = n.rounds.map((r) => {
    let size = 0;
    let idle = 0;
    for (const ti of p.tracks) {
      const c = state.tracks[ti]!.codes[r]!;
      if (c === ABSENT) continue;
      size++;
      if ((c & NATURE_IDLE) !== 0) idle++;
    }
    return { size, busy: size - idle, idle };
  });
  let blocked = 0;
  let progressing = 0;
  let waiting = 0;
  let quiet = true;
  for (const ti of p.tracks) {
    const cls = state.tracks[ti]!.cls;
    if (cls === 'blocked') blocked++;
    if (cls === 'progressing') progressing++;
    if (cls === 'waiting') waiting++;
    // A handler that merely waits (on nothing linked) is no evidence the pool is stuck.
    if (cls === 'progressing' || cls === 'idle' || cls === 'waiting') quiet = false;
  }
  const last = perSample[perSample.length - 1] ?? { size: 0, busy: 0, idle: 0 };
  // A pool that creates threads on demand shows only its busy ones; below its declared capacity it
  // still has room, so it is neither saturated nor exhausted.
  const full = (x: { size: number }): boolean =>
    !p.unbounded && (p.declaredSize === undefined || x.size >= p.declaredSize);
  const saturated = perSample.some((s) => s.size > 0 && s.idle === 0 && full(s));
  const everyBusy = perSample.every((s) => s.idle === 0) && full(last);
  const serves = [...p.serves.keys()].slice(0, MAX_SERVES_LISTED);
  return {
    node: n.name,
    pool: p.name,
    size: last.size,
    busy: last.busy,
    idle: last.idle,
    blocked,
    progressing,
    waiting,
    exhausted: last.size > 0 && everyBusy && quiet,
    saturated,
    family: p.family,
    perSample,
    ...(p.queuedLast !== undefined ? { queued: p.queuedLast } : {}),
    ...(p.declaredSize !== undefined ? { capacity: p.declaredSize } : {}),
    ...(p.unbounded ? { unbounded: true } : {}),
    ...(serves.length > 0 ? { serves } : {}),
  };
}

/** Per-thread stacks per sample and the graph of the round shown, for the HTML report. */
export function analysisDetail(
  state: AnalysisState,
  stackFrames: string[][],
  prover: Prover,
  shown: RoundGraph | undefined,
  keyNonLive: Map<string, number>,
  deadlocks: DeadlockOut[],
): AnalysisDetail {
  const threads = state.tracks.map((tr: Track) => ({
    node: state.nodes[tr.node]!.name,
    name: tr.name,
    ...(tr.javaId !== undefined ? { javaId: tr.javaId } : {}),
    ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
    class: tr.cls,
    samples: tr.codes.map((c, r) =>
      c === ABSENT
        ? null
        : {
            state: (['RUNNABLE', 'WAITING', 'BLOCKED', 'NEW'] as const)[c & CODE_MASK]!,
            idle: (c & NATURE_IDLE) !== 0,
            stack: tr.stacks?.[r] ?? -1,
          },
    ),
  }));
  const vertices: GraphVertexOut[] = [];
  const edges: GraphEdgeOut[] = [];
  let truncated = false;
  if (shown !== undefined) {
    const { g, live } = shown;
    const inCycle = new Set<string>();
    for (const d of deadlocks)
      for (const s of d.cycle) inCycle.add(`${s.node}/${s.thread ?? s.pool ?? ''}\u0000${s.waitsFor}`);
    const ids = new Map<number, number>();
    const keep = (v: number): number | undefined => {
      let id = ids.get(v);
      if (id !== undefined) return id;
      if (vertices.length >= MAX_GRAPH_VERTICES_OUT) {
        truncated = true;
        return undefined;
      }
      const info = g.vertex(v);
      id = vertices.length;
      ids.set(v, id);
      vertices.push({
        id,
        kind: info.kind,
        node: info.node,
        label: info.label,
        status: info.status,
        live: live.live[v] === 1,
        deadlocked: live.live[v] === 0 && prover.deadlocked(g, v, keyNonLive),
        ...(info.pool !== undefined ? { pool: info.pool } : {}),
        ...(info.kind === 'thread' && info.ref !== undefined ? { thread: info.ref } : {}),
      });
      return id;
    };
    for (let e = 0; e < g.edgeCount; e++) {
      const from = keep(g.edgeSource(e));
      const to = keep(g.edgeTarget(e));
      if (from === undefined || to === undefined) continue;
      const info = g.edge(e);
      const fv = g.vertex(g.edgeSource(e));
      const tv = g.vertex(g.edgeTarget(e));
      edges.push({
        from,
        to,
        kind: info.kind,
        label: info.label,
        evidence: [...info.evidence],
        inCycle: inCycle.has(`${fv.node}/${fv.label}\u0000${tv.node}/${tv.label}`),
      });
    }
  }
  return { stacks: stackFrames, threads, graph: { vertices, edges, truncated } };
}
