// The wait-for graph: vertices are threads, pools (and pool queues), groups (for instance the
// threads of one barrier member) and external targets; an edge u → v says "u cannot finish until v
// does something". It is shared by `rollcall analyze` (one graph per dump round) and the runtime's
// online detector (one graph every few hundred milliseconds), so it is built for cheap rebuilding:
// integer vertex ids, edges in flat arrays, no per-vertex closures, and `reset()` keeps capacity.
//
// The graph knows nothing about dumps, nodes' formats or I/O: callers decide the status of each
// vertex and the edges, and this module decides liveness and extracts cycles.

/** What a vertex stands for. */
export type VertexKind = 'thread' | 'pool' | 'queue' | 'group' | 'external';

/**
 * What a vertex is doing, as far as the caller can tell.
 * - `progressing`: runs or visibly changes; live by itself.
 * - `idle`: waiting for work (a pool worker on its queue, a selector, a timer); live by itself.
 * - `waiting`: live exactly when what it waits on is live (see WaitMode).
 * - `unknown`: outside what the caller can see (a process not in the dumps, a thread that is
 *   RUNNABLE but shows no progress). Live by assumption, unless liveness is computed `strict`.
 */
export type VertexStatus = 'progressing' | 'idle' | 'waiting' | 'unknown';

/**
 * How a waiting vertex combines its targets.
 * - `any`: live when at least one target is live (a pool is live when one handler is; a call
 *   that may be served by any of several pools).
 * - `all`: live only when every target is live (a barrier waits for every missing member).
 */
export type WaitMode = 'any' | 'all';

/** Why an edge exists; also decides how a cycle is named (monitor and lock cycles are Java's). */
export type EdgeKind =
  /** Java monitor: `waiting to lock` against `locked`, or the JVM's deadlock section. */
  | 'monitor'
  /** java.util.concurrent lock: `parking to wait for` against `Locked ownable synchronizers`. */
  | 'lock'
  /** A synchronous call: to the handler serving it, or to the pool or queue that will serve it. */
  | 'rpc'
  /** A pool or queue to one of its handlers. */
  | 'handler'
  /** A barrier coordinator (or member) to what it waits for. */
  | 'barrier'
  /** A group to one of its threads. */
  | 'member'
  /** Anything else a rule declared. */
  | 'other';

export interface VertexInfo {
  kind: VertexKind;
  /** The process (node) the vertex lives on; '' for external targets. */
  node: string;
  /** Human-readable name: the thread name, the pool name, `member rs1 of rolllog`… */
  label: string;
  status: VertexStatus;
  /** Only meaningful for `waiting`; `any` when omitted. */
  mode?: WaitMode;
  /** Set for threads: the thread's name (also in label) so renderers need not parse labels. */
  thread?: string;
  /** Set for pools and queues (the pool name), and for threads that belong to a pool. */
  pool?: string;
  /** Set for queue vertices: the queue index inside the pool. */
  queue?: number;
  /** The key a keyed vertex (pool, queue, group, external) was added under. */
  key?: string;
  /** Set for threads: the caller's handle for the thread (a track, a view index). */
  ref?: number;
}

export interface EdgeInfo {
  kind: EdgeKind;
  /** Short description: `waiting to lock <0x…> (a Foo)`, `rpc checkRoll → master`, `handler 7`. */
  label: string;
  /**
   * The dump lines that created the edge (frames, lock lines, rollcall lines), innermost first.
   * Never empty for edges added through addEdge: a cycle is reported with its evidence.
   */
  evidence: readonly string[];
  /** For a synchronous call: the service and method called, when the evidence names them. */
  service?: string;
  method?: string;
}

/** Bounds (limits on everything): past them addVertex/addEdge throw a RangeError. */
export const MAX_VERTICES = 4_000_000;
export const MAX_EDGES = 16_000_000;
/** Evidence lines kept per edge (merged edges keep the first ones). */
export const MAX_EVIDENCE_LINES = 16;

/** Used for edges whose caller had nothing better to say; keeps the "every edge has evidence" rule. */
const NO_EVIDENCE: readonly string[] = Object.freeze(['(no evidence recorded)']);

/**
 * A directed wait-for graph with typed vertices and evidence on every edge. Parallel edges between
 * the same two vertices are merged (their evidence is concatenated up to MAX_EVIDENCE_LINES).
 *
 * The type parameter lets a caller hang its own data on vertices (diagnose keeps a thread's
 * identity there) without a side table.
 */
