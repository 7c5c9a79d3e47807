// Cycle extraction: the strongly connected components of the non-live part of the graph. Every
// component with more than one vertex, or with a self-loop, is a circular wait; the liveness
// fixpoint already proved nothing in it can make progress. For reporting, each component also gets
// one simple cycle through it (the readable chain "A waits for B waits for … A") and the list of
// non-live vertices stuck behind it.
import type { VertexInfo, WaitGraph } from './graph.js';
import type { Liveness } from './liveness.js';

/** At most this many cycles are returned (a pathological dump cannot make the report explode). */
export const MAX_CYCLES = 10_000;

export interface Cycle {
  /** Every vertex of the strongly connected component, in increasing id order. */
  members: number[];
  /**
   * One simple cycle through the component, as edge ids: edges[i] leaves the vertex edges[i - 1]
   * entered, and the last edge returns to where the first one starts. Chosen to cross nodes when
   * the component does, so the chain shows the distributed part.
   */
  edges: number[];
  /** Non-live vertices outside every cycle that wait, directly or transitively, on this one. */
  dependents: number[];
  /** Distinct nodes of the members, in first-seen order along `edges`, then the rest. */
  nodes: string[];
}

export interface CycleOptions {
  /** Which vertices may be part of a cycle. Default: the non-live ones. */
  include?: (v: number) => boolean;
  maxCycles?: number;
}

/**
 * Finds the circular waits among non-live vertices (Tarjan's algorithm, iterative so deep chains
 * cannot overflow the stack). O(V + E).
 */
export function findCycles(g: WaitGraph<VertexInfo>, liveness: Liveness, options: CycleOptions = {}): Cycle[] {
  const n = g.vertexCount;
  const adj = liveness.adjacency;
  const include = options.include ?? ((v: number) => liveness.live[v] === 0);
  const maxCycles = Math.min(options.maxCycles ?? MAX_CYCLES, MAX_CYCLES);
  const inSet = new Uint8Array(n);
  for (let v = 0; v < n; v++) if (include(v)) inSet[v] = 1;

  const index = new Int32Array(n).fill(-1);
  const low = new Int32Array(n);
  const onStack = new Uint8Array(n);
  const sccStack: number[] = [];
  // Explicit DFS stack: vertex and the position in its out-edge list.
  const callV = new Int32Array(n);
  const callPos = new Int32Array(n);
  const component = new Int32Array(n).fill(-1);
  const components: number[][] = [];
  let counter = 0;

  for (let root = 0; root < n; root++) {
    if (inSet[root] === 0 || index[root] !== -1) continue;
    let depth = 0;
    callV[0] = root;
    callPos[0] = adj.outStart[root]!;
    index[root] = low[root] = counter++;
    sccStack.push(root);
    onStack[root] = 1;
    while (depth >= 0) {
      const v = callV[depth]!;
      const end = adj.outStart[v + 1]!;
      let descended = false;
      while (callPos[depth]! < end) {
        const e = adj.outEdges[callPos[depth]!++]!;
        const w = g.edgeTarget(e);
        if (inSet[w] === 0) continue;
        if (index[w] === -1) {
          index[w] = low[w] = counter++;
          sccStack.push(w);
          onStack[w] = 1;
          depth++;
          callV[depth] = w;
          callPos[depth] = adj.outStart[w]!;
          descended = true;
          break;
        }
        if (onStack[w] === 1 && index[w]! < low[v]!) low[v] = index[w]!;
      }
      if (descended) continue;
      if (low[v] === index[v]) {
        const members: number[] = [];
        let w: number;
        do {
          w = sccStack.pop()!;
          onStack[w] = 0;
          members.push(w);
        } while (w !== v);
        if (members.length > 1 || g.findEdge(v, v) !== undefined) {
          const id = components.length;
          for (const m of members) component[m] = id;
          components.push(members.sort((a, b) => a - b));
        }
      }
      depth--;
      if (depth >= 0) {
        const parent = callV[depth]!;
        if (low[v]! < low[parent]!) low[parent] = low[v]!;
      }
    }
  }

  const cycles: Cycle[] = [];
  for (let c = 0; c < components.length && cycles.length < maxCycles; c++) {
    const members = components[c]!;
    const edges = simpleCycle(g, adj.outStart, adj.outEdges, members, component, c);
    cycles.push({ members, edges, dependents: [], nodes: nodesOf(g, edges, members) });
  }
  assignDependents(g, adj.inStart, adj.inEdges, inSet, component, cycles);
  return cycles;
}

