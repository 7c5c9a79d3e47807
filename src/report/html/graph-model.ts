// What the report draws of the wait-for graph. The analyzer's graph can hold thousands of vertices
// (100 nodes × 300 threads); drawn whole it is an unreadable hairball that takes seconds to lay out.
// So: keep every vertex on a cycle, then the deadlocked and waiting ones, a few threads per pool, a
// bounded number of nodes; fold the rest into summary boxes ("+22 more handlers", "+49 more nodes")
// and reroute their edges there, so the picture still shows every kind of wait that exists.
// A pool's queue vertices merge into one pool box labelled with its handler counts.
import type { AnalysisResult, GraphEdgeOut, GraphVertexOut, PoolSummary } from '../../diagnose/result.js';

export type DisplayKind = 'thread' | 'pool' | 'group' | 'external' | 'summary';

export interface DisplayVertex {
  /** `d0`, `d1`… — stable within one report. */
  id: string;
  kind: DisplayKind;
  /** The process it belongs to; undefined for the box of folded nodes. */
  node?: string;
  /** Full label (thread name, `default 30/30 busy`, `+22 more threads`). */
  label: string;
  /** Second line: state and innermost frame, queue length, what was folded. */
  sub: string;
  status: GraphVertexOut['status'];
  deadlocked: boolean;
  /** On a cycle of the wait-for graph. */
  cycle: boolean;
  /** Index into detail.threads, for thread vertices. */
  thread?: number;
  pool?: string;
  /** Analyzer vertices this one stands for (more than one for pool boxes and summaries). */
  folded: number;
  /** Names of what a summary stands for (bounded). */
  foldedNames?: string[];
}

export interface DisplayEdge {
  from: string;
  to: string;
  kind: string;
  /** First label; `count` says how many analyzer edges were merged. */
  label: string;
  count: number;
  evidence: string[];
  cycle: boolean;
}

export interface DisplayCluster {
  node: string;
  /** e.g. `30 blocked · 81 threads`. */
  sub: string;
}

export interface FoldedNode {
  node: string;
  vertices: number;
  deadlocked: number;
}

export interface DisplayGraph {
  vertices: DisplayVertex[];
  edges: DisplayEdge[];
  clusters: DisplayCluster[];
  /** Nodes drawn only as part of the `+N more nodes` box (the first MAX_FOLDED_NODES_LISTED). */
  foldedNodes: FoldedNode[];
  /** Size of the analyzer's graph, to say how much was folded. */
  sourceVertices: number;
  sourceEdges: number;
  /** The analyzer cut its graph at its own bound. */
  sourceTruncated: boolean;
}

export interface GraphLimits {
  /** Nodes drawn as clusters; the rest fold into one box. */
  maxNodes: number;
  /** Threads drawn per pool (and per node outside pools); the rest fold into a summary. */
  maxThreadsPerPool: number;
  /** Total drawn vertices; a node that would exceed it folds (nodes on a cycle never do). */
  maxVertices: number;
}

/** Sized so the usual picture (a hub and a few of its peers) fits one screen at a readable scale. */
export const DEFAULT_GRAPH_LIMITS: GraphLimits = { maxNodes: 4, maxThreadsPerPool: 3, maxVertices: 80 };
/** How far cycles may stretch the soft limits. */
const HARD_FACTOR = 3;
const MAX_EDGE_EVIDENCE = 16;
const MAX_FOLDED_NODES_LISTED = 1000;
const MAX_FOLDED_NAMES = 40;

/** Lower is more important: on a cycle, deadlocked, waiting, anything else. */
function priority(v: GraphVertexOut, onCycle: boolean): number {
  if (onCycle) return 0;
  if (v.deadlocked) return 1;
  if (!v.live) return 2;
  return 3;
}

const collator = new Intl.Collator('en', { numeric: true });

