// Latent deadlocks: lockdep for thread pools across nodes. One computation for two feeds — the
// runtime's predictor (src/detect/predictor.ts: every wait a logical thread enters, as it enters
// it) and `rollcall analyze --predict` (src/diagnose/predict.ts: the waits that samples of a healthy
// cluster show).
//
// Every wait is folded into a class-level edge: "a thread of pool P on a node of role R, serving
// method M, waits on X", where X is a call that needs a handler of some pool, a lock held by a thread
// of some class, or a barrier's members. Nothing has to be short of handlers for an edge to exist.
// A cycle of such edges through a bounded pool P that comes back into P through a call — a wait that
// needs a *free* handler of P, not a thread already running — is a thread-starvation deadlock
// waiting for enough concurrent requests: it fires once every handler of P can be parked on the
// cycle at once. That is P's size minus the handlers other requests hold on the cycle; when the
// requests come a fixed number per node of the calling role (one callback per region server), it is
// also a cluster size.
import { WaitGraph, type EdgeKind, type VertexInfo } from './graph.js';
import { computeLiveness } from './liveness.js';
import { findCycles } from './cycles.js';

/** A class of threads: a pool on nodes of a role, or a thread outside pools (by name). */
export interface ClassRef {
  /** Stable key; the same for the pool on every node of the role. */
  key: string;
  role: string;
  /** The pool's name as its first node shows it. */
  pool?: string;
  /** A thread outside any pool: its name (digits folded by the caller if it wants). */
  thread?: string;
}

/**
 * How a wait depends on its target: `call` needs a free handler of the target's pool (an RPC, a task
 * queued to an executor) — the only kind of wait that can starve a pool; `lock` and `barrier` wait
 * for threads that already run.
 */
export type ClassWaitKind = 'call' | 'lock' | 'barrier' | 'other';

/** One observed wait of one thread. */
export interface ClassWait {
  from: ClassRef;
  /** Node and name of the waiting thread, for evidence. */
  node: string;
  thread: string;
  /** The request its handler serves (`Orders/place`, `BackupService.sanityCheckLogRoll`), if any. */
  serving?: string;
  /** The request's identity within the epoch: a caller and call id, or the serving thread. */
  request: string;
  kind: ClassWaitKind;
  to: readonly (ClassRef & { node?: string })[];
  /** Short label: `rpc Inventory/reserve`, `barrier rolllog`, `lock <0x…> (a Foo)`. */
  waitsOn: string;
  service?: string;
  method?: string;
  /** Resolved only through a guess (a pool that serves the service, not seen serving the method). */
  guessed?: boolean;
  /** A run (runtime) or a sample round (dumps): concurrency is counted within one epoch. */
  epoch: number;
  /** The waiting thread's frames, innermost first. */
  frames: readonly string[];
}

/** A caller seen making a request (a call to `method` from `node`). */
export interface ClassCall {
  method: string;
  node: string;
  /** The caller node's role; undefined for callers outside what was observed (a client). */
  role: string | undefined;
  epoch: number;
  /** Distinct per call within the epoch. */
  key: string;
}

/** What is known of a pool's capacity; undefined from the capacity callback = not bounded, or unknown. */
export interface PoolCapacity {
  size: number;
  /** Declared by the process, a rule or the runtime's config — or only counted from the threads seen. */
  sizeFrom: 'declared' | 'threads';
  /** Whether the evidence shows the pool does not grow (a declared size, a fixed framework pool, idle threads on a bounded queue). */
  boundedSeen: boolean;
}

export interface LatentPathStep {
  /** `node/pool` (or `role/pool` for a pool on several nodes), or the thread for a class outside pools. */
  pool?: string;
  thread?: string;
  role: string;
  nodes: string[];
  serving?: string;
  waitsOn: string;
  kind: ClassWaitKind;
  service?: string;
  method?: string;
}

export interface LatentEvidence {
  /** Class labels: `master/default` waits on `master/default`. */
  from: string;
  to: string;
  serving?: string;
  waitsOn: string;
  /** Waits observed on this edge (threads × samples, or distinct calls). */
  observed: number;
  /** The first waiting thread's frames, innermost first. */
  frames: string[];
  /** `node/thread` of the threads seen waiting this way (bounded). */
  threads: string[];
  /** Epochs (sample rounds, or runs) it was seen in (bounded). */
  samples: number[];
}

