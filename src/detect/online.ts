// The online side of the deadlock computation: a wait-for graph straight from live rollcall
// NodeDumps (what each node's admin listener serves), for a detector that runs every few hundred
// ms. One sample, so statuses come from the snapshot itself: IDLE and timer waits are idle,
// RUNNABLE is progressing, a thread waiting on an RPC, barrier or lock waits on what that names
// (resolved by RollcallLinker, exactly as `rollcall analyze` resolves rollcall dumps, and drawn by
// the same WaitGraphBuilder). Liveness and cycles are src/waitgraph's. The detector decides
// persistence (e.g. the same cycle in two rounds).
import { formatWait } from '../threads/text.js';
import type { NodeDump, ThreadSnapshot } from '../threads/types.js';
import {
  RollcallLinker,
  WaitGraph,
  WaitGraphBuilder,
  analyzeGraph,
  describeCycle,
  type Cycle,
  type DeadlockOut,
  type GraphAnalysis,
  type RcThreadView,
  type VertexInfo,
  type VertexStatus,
} from '../waitgraph/index.js';

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
    for (const d of dumps) {
      for (const t of d.threads) {
        const m = QUEUE_IN_NAME.exec(t.name);
        views.push({
          node: d.node,
          ref: views.length,
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
      }
    }
    const pools = dumps.flatMap((d) => d.pools.map((p) => ({ node: d.node, name: p.name, queued: p.queued })));
    const linker = new RollcallLinker(
      views,
      pools,
      dumps.map((d) => d.node),
      formatWait,
    );
    const poolHandlers = new Map<string, number[]>();
    for (const v of views) {
      if (v.pool === undefined) continue;
      const key = `${v.node}\u0000${v.pool}`;
      const list = poolHandlers.get(key);
      if (list === undefined) poolHandlers.set(key, [v.ref]);
      else list.push(v.ref);
    }
    const builder = new WaitGraphBuilder(g, {
      thread: (ref) => {
        const v = views[ref]!;
        return {
          kind: 'thread',
          node: v.node,
          label: v.name,
          thread: v.name,
          status: statusOf(snaps[ref]!),
          ...(v.pool !== undefined ? { pool: v.pool } : {}),
        };
      },
      handlers: (node, pool) => poolHandlers.get(`${node}\u0000${pool}`) ?? [],
      queueOf: (ref) => views[ref]!.queue,
      nameOf: (ref) => views[ref]!.name,
    });
    for (const v of views) {
      if (v.wait === undefined || v.idle) continue;
      const w = linker.waitOf(v);
      if (w === undefined || w.sleeping === true) continue;
      builder.add({ from: v.ref, mode: w.mode, targets: w.targets });
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
