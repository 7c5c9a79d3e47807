// Building one wait-for graph from "who waits for what": both `rollcall analyze` (one graph per
// sample round, from parsed dumps) and the runtime's online detector (one graph per collection,
// from live node dumps) describe each waiting thread as a WaitSpec — targets that are threads,
// pools (or one call queue of a pool), groups of threads (a barrier member's threads, the threads
// serving a method) or something outside the dumps — and this builder turns them into vertices and
// edges with the same kinds, keys and evidence strings in both.
import type { EdgeInfo, VertexInfo, WaitGraph, WaitMode } from './graph.js';

/** What a waiting thread waits for. `ref` is the caller's handle for a thread. */
export type WaitTarget =
  | { to: 'thread'; ref: number; edge: EdgeInfo }
  /** Any handler of a pool; with `queue`, only the handlers serving that call queue. */
  | { to: 'pool'; node: string; pool: string; queue?: number; edge: EdgeInfo }
  /** A set of threads (and pools) that finishes when `mode` says: any of them, or all. */
  | {
      to: 'group';
      key: string;
      node: string;
      label: string;
      mode: WaitMode;
      refs: readonly number[];
      pools?: readonly string[];
      edge: EdgeInfo;
    }
  /** Outside the dumps: live by assumption, never part of a proven deadlock. */
  | { to: 'external'; label: string; edge: EdgeInfo };

export interface WaitSpec {
  /** The waiting thread. */
  from: number;
  /** How the targets combine: any one of them finishing frees the thread, or all of them. */
  mode: WaitMode;
  targets: WaitTarget[];
}

/** What the builder asks about the threads of the snapshot it draws. */
export interface GraphSource {
  /** The vertex of a thread (asked once per thread; `ref` and `key` are filled in by the builder). */
  thread(ref: number): VertexInfo;
  /** Threads of a pool on a node, present in this snapshot. */
  handlers(node: string, pool: string): readonly number[];
  /** The call queue a handler serves, when its pool has several (HBase `queue=Q`). */
  queueOf(ref: number): number | undefined;
  nameOf(ref: number): string;
  /** Whether a thread is in this snapshot (absent group members get no edge). Default: all are. */
  present?(ref: number): boolean;
  /**
   * A pool's status: 'waiting' (default: live when a handler is), or 'idle' for a pool that makes
   * a thread for every task and so never keeps a call waiting.
   */
  poolStatus?(node: string, pool: string): 'waiting' | 'idle';
}

export const poolKey = (node: string, pool: string, queue?: number): string =>
  queue === undefined ? `p\u0000${node}\u0000${pool}` : `q\u0000${node}\u0000${pool}\u0000${queue}`;

export const externalKey = (label: string): string => `x\u0000${label}`;

/** Adds a snapshot's waits to a graph; one builder per graph. */
export class WaitGraphBuilder {
  private readonly vertexOf = new Map<number, number>();

  constructor(
    readonly graph: WaitGraph<VertexInfo>,
    private readonly source: GraphSource,
  ) {}

  /** The thread's vertex, added on first use. */
  thread(ref: number): number {
    let v = this.vertexOf.get(ref);
    if (v === undefined) {
      v = this.graph.addVertex({ ...this.source.thread(ref), kind: 'thread', ref });
      this.vertexOf.set(ref, v);
    }
    return v;
  }

  /** The vertex of a thread already added, if any. */
  threadVertex(ref: number): number | undefined {
    return this.vertexOf.get(ref);
  }

  /** Adds the waiting thread's edges; its vertex takes the spec's mode when it is waiting. */
  add(spec: WaitSpec): void {
    if (spec.targets.length === 0) return;
    const v = this.thread(spec.from);
    const info = this.graph.vertex(v);
    if (info.status === 'waiting') info.mode = spec.mode;
    for (const x of spec.targets) this.graph.addEdge(v, this.target(x), x.edge);
  }

  target(x: WaitTarget): number {
    switch (x.to) {
      case 'thread':
        return this.thread(x.ref);
      case 'pool':
        return this.pool(x.node, x.pool, x.queue);
      case 'group':
        return this.group(x);
      case 'external': {
        const key = externalKey(x.label);
        return this.graph.addVertex({ kind: 'external', node: '', label: x.label, status: 'unknown', key }, key);
      }
    }
  }

  /** A pool (or one of its call queues): live when any of its handlers (serving that queue) is. */
  pool(node: string, pool: string, queue?: number): number {
    const g = this.graph;
    const key = poolKey(node, pool, queue);
    const found = g.find(key);
    if (found !== undefined) return found;
    const v = g.addVertex(
      {
        kind: queue === undefined ? 'pool' : 'queue',
        node,
        label: queue === undefined ? pool : `${pool} queue ${queue}`,
        pool,
        ...(queue !== undefined ? { queue } : {}),
        status: this.source.poolStatus?.(node, pool) ?? 'waiting',
        mode: 'any',
        key,
      },
      key,
    );
    const handlers = this.source.handlers(node, pool);
    // A queue is served by the handlers of that queue only, when the names say which.
    const byQueue = queue !== undefined && handlers.some((h) => this.source.queueOf(h) === queue);
    for (const h of handlers) {
      if (byQueue && this.source.queueOf(h) !== queue) continue;
      const name = this.source.nameOf(h);
      g.addEdge(v, this.thread(h), {
        kind: 'handler',
        label: `handler "${name}"`,
        evidence: [`"${name}" is a handler of ${pool}${byQueue ? ` serving queue ${queue}` : ''} on ${node}`],
      });
    }
    return v;
  }

  private group(x: Extract<WaitTarget, { to: 'group' }>): number {
    const g = this.graph;
    const found = g.find(x.key);
    if (found !== undefined) return found;
    const v = g.addVertex(
      { kind: 'group', node: x.node, label: x.label, status: 'waiting', mode: x.mode, key: x.key },
      x.key,
    );
    const present = this.source.present?.bind(this.source);
    for (const ref of x.refs) {
      if (present !== undefined && !present(ref)) continue;
      const name = this.source.nameOf(ref);
      g.addEdge(v, this.thread(ref), {
        kind: 'member',
        label: `member thread "${name}"`,
        evidence: [`"${name}" works for ${x.label}`],
      });
    }
    for (const p of x.pools ?? []) {
      g.addEdge(v, this.pool(x.node, p), { kind: 'member', label: `pool ${p}`, evidence: [`${p} serves ${x.label}`] });
    }
    return v;
  }
}