/** A request on the cycle: the ones whose concurrency fires it, or ones holding handlers meanwhile. */
export interface LatentRequests {
  serving: string;
  /** Most handlers of the pool seen parked on the cycle serving it at once (in one epoch). */
  concurrency: number;
  /** Requests per caller node (most in one epoch), when they come from nodes of a calling role. */
  perNode?: number;
  callerRole?: string;
  callerNodes?: number;
  /** Counted as handlers held on the cycle by other waits (not the requests that scale). */
  held: boolean;
}

export type PredictionConfidence = 'high' | 'medium' | 'low';

export interface LatentDeadlockPrediction {
  /** The starving pool, as `node/pool` (or `role/pool` when the pool is on several nodes). */
  pool: string;
  node: string;
  role: string;
  size: number;
  /** Same as size (`rollcall rolllog --predict` has always called it so). */
  handlers: number;
  /** Around the cycle from the pool back to it: who serves what and waits on what. */
  path: LatentPathStep[];
  /** Class labels around the cycle, the first repeated at the end. */
  cycle: string[];
  /** Concurrent requests at which every handler of the pool is parked on the cycle. */
  firesAtConcurrency: number;
  /** Nodes of the calling role at which that concurrency is reached, when requests come per node. */
  firesAtNodes?: number;
  requests: LatentRequests[];
  evidence: LatentEvidence[];
  confidence: PredictionConfidence;
  /** Why the confidence is not higher (or what makes it high). */
  confidenceWhy: string;
  /** One readable sentence. */
  summary: string;
  /** How to watch it happen, where rollcall's simulator models the case. */
  confirm?: string;
}

export interface LatentPredictOptions {
  /** Only callers of this role make requests scale (the runtime's workers); default any role. */
  scalingRole?: string;
  /** How a class is named in the output; default `node/name` on one node, `role/name` on several. */
  label?: (cls: ClassRef, nodes: readonly string[]) => string;
  /** A command that confirms the prediction in the simulator, where the case is modelled there. */
  confirm?: (p: LatentDeadlockPrediction) => string | undefined;
}

/** Bounds: the graph is over classes, so it stays small; observations are counted, not all kept. */
export const MAX_CLASS_EDGES = 10_000;
export const MAX_CLASSES = 10_000;
export const MAX_REQUESTS_REMEMBERED = 1_000_000;
const MAX_THREADS_LISTED = 16;
const MAX_SAMPLES_LISTED = 32;
const MAX_EPOCHS_COUNTED = 1024;
const MAX_FRAMES_KEPT = 12;
const MAX_EVIDENCE = 16;
/** Requests of a handler that serves nothing (an executor's task): grouped under this label. */
export const UNSERVED = '(tasks)';

interface ClassInfo {
  ref: ClassRef;
  nodes: Set<string>;
}

interface EdgeAgg {
  from: string;
  to: string;
  kind: ClassWaitKind;
  waitsOn: string;
  service?: string;
  method?: string;
  /** Every observation was a guess. */
  guessed: boolean;
  observed: number;
  epochs: Set<number>;
  threads: Set<string>;
  frames: readonly string[];
  /** Per served request (UNSERVED for none): per epoch, the distinct requests. */
  requests: Map<string, Map<number, Set<string>>>;
}

/** Folds observed waits into the class graph and finds the latent deadlocks in it. */
export class LatentCycles {
  private readonly classes = new Map<string, ClassInfo>();
  private readonly edges = new Map<string, EdgeAgg>();
  /** method → epoch → caller node → call keys. */
  private readonly calls = new Map<string, Map<number, Map<string, Set<string>>>>();
  private readonly callerRoles = new Map<string, string | undefined>();
  private remembered = 0;
  /** Observations dropped at a bound (reported by callers as a note). */
  dropped = 0;

  get edgeCount(): number {
    return this.edges.size;
  }