export class WaitGraph<V extends VertexInfo = VertexInfo> {
  private readonly vertices: V[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly edgeFrom: number[] = [];
  private readonly edgeTo: number[] = [];
  private readonly edgeInfo: EdgeInfo[] = [];
  private readonly edgeIndex = new Map<number, number>();
  /** Bumped on every change; lets callers cache derived structures (see Adjacency). */
  private version = 0;

  get vertexCount(): number {
    return this.vertices.length;
  }

  get edgeCount(): number {
    return this.edgeFrom.length;
  }

  /** Changes on every mutation. */
  get revision(): number {
    return this.version;
  }

  /**
   * Adds a vertex and returns its id (ids are dense, from 0). With a key, adding the same key again
   * returns the existing id and leaves the first info in place — callers may "ensure" a vertex.
   */
  addVertex(info: V, key?: string): number {
    if (key !== undefined) {
      const found = this.byKey.get(key);
      if (found !== undefined) return found;
    }
    if (this.vertices.length >= MAX_VERTICES) throw new RangeError(`wait graph: more than ${MAX_VERTICES} vertices`);
    const id = this.vertices.length;
    this.vertices.push(info);
    if (key !== undefined) this.byKey.set(key, id);
    this.version++;
    return id;
  }

  /** The id of a keyed vertex, if present. */
  find(key: string): number | undefined {
    return this.byKey.get(key);
  }

  vertex(id: number): V {
    const v = this.vertices[id];
    if (v === undefined) throw new RangeError(`wait graph: no vertex ${id}`);
    return v;
  }

  /** Changes a vertex's status (for instance once a caller learns a thread progressed). */
  setStatus(id: number, status: VertexStatus, mode?: WaitMode): void {
    const v = this.vertex(id);
    v.status = status;
    if (mode !== undefined) v.mode = mode;
    this.version++;
  }

  /**
   * Adds `from → to` ("from waits for to"). Self-loops are allowed (a thread waiting for a lock it
   * is recorded as holding is a one-thread deadlock). Evidence lines are copied up to the bound.
   */
  addEdge(from: number, to: number, info: EdgeInfo): void {
    this.vertex(from);
    this.vertex(to);
    const pair = from * MAX_VERTICES + to;
    const existing = this.edgeIndex.get(pair);
    const evidence = info.evidence.length > 0 ? info.evidence : NO_EVIDENCE;
    if (existing !== undefined) {
      const e = this.edgeInfo[existing]!;
      if (e.evidence.length < MAX_EVIDENCE_LINES && evidence !== NO_EVIDENCE && e.evidence !== evidence) {
        const merged = e.evidence === NO_EVIDENCE ? [] : [...e.evidence];
        for (const line of evidence) {
          if (merged.length >= MAX_EVIDENCE_LINES) break;
          if (!merged.includes(line)) merged.push(line);
        }
        this.edgeInfo[existing] = { ...e, evidence: merged };
      }
      return;
    }
    if (this.edgeFrom.length >= MAX_EDGES) throw new RangeError(`wait graph: more than ${MAX_EDGES} edges`);
    this.edgeIndex.set(pair, this.edgeFrom.length);
    this.edgeFrom.push(from);
    this.edgeTo.push(to);
    this.edgeInfo.push(
      evidence.length > MAX_EVIDENCE_LINES
        ? { ...info, evidence: evidence.slice(0, MAX_EVIDENCE_LINES) }
        : evidence === info.evidence
          ? info
          : { ...info, evidence },
    );
    this.version++;
  }

  edgeSource(e: number): number {
    return this.edgeFrom[e]!;
  }

  edgeTarget(e: number): number {
    return this.edgeTo[e]!;
  }

  edge(e: number): EdgeInfo {
    const info = this.edgeInfo[e];
    if (info === undefined) throw new RangeError(`wait graph: no edge ${e}`);
    return info;
  }

  /** The edge id of from → to, if any. */
  findEdge(from: number, to: number): number | undefined {
    return this.edgeIndex.get(from * MAX_VERTICES + to);
  }

  /** Empties the graph but keeps its arrays' capacity, for a detector that rebuilds every round. */
  reset(): void {
    this.vertices.length = 0;
    this.byKey.clear();
    this.edgeFrom.length = 0;
    this.edgeTo.length = 0;
    this.edgeInfo.length = 0;
    this.edgeIndex.clear();
    this.version++;
  }
}

/**
 * Compressed adjacency (CSR) in both directions, built in O(V + E). Liveness walks in-edges;
 * cycle extraction walks out-edges.
 */
export interface Adjacency {
  /** Out-edges of v: edge ids outEdges[outStart[v] .. outStart[v + 1]). */
  outStart: Int32Array;
  outEdges: Int32Array;
  inStart: Int32Array;
  inEdges: Int32Array;
}

export function buildAdjacency(g: WaitGraph<VertexInfo>): Adjacency {
  const n = g.vertexCount;
  const m = g.edgeCount;
  const outStart = new Int32Array(n + 1);
  const inStart = new Int32Array(n + 1);
  for (let e = 0; e < m; e++) {
    outStart[g.edgeSource(e) + 1]!++;
    inStart[g.edgeTarget(e) + 1]!++;
  }
  for (let v = 0; v < n; v++) {
    outStart[v + 1]! += outStart[v]!;
    inStart[v + 1]! += inStart[v]!;
  }
  const outEdges = new Int32Array(m);
  const inEdges = new Int32Array(m);
  const outFill = outStart.slice(0, n);
  const inFill = inStart.slice(0, n);
  for (let e = 0; e < m; e++) {
    outEdges[outFill[g.edgeSource(e)]!++] = e;
    inEdges[inFill[g.edgeTarget(e)]!++] = e;
  }
  return { outStart, outEdges, inStart, inEdges };
}
