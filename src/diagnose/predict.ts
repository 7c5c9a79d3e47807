// `rollcall analyze --predict`: the waits that samples of a (healthy) cluster show, folded into the
// class graph of the runtime's predictor (src/waitgraph/latent.ts) — one predictor for both.
//
// Each busy waiting thread of each sample becomes a class-level wait: its class (its pool on a node
// of its role — the same pool on every node of the role is one class — or its name outside pools),
// the request it serves (the method its dispatch frames or rollcall's `serving` name), and what it
// waits on: a blocking call to a service/method, linked to the pools seen serving that method (else
// that service: a guess, said so), a lock's owner, a barrier's member threads, what a rule names.
// Callers seen calling a method (a client stub blocked on it, rollcall's `caller=`) say which
// requests come per node of a calling role. A sample is one epoch: concurrency is what one sample
// shows at once. Waits are collected as rounds stream in and linked at the end, once every sample
// has shown who serves what.
import type { ThreadDump } from '../dumps/model.js';
import {
  LatentCycles,
  simulateCommand,
  type ClassRef,
  type ClassWaitKind,
  type EdgeInfo,
  type LatentDeadlockPrediction,
  type PoolCapacity,
  type WaitTarget,
} from '../waitgraph/index.js';
import { ABSENT, type AnalysisState, type NodeState, type RoundWaits, type ServiceCall } from './model.js';
import { siteName } from './services.js';
import type { IngestedDump } from './tracks.js';
import { isRollcall, type WaitFinder } from './waits.js';

/** Bound on waits and callers kept between a round and the end of the analysis. */
export const MAX_FOLDED_WAITS = 1_000_000;
const MAX_FRAMES = 12;
/** Pool families whose size is fixed by design (HBase and Hadoop handler counts, rollcall's pools). */
const FIXED_FAMILIES = new Set(['hbase', 'hadoop', 'rollcall']);
/** rollcall's RPC pool for every method not routed elsewhere (HBase's default call executor). */
const DEFAULT_POOL = 'default';

interface PendingBase {
  r: number;
  from: number;
  serving?: string;
  request: string;
  frames: string[];
}

type Pending =
  | (PendingBase & { kind: 'spec'; targets: WaitTarget[]; label?: string })
  | (PendingBase & { kind: 'rollcall-call'; target: string; method: string })
  | (PendingBase & { kind: 'service-call'; call: ServiceCall });

interface PendingCall {
  r: number;
  method: string;
  node: string;
  key: string;
}

export class LatentFolder {
  private readonly pending: Pending[] = [];
  private readonly callers: PendingCall[] = [];
  /** Method → node index → pools seen serving it (dispatch frames, rollcall `serving`, queued calls). */
  private readonly servedBy = new Map<string, Map<number, Set<string>>>();
  private dropped = 0;
  private readonly folded = new Map<string, Map<string, string>>();
  /** Class key → where its pools are (for their capacity). */
  private readonly poolsOfClass = new Map<string, { node: NodeState; pool: string }[]>();

  constructor(private readonly state: AnalysisState) {}

