// The online side of the same computation: a wait-for graph straight from live rollcall NodeDumps
// (what each node's admin listener serves), for a detector that runs every few hundred ms. One
// sample, so statuses come from the snapshot itself: IDLE and timer waits are idle, RUNNABLE is
// progressing, a thread waiting on an RPC, barrier or lock waits on what that names (resolved by
// RollcallLinker, exactly as `rollcall analyze` resolves rollcall dumps). Liveness and cycles are
// src/waitgraph's. The detector decides persistence (e.g. the same cycle in two rounds).
import type { NodeDump, ThreadSnapshot } from '../threads/types.js';
import {
  WaitGraph,
  analyzeGraph,
  type Cycle,
  type GraphAnalysis,
  type VertexInfo,
  type VertexStatus,
} from '../waitgraph/index.js';
import { describeCycle } from './cycles.js';
import type { DeadlockOut } from './result.js';
import { RollcallLinker, type RcTarget, type RcThreadView } from './rollcall.js';

const QUEUE_IN_NAME = /[,.]queue=(\d+)/;

export interface OnlineResult {
  /** Circular waits in this snapshot, described as `rollcall analyze` describes them. */
  deadlocks: DeadlockOut[];
  /** A stable key per deadlock (its sorted members), to tell "the same cycle as last round". */
  keys: string[];
  graph: WaitGraph<VertexInfo>;
  analysis: GraphAnalysis;
  cycles: Cycle[];
}

/**
 * Builds the graph of one snapshot of every node and finds its cycles. Reuses its graph between
 * calls (`reset()` keeps capacity), so calling it every 250 ms on a few hundred nodes stays cheap.
 */
export class OnlineDeadlockDetector {
  private readonly graph = new WaitGraph<VertexInfo>();

  check(dumps: readonly NodeDump[]): OnlineResult {
    const g = this.graph;
    g.reset();
    const views: RcThreadView[] = [];
    const snaps: ThreadSnapshot[] = [];
    const vertexOf: number[] = [];
    for (const d of dumps) {
      for (const t of d.threads) {
        const ref = views.length;
        const m = QUEUE_IN_NAME.exec(t.name);
        views.push({
          node: d.node,
          ref,
          id: t.id,
          name: t.name,
          ...(t.pool !== null ? { pool: t.pool } : {}),
          ...(m !== null ? { queue: Number(m[1]) } : {}),
          idle: t.state === 'IDLE',
          ...(t.wait !== null ? { wait: t.wait } : {}),
          ...(t.serving !== null ? { serving: t.serving } : {}),
          frames: t.frames,
          nowMs: d.monotonicMs,
        });
        snaps.push(t);
        vertexOf.push(-1);
      }
    }
    const pools = dumps.flatMap((d) => d.pools.map((p) => ({ node: d.node, name: p.name, queued: p.queued })));
    const linker = new RollcallLinker(
      views,
      pools,
      dumps.map((d) => d.node),
    );
    const poolHandlers = new Map<string, number[]>();
    views.forEach((v) => {
      if (v.pool === undefined) return;
      const key = `${v.node}\u0000${v.pool}`;
      const list = poolHandlers.get(key);
      if (list === undefined) poolHandlers.set(key, [v.ref]);
      else list.push(v.ref);
    });
    const thread = (ref: number): number => {
      if (vertexOf[ref]! >= 0) return vertexOf[ref]!;
      const v = views[ref]!;
      const id = g.addVertex({
        kind: 'thread',
        node: v.node,
        label: v.name,
        thread: v.name,
        status: statusOf(snaps[ref]!),
        ...(v.pool !== undefined ? { pool: v.pool } : {}),
      });
      vertexOf[ref] = id;
      return id;
    };
    const target = (x: RcTarget): number => {
      switch (x.to) {
        case 'thread':
          return thread(x.ref);
        case 'queue': {
          const key = `q\u0000${x.node}\u0000${x.pool}\u0000${x.queue}`;
          const found = g.find(key);
          if (found !== undefined) return found;
          const q = g.addVertex(
            {
              kind: 'queue',
              node: x.node,
              label: `${x.pool} queue ${x.queue}`,
              pool: x.pool,
              queue: x.queue,
              status: 'waiting',
              mode: 'any',
            },
            key,
          );
          const handlers = poolHandlers.get(`${x.node}\u0000${x.pool}`) ?? [];
          const byQueue = handlers.some((h) => views[h]!.queue === x.queue);
          for (const h of handlers) {
            if (byQueue && views[h]!.queue !== x.queue) continue;
            g.addEdge(q, thread(h), {
              kind: 'handler',
              label: `handler "${views[h]!.name}"`,
              evidence: [
                `"${views[h]!.name}" is a handler of ${x.pool}${byQueue ? ` serving queue ${x.queue}` : ''} on ${x.node}`,
              ],
            });
          }
          return q;
        }
        case 'group': {
          const found = g.find(x.key);
          if (found !== undefined) return found;
          const v = g.addVertex(
            { kind: 'group', node: x.node, label: x.label, status: 'waiting', mode: x.mode },
            x.key,
          );
          for (const ref of x.refs) {
            g.addEdge(v, thread(ref), {
              kind: 'member',
              label: `member thread "${views[ref]!.name}"`,
              evidence: [`"${views[ref]!.name}" works for ${x.label}`],
            });
          }
          return v;
        }
        case 'external': {
          const key = `x\u0000${x.label}`;
          return g.addVertex({ kind: 'external', node: '', label: x.label, status: 'unknown' }, key);
        }
      }
    };
    for (const v of views) {
      if (v.wait === undefined || v.idle) continue;
      const w = linker.waitOf(v);
      if (w === undefined || w.sleeping === true || w.targets.length === 0) continue;
      const from = thread(v.ref);
      const info = g.vertex(from);
      if (info.status === 'waiting') info.mode = w.mode;
      for (const x of w.targets) g.addEdge(from, target(x), x.edge);
    }
    const analysis = analyzeGraph(g);
    analysis.cycles.sort((a, b) => b.nodes.length - a.nodes.length || b.members.length - a.members.length);
    const deadlocks = analysis.cycles.map((c) => describeCycle(g, c));
    const keys = analysis.cycles.map((c) =>
      c.members
        .map((m) => `${g.vertex(m).node}/${g.vertex(m).label}`)
        .sort()
        .join('\u0000'),
    );
    return { deadlocks, keys, graph: g, analysis, cycles: analysis.cycles };
  }
}

function statusOf(t: ThreadSnapshot): VertexStatus {
  if (t.state === 'IDLE' || t.wait?.kind === 'timer') return 'idle';
  if (t.state === 'RUNNABLE') return 'progressing';
  return t.wait === null ? 'unknown' : 'waiting';
}