  addWait(w: ClassWait): void {
    const from = this.classOf(w.from, w.node);
    if (from === undefined) return void this.dropped++;
    for (const t of w.to) {
      const to = this.classOf(t, t.node);
      if (to === undefined) return void this.dropped++;
      const key = `${from.ref.key}\u0000${to.ref.key}\u0000${w.kind}\u0000${w.waitsOn}`;
      let e = this.edges.get(key);
      if (e === undefined) {
        if (this.edges.size >= MAX_CLASS_EDGES) return void this.dropped++;
        e = {
          from: from.ref.key,
          to: to.ref.key,
          kind: w.kind,
          waitsOn: w.waitsOn,
          ...(w.service !== undefined ? { service: w.service } : {}),
          ...(w.method !== undefined ? { method: w.method } : {}),
          guessed: w.guessed === true,
          observed: 0,
          epochs: new Set(),
          threads: new Set(),
          frames: w.frames.slice(0, MAX_FRAMES_KEPT),
          requests: new Map(),
        };
        this.edges.set(key, e);
      }
      e.observed++;
      if (w.guessed !== true) e.guessed = false;
      if (e.epochs.size < MAX_EPOCHS_COUNTED) e.epochs.add(w.epoch);
      if (e.threads.size < MAX_THREADS_LISTED) e.threads.add(`${w.node}/${w.thread}`);
      const serving = w.serving ?? UNSERVED;
      let byEpoch = e.requests.get(serving);
      if (byEpoch === undefined) e.requests.set(serving, (byEpoch = new Map()));
      this.remember(byEpoch, w.epoch, w.request);
    }
  }

  addCall(c: ClassCall): void {
    let byEpoch = this.calls.get(c.method);
    if (byEpoch === undefined) {
      if (this.calls.size >= MAX_CLASS_EDGES) return void this.dropped++;
      this.calls.set(c.method, (byEpoch = new Map()));
    }
    let byNode = byEpoch.get(c.epoch);
    if (byNode === undefined) byEpoch.set(c.epoch, (byNode = new Map()));
    let keys = byNode.get(c.node);
    if (keys === undefined) byNode.set(c.node, (keys = new Set()));
    if (!keys.has(c.key) && this.remembered < MAX_REQUESTS_REMEMBERED) {
      keys.add(c.key);
      this.remembered++;
    }
    if (!this.callerRoles.has(c.node) && this.callerRoles.size < MAX_CLASSES) this.callerRoles.set(c.node, c.role);
  }

  /** The latent deadlocks in what was observed; [] when no cycle goes through a bounded pool. */
  predict(
    capacity: (cls: ClassRef, nodes: readonly string[]) => PoolCapacity | undefined,
    options: LatentPredictOptions = {},
  ): LatentDeadlockPrediction[] {
    const label = (key: string): string => {
      const c = this.classes.get(key)!;
      const nodes = [...c.nodes];
      if (options.label !== undefined) return options.label(c.ref, nodes);
      const name = c.ref.pool ?? c.ref.thread ?? key;
      return `${nodes.length === 1 ? nodes[0]! : c.ref.role}/${name}`;
    };
    const { sccs, out } = this.components();
    const found: LatentDeadlockPrediction[] = [];
    for (const members of sccs) {
      for (const key of members) {
        const cls = this.classes.get(key)!;
        if (cls.ref.pool === undefined) continue;
        const cap = capacity(cls.ref, [...cls.nodes]);
        if (cap === undefined || !(cap.size > 0)) continue;
        const p = this.predictPool(cls, cap, members, out, label, options);
        if (p !== undefined) found.push(p);
      }
    }
    return found.sort(
      (a, b) =>
        (a.firesAtNodes ?? Infinity) - (b.firesAtNodes ?? Infinity) ||
        a.firesAtConcurrency - b.firesAtConcurrency ||
        a.pool.localeCompare(b.pool),
    );
  }

  private classOf(ref: ClassRef, node: string | undefined): ClassInfo | undefined {
    let c = this.classes.get(ref.key);
    if (c === undefined) {
      if (this.classes.size >= MAX_CLASSES) return undefined;
      this.classes.set(ref.key, (c = { ref, nodes: new Set() }));
    }
    if (node !== undefined && c.nodes.size < MAX_CLASSES) c.nodes.add(node);
    return c;
  }