  /** Collects round r's waits, what its threads serve and who calls what. */
  round(inRound: readonly IngestedDump[], r: number, waits: RoundWaits): void {
    const state = this.state;
    const threadOf = new Map<number, ThreadDump>();
    const serving = new Map<number, { serving: string; request: string }>();
    for (const { node, dump, trackOf, facts } of inRound) {
      const rollcall = isRollcall(dump);
      dump.threads.forEach((t, i) => {
        const ti = trackOf[i]!;
        threadOf.set(ti, t);
        const pool = state.tracks[ti]!.membership?.pool;
        if (rollcall) {
          const s = t.rollcall?.serving;
          const w = t.rollcall?.wait;
          if (s !== undefined) {
            const caller = state.canon(s.callerNode);
            this.learn(s.method, node, pool);
            serving.set(ti, { serving: s.method, request: `${caller}#${s.callId}` });
            this.call({ r, method: s.method, node: caller, key: `${caller}#${s.callId}` });
          }
          if (w?.kind === 'rpc') this.call({ r, method: w.method, node: node.name, key: `${node.name}#${w.callId}` });
          return;
        }
        const served = facts[i]!.serves;
        if (served === undefined) return;
        const method = siteName(served);
        this.learn(method, node, pool);
        serving.set(ti, { serving: method, request: `t${ti}` });
      });
      if (!rollcall) continue;
      for (const p of dump.pools ?? []) {
        for (const q of p.queued) {
          const caller = state.canon(q.callerNode);
          this.learn(q.method, node, p.name);
          this.call({ r, method: q.method, node: caller, key: `${caller}#${q.callId}` });
        }
      }
    }
    const base = (from: number): PendingBase => {
      const t = threadOf.get(from);
      const s = serving.get(from);
      return {
        r,
        from,
        ...(s !== undefined ? { serving: s.serving } : {}),
        request: s?.request ?? `t${from}`,
        frames: t === undefined ? [] : t.frames.slice(0, MAX_FRAMES).map((f) => f.text),
      };
    };
    for (const spec of waits.specs) {
      const w = threadOf.get(spec.from)?.rollcall?.wait;
      if (w?.kind === 'rpc')
        this.keep({ ...base(spec.from), kind: 'rollcall-call', target: state.canon(w.target), method: w.method });
      else
        this.keep({
          ...base(spec.from),
          kind: 'spec',
          targets: spec.targets,
          ...(w?.kind === 'barrier' ? { label: `barrier ${w.procedure}` } : {}),
        });
    }
    for (const c of waits.calls) {
      this.keep({ ...base(c.from), kind: 'service-call', call: c });
      const node = state.nodes[state.tracks[c.from]!.node]!.name;
      this.call({ r, method: siteName(c.call), node, key: `t${c.from}` });
    }
  }

  /** Links the collected waits (every sample has shown who serves what) and predicts. */
  predict(waits: WaitFinder): LatentDeadlockPrediction[] {
    const state = this.state;
    const core = new LatentCycles();
    for (const p of this.pending) {
      const from = this.classOfTrack(p.from);
      const t = state.tracks[p.from]!;
      const common = {
        from,
        node: state.nodes[t.node]!.name,
        thread: t.name,
        ...(p.serving !== undefined ? { serving: p.serving } : {}),
        request: p.request,
        epoch: p.r,
        frames: p.frames,
      };
      for (const w of this.targetsOf(p, waits)) core.addWait({ ...common, ...w });
    }
    for (const c of this.callers) {
      const node = state.nodeByName.get(c.node);
      core.addCall({
        method: c.method,
        node: c.node,
        role: node === undefined ? undefined : roleOf(node),
        epoch: c.r,
        key: c.key,
      });
    }
    const predictions = core.predict((cls) => this.capacity(cls), {
      // rollcall's own nodes: the simulator runs the same code, so it can show the cliff.
      confirm: (p) => (state.nodeByName.get(p.node)?.format.startsWith('rollcall') ? simulateCommand(p) : undefined),
    });
    const dropped = this.dropped + core.dropped;
    state.notes.add(
      `--predict: ${this.pending.length} waits in ${state.roundCount} sample${state.roundCount === 1 ? '' : 's'} folded into ${core.edgeCount} class-level edge${core.edgeCount === 1 ? '' : 's'}` +
        (dropped > 0 ? ` (${dropped} past the bounds not folded)` : '') +
        (predictions.length === 0 ? '; a wait is seen only when a sample catches it: more rounds see more' : ''),
    );
    return predictions;
  }

  private keep(p: Pending): void {
    if (this.pending.length >= MAX_FOLDED_WAITS) this.dropped++;
    else this.pending.push(p);
  }

  private call(c: PendingCall): void {
    if (this.callers.length >= MAX_FOLDED_WAITS) this.dropped++;
    else this.callers.push(c);
  }

  private learn(method: string, node: NodeState, pool: string | undefined): void {
    if (pool === undefined) return;
    let byNode = this.servedBy.get(method);
    if (byNode === undefined) {
      if (this.servedBy.size >= MAX_FOLDED_WAITS) return;
      this.servedBy.set(method, (byNode = new Map()));
    }
    let pools = byNode.get(node.index);
    if (pools === undefined) byNode.set(node.index, (pools = new Set()));
    pools.add(pool);
  }