export function buildDisplayGraph(result: AnalysisResult, limits: GraphLimits = DEFAULT_GRAPH_LIMITS): DisplayGraph {
  const graph = result.detail?.graph ?? { vertices: [], edges: [], truncated: false };
  const threads = result.detail?.threads ?? [];
  const stacks = result.detail?.stacks ?? [];
  const onCycle = new Set<number>();
  for (const e of graph.edges) {
    if (!e.inCycle) continue;
    onCycle.add(e.from);
    onCycle.add(e.to);
  }
  const prio = (v: GraphVertexOut) => priority(v, onCycle.has(v.id));

  // Nodes: those on a cycle first, then by how much of the stuck part they hold.
  const perNode = new Map<string, GraphVertexOut[]>();
  for (const v of graph.vertices) {
    let list = perNode.get(v.node);
    if (list === undefined) perNode.set(v.node, (list = []));
    list.push(v);
  }
  const nodeScore = (list: GraphVertexOut[]) => ({
    cycle: list.filter((v) => onCycle.has(v.id)).length,
    dead: list.filter((v) => v.deadlocked).length,
    waiting: list.filter((v) => !v.live).length,
  });
  const scores = new Map([...perNode].map(([n, list]) => [n, nodeScore(list)]));
  const nodeOrder = [...perNode.keys()].sort((a, b) => {
    const sa = scores.get(a)!;
    const sb = scores.get(b)!;
    if (sa.cycle > 0 !== sb.cycle > 0) return sa.cycle > 0 ? -1 : 1;
    return sb.dead - sa.dead || sb.waiting - sa.waiting || collator.compare(a, b);
  });

  const poolSummary = new Map<string, PoolSummary>(result.pools.map((p) => [`${p.node}\u0000${p.pool}`, p]));
  const vertices: DisplayVertex[] = [];
  /** Analyzer vertex id → display vertex id. */
  const mapped = new Map<number, string>();
  const newVertex = (v: Omit<DisplayVertex, 'id'>): DisplayVertex => {
    const d = { id: `d${vertices.length}`, ...v };
    vertices.push(d);
    return d;
  };

  const threadSub = (v: GraphVertexOut): string => {
    const t = v.thread !== undefined ? threads[v.thread] : undefined;
    const last = t ? [...t.samples].reverse().find((s) => s !== null) : undefined;
    if (!last) return v.status;
    const top = stacks[last.stack]?.[0];
    const state = last.state.replace(/\s*\(.*\)$/, '');
    return top ? `${state} · ${top}` : state;
  };

  const expanded: string[] = [];
  const folded: string[] = [];
  for (const node of nodeOrder) {
    const list = perNode.get(node)!;
    const plan = planNode(list, prio, limits);
    // Cycles are the proof, so they may exceed the soft bounds — up to a hard bound, for inputs with
    // a thousand independent deadlocks; past it their edges still show, folded, as cycle edges.
    const mustShow =
      scores.get(node)!.cycle > 0 &&
      expanded.length < limits.maxNodes * HARD_FACTOR &&
      vertices.length + plan.size <= limits.maxVertices * HARD_FACTOR;
    if (!mustShow && (expanded.length >= limits.maxNodes || vertices.length + plan.size > limits.maxVertices)) {
      folded.push(node);
      continue;
    }
    expanded.push(node);
    // Pool boxes: a pool (or its queues) that someone waits on.
    for (const [pool, members] of plan.poolBoxes) {
      const s = poolSummary.get(`${node}\u0000${pool}`);
      const label = s ? `${pool} ${s.busy}/${s.size} busy` : pool;
      const sub = s
        ? [
            s.queued !== undefined ? `${s.queued} queued` : '',
            s.exhausted ? 'exhausted' : s.saturated ? 'saturated' : '',
          ]
            .filter(Boolean)
            .join(' · ') || `${s.idle} idle`
        : `${members.length} queue${members.length === 1 ? '' : 's'}`;
      const d = newVertex({
        kind: 'pool',
        node,
        label,
        sub,
        status: members.some((m) => m.status === 'waiting') ? 'waiting' : members[0]!.status,
        deadlocked: members.every((m) => m.deadlocked),
        cycle: members.some((m) => onCycle.has(m.id)),
        pool,
        folded: members.length,
      });
      for (const m of members) mapped.set(m.id, d.id);
    }
    for (const v of plan.shown) {
      const d = newVertex({
        kind: v.kind === 'thread' ? 'thread' : v.kind === 'group' ? 'group' : 'external',
        node,
        label: v.label,
        sub: v.kind === 'thread' ? threadSub(v) : v.status,
        status: v.status,
        deadlocked: v.deadlocked,
        cycle: onCycle.has(v.id),
        ...(v.thread !== undefined ? { thread: v.thread } : {}),
        ...(v.pool !== undefined ? { pool: v.pool } : {}),
        folded: 1,
      });
      mapped.set(v.id, d.id);
    }
    for (const [pool, hidden] of plan.summaries) {
      const dead = hidden.filter((v) => v.deadlocked).length;
      const what = pool === '' ? 'threads' : `${pool} threads`;
      const d = newVertex({
        kind: 'summary',
        node,
        label: `+${hidden.length} more ${what}`,
        sub: dead === hidden.length ? 'all deadlocked' : `${dead} deadlocked, ${hidden.length - dead} other`,
        status: hidden.some((v) => v.status === 'waiting') ? 'waiting' : hidden[0]!.status,
        deadlocked: dead === hidden.length,
        cycle: false,
        ...(pool !== '' ? { pool } : {}),
        folded: hidden.length,
        foldedNames: hidden.slice(0, MAX_FOLDED_NAMES).map((v) => v.label),
      });
      for (const v of hidden) mapped.set(v.id, d.id);
    }
  }

  const foldedNodes: FoldedNode[] = folded.slice(0, MAX_FOLDED_NODES_LISTED).map((node) => {
    const list = perNode.get(node)!;
    return { node, vertices: list.length, deadlocked: list.filter((v) => v.deadlocked).length };
  });
  if (folded.length > 0) {
    const all = folded.flatMap((n) => perNode.get(n)!);
    const dead = all.filter((v) => v.deadlocked).length;
    const d = newVertex({
      kind: 'summary',
      label: `+${folded.length} more node${folded.length === 1 ? '' : 's'}`,
      sub: `${all.length} threads/pools, ${dead === all.length ? 'all' : dead} deadlocked`,
      status: all.some((v) => v.status === 'waiting') ? 'waiting' : all[0]!.status,
      deadlocked: dead === all.length,
      cycle: false,
      folded: all.length,
      foldedNames: folded.slice(0, MAX_FOLDED_NAMES),
    });
    for (const v of all) mapped.set(v.id, d.id);
  }

  // Edges between display vertices: merged, self-loops of folded parts dropped.
  const edgeMap = new Map<string, DisplayEdge>();
  for (const e of graph.edges) {
    const from = mapped.get(e.from);
    const to = mapped.get(e.to);
    if (from === undefined || to === undefined || from === to) continue;
    const key = `${from}>${to}`;
    const d = edgeMap.get(key);
    if (d === undefined) {
      edgeMap.set(key, {
        from,
        to,
        kind: e.kind,
        label: e.label,
        count: 1,
        evidence: e.evidence.slice(0, MAX_EDGE_EVIDENCE),
        cycle: e.inCycle,
      });
      continue;
    }
    mergeEdge(d, e);
  }
  const clusters = expanded.map((node): DisplayCluster => {
    const s = result.nodes.find((n) => n.name === node);
    if (!s) return { node, sub: '' };
    const total = s.threadsPerSample[s.threadsPerSample.length - 1] ?? 0;
    const parts = [s.blocked > 0 ? `${s.blocked} blocked` : '', `${total} threads`].filter(Boolean);
    return { node, sub: parts.join(' · ') };
  });
  return {
    vertices,
    edges: [...edgeMap.values()],
    clusters,
    foldedNodes,
    sourceVertices: graph.vertices.length,
    sourceEdges: graph.edges.length,
    sourceTruncated: graph.truncated,
  };
}