  private remember(byEpoch: Map<number, Set<string>>, epoch: number, request: string): void {
    let set = byEpoch.get(epoch);
    if (set === undefined) byEpoch.set(epoch, (set = new Set()));
    if (set.has(request) || this.remembered >= MAX_REQUESTS_REMEMBERED) return;
    set.add(request);
    this.remembered++;
  }

  /** Strongly connected sets of classes (the shared cycle search), and out-edges by class. */
  private components(): { sccs: Set<string>[]; out: Map<string, EdgeAgg[]> } {
    const g = new WaitGraph<VertexInfo>();
    const id = new Map<string, number>();
    const vertex = (key: string): number => {
      let v = id.get(key);
      if (v === undefined) {
        const c = this.classes.get(key)!;
        v = g.addVertex(
          { kind: c.ref.pool !== undefined ? 'pool' : 'thread', node: c.ref.role, label: key, status: 'waiting' },
          key,
        );
        id.set(key, v);
      }
      return v;
    };
    const out = new Map<string, EdgeAgg[]>();
    for (const e of this.edges.values()) {
      g.addEdge(vertex(e.from), vertex(e.to), { kind: EDGE_KIND[e.kind], label: e.waitsOn, evidence: [e.waitsOn] });
      let list = out.get(e.from);
      if (list === undefined) out.set(e.from, (list = []));
      list.push(e);
    }
    // Every class "waits": what is strict-non-live is everything, so the cycles are exactly the
    // strongly connected sets (with a self-loop or more than one class).
    const liveness = computeLiveness(g, { strict: true });
    const sccs = findCycles(g, liveness).map((c) => new Set(c.members.map((v) => g.vertex(v).label)));
    return { sccs, out };
  }

  private predictPool(
    cls: ClassInfo,
    cap: PoolCapacity,
    members: Set<string>,
    out: Map<string, EdgeAgg[]>,
    label: (key: string) => string,
    options: LatentPredictOptions,
  ): LatentDeadlockPrediction | undefined {
    const key = cls.ref.key;
    // Handlers of the pool parked on waits that stay inside the cycle: they can all be stuck at once.
    const inside = (out.get(key) ?? []).filter((e) => members.has(e.to));
    if (inside.length === 0) return undefined;
    const requests = this.requestsOf(cls, inside, options);
    const scaling = requests.filter((r) => !r.held);
    const held = requests.filter((r) => r.held).reduce((n, r) => n + r.concurrency, 0);
    const perNode = scaling.reduce((n, r) => n + (r.perNode ?? 0), 0);
    const firesAtConcurrency = Math.max(0, cap.size - held);
    const firesAtNodes = perNode > 0 ? Math.max(1, Math.ceil(firesAtConcurrency / perNode - 1e-9)) : undefined;
    // The cycle as a path: from the requests that fire it, back into the pool through a call.
    const starts = [...inside].sort(
      (a, b) => Number(isScaling(b, scaling)) - Number(isScaling(a, scaling)) || b.observed - a.observed,
    );
    const path = this.pathBack(key, starts, members, out);
    if (path === undefined) return undefined;
    // Evidence: the path, every wait of the pool's handlers on the cycle, and the calls into the pool
    // from the cycle (who makes the requests that scale: one caller thread per node).
    const into = [...this.edges.values()].filter((e) => e.to === key && e.kind === 'call' && members.has(e.from));
    const shown = new Set<EdgeAgg>([...path, ...inside, ...into]);
    const evidence = [...shown].slice(0, MAX_EVIDENCE).map((e) => this.evidenceOf(e, label));
    const { confidence, why } = confidenceOf(path, cap, requests);
    const pool = label(key);
    const nodes = [...cls.nodes];
    const callerRole = scaling.find((r) => r.callerRole !== undefined)?.callerRole;
    const through = [...new Set(scaling.map((r) => r.serving))].join(', ');
    const heldText = requests
      .filter((r) => r.held)
      .map((r) => `${r.concurrency} handler${r.concurrency === 1 ? '' : 's'} held by ${r.serving}`)
      .join(', ');
    const summary =
      firesAtNodes === undefined
        ? `${pool} (${cap.size} handlers) waits on itself through ${through}: deadlocks once ${firesAtConcurrency} such requests overlap`
        : `${pool} (${cap.size} handlers) waits on itself through ${through}: ${heldText || 'none held by other requests'}, ${perNode} parked call${perNode === 1 ? '' : 's'} per ${callerRole}; deadlocks from ${firesAtNodes} ${callerRole}s (${firesAtConcurrency} concurrent calls)`;
    const steps: LatentPathStep[] = path.map((e) => this.stepOf(e, label));
    const prediction: LatentDeadlockPrediction = {
      pool,
      node: nodes[0] ?? cls.ref.role,
      role: cls.ref.role,
      size: cap.size,
      handlers: cap.size,
      path: steps,
      cycle: [...path.map((e) => label(e.from)), pool],
      firesAtConcurrency,
      ...(firesAtNodes !== undefined ? { firesAtNodes } : {}),
      requests,
      evidence,
      confidence,
      confidenceWhy: why,
      summary,
    };
    const confirm = options.confirm?.(prediction);
    return confirm === undefined ? prediction : { ...prediction, confirm };
  }