  /** What a pending wait waits on, as classes: one entry per kind of target. */
  private targetsOf(
    p: Pending,
    waits: WaitFinder,
  ): { to: ClassRef[]; kind: ClassWaitKind; waitsOn: string; service?: string; method?: string; guessed?: boolean }[] {
    const state = this.state;
    switch (p.kind) {
      case 'rollcall-call': {
        // The pool that serves the method on the target, or on another node of its role.
        const target = state.nodeByName.get(p.target);
        if (target === undefined) return [];
        const byNode = this.servedBy.get(p.method);
        let pools = [...(byNode?.get(target.index) ?? [])].map((pool) => this.poolClass(target, pool));
        if (pools.length === 0) {
          const role = roleOf(target);
          for (const [n, names] of byNode ?? []) {
            const node = state.nodes[n]!;
            if (roleOf(node) === role) for (const pool of names) pools.push(this.poolClass(node, pool));
          }
          pools = unique(pools);
        }
        // A method whose handler never awaits is never seen served: rollcall's RPC server schedules
        // as HBase's does, and what no rule routes elsewhere goes to the default pool. A guess.
        const guessed = pools.length === 0 && target.pools.has(DEFAULT_POOL);
        if (guessed) pools.push(this.poolClass(target, DEFAULT_POOL));
        if (pools.length === 0) return [];
        return [
          {
            to: pools,
            kind: 'call',
            waitsOn: `rpc ${p.method} → ${roleOf(target)}`,
            method: p.method,
            ...(guessed ? { guessed: true } : {}),
          },
        ];
      }
      case 'service-call': {
        const call = p.call.call;
        const name = siteName(call);
        const resolved = waits.resolveCall(p.call, p.r);
        let to = unique(resolved.targets.flatMap((x) => this.classesOf(x)));
        // Pools seen serving that very method; a pool that serves the service only is a guess.
        const exact = new Set<string>();
        for (const [n, pools] of this.servedBy.get(name) ?? [])
          for (const pool of pools) exact.add(this.poolClass(state.nodes[n]!, pool).key);
        let guessed = exact.size === 0;
        if (!guessed) {
          const narrowed = to.filter((c) => exact.has(c.key));
          if (narrowed.length > 0) to = narrowed;
          else guessed = true;
        }
        if (to.length === 0) return [];
        return [
          {
            to,
            kind: 'call',
            waitsOn: `rpc ${name}`,
            service: call.service,
            ...(call.method !== undefined ? { method: call.method } : {}),
            ...(guessed ? { guessed: true } : {}),
          },
        ];
      }
      case 'spec': {
        const byKind = new Map<string, { to: ClassRef[]; kind: ClassWaitKind; waitsOn: string }>();
        for (const x of p.targets) {
          const to = this.classesOf(x);
          if (to.length === 0) continue;
          // A pool reached by a call needs a free handler; any other target is a thread that runs.
          const kind = x.to === 'pool' && x.edge.kind === 'rpc' ? 'call' : kindOf(x.edge);
          const waitsOn = p.label ?? classLabel(x.edge);
          const k = `${kind}\u0000${waitsOn}`;
          const entry = byKind.get(k);
          if (entry === undefined) byKind.set(k, { to, kind, waitsOn });
          else entry.to = unique([...entry.to, ...to]);
        }
        return [...byKind.values()];
      }
    }
  }

  private classesOf(x: WaitTarget): ClassRef[] {
    const state = this.state;
    switch (x.to) {
      case 'thread':
        return [this.classOfTrack(x.ref)];
      case 'pool': {
        const node = state.nodeByName.get(x.node);
        return node === undefined ? [] : [this.poolClass(node, x.pool)];
      }
      case 'group': {
        const node = state.nodeByName.get(x.node);
        const pools = node === undefined ? [] : (x.pools ?? []).map((p) => this.poolClass(node, p));
        return unique([...x.refs.map((ref) => this.classOfTrack(ref)), ...pools]);
      }
      case 'external':
        return [];
    }
  }

