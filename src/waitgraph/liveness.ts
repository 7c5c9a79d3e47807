// The liveness fixpoint: a vertex is live if it progresses, is idle, or waits on something live
// (any target for `any` vertices, every target for `all` vertices). It is the least fixpoint, so a
// set of vertices that only wait on each other stays non-live: that is a deadlock, whatever the
// length of the chain. Computed backwards from the live vertices along in-edges in O(V + E), like
// Kahn's algorithm: no iteration to convergence, no recursion.
import { buildAdjacency, type Adjacency, type VertexInfo, type WaitGraph } from './graph.js';

export interface LivenessOptions {
  /**
   * Strict liveness gives neither `unknown` vertices nor waiting vertices with no known target the
   * benefit of the doubt. Default false. Shorthand for both trust options below set to false.
   */
  strict?: boolean;
  /**
   * Whether `unknown` vertices (outside the dumps, runnable without visible progress) count as
   * live. Default true (unless strict). What is live only thanks to them depends on something
   * outside the dumps: "stuck", not provably deadlocked.
   */
  trustUnknown?: boolean;
  /** Whether a waiting vertex with no known target counts as live. Default true (unless strict). */
  trustUnrecognized?: boolean;
  /** Reuse adjacency already built for this graph revision. */
  adjacency?: Adjacency;
}

export interface Liveness {
  /** 1 if live. Indexed by vertex id. */
  live: Uint8Array;
  /**
   * For a vertex made live by a target, the edge that did it (for `all` vertices, the last one);
   * -1 for vertices live by themselves and for non-live vertices. Explains "why is this live".
   */
  via: Int32Array;
  /** Number of non-live vertices. */
  nonLiveCount: number;
  adjacency: Adjacency;
  /** False when unknown or unrecognized vertices were not trusted. */
  lenient: boolean;
}

/** Whether a vertex is live on its own, before looking at any edge. */
function liveByItself(v: VertexInfo, outDegree: number, trustUnknown: boolean, trustUnrecognized: boolean): boolean {
  switch (v.status) {
    case 'progressing':
    case 'idle':
      return true;
    case 'unknown':
      return trustUnknown;
    case 'waiting':
      // Waiting on nothing the caller could name is waiting on something unknown.
      return outDegree === 0 && trustUnrecognized;
  }
}

export function computeLiveness(g: WaitGraph<VertexInfo>, options: LivenessOptions = {}): Liveness {
  const strict = options.strict ?? false;
  const trustUnknown = options.trustUnknown ?? !strict;
  const trustUnrecognized = options.trustUnrecognized ?? !strict;
  const adj = options.adjacency ?? buildAdjacency(g);
  const n = g.vertexCount;
  const live = new Uint8Array(n);
  const via = new Int32Array(n).fill(-1);
  // For `all` vertices: targets not yet live. Parallel edges are merged by WaitGraph, so the out
  // degree counts distinct targets.
  const pending = new Int32Array(n);
  const stack = new Int32Array(n);
  let top = 0;
  for (let v = 0; v < n; v++) {
    const info = g.vertex(v);
    const outDegree = adj.outStart[v + 1]! - adj.outStart[v]!;
    if (liveByItself(info, outDegree, trustUnknown, trustUnrecognized)) {
      live[v] = 1;
      stack[top++] = v;
    } else if (info.status === 'waiting' && info.mode === 'all') {
      pending[v] = outDegree;
    }
  }
  while (top > 0) {
    const u = stack[--top]!;
    for (let i = adj.inStart[u]!; i < adj.inStart[u + 1]!; i++) {
      const e = adj.inEdges[i]!;
      const w = g.edgeSource(e);
      if (live[w] === 1) continue;
      const info = g.vertex(w);
      if (info.status !== 'waiting') continue; // unknown vertices in strict mode stay non-live
      if (info.mode === 'all' && --pending[w]! > 0) continue;
      live[w] = 1;
      via[w] = e;
      stack[top++] = w;
    }
  }
  let nonLiveCount = 0;
  for (let v = 0; v < n; v++) if (live[v] === 0) nonLiveCount++;
  return { live, via, nonLiveCount, adjacency: adj, lenient: trustUnknown && trustUnrecognized };
}