  /**
   * Per request the pool's handlers serve on the cycle: how many were parked at once, and whether
   * they come per node of a calling role (then they scale with the cluster: the requests that fire
   * it) or not (then they hold handlers meanwhile). With no request that scales, every request is
   * one that fires it.
   */
  private requestsOf(cls: ClassInfo, inside: EdgeAgg[], options: LatentPredictOptions): LatentRequests[] {
    const concurrency = new Map<string, Map<number, Set<string>>>();
    for (const e of inside) {
      for (const [serving, byEpoch] of e.requests) {
        let merged = concurrency.get(serving);
        if (merged === undefined) concurrency.set(serving, (merged = new Map()));
        for (const [epoch, set] of byEpoch) {
          let m = merged.get(epoch);
          if (m === undefined) merged.set(epoch, (m = new Set()));
          for (const r of set) m.add(r);
        }
      }
    }
    const out: LatentRequests[] = [];
    for (const [serving, byEpoch] of concurrency) {
      let most = 0;
      for (const set of byEpoch.values()) most = Math.max(most, set.size);
      const callers = serving === UNSERVED ? undefined : this.callersOf(serving, cls, options);
      out.push({
        serving,
        concurrency: most,
        ...(callers !== undefined
          ? { perNode: callers.perNode, callerRole: callers.role, callerNodes: callers.nodes }
          : {}),
        held: callers === undefined,
      });
    }
    if (out.every((r) => r.held)) for (const r of out) r.held = false;
    return out.sort((a, b) => Number(a.held) - Number(b.held) || b.concurrency - a.concurrency);
  }

  /** Callers of a request on nodes of one role other than the pool's own node: requests per node. */
  private callersOf(
    method: string,
    cls: ClassInfo,
    options: LatentPredictOptions,
  ): { role: string; nodes: number; perNode: number } | undefined {
    const byEpoch = this.calls.get(method);
    if (byEpoch === undefined) return undefined;
    // A pool on one node: its own node's callers are local, not the cluster's. A pool on every node
    // of a role (peers calling peers): every caller counts.
    const own = cls.nodes.size === 1 ? cls.nodes : new Set<string>();
    const nodesOfRole = new Map<string, Set<string>>();
    for (const byNode of byEpoch.values()) {
      for (const node of byNode.keys()) {
        const role = this.callerRoles.get(node);
        if (role === undefined || own.has(node)) continue;
        if (options.scalingRole !== undefined && role !== options.scalingRole) continue;
        let set = nodesOfRole.get(role);
        if (set === undefined) nodesOfRole.set(role, (set = new Set()));
        set.add(node);
      }
    }
    let role: string | undefined;
    let nodes = new Set<string>();
    for (const [r, set] of nodesOfRole) {
      if (set.size > nodes.size) {
        role = r;
        nodes = set;
      }
    }
    if (role === undefined) return undefined;
    let perNode = 0;
    for (const byNode of byEpoch.values()) {
      for (const [node, keys] of byNode) if (nodes.has(node)) perNode = Math.max(perNode, keys.size);
    }
    return { role, nodes: nodes.size, perNode };
  }