function mergeEdge(d: DisplayEdge, e: GraphEdgeOut): void {
  d.count++;
  d.cycle ||= e.inCycle;
  if (e.kind !== d.kind && !d.kind.split('+').includes(e.kind)) d.kind = `${d.kind}+${e.kind}`;
  // Cycle evidence first: it is the proof the reader is after.
  if (e.inCycle && !d.evidence.includes(e.evidence[0] ?? '')) d.evidence.unshift(...e.evidence.slice(0, 4));
  for (const line of e.evidence) {
    if (d.evidence.length >= MAX_EDGE_EVIDENCE) break;
    if (!d.evidence.includes(line)) d.evidence.push(line);
  }
  d.evidence.length = Math.min(d.evidence.length, MAX_EDGE_EVIDENCE);
}

interface NodePlan {
  /** Pool name → its pool/queue vertices (drawn as one box). */
  poolBoxes: Map<string, GraphVertexOut[]>;
  shown: GraphVertexOut[];
  /** Pool name ('' outside pools) → folded vertices. */
  summaries: Map<string, GraphVertexOut[]>;
  /** Display vertices this plan creates. */
  size: number;
}

function planNode(list: GraphVertexOut[], prio: (v: GraphVertexOut) => number, limits: GraphLimits): NodePlan {
  const poolBoxes = new Map<string, GraphVertexOut[]>();
  const byPool = new Map<string, GraphVertexOut[]>();
  for (const v of list) {
    if (v.kind === 'pool' || v.kind === 'queue') {
      const key = v.pool ?? v.label;
      let l = poolBoxes.get(key);
      if (l === undefined) poolBoxes.set(key, (l = []));
      l.push(v);
      continue;
    }
    const key = v.kind === 'thread' ? (v.pool ?? '') : '';
    let l = byPool.get(key);
    if (l === undefined) byPool.set(key, (l = []));
    l.push(v);
  }
  const shown: GraphVertexOut[] = [];
  const summaries = new Map<string, GraphVertexOut[]>();
  for (const [pool, vs] of byPool) {
    vs.sort((a, b) => prio(a) - prio(b) || collator.compare(a.label, b.label));
    const onCycle = vs.filter((v) => prio(v) === 0).length;
    const keep = Math.min(Math.max(limits.maxThreadsPerPool, onCycle), limits.maxThreadsPerPool * HARD_FACTOR);
    // Folding a single vertex into "+1 more" saves nothing.
    const cut = vs.length <= keep + 1 ? vs.length : keep;
    shown.push(...vs.slice(0, cut));
    if (cut < vs.length) summaries.set(pool, vs.slice(cut));
  }
  return { poolBoxes, shown, summaries, size: poolBoxes.size + shown.length + summaries.size };
}
