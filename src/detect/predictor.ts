// Latent-deadlock prediction at run time: lockdep for thread pools across nodes.
//
// While a (small, healthy) cluster runs, every wait that a logical thread enters is folded into the
// class graph shared with `rollcall analyze --predict` (src/waitgraph/latent.ts): "a handler of pool
// P on role R, serving method M, waited on X", where X is the pool that serves an RPC method on the
// target's role, or the pool that runs a barrier's members. Nothing has to be short of handlers for
// an edge to be recorded. Every run is one epoch: the requests a run makes count as concurrent (a
// barrier releases its members together), and the callers' nodes say which requests scale with the
// cluster (one callback per worker per procedure) — which turns the pool's threshold into a cluster
// size.
import type { LogicalThread, WaitDescriptor } from '../threads/index.js';
import {
  LatentCycles,
  simulateCommand,
  type ClassRef,
  type ClassWaitKind,
  type LatentDeadlockPrediction,
  type LatentEvidence,
} from '../waitgraph/index.js';

export { MAX_CLASS_EDGES } from '../waitgraph/index.js';

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

/** One prediction: the shape `rollcall analyze --predict` gives too. */
export type Prediction = LatentDeadlockPrediction;
export type PredictionEvidence = LatentEvidence;

export class LatentDeadlockPredictor {
  private readonly classes = new LatentCycles();
  private runs = 0;

  constructor(private readonly topology: PredictorTopology) {}

  /** Call once per procedure run observed: the waits since the last call were one run. */
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
      (t) => !(wait.kind === 'barrier' && t.to.key === from.key),
    );
    const s = thread.serving;
    for (const { to, kind, waitsOn } of targets) {
      this.classes.addWait({
        from,
        node,
        thread: thread.name,
        ...(s ? { serving: s.method } : {}),
        request: s ? `${s.callerNode}#${s.callId}` : `${node}#t${thread.id}`,
        kind,
        to: [to],
        waitsOn,
        ...(wait.kind === 'rpc' ? { method: wait.method } : {}),
        epoch: this.runs,
        frames: [...thread.frames].reverse(),
      });
    }
    if (s && targets.length > 0) {
      this.classes.addCall({
        method: s.method,
        node: s.callerNode,
        role: this.topology.roleOf(s.callerNode),
        epoch: this.runs,
        key: `${s.callerNode}#${s.callId}`,
      });
    }
  }

  /** The latent deadlocks in what was observed so far; [] when the class graph has no cycle through a bounded pool. */
  predictions(): Prediction[] {
    return this.classes.predict(
      (cls) => {
        const size = cls.pool === undefined ? undefined : this.topology.poolSize(cls.role, cls.pool);
        return size === undefined ? undefined : { size, sizeFrom: 'declared', boundedSeen: true };
      },
      {
        scalingRole: this.topology.scalingRole,
        // Classes are per role here (the routing table is), whichever nodes were seen.
        label: (cls) => `${cls.role}/${cls.pool ?? cls.thread ?? cls.key}`,
        confirm: simulateCommand,
      },
    );
  }

  private targetsOf(wait: WaitDescriptor): { to: ClassRef; kind: ClassWaitKind; waitsOn: string }[] {
    switch (wait.kind) {
      case 'rpc': {
        const role = this.topology.roleOf(wait.target);
        if (role === undefined) return [];
        const pool = this.topology.poolFor(role, wait.method);
        if (pool === undefined) return [];
        return [{ to: poolClass(role, pool), kind: 'call', waitsOn: `rpc ${wait.method} → ${role}` }];
      }
      case 'barrier': {
        if (wait.phase === 'completed') return [];
        const m = this.topology.barrierMembers(wait.procedure);
        return m ? [{ to: poolClass(m.role, m.pool), kind: 'barrier', waitsOn: `barrier ${wait.procedure}` }] : [];
      }
      default:
        // Timers are sleeps, io is local, queue waits are for work, and a lock's owner is a thread
        // that already runs: none is a wait for a pool's handler.
        return [];
    }
  }
}

const poolClass = (role: string, pool: string): ClassRef => ({ key: `${role}/${pool}`, role, pool });

function classOf(role: string, thread: LogicalThread): ClassRef {
  if (thread.pool) return poolClass(role, thread.pool);
  // Threads outside pools are classed by their name with digits folded (worker-thread-3 → worker-thread-N).
  const name = thread.name.replace(/\d+/g, 'N');
  return { key: `${role}/thread:${name}`, role, thread: name };
}