  private classOfTrack(ti: number): ClassRef {
    const tr = this.state.tracks[ti]!;
    const node = this.state.nodes[tr.node]!;
    const pool = tr.membership?.pool;
    if (pool !== undefined) return this.poolClass(node, pool);
    const role = roleOf(node);
    // Outside pools, a thread is classed by its name with the numbers folded (per node, per run).
    const name = tr.name.replace(/\d+/g, 'N');
    return { key: `${role}\u0000t\u0000${name}`, role, thread: name };
  }

  /**
   * The class of a pool: the same pool on every node of a role is one class, so the numbers in its
   * name (a node's own name, port or start code) are folded — unless that would merge two pools of
   * one node (`pool-1`, `pool-2`).
   */
  private poolClass(node: NodeState, pool: string): ClassRef {
    let names = this.folded.get(node.name);
    if (names === undefined) {
      const count = new Map<string, number>();
      const fold = (p: string) => p.replace(/\d+/g, '#');
      for (const p of node.pools.keys()) count.set(fold(p), (count.get(fold(p)) ?? 0) + 1);
      names = new Map([...node.pools.keys()].map((p) => [p, count.get(fold(p))! > 1 ? p : fold(p)]));
      this.folded.set(node.name, names);
    }
    const role = roleOf(node);
    const key = `${role}\u0000p\u0000${names.get(pool) ?? pool}`;
    let where = this.poolsOfClass.get(key);
    if (where === undefined) this.poolsOfClass.set(key, (where = []));
    if (!where.some((w) => w.node === node)) where.push({ node, pool });
    return { key, role, pool: where[0]!.pool };
  }

  /** A pool's size and whether it is bounded, from the first node it was seen on. */
  private capacity(cls: ClassRef): PoolCapacity | undefined {
    const at = this.poolsOfClass.get(cls.key)?.[0];
    const p = at?.node.pools.get(at.pool);
    // Pools that make threads on demand never run out; name-only (generic) pools may be one thread
    // per connection: neither is a bounded pool.
    if (at === undefined || p === undefined || p.unbounded || p.family === 'generic') return undefined;
    const tracks = this.state.tracks;
    let seen = 0;
    for (const r of at.node.rounds) {
      let n = 0;
      for (const ti of p.tracks) if (tracks[ti]!.codes[r] !== ABSENT) n++;
      seen = Math.max(seen, n);
    }
    const size = p.declaredSize ?? seen;
    const idleSeen = p.tracks.some((ti) => tracks[ti]!.idleRounds > 0);
    return {
      size,
      sizeFrom: p.declaredSize !== undefined ? 'declared' : 'threads',
      boundedSeen: p.declaredSize !== undefined || FIXED_FAMILIES.has(p.family) || idleSeen,
    };
  }
}

/** A node's role (its first, as dumps or rules name it), or its own name for a node without one. */
function roleOf(node: NodeState): string {
  for (const r of node.roles) return r;
  return node.name;
}

function kindOf(edge: EdgeInfo): ClassWaitKind {
  switch (edge.kind) {
    case 'monitor':
    case 'lock':
      return 'lock';
    case 'barrier':
      return 'barrier';
    default:
      return 'other';
  }
}

/** An edge's label without what differs between instances (addresses, call ids, node names). */
function classLabel(edge: EdgeInfo): string {
  if (edge.kind === 'monitor' || edge.kind === 'lock') {
    const cls = /\(a ([^)]+)\)/.exec(edge.label);
    return cls === null ? 'lock' : `lock (a ${cls[1]})`;
  }
  if (edge.service !== undefined)
    return `rpc ${siteName({ service: edge.service, ...(edge.method ? { method: edge.method } : {}) })}`;
  return edge.label.replace(/0x[0-9a-f]+/gi, '0x…');
}

function unique(classes: ClassRef[]): ClassRef[] {
  const seen = new Set<string>();
  return classes.filter((c) => !seen.has(c.key) && (seen.add(c.key), true));
}
