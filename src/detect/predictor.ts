// Latent-deadlock prediction: lockdep for thread pools across nodes.
//
// While a (small, healthy) cluster runs, every wait that a logical thread enters is folded into a
// class-level graph: "a handler of pool P on role R, serving method M, waited on X", where X is the
// pool that serves an RPC method on the target's role, or the pool that runs a barrier's members.
// Nothing has to be short of handlers for an edge to be recorded. A cycle in that graph through a
// bounded pool P is a latent thread-starvation deadlock: it fires once the handlers of P that can
// be parked on the cycle at the same time reach P's size. Edges whose callers scale with cluster
// size (one call per worker per procedure) give the cluster size at which that happens.
import type { LogicalThread, WaitDescriptor } from '../threads/index.js';
import { WaitGraph, analyzeGraph, cycleSteps, type VertexInfo } from '../waitgraph/index.js';

/** What the predictor must know about the cluster it watches. */
export interface PredictorTopology {
  /** The role of a node by name (master, worker), or undefined for nodes outside the cluster. */
  roleOf(node: string): string | undefined;
  /** The pool that serves `method` on nodes of `role` (the RPC server's routing table). */
  poolFor(role: string, method: string): string | undefined;
  /** Handler count of a bounded pool. */
  poolSize(role: string, pool: string): number | undefined;
  /** Where a barrier's members run their part: the member role and its subprocedure pool. */
  barrierMembers(procedure: string): { role: string; pool: string } | undefined;
  /** The role whose node count is "the cluster size" (workers). */
  scalingRole: string;
  /** How many nodes of scalingRole the observed run had. */
  scalingNodes(): number;
}

export interface PredictionEvidence {
  /** `master/default` waits on `master/default`. */
  from: string;
  to: string;
  /** The method the waiting handler was serving, when it was a handler. */
  serving?: string;
  /** What it waited on: `rpc Master.readBackupTable → master`, `barrier rolllog`. */
  waitsOn: string;
  /** Distinct waits observed on this edge. */
  observed: number;
  /** The waiting thread's frames (innermost first) at the first observation. */
  frames: string[];
}

export interface Prediction {
  /** Class-level vertices around the cycle: `master/default`, `worker/member`, … */
  cycle: string[];
  /** The bounded pool that starves: `master/default`. */
  pool: string;
  handlers: number;
  /** Handlers of the pool that are free for the scaling calls: the concurrency that fires it. */
  firesAtConcurrency: number;
  /** Smallest cluster size (nodes of the scaling role) that reaches that concurrency; null if it does not scale. */
  firesAtNodes: number | null;
  evidence: PredictionEvidence[];
  /** One readable sentence. */
  summary: string;
}

interface EdgeRecord {
  from: string;
  to: string;
  waitsOn: string;
  frames: string[];
  observed: number;
  /** Per serving method: the distinct calls seen (callerNode#callId) and the callers' roles. */
  serving: Map<string, { calls: Set<string>; callerRoles: Set<string> }>;
  /** Waits by threads that serve nothing (coordinator threads, timers): counted per occurrence. */
  unserved: number;
}

/** Bound on distinct class edges and on remembered calls (the graph is over classes, so it stays small). */
export const MAX_CLASS_EDGES = 10_000;
export const MAX_CALLS_REMEMBERED = 1_000_000;

export class LatentDeadlockPredictor {
  private readonly edges = new Map<string, EdgeRecord>();
  private callsRemembered = 0;
  private runs = 0;

  constructor(private readonly topology: PredictorTopology) {}

  /** Call once per procedure run observed (the per-run call counts are averages over runs). */
  countRun(): void {
    this.runs++;
  }

  /** A ThreadRegistry wait observer for `node`: `registry.addWaitObserver(predictor.observer(node))`. */
  observer(node: string): (thread: LogicalThread, wait: WaitDescriptor) => void {
    return (thread, wait) => this.record(node, thread, wait);
  }