/** Picks a start (a thread with an edge to another node if there is one) and walks back to it by BFS. */
function simpleCycle(
  g: WaitGraph<VertexInfo>,
  outStart: Int32Array,
  outEdges: Int32Array,
  members: number[],
  component: Int32Array,
  c: number,
): number[] {
  // Start at a thread whose edge leaves for another node, and take that edge first: the chain then
  // shows the distributed part of the wait, not just a local loop through a pool.
  let start = -1;
  let firstEdge = -1;
  let fallback = -1;
  for (const v of members) {
    const info = g.vertex(v);
    if (info.kind !== 'thread') continue;
    if (fallback === -1) fallback = v;
    for (let i = outStart[v]!; i < outStart[v + 1]!; i++) {
      const w = g.edgeTarget(outEdges[i]!);
      if (component[w] === c && g.vertex(w).node !== info.node && g.vertex(w).node !== '') {
        start = v;
        firstEdge = outEdges[i]!;
        break;
      }
    }
    if (start !== -1) break;
  }
  if (start === -1) start = fallback !== -1 ? fallback : members[0]!;
  const self = g.findEdge(start, start);
  if (self !== undefined && firstEdge === -1) return [self];
  // BFS over the component until start is reached again.
  const parentEdge = new Map<number, number>();
  const queue: number[] = [];
  if (firstEdge !== -1) {
    const w = g.edgeTarget(firstEdge);
    parentEdge.set(w, firstEdge);
    queue.push(w);
  } else queue.push(start);
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!;
    for (let i = outStart[v]!; i < outStart[v + 1]!; i++) {
      const e = outEdges[i]!;
      const w = g.edgeTarget(e);
      if (component[w] !== c || parentEdge.has(w)) continue;
      parentEdge.set(w, e);
      if (w === start) {
        const path: number[] = [];
        let at = start;
        do {
          const pe = parentEdge.get(at)!;
          path.push(pe);
          at = g.edgeSource(pe);
        } while (at !== start && path.length <= members.length);
        return path.reverse();
      }
      queue.push(w);
    }
  }
  return []; // unreachable for a strongly connected component
}

function nodesOf(g: WaitGraph<VertexInfo>, edges: number[], members: number[]): string[] {
  const seen = new Set<string>();
  for (const e of edges) {
    const node = g.vertex(g.edgeSource(e)).node;
    if (node !== '') seen.add(node);
  }
  for (const v of members) {
    const node = g.vertex(v).node;
    if (node !== '') seen.add(node);
  }
  return [...seen];
}

/** Reverse BFS from each cycle over included vertices that are in no cycle. */
function assignDependents(
  g: WaitGraph<VertexInfo>,
  inStart: Int32Array,
  inEdges: Int32Array,
  inSet: Uint8Array,
  component: Int32Array,
  cycles: Cycle[],
): void {
  const seenBy = new Int32Array(g.vertexCount).fill(-1);
  cycles.forEach((cycle, c) => {
    const queue = [...cycle.members];
    for (let head = 0; head < queue.length; head++) {
      const v = queue[head]!;
      for (let i = inStart[v]!; i < inStart[v + 1]!; i++) {
        const w = g.edgeSource(inEdges[i]!);
        if (inSet[w] === 0 || component[w] !== -1 || seenBy[w] === c) continue;
        seenBy[w] = c;
        cycle.dependents.push(w);
        queue.push(w);
      }
    }
    cycle.dependents.sort((a, b) => a - b);
  });
}
