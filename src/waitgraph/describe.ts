// How a cycle of the wait-for graph is reported: the chain of steps with the evidence of each edge,
// the nodes it spans, its kind (a Java lock cycle, a pool starving itself, or a wait across nodes)
// and what else is stuck behind it. Shared by `rollcall analyze` and the online detector; the
// report's shape is part of `rollcall analyze --json` (field names are fixed).
import type { Cycle } from './cycles.js';
import type { VertexInfo, WaitGraph } from './graph.js';

export type DeadlockKind = 'java-monitor' | 'java-lock' | 'pool-starvation' | 'distributed';

export interface CycleStepOut {
  node: string;
  thread?: string;
  pool?: string;
  /** What this vertex waits for: `node/thread` or `node/pool`. */
  waitsFor: string;
  /** The edge: `waiting to lock <0x…> held by "…"`, `rpc checkRoll → master (…)`. */
  via: string;
  /** A synchronous call: the service and method called, when known. */
  service?: string;
  method?: string;
  evidence: string[];
}

export interface DeadlockOut {
  kind: DeadlockKind;
  nodes: string[];
  /** One simple cycle through the deadlocked set, readable as a chain. */
  cycle: CycleStepOut[];
  /** Every thread and pool of the strongly connected set (`node/name`), bounded. */
  members: string[];
  memberCount: number;
  /** Threads (and pools) not in the cycle but waiting on it, bounded. */
  blockedBehind: string[];
  blockedBehindCount: number;
  /** The JVM printed this deadlock in its own section. */
  jvmReported: boolean;
}

/** Members and dependents listed per deadlock (the counts are complete). */
export const MAX_MEMBERS_LISTED = 200;

export function vertexName(g: WaitGraph<VertexInfo>, v: number): string {
  const info = g.vertex(v);
  return info.node.length > 0 ? `${info.node}/${info.label}` : info.label;
}

export function describeCycle(g: WaitGraph<VertexInfo>, c: Cycle): DeadlockOut {
  const cycle: CycleStepOut[] = c.edges.map((e) => {
    const from = g.vertex(g.edgeSource(e));
    const edge = g.edge(e);
    return {
      node: from.node,
      ...(from.kind === 'thread' ? { thread: from.label } : { pool: from.label }),
      waitsFor: vertexName(g, g.edgeTarget(e)),
      via: edge.label,
      ...(edge.service !== undefined ? { service: edge.service } : {}),
      ...(edge.method !== undefined ? { method: edge.method } : {}),
      evidence: [...edge.evidence],
    };
  });
  return {
    kind: cycleKind(g, c),
    nodes: c.nodes,
    cycle,
    members: c.members.slice(0, MAX_MEMBERS_LISTED).map((v) => vertexName(g, v)),
    memberCount: c.members.length,
    blockedBehind: c.dependents.slice(0, MAX_MEMBERS_LISTED).map((v) => vertexName(g, v)),
    blockedBehindCount: c.dependents.length,
    jvmReported: false,
  };
}

/**
 * Java monitor / j.u.c. lock cycles when every edge of the component is a lock edge; otherwise a
 * distributed deadlock when it spans nodes, a pool starving itself when it goes through a pool.
 */
export function cycleKind(g: WaitGraph<VertexInfo>, c: Cycle): DeadlockKind {
  const memberSet = new Set(c.members);
  let monitor = true;
  let locks = true;
  const check = (kind: string) => {
    if (kind !== 'monitor') monitor = false;
    if (kind !== 'monitor' && kind !== 'lock') locks = false;
  };
  for (const e of c.edges) check(g.edge(e).kind);
  for (const m of c.members) if (g.vertex(m).kind !== 'thread') locks = monitor = false;
  if (monitor) return 'java-monitor';
  if (locks) return 'java-lock';
  if (c.nodes.length > 1) return 'distributed';
  for (const m of memberSet) {
    const k = g.vertex(m).kind;
    if (k === 'pool' || k === 'queue') return 'pool-starvation';
  }
  return 'distributed';
}