  record(node: string, thread: LogicalThread, wait: WaitDescriptor): void {
    const role = this.topology.roleOf(node);
    if (role === undefined) return;
    const from = classOf(role, thread);
    const targets = this.targetsOf(wait).filter(
      // A member waiting for the global barrier waits on the coordinator, not on its peers' pool.
      (t) => !(wait.kind === 'barrier' && t.to === from),
    );
    for (const { to, waitsOn } of targets) {
      const key = `${from}\u0000${to}\u0000${waitsOn}`;
      let e = this.edges.get(key);
      if (!e) {
        if (this.edges.size >= MAX_CLASS_EDGES) return;
        e = { from, to, waitsOn, frames: [...thread.frames].reverse(), observed: 0, serving: new Map(), unserved: 0 };
        this.edges.set(key, e);
      }
      e.observed++;
      const s = thread.serving;
      if (s) {
        let m = e.serving.get(s.method);
        if (!m) {
          m = { calls: new Set(), callerRoles: new Set() };
          e.serving.set(s.method, m);
        }
        if (this.callsRemembered < MAX_CALLS_REMEMBERED && !m.calls.has(`${s.callerNode}#${s.callId}`)) {
          m.calls.add(`${s.callerNode}#${s.callId}`);
          this.callsRemembered++;
        }
        m.callerRoles.add(this.topology.roleOf(s.callerNode) ?? 'client');
      } else {
        e.unserved++;
      }
    }
  }

  /** The latent deadlocks in what was observed so far; [] when the class graph has no cycle through a bounded pool. */
  predictions(): Prediction[] {
    const g = new WaitGraph<VertexInfo>();
    const vid = (cls: string): number =>
      g.addVertex(
        { kind: cls.includes('/thread:') ? 'thread' : 'pool', node: cls.split('/')[0]!, label: cls, status: 'waiting' },
        cls,
      );
    const edgeOf = new Map<string, EdgeRecord[]>();
    for (const e of this.edges.values()) {
      const a = vid(e.from);
      const b = vid(e.to);
      g.addEdge(a, b, {
        kind: 'other',
        label: e.waitsOn,
        evidence: e.frames.length ? e.frames.slice(0, 8) : [e.waitsOn],
      });
      const k = `${e.from}\u0000${e.to}`;
      edgeOf.set(k, [...(edgeOf.get(k) ?? []), e]);
    }
    // Every class vertex is "waiting": the cycles are exactly the strongly connected parts.
    const { cycles } = analyzeGraph(g, { strict: true });
    const out: Prediction[] = [];
    for (const cycle of cycles) {
      const members = new Set(cycle.members.map((m) => g.vertex(m).label));
      const steps = cycleSteps(g, cycle);
      const path = steps.map((s) => s.from.label);
      for (const pool of members) {
        const [role, poolName] = splitClass(pool);
        if (poolName === undefined || poolName.startsWith('thread:')) continue;
        const handlers = this.topology.poolSize(role, poolName);
        if (handlers === undefined) continue;
        const p = this.predictForPool(pool, handlers, members, edgeOf);
        if (p) out.push({ ...p, cycle: rotateTo(path, pool) });
      }
    }
    return out.sort((a, b) => (a.firesAtNodes ?? Infinity) - (b.firesAtNodes ?? Infinity));
  }