  /** A simple path from the pool's requests back into the pool through a call (BFS, inside the cycle). */
  private pathBack(
    key: string,
    starts: EdgeAgg[],
    members: Set<string>,
    out: Map<string, EdgeAgg[]>,
  ): EdgeAgg[] | undefined {
    const entersPool = (e: EdgeAgg) => e.to === key && e.kind === 'call';
    for (const start of starts) {
      if (entersPool(start)) return [start];
      if (start.to === key) continue;
      const parent = new Map<string, EdgeAgg>([[start.to, start]]);
      const queue = [start.to];
      for (let head = 0; head < queue.length; head++) {
        const v = queue[head]!;
        for (const e of out.get(v) ?? []) {
          if (!members.has(e.to)) continue;
          if (entersPool(e)) {
            const path = [e];
            for (let at = v; ;) {
              const p = parent.get(at)!;
              path.push(p);
              if (p === start) break;
              at = p.from;
            }
            return path.reverse();
          }
          if (e.to === key || parent.has(e.to)) continue;
          parent.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    return undefined;
  }

  private stepOf(e: EdgeAgg, label: (key: string) => string): LatentPathStep {
    const c = this.classes.get(e.from)!;
    const servings = [...e.requests.keys()].filter((s) => s !== UNSERVED);
    return {
      ...(c.ref.pool !== undefined ? { pool: label(e.from) } : { thread: label(e.from) }),
      role: c.ref.role,
      nodes: [...c.nodes].slice(0, MAX_THREADS_LISTED),
      ...(servings.length > 0 ? { serving: servings.join(', ') } : {}),
      waitsOn: e.waitsOn,
      kind: e.kind,
      ...(e.service !== undefined ? { service: e.service } : {}),
      ...(e.method !== undefined ? { method: e.method } : {}),
    };
  }

  private evidenceOf(e: EdgeAgg, label: (key: string) => string): LatentEvidence {
    const servings = [...e.requests.keys()].filter((s) => s !== UNSERVED);
    return {
      from: label(e.from),
      to: label(e.to),
      ...(servings.length > 0 ? { serving: servings.join(', ') } : {}),
      waitsOn: e.waitsOn,
      observed: e.observed,
      frames: [...e.frames],
      threads: [...e.threads],
      samples: [...e.epochs].sort((a, b) => a - b).slice(0, MAX_SAMPLES_LISTED),
    };
  }
}

const EDGE_KIND: Record<ClassWaitKind, EdgeKind> = { call: 'rpc', lock: 'lock', barrier: 'barrier', other: 'other' };

function isScaling(e: EdgeAgg, scaling: LatentRequests[]): boolean {
  return scaling.some((r) => e.requests.has(r.serving));
}

/**
 * High: every edge of the path seen more than once (two samples or two threads), none resting on a
 * guess, and a pool that does not grow with a known size. Each shortfall lowers it and says why.
 */
function confidenceOf(
  path: EdgeAgg[],
  cap: PoolCapacity,
  requests: LatentRequests[],
): { confidence: PredictionConfidence; why: string } {
  const why: string[] = [];
  let level = 2;
  const lower = (to: number, reason: string) => {
    level = Math.min(level, to);
    why.push(reason);
  };
  if (!cap.boundedSeen) lower(0, 'the samples never showed the pool idle on a bounded queue: it may grow on demand');
  if (path.some((e) => e.guessed))
    lower(
      1,
      'a call is linked to a pool never seen serving that method (one serving its service, or the default pool)',
    );
  if (path.some((e) => e.epochs.size < 2 && e.threads.size < 2))
    lower(1, 'a wait on the path was seen once only (one thread, one sample)');
  if (cap.sizeFrom === 'threads') why.push(`the size is the ${cap.size} threads seen (declare it with a rules "size")`);
  if (requests.some((r) => r.perNode !== undefined && r.perNode > 1))
    why.push('several requests per caller node at once');
  const confidence: PredictionConfidence = level === 2 ? 'high' : level === 1 ? 'medium' : 'low';
  return {
    confidence,
    why:
      why.length > 0
        ? why.join('; ')
        : 'every wait on the path seen more than once, the pool bounded with a declared size',
  };
}
