// The data the page's script needs (thread list, per-sample stacks, graph evidence), packed small:
// frames, stacks, states, thread names and evidence lines are interned, and each thread's sample is
// one integer. 100 nodes × 300 threads × 6 samples is 180,000 samples; as objects that is tens of
// megabytes of JSON, packed it is a few.
import type { AnalysisResult, ThreadClass } from '../../diagnose/result.js';
import type { DisplayGraph } from './graph-model.js';

export const CLASS_CODES: readonly ThreadClass[] = ['blocked', 'running-stuck', 'progressing', 'idle', 'waiting'];

export interface ReportData {
  samples: number;
  nodes: string[];
  frames: string[];
  /** Frame indexes, innermost first. */
  stacks: number[][];
  states: string[];
  names: string[];
  pools: string[];
  /**
   * One row per thread, in detail.threads order (graph vertices refer to it):
   * [node, name, pool (-1: none), class code, javaId (-1: none), sample…], where a sample is -1
   * when the thread is absent, else ((stack × states.length) + state) × 2 + idle. A thread with the
   * same sample in every round (most idle ones) stores it once: a row of length 6 when samples > 1.
   */
  threads: number[][];
  graph: {
    evidence: string[];
    vertices: {
      id: string;
      kind: string;
      node: string | null;
      label: string;
      sub: string;
      status: string;
      deadlocked: boolean;
      cycle: boolean;
      thread: number;
      pool: string | null;
      folded: number;
      foldedNames: string[];
    }[];
    /** [from, to, kind, label, count, cycle 0/1, evidence indexes]. */
    edges: [string, string, string, string, number, number, number[]][];
    foldedNodes: [string, number, number][];
  };
}

class Interner {
  readonly list: string[] = [];
  private readonly index = new Map<string, number>();
  id(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.list.length;
      this.list.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

export function packData(result: AnalysisResult, graph: DisplayGraph): ReportData {
  const detail = result.detail;
  const nodes = new Interner();
  for (const n of result.nodes) nodes.id(n.name);
  const frames = new Interner();
  const stacks = (detail?.stacks ?? []).map((s) => s.map((f) => frames.id(f)));
  const states = new Interner();
  const names = new Interner();
  const pools = new Interner();
  const threads: number[][] = [];
  // States are counted first so every sample can be encoded against the final count.
  for (const t of detail?.threads ?? []) for (const s of t.samples) if (s) states.id(s.state);
  const nStates = Math.max(1, states.list.length);
  for (const t of detail?.threads ?? []) {
    const row = [
      nodes.id(t.node),
      names.id(t.name),
      t.pool !== undefined ? pools.id(t.pool) : -1,
      CLASS_CODES.indexOf(t.class),
      t.javaId ?? -1,
    ];
    const packed = t.samples.map((s) => (s ? (s.stack * nStates + states.id(s.state)) * 2 + (s.idle ? 1 : 0) : -1));
    row.push(...(packed.every((p) => p === packed[0]) ? packed.slice(0, 1) : packed));
    threads.push(row);
  }
  const evidence = new Interner();
  const edges = graph.edges.map((e): ReportData['graph']['edges'][number] => [
    e.from,
    e.to,
    e.kind,
    e.label,
    e.count,
    e.cycle ? 1 : 0,
    e.evidence.map((line) => evidence.id(line)),
  ]);
  return {
    samples: result.samples,
    nodes: nodes.list,
    frames: frames.list,
    stacks,
    states: states.list,
    names: names.list,
    pools: pools.list,
    threads,
    graph: {
      evidence: evidence.list,
      vertices: graph.vertices.map((v) => ({
        id: v.id,
        kind: v.kind,
        node: v.node ?? null,
        label: v.label,
        sub: v.sub,
        status: v.status,
        deadlocked: v.deadlocked,
        cycle: v.cycle,
        thread: v.thread ?? -1,
        pool: v.pool ?? null,
        folded: v.folded,
        foldedNames: v.foldedNames ?? [],
      })),
      edges,
      foldedNodes: graph.foldedNodes.map((f) => [f.node, f.vertices, f.deadlocked]),
    },
  };
}