  private predictForPool(
    pool: string,
    handlers: number,
    members: Set<string>,
    edgeOf: Map<string, EdgeRecord[]>,
  ): Omit<Prediction, 'cycle'> | undefined {
    // Handlers of `pool` parked on waits that stay inside the cycle: those are the ones that can
    // all be stuck at once. Split them into calls that scale with the cluster and fixed ones.
    const runs = Math.max(1, this.runs);
    const scalingNodes = Math.max(1, this.topology.scalingNodes());
    let fixedPerRun = 0;
    let scalingPerNode = 0;
    const evidence: PredictionEvidence[] = [];
    for (const [k, records] of edgeOf) {
      const [from, to] = k.split('\u0000') as [string, string];
      if (from !== pool || !members.has(to)) continue;
      for (const e of records) {
        for (const [method, m] of e.serving) {
          const perRun = m.calls.size / runs;
          if (m.callerRoles.has(this.topology.scalingRole)) scalingPerNode += perRun / scalingNodes;
          else fixedPerRun += perRun;
          evidence.push({ from, to, serving: method, waitsOn: e.waitsOn, observed: m.calls.size, frames: e.frames });
        }
      }
    }
    if (evidence.length === 0) return undefined;
    // Edges elsewhere on the cycle explain why the pool's waits come back to it.
    for (const [k, records] of edgeOf) {
      const [from, to] = k.split('\u0000') as [string, string];
      if (from === pool || !members.has(from) || !members.has(to)) continue;
      for (const e of records) {
        const serving = [...e.serving.keys()][0];
        evidence.push({
          from,
          to,
          ...(serving ? { serving } : {}),
          waitsOn: e.waitsOn,
          observed: e.observed,
          frames: e.frames,
        });
      }
    }
    const fixed = Math.round(fixedPerRun);
    const firesAtConcurrency = Math.max(0, handlers - fixed);
    const firesAtNodes = scalingPerNode > 0 ? Math.max(1, Math.ceil(firesAtConcurrency / scalingPerNode - 1e-9)) : null;
    const outer = evidence.filter((e) => e.from === pool && e.serving).map((e) => e.serving);
    const summary =
      firesAtNodes === null
        ? `${pool} (${handlers} handlers) waits on itself through ${[...new Set(outer)].join(', ')}: deadlocks once ${firesAtConcurrency} such calls overlap`
        : `${pool} (${handlers} handlers) waits on itself through ${[...new Set(outer)].join(', ')}: ${fixed} handler(s) held per run, ${scalingPerNode.toFixed(2)} parked call(s) per ${this.topology.scalingRole}; deadlocks from ${firesAtNodes} ${this.topology.scalingRole}s (${firesAtConcurrency} concurrent calls)`;
    return { pool, handlers, firesAtConcurrency, firesAtNodes, evidence, summary };
  }

  private targetsOf(wait: WaitDescriptor): { to: string; waitsOn: string }[] {
    switch (wait.kind) {
      case 'rpc': {
        const role = this.topology.roleOf(wait.target);
        if (role === undefined) return [];
        const pool = this.topology.poolFor(role, wait.method);
        if (pool === undefined) return [];
        return [{ to: `${role}/${pool}`, waitsOn: `rpc ${wait.method} → ${role}` }];
      }
      case 'barrier': {
        if (wait.phase === 'completed') return [];
        const m = this.topology.barrierMembers(wait.procedure);
        return m ? [{ to: `${m.role}/${m.pool}`, waitsOn: `barrier ${wait.procedure}` }] : [];
      }
      case 'lock':
        if (!wait.owner) return [];
        return [];
      default:
        // Timers are sleeps, io is local, queue waits are for work: none is a dependency on a pool.
        return [];
    }
  }
}

function classOf(role: string, thread: LogicalThread): string {
  if (thread.pool) return `${role}/${thread.pool}`;
  // Threads outside pools are classed by their name with digits folded (worker-thread-3 → worker-thread-N).
  return `${role}/thread:${thread.name.replace(/\d+/g, 'N')}`;
}

function splitClass(cls: string): [string, string | undefined] {
  const i = cls.indexOf('/');
  return i < 0 ? [cls, undefined] : [cls.slice(0, i), cls.slice(i + 1)];
}

function rotateTo(path: string[], start: string): string[] {
  const i = path.indexOf(start);
  const rotated = i <= 0 ? [...path] : [...path.slice(i), ...path.slice(0, i)];
  return [...rotated, rotated[0]!];
}
