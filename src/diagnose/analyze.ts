// `rollcall analyze`: follow every thread of every node through the samples, classify it (blocked,
// running-stuck, progressing, idle), group threads into pools, build one wait-for graph per round
// across all nodes, and decide with the liveness fixpoint (src/waitgraph) what is deadlocked: non-live
// in every sample. The verdict is deadlock (a cycle), stuck (blocked on something outside the dumps
// for the whole span, or an exhausted pool), slow (pools saturated but progressing) or healthy.
//
// Streaming: feed one round at a time (addRound); dumps are not kept, only a few numbers per thread
// per round, the last ThreadDump of each thread, and the wait edges of busy waiting threads.
// Everything per stack is memoized by stack key (see stacks.ts), so cost is linear in threads.
import type { Frame, ProcessDump, ThreadDump } from '../dumps/model.js';
import {
  WaitGraph,
  computeLiveness,
  findCycles,
  type Cycle,
  type EdgeInfo,
  type Liveness,
  type VertexInfo,
  type VertexStatus,
  type WaitMode,
} from '../waitgraph/index.js';
import { describeCycle } from './cycles.js';
import { identityKeys } from './identity.js';
import { lockEdges, mapJvmDeadlocks } from './locks.js';
import { PoolNamer, type PoolMembership } from './pools.js';
import { RollcallLinker, type RcTarget, type RcThreadView, type RcPoolView } from './rollcall.js';
import { BUILTIN_RULES, type RulePack, type TargetRule } from './rules.js';
import {
  StackClassifier,
  effectiveFrames,
  effectiveStackKey,
  qualified,
  stateCode,
  type StackFacts,
  type StateCode,
} from './stacks.js';
import type {
  AnalysisDetail,
  AnalysisResult,
  CycleStepOut,
  DeadlockOut,
  GraphEdgeOut,
  GraphVertexOut,
  NodeSummary,
  PoolSummary,
  SampleCounts,
  StuckThread,
  ThreadClass,
  Verdict,
} from './result.js';

export interface AnalyzeOptions {
  /** User rule packs (`--rules`); they take precedence over the built-in ones. */
  rules?: readonly RulePack[];
  /** Addresses of nodes (`--node-addr NAME=HOST:PORT`, bundle manifest). */
  nodeAddrs?: readonly { node: string; addr: string }[];
  /** Keep per-thread stacks per sample and the graph of the last round (for the HTML report). */
  detail?: boolean;
  /** Bound on `stuck` entries listed (the count is always complete). Default 1000. */
  maxStuckListed?: number;
}

/** Bounds: a pathological input cannot make the analysis unbounded. */
export const MAX_ROUNDS = 10_000;
export const MAX_NODES = 100_000;
export const MAX_TRACKS = 5_000_000;
const MAX_GRAPH_VERTICES_OUT = 20_000;
/** Threads kept per group (a barrier member's threads on the procedure). */
const MAX_GROUP_THREADS = 64;
const MAX_DEADLOCKS = 1000;

/** Per thread, per round: state code, stack nature, present flag — one small integer. */
const ABSENT = -1;
const CODE_BITS: Record<StateCode, number> = { R: 0, W: 1, B: 2, N: 3 };
const NATURE_IDLE = 4;
const NATURE_SLEEPING = 8;

interface Track {
  node: number;
  name: string;
  javaId: number | undefined;
  membership: PoolMembership | undefined;
  /** Per global round (ABSENT when missing). */
  codes: number[];
  /** Per global round: stack id (detail only). */
  stacks: number[] | undefined;
  present: number;
  changed: boolean;
  /** CPU, allocation or Blocked/Waited counts rose while the stack stayed the same. */
  countersRose: boolean;
  prevStack: string;
  prevCode: number;
  prevLock: string;
  prevRc: string;
  prevCpu: number | undefined;
  prevAlloc: number | undefined;
  prevBlocked: number | undefined;
  prevWaited: number | undefined;
  prevProgress: number | undefined;
  prevCompleted: number | undefined;
  lastRound: number;
  idleRounds: number;
  nonLive: number;
  strictNonLive: number;
  /** A rule, lock or rollcall link named what this thread waits for (in some round). */
  recognizedWait: boolean;
  last: ThreadDump;
  lastFacts: StackFacts;
  cls: ThreadClass;
}

interface PoolState {
  name: string;
  family: PoolMembership['family'];
  tracks: number[];
  queuedLast?: number;
  /** Capacity the process declared (rollcall's pools section): more than the threads seen means spare room. */
  declaredSize?: number;
}

interface NodeState {
  index: number;
  name: string;
  roles: Set<string>;
  addrs: Set<string>;
  ports: Set<number>;
  peers: Set<string>;
  ids: Map<string, number>;
  rounds: number[];
  threadsPerSample: number[];
  format: string;
  unparsedLines: number;
  pools: Map<string, PoolState>;
  rolesInferred: boolean;
}

type Target =
  | { t: 'thread'; track: number; edge: EdgeInfo }
  | { t: 'pool'; node: number; pool: string; queue?: number; edge: EdgeInfo }
  | {
      t: 'group';
      key: string;
      node: number;
      label: string;
      mode: WaitMode;
      tracks: number[];
      pools: string[];
      edge: EdgeInfo;
    }
  | { t: 'external'; label: string; edge: EdgeInfo };

interface WaitSpec {
  from: number;
  mode: WaitMode;
  targets: Target[];
}

interface JvmReport {
  node: number;
  tracks: number[];
  kind: 'java-monitor' | 'java-lock';
  steps: CycleStepOut[];
}

interface AVertex extends VertexInfo {
  track?: number;
  key?: string;
}

const HOST_PORT = /\bto ([A-Za-z0-9_.-]+(?:\/[0-9A-Fa-f.:]+)?):(\d{1,5})\b/;

/**
 * Incremental analyzer: `addRound` once per sample round (one dump per node), then `finish`.
 * `analyze()` below wraps it for callers that have everything in memory.
 */
export class Analyzer {
  private readonly packs: RulePack[];
  private readonly classifier: StackClassifier;
  private readonly namer: PoolNamer;
  private readonly nodes: NodeState[] = [];
  private readonly nodeByName = new Map<string, NodeState>();
  private readonly tracks: Track[] = [];
  private readonly roundWaits: WaitSpec[][] = [];
  private readonly jvmReports = new Map<string, JvmReport>();
  private readonly stackIds = new Map<string, number>();
  private readonly stackFrames: string[][] = [];
  private readonly notes = new Set<string>();
  private minTime = Infinity;
  private maxTime = -Infinity;
  private rounds = 0;
  private readonly aliases = new Map<string, string>();
  private readonly canon = (name: string): string => this.aliases.get(name) ?? name;

  constructor(private readonly options: AnalyzeOptions = {}) {
    this.packs = [...(options.rules ?? []), ...BUILTIN_RULES];
    this.classifier = new StackClassifier(this.packs);
    this.namer = new PoolNamer(this.packs);
    for (const { node, addr } of options.nodeAddrs ?? []) this.node(node).addrs.add(addr);
  }

  /**
   * Dumps name peers by the names nodes give themselves (rollcall's `node=`); when a node is analyzed
   * under another name (a file name, --node NAME), record the dump's own name as an alias.
   */
  alias(dumpName: string, node: string): void {
    if (dumpName.length > 0 && dumpName !== node && this.aliases.size < MAX_NODES) this.aliases.set(dumpName, node);
  }

  get roundCount(): number {
    return this.rounds;
  }

  /**
   * One sample round: at most one dump per node (a dump's `node` names it; empty names become
   * `node<i>`). `capturedAtMs` overrides the dumps' own timestamps for the span.
   */
  addRound(dumps: readonly ProcessDump[], meta: { capturedAtMs?: number } = {}): void {
    if (this.rounds >= MAX_ROUNDS) throw new RangeError(`more than ${MAX_ROUNDS} sample rounds`);
    const r = this.rounds++;
    if (meta.capturedAtMs !== undefined) this.time(meta.capturedAtMs);
    const seen = new Set<NodeState>();
    const inRound: { node: NodeState; dump: ProcessDump; trackOf: number[]; facts: StackFacts[] }[] = [];
    dumps.forEach((dump, i) => {
      const node = this.node(dump.node.length > 0 ? dump.node : `node${i}`);
      if (seen.has(node)) {
        this.notes.add(`${node.name}: more than one dump in round ${r}; only the first was analyzed`);
        return;
      }
      seen.add(node);
      if (meta.capturedAtMs === undefined && dump.capturedAtMs !== undefined) this.time(dump.capturedAtMs);
      inRound.push({ node, dump, ...this.ingest(node, dump, r) });
    });
    this.roundWaits.push(this.waitsOf(inRound, r));
  }

  private time(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (ms < this.minTime) this.minTime = ms;
    if (ms > this.maxTime) this.maxTime = ms;
  }

  private node(name: string): NodeState {
    let n = this.nodeByName.get(name);
    if (n === undefined) {
      if (this.nodes.length >= MAX_NODES) throw new RangeError(`more than ${MAX_NODES} nodes`);
      n = {
        index: this.nodes.length,
        name,
        roles: new Set(),
        addrs: new Set(),
        ports: new Set(),
        peers: new Set(),
        ids: new Map(),
        rounds: [],
        threadsPerSample: [],
        format: '',
        unparsedLines: 0,
        pools: new Map(),
        rolesInferred: false,
      };
      this.nodes.push(n);
      this.nodeByName.set(name, n);
    }
    return n;
  }

  /** Updates every thread's track with this sample; returns dump index → track and stack facts. */
  private ingest(node: NodeState, dump: ProcessDump, r: number): { trackOf: number[]; facts: StackFacts[] } {
    node.rounds.push(r);
    node.threadsPerSample.push(dump.threads.length);
    if (node.format === '') node.format = dump.format;
    node.unparsedLines += dump.unparsedLines;
    if (dump.role !== undefined && dump.role.length > 0) node.roles.add(dump.role);
    if (!node.rolesInferred) this.inferRoles(node, dump);
    const keys = identityKeys(dump.threads);
    const trackOf = new Array<number>(dump.threads.length);
    const facts = new Array<StackFacts>(dump.threads.length);
    const detail = this.options.detail === true;
    for (let i = 0; i < dump.threads.length; i++) {
      const t = dump.threads[i]!;
      const frames = effectiveFrames(t);
      const stack = effectiveStackKey(t);
      const code = stateCode(t.state, frames);
      const f = this.classifier.facts(code + stack, frames, code);
      const rc = t.rollcall;
      const idle = rc?.idle === true || (f.nature === 'idle' && rc?.wait === undefined);
      const sleeping = !idle && (f.nature === 'sleeping' || rc?.wait?.kind === 'timer');
      facts[i] = f;
      let ti = node.ids.get(keys[i]!);
      let tr: Track;
      if (ti === undefined) {
        if (this.tracks.length >= MAX_TRACKS) throw new RangeError(`more than ${MAX_TRACKS} threads`);
        ti = this.tracks.length;
        node.ids.set(keys[i]!, ti);
        const membership = this.namer.of(t.name, rc?.pool);
        tr = {
          node: node.index,
          name: t.name,
          javaId: t.javaId,
          membership,
          codes: [],
          stacks: detail ? [] : undefined,
          present: 0,
          changed: false,
          countersRose: false,
          prevStack: stack,
          prevCode: -1,
          prevLock: '',
          prevRc: '',
          prevCpu: undefined,
          prevAlloc: undefined,
          prevBlocked: undefined,
          prevWaited: undefined,
          prevProgress: undefined,
          prevCompleted: undefined,
          lastRound: -1,
          idleRounds: 0,
          nonLive: 0,
          strictNonLive: 0,
          recognizedWait: false,
          last: t,
          lastFacts: f,
          cls: 'idle',
        };
        this.tracks.push(tr);
        if (membership !== undefined) {
          let p = node.pools.get(membership.pool);
          if (p === undefined)
            node.pools.set(membership.pool, (p = { name: membership.pool, family: membership.family, tracks: [] }));
          p.tracks.push(ti);
          if (membership.port !== undefined) node.ports.add(membership.port);
        }
      } else tr = this.tracks[ti]!;
      trackOf[i] = ti;
      this.observe(tr, t, r, stack, code, idle, sleeping, f);
      if (detail) {
        let sid = this.stackIds.get(stack);
        if (sid === undefined) {
          sid = this.stackFrames.length;
          this.stackIds.set(stack, sid);
          this.stackFrames.push(frames.map((x) => x.text));
        }
        tr.stacks![r] = sid;
      }
      if (t.name.includes('onnection') || t.name.includes(' to ')) {
        const m = HOST_PORT.exec(t.name);
        if (m !== null && node.peers.size < 10_000) node.peers.add(`${m[1]}:${m[2]}`);
      }
    }
    for (const p of dump.pools ?? []) {
      const pool = node.pools.get(p.name);
      if (pool !== undefined) {
        pool.queuedLast = p.queuedTotal;
        pool.declaredSize = p.size;
      }
    }
    return { trackOf, facts };
  }

  private observe(
    tr: Track,
    t: ThreadDump,
    r: number,
    stack: string,
    code: StateCode,
    idle: boolean,
    sleeping: boolean,
    f: StackFacts,
  ): void {
    const packed = CODE_BITS[code] | (idle ? NATURE_IDLE : 0) | (sleeping ? NATURE_SLEEPING : 0);
    while (tr.codes.length < r) tr.codes.push(ABSENT);
    tr.codes[r] = packed;
    const lock = waitingLockAddress(t);
    const rc = rcSignature(t);
    if (tr.present > 0) {
      if (tr.lastRound !== this.nodes[tr.node]!.rounds[this.nodes[tr.node]!.rounds.length - 2]) tr.changed = true;
      if (
        packed !== tr.prevCode ||
        stack !== tr.prevStack ||
        lock !== tr.prevLock ||
        rc !== tr.prevRc ||
        rose(tr.prevProgress, t.rollcall?.progress) ||
        rose(tr.prevCompleted, t.rollcall?.completed)
      ) {
        tr.changed = true;
      } else if (
        rose(tr.prevCpu, t.cpuMs) ||
        rose(tr.prevAlloc, t.allocatedBytes) ||
        rose(tr.prevBlocked, t.blockedCount) ||
        rose(tr.prevWaited, t.waitedCount)
      ) {
        tr.countersRose = true;
      }
    }
    tr.prevCode = packed;
    tr.prevStack = stack;
    tr.prevLock = lock;
    tr.prevRc = rc;
    tr.prevCpu = t.cpuMs;
    tr.prevAlloc = t.allocatedBytes;
    tr.prevBlocked = t.blockedCount;
    tr.prevWaited = t.waitedCount;
    tr.prevProgress = t.rollcall?.progress;
    tr.prevCompleted = t.rollcall?.completed;
    tr.present++;
    tr.lastRound = r;
    if (idle) tr.idleRounds++;
    tr.last = t;
    tr.lastFacts = f;
    if (t.name !== tr.name) tr.name = t.name;
  }

  private inferRoles(node: NodeState, dump: ProcessDump): void {
    node.rolesInferred = true;
    const rules = this.packs.flatMap((p) => p.roles);
    let distinct: Set<Frame> | undefined;
    for (const rule of rules) {
      if (node.roles.has(rule.role)) continue;
      if (rule.nodeName !== undefined && rule.nodeName.test(node.name)) {
        node.roles.add(rule.role);
        continue;
      }
      if (rule.threadName !== undefined) {
        const re = rule.threadName;
        if (dump.threads.some((t) => re.test(t.name))) {
          node.roles.add(rule.role);
          continue;
        }
      }
      if (rule.frame !== undefined) {
        const re = rule.frame;
        distinct ??= distinctFrames(dump);
        for (const f of distinct) {
          if (re.test(qualified(f))) {
            node.roles.add(rule.role);
            break;
          }
        }
      }
    }
  }

  // ---- wait edges of one round ----------------------------------------------------------------

  private waitsOf(
    inRound: { node: NodeState; dump: ProcessDump; trackOf: number[]; facts: StackFacts[] }[],
    r: number,
  ): WaitSpec[] {
    const specs = new Map<number, WaitSpec>();
    const add = (from: number, mode: WaitMode, targets: Target[]) => {
      if (targets.length === 0) return;
      this.tracks[from]!.recognizedWait = true;
      const s = specs.get(from);
      if (s === undefined) specs.set(from, { from, mode, targets });
      else s.targets.push(...targets);
    };
    const busyWaiting = (ti: number) => {
      const c = this.tracks[ti]!.codes[r]!;
      return (c & (NATURE_IDLE | NATURE_SLEEPING)) === 0 && (c & 3) !== CODE_BITS.R && (c & 3) !== CODE_BITS.N;
    };

    // Locks and the JVM's own deadlock sections.
    for (const { node, dump, trackOf } of inRound) {
      if (dump.format === 'rollcall-json' || dump.format === 'rollcall-text') continue;
      for (const e of lockEdges(dump)) {
        const from = trackOf[e.from]!;
        if (!busyWaiting(from)) continue;
        add(from, 'any', [
          { t: 'thread', track: trackOf[e.to]!, edge: { kind: e.kind, label: e.label, evidence: e.evidence } },
        ]);
      }
      for (const m of mapJvmDeadlocks(dump)) {
        for (const e of m.edges) {
          add(trackOf[e.from]!, 'any', [
            { t: 'thread', track: trackOf[e.to]!, edge: { kind: e.kind, label: e.label, evidence: e.evidence } },
          ]);
        }
        const tracks = m.threads.map((i) => (i === undefined ? -1 : trackOf[i]!));
        const key = `${node.index}\u0000${m.section.entries.map((e) => `${e.thread}\u0001${e.lockAddress ?? ''}`).join('\u0002')}`;
        if (m.section.entries.length > 0 && !this.jvmReports.has(key) && this.jvmReports.size < MAX_DEADLOCKS) {
          this.jvmReports.set(key, {
            node: node.index,
            tracks: tracks.filter((x) => x >= 0),
            kind: m.kind,
            steps: m.section.entries.map((e) => ({
              node: node.name,
              thread: e.thread,
              waitsFor: `${node.name}/${e.heldBy}`,
              via: `waiting to lock ${e.waitingToLock}`,
              evidence: [
                `Found one Java-level deadlock (line ${m.section.line}): "${e.thread}" waiting to lock ${e.waitingToLock}, which is held by "${e.heldBy}"`,
              ],
            })),
          });
        }
      }
    }

    // rollcall's explicit links.
    const rcDumps = inRound.filter(({ dump }) => dump.format === 'rollcall-json' || dump.format === 'rollcall-text');
    if (rcDumps.length > 0) this.rollcallWaits(rcDumps, r, add);

    // Rule packs: blocking calls to other processes, barriers.
    for (const { node, dump, trackOf, facts } of inRound) {
      for (let i = 0; i < dump.threads.length; i++) {
        const f = facts[i]!;
        if (f.waits.length === 0) continue;
        const from = trackOf[i]!;
        if (specs.has(from) || !busyWaiting(from)) continue;
        for (const w of f.waits) {
          const evidence = [
            `"${dump.threads[i]!.name}" ${w.evidence[0]}`,
            ...w.evidence.slice(1),
            `rule: ${w.rule.name}`,
          ];
          const { mode, targets } = this.resolveRule(node, w.rule.target, r, {
            kind: w.rule.kind === 'lock' ? 'lock' : w.rule.kind,
            label: w.rule.name,
            evidence,
          });
          add(from, mode, targets);
        }
      }
    }
    return [...specs.values()];
  }

  private rollcallWaits(
    rcDumps: { node: NodeState; dump: ProcessDump; trackOf: number[] }[],
    r: number,
    add: (from: number, mode: WaitMode, targets: Target[]) => void,
  ): void {
    const views: RcThreadView[] = [];
    const pools: RcPoolView[] = [];
    for (const { node, dump, trackOf } of rcDumps) {
      dump.threads.forEach((t, i) => {
        const ti = trackOf[i]!;
        const tr = this.tracks[ti]!;
        const c = tr.codes[r]!;
        views.push({
          node: node.name,
          ref: ti,
          id: t.javaId ?? -1,
          name: t.name,
          ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
          ...(tr.membership?.queue !== undefined ? { queue: tr.membership.queue } : {}),
          idle: (c & NATURE_IDLE) !== 0,
          ...(t.rollcall?.wait !== undefined ? { wait: t.rollcall.wait } : {}),
          ...(t.rollcall?.serving !== undefined ? { serving: t.rollcall.serving } : {}),
          frames: t.frames.map((f) => `${f.className}.${f.method}`),
          nowMs: dump.monotonicMs ?? 0,
        });
      });
      for (const p of dump.pools ?? []) pools.push({ node: node.name, name: p.name, queued: p.queued });
    }
    const linker = new RollcallLinker(
      views,
      pools,
      this.nodes.filter((n) => n.rounds[n.rounds.length - 1] === r).map((n) => n.name),
      this.canon,
    );
    for (const v of views) {
      if (v.wait === undefined) continue;
      const w = linker.waitOf(v);
      if (w === undefined || w.sleeping === true) continue;
      add(
        v.ref,
        w.mode,
        w.targets.map((x) => this.fromRc(x)),
      );
    }
  }

  private fromRc(x: RcTarget): Target {
    switch (x.to) {
      case 'thread':
        return { t: 'thread', track: x.ref, edge: x.edge };
      case 'queue': {
        const node = this.node(x.node).index;
        return { t: 'pool', node, pool: x.pool, queue: x.queue, edge: x.edge };
      }
      case 'group':
        return {
          t: 'group',
          key: x.key,
          node: this.node(x.node).index,
          label: x.label,
          mode: x.mode,
          tracks: x.refs,
          pools: [],
          edge: x.edge,
        };
      case 'external':
        return { t: 'external', label: x.label, edge: x.edge };
    }
  }

  /** Nodes (present in round r) and what on them a rule's target names. */
  private resolveRule(
    from: NodeState,
    target: TargetRule,
    r: number,
    edge: EdgeInfo,
  ): { mode: WaitMode; targets: Target[] } {
    const candidates = this.nodes.filter((n) => {
      if (n.rounds[n.rounds.length - 1] !== r) return false;
      if (target.self === false && n === from) return false;
      if (target.node !== undefined && n.name !== target.node) return false;
      if (target.role !== undefined && !n.roles.has(target.role)) return false;
      if (target.peers === true && from.peers.size > 0 && !matchesAnyPeer(n, from.peers)) return false;
      return true;
    });
    const targets: Target[] = [];
    for (const n of candidates) {
      const poolNames: string[] = [];
      if (target.pool !== undefined) {
        for (const p of n.pools.values()) if (target.pool.test(p.name)) poolNames.push(p.name);
      }
      if (target.members === true || target.threads !== undefined || target.frames !== undefined) {
        const tracks: number[] = [];
        if (target.threads !== undefined || target.frames !== undefined) {
          const byName = target.threads;
          const byFrame = target.frames;
          for (const ti of n.ids.values()) {
            const tr = this.tracks[ti]!;
            const c = tr.codes[r];
            if (c === undefined || c === ABSENT || (c & NATURE_IDLE) !== 0) continue;
            const picked =
              (byName !== undefined && byName.test(tr.name)) ||
              (byFrame !== undefined && tr.last.frames.some((f) => byFrame.test(qualified(f))));
            if (!picked) continue;
            tracks.push(ti);
            if (tracks.length >= MAX_GROUP_THREADS) break;
          }
        }
        const label = target.members === true ? `${n.name} (member)` : `${n.name} threads`;
        targets.push({
          t: 'group',
          key: `rule\u0000${n.index}\u0000${label}\u0000${edge.label}`,
          node: n.index,
          label,
          // A member is done when all its threads on the procedure are; "threads" alone: any of them.
          mode: target.members === true ? 'all' : 'any',
          tracks,
          pools: poolNames,
          edge,
        });
      } else {
        for (const p of poolNames) targets.push({ t: 'pool', node: n.index, pool: p, edge });
      }
    }
    const outside = target.describe ?? `${edge.label} (target not in the dumps)`;
    if (targets.length === 0) return { mode: 'any', targets: [{ t: 'external', label: outside, edge }] };
    if (target.members === true) return { mode: 'all', targets };
    // A guessed set of candidates may miss the real target (a server that was not captured): then
    // "somewhere outside the dumps" stays an alternative, and the wait is never proof of a deadlock.
    if (!this.exactTarget(from, target, candidates, r))
      targets.push({ t: 'external', label: `${outside} — or a process not in the dumps`, edge });
    return { mode: 'any', targets };
  }

  /** Whether a rule's candidate nodes are known to include the real target. */
  private exactTarget(from: NodeState, target: TargetRule, candidates: NodeState[], r: number): boolean {
    if (target.node !== undefined) return candidates.length > 0;
    // One role, present in the dumps: a cluster's master is the master.
    if (target.role !== undefined) return candidates.length > 0;
    if (target.peers === true && from.peers.size > 0) {
      const present = this.nodes.filter((n) => n.rounds[n.rounds.length - 1] === r);
      for (const peer of from.peers) if (!present.some((n) => matchesAnyPeer(n, new Set([peer])))) return false;
      return true;
    }
    return false;
  }

  // ---- finish -----------------------------------------------------------------------------------

  finish(): AnalysisResult {
    const rounds = this.rounds;
    for (const tr of this.tracks) {
      while (tr.codes.length < rounds) tr.codes.push(ABSENT);
      tr.cls = this.classify(tr);
    }
    // One graph per round; what is non-live in every round of its node is deadlocked.
    const keyNonLive = new Map<string, number>();
    let last: { g: WaitGraph<AVertex>; live: Liveness } | undefined;
    for (let r = 0; r < rounds; r++) {
      const g = this.buildGraph(r);
      const live = computeLiveness(g);
      // "Stuck": live only thanks to something outside the dumps (an external target, a runnable
      // thread that never changes). Unrecognized waits inside the dumps keep the benefit of the doubt.
      const strict = computeLiveness(g, { trustUnknown: false, trustUnrecognized: true, adjacency: live.adjacency });
      for (let v = 0; v < g.vertexCount; v++) {
        const info = g.vertex(v);
        if (info.track !== undefined) {
          const tr = this.tracks[info.track]!;
          if (live.live[v] === 0) tr.nonLive++;
          if (strict.live[v] === 0) tr.strictNonLive++;
        } else if (info.key !== undefined && live.live[v] === 0) {
          keyNonLive.set(info.key, (keyNonLive.get(info.key) ?? 0) + 1);
        }
      }
      if (r === rounds - 1) last = { g, live };
    }
    // Cycles are read off the last round; if a node's capture is missing there, an earlier round
    // with more nodes may hold the rest of the cycle.
    const complete = this.nodes.length;
    const present = (r: number) => this.nodes.filter((n) => n.rounds.includes(r)).length;
    let shown = last;
    let found: { cycles: Cycle[]; g: WaitGraph<AVertex> } | undefined;
    for (let r = rounds - 1; r >= 0 && found === undefined; r--) {
      const here = r === rounds - 1 && last !== undefined ? last : this.graphAt(r);
      const cycles = this.cyclesIn(here.g, here.live, keyNonLive);
      if (cycles.length > 0) {
        found = { cycles, g: here.g };
        shown = here;
      }
      if (present(r) === complete) break;
    }
    const deadlocks = this.deadlocks(found?.g, found?.cycles ?? []);
    return this.result(deadlocks, shown, keyNonLive);
  }

  private graphAt(r: number): { g: WaitGraph<AVertex>; live: Liveness } {
    const g = this.buildGraph(r);
    return { g, live: computeLiveness(g) };
  }

  private cyclesIn(g: WaitGraph<AVertex>, live: Liveness, keyNonLive: Map<string, number>): Cycle[] {
    const include = (v: number) => live.live[v] === 0 && this.deadlocked(g, v, keyNonLive);
    const cycles = findCycles(g, live, { include, maxCycles: MAX_DEADLOCKS });
    // Widest first: the cycle across most nodes is the story; per-queue local loops come after.
    return cycles.sort((a, b) => b.nodes.length - a.nodes.length || b.members.length - a.members.length);
  }

  private classify(tr: Track): ThreadClass {
    const node = this.nodes[tr.node]!;
    const nodeRounds = node.rounds.length;
    if (tr.idleRounds === tr.present) return 'idle';
    if (tr.changed || tr.present < nodeRounds) return 'progressing';
    const code = tr.codes[tr.lastRound]! & 3;
    // Rising counters are progress for a runnable thread (busy in one place) and for a waiting one
    // whose wait we cannot name. A thread parked in a recognized wait (an RPC, a barrier latch, a
    // lock) that wakes periodically to re-check — HBase's waitForLatch every wake interval — burns
    // a little CPU and bumps its Waited count without getting anywhere.
    if (tr.countersRose && (code === CODE_BITS.R || !tr.recognizedWait)) return 'progressing';
    // Sleeping in the same place every time (a backoff loop, slow work simulated by sleeps) is
    // not a wait on anything: it is busy, and it wakes by itself.
    if ((tr.codes[tr.lastRound]! & NATURE_SLEEPING) !== 0) return 'progressing';
    if (code === CODE_BITS.R) return nodeRounds >= 2 ? 'running-stuck' : 'progressing';
    if (code === CODE_BITS.N) return 'idle';
    return 'blocked';
  }

  private statusOf(tr: Track, r: number): VertexStatus {
    const c = tr.codes[r]!;
    if (c === ABSENT) return 'unknown';
    if ((c & NATURE_IDLE) !== 0 || (c & 3) === CODE_BITS.N) return 'idle';
    // Asleep: waits on nothing, wakes by itself.
    if ((c & NATURE_SLEEPING) !== 0) return 'progressing';
    if (tr.cls === 'progressing') return 'progressing';
    if ((c & 3) === CODE_BITS.R) return this.rounds >= 2 ? 'unknown' : 'progressing';
    return 'waiting';
  }

  private buildGraph(r: number): WaitGraph<AVertex> {
    const g = new WaitGraph<AVertex>();
    const trackVertex = new Map<number, number>();
    const ensureTrack = (ti: number): number => {
      let v = trackVertex.get(ti);
      if (v === undefined) {
        const tr = this.tracks[ti]!;
        v = g.addVertex({
          kind: 'thread',
          node: this.nodes[tr.node]!.name,
          label: tr.name,
          thread: tr.name,
          status: this.statusOf(tr, r),
          track: ti,
          ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
        });
        trackVertex.set(ti, v);
      }
      return v;
    };
    const ensurePool = (nodeIndex: number, pool: string, queue: number | undefined): number => {
      const node = this.nodes[nodeIndex]!;
      const key =
        queue === undefined ? `p\u0000${nodeIndex}\u0000${pool}` : `q\u0000${nodeIndex}\u0000${pool}\u0000${queue}`;
      const found = g.find(key);
      if (found !== undefined) return found;
      const v = g.addVertex(
        {
          kind: queue === undefined ? 'pool' : 'queue',
          node: node.name,
          label: queue === undefined ? pool : `${pool} queue ${queue}`,
          pool,
          ...(queue !== undefined ? { queue } : {}),
          status: 'waiting',
          mode: 'any',
          key,
        },
        key,
      );
      const state = node.pools.get(pool);
      if (state === undefined) return v;
      const byQueue = queue !== undefined && state.tracks.some((ti) => this.tracks[ti]!.membership?.queue === queue);
      for (const ti of state.tracks) {
        const tr = this.tracks[ti]!;
        if (tr.codes[r] === ABSENT) continue;
        if (byQueue && tr.membership?.queue !== queue) continue;
        g.addEdge(v, ensureTrack(ti), {
          kind: 'handler',
          label: `handler "${tr.name}"`,
          evidence: [`"${tr.name}" is a handler of ${pool}${byQueue ? ` serving queue ${queue}` : ''} on ${node.name}`],
        });
      }
      return v;
    };
    const ensureTarget = (x: Target): number => {
      switch (x.t) {
        case 'thread':
          return ensureTrack(x.track);
        case 'pool':
          return ensurePool(x.node, x.pool, x.queue);
        case 'group': {
          const found = g.find(x.key);
          if (found !== undefined) return found;
          const v = g.addVertex(
            {
              kind: 'group',
              node: this.nodes[x.node]!.name,
              label: x.label,
              status: 'waiting',
              mode: x.mode,
              key: x.key,
            },
            x.key,
          );
          for (const ti of x.tracks) {
            if (this.tracks[ti]!.codes[r] === ABSENT) continue;
            g.addEdge(v, ensureTrack(ti), {
              kind: 'member',
              label: `member thread "${this.tracks[ti]!.name}"`,
              evidence: [`"${this.tracks[ti]!.name}" works for ${x.label}`],
            });
          }
          for (const p of x.pools) {
            g.addEdge(v, ensurePool(x.node, p, undefined), {
              kind: 'member',
              label: `pool ${p}`,
              evidence: [`${p} serves ${x.label}`],
            });
          }
          return v;
        }
        case 'external': {
          const key = `x\u0000${x.label}`;
          return g.addVertex({ kind: 'external', node: '', label: x.label, status: 'unknown', key }, key);
        }
      }
    };
    for (const spec of this.roundWaits[r]!) {
      const v = ensureTrack(spec.from);
      const info = g.vertex(v);
      if (info.status === 'waiting') info.mode = spec.mode;
      for (const x of spec.targets) g.addEdge(v, ensureTarget(x), x.edge);
    }
    return g;
  }

  private deadlocked(g: WaitGraph<AVertex>, v: number, keyNonLive: Map<string, number>): boolean {
    const info = g.vertex(v);
    if (info.track !== undefined) {
      const tr = this.tracks[info.track]!;
      return tr.nonLive >= this.nodes[tr.node]!.rounds.length;
    }
    if (info.key === undefined || info.kind === 'external') return false;
    const node = this.nodeByName.get(info.node);
    return node !== undefined && (keyNonLive.get(info.key) ?? 0) >= node.rounds.length;
  }

  private describeAll(
    g: WaitGraph<AVertex>,
    cycles: Cycle[],
    out: DeadlockOut[],
    memberTracks: Map<number, number>,
  ): void {
    for (const c of cycles) {
      for (const v of c.members) {
        const ti = g.vertex(v).track;
        if (ti !== undefined) memberTracks.set(ti, out.length);
      }
      out.push(describeCycle(g, c));
    }
  }

  private deadlocks(g: WaitGraph<AVertex> | undefined, cycles: Cycle[]): DeadlockOut[] {
    const out: DeadlockOut[] = [];
    const memberTracks = new Map<number, number>();
    if (g !== undefined) this.describeAll(g, cycles, out, memberTracks);
    // The JVM's own reports: mark the cycle we found, or report it as the JVM printed it.
    for (const rep of this.jvmReports.values()) {
      const hit = rep.tracks.map((ti) => memberTracks.get(ti)).find((x) => x !== undefined);
      if (hit !== undefined) {
        out[hit]!.jvmReported = true;
        continue;
      }
      // Threads that progressed between samples are not deadlocked whatever one dump said.
      if (rep.tracks.some((ti) => this.tracks[ti]!.cls === 'progressing')) {
        this.notes.add(`a deadlock the JVM reported on ${this.nodes[rep.node]!.name} did not persist across samples`);
        continue;
      }
      const node = this.nodes[rep.node]!.name;
      out.push({
        kind: rep.kind,
        nodes: [node],
        cycle: rep.steps,
        members: rep.steps.map((s) => `${node}/${s.thread ?? ''}`),
        memberCount: rep.steps.length,
        blockedBehind: [],
        blockedBehindCount: 0,
        jvmReported: true,
      });
    }
    return out;
  }

  private result(
    deadlocks: DeadlockOut[],
    last: { g: WaitGraph<AVertex>; live: Liveness } | undefined,
    keyNonLive: Map<string, number>,
  ): AnalysisResult {
    const rounds = this.rounds;
    const totals = { total: 0, blocked: 0, runningStuck: 0, progressing: 0, idle: 0 };
    const perNode = this.nodes.map((n) => ({
      counts: { blocked: 0, progressing: 0, idle: 0, runningStuck: 0 },
      samples: n.rounds.map((): SampleCounts => ({ total: 0, idle: 0, progressing: 0, blocked: 0, runningStuck: 0 })),
    }));
    const stuck: StuckThread[] = [];
    let stuckTotal = 0;
    let stuckOutside = 0;
    const maxStuck = this.options.maxStuckListed ?? 1000;
    for (const tr of this.tracks) {
      totals.total++;
      const pn = perNode[tr.node]!;
      const key = tr.cls === 'running-stuck' ? 'runningStuck' : tr.cls;
      totals[key]++;
      pn.counts[key]++;
      const node = this.nodes[tr.node]!;
      node.rounds.forEach((r, k) => {
        const c = tr.codes[r]!;
        if (c === ABSENT) return;
        const s = pn.samples[k]!;
        s.total++;
        if ((c & NATURE_IDLE) !== 0) s.idle++;
        else s[key]++;
      });
      if (tr.cls === 'blocked' || tr.cls === 'running-stuck') {
        stuckTotal++;
        if (stuck.length < maxStuck) {
          stuck.push({
            node: node.name,
            thread: tr.name,
            state: tr.cls,
            frame: tr.lastFacts.top,
            samples: tr.present,
            javaState: tr.last.stateDetail || tr.last.state,
            ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
          });
        }
        // Blocked for the whole span on something named but outside the dumps (or on a thread that
        // shows no progress): stuck. Unrecognized waits alone are not evidence of anything.
        const handler = tr.membership !== undefined && tr.membership.family !== 'generic';
        if (
          rounds >= 2 &&
          tr.cls === 'blocked' &&
          (tr.recognizedWait || handler) &&
          tr.strictNonLive >= node.rounds.length
        ) {
          stuckOutside++;
        }
      }
    }
    const pools = this.pools();
    const exhausted = pools.filter((p) => p.exhausted && p.family !== 'generic');
    const saturated = pools.filter((p) => p.saturated && p.family !== 'generic');
    let verdict: Verdict;
    let reason: string;
    if (deadlocks.length > 0) {
      verdict = 'deadlock';
      const d = deadlocks[0]!;
      reason = `${deadlocks.length} circular wait${deadlocks.length > 1 ? 's' : ''}; the first (${d.kind}) spans ${listNodes(d.nodes)} and never moves in ${rounds} sample${rounds > 1 ? 's' : ''}`;
    } else if (rounds >= 2 && (exhausted.length > 0 || stuckOutside > 0)) {
      verdict = 'stuck';
      reason =
        exhausted.length > 0
          ? `${exhausted.length} pool${exhausted.length > 1 ? 's' : ''} exhausted with no progress over the span (${exhausted[0]!.node}/${exhausted[0]!.pool})`
          : `${stuckOutside} thread${stuckOutside > 1 ? 's' : ''} blocked for the whole span on something outside the dumps`;
    } else if (saturated.length > 0 || exhausted.length > 0) {
      verdict = 'slow';
      const p = saturated[0] ?? exhausted[0]!;
      reason = `pool ${p.node}/${p.pool} had no idle handler${rounds >= 2 ? ', but work progresses' : ''}`;
    } else {
      verdict = 'healthy';
      reason = 'no circular wait, no exhausted or saturated pool';
    }
    if (rounds === 1) this.notes.add('one sample only: blocked and slow cannot be told apart; capture several rounds');
    const partial = this.tracks.filter((t) => t.present < this.nodes[t.node]!.rounds.length && t.present > 0).length;
    if (partial > 0)
      this.notes.add(
        `${partial} thread${partial > 1 ? 's' : ''} appeared or vanished between samples (counted progressing)`,
      );
    const nodes: NodeSummary[] = this.nodes.map((n, i) => ({
      name: n.name,
      threadsPerSample: n.threadsPerSample,
      ...perNode[i]!.counts,
      rounds: n.rounds,
      roles: [...n.roles],
      format: n.format,
      samples: perNode[i]!.samples,
      unparsedLines: n.unparsedLines,
    }));
    const result: AnalysisResult = {
      verdict,
      samples: rounds,
      spanMs:
        Number.isFinite(this.minTime) && this.maxTime > this.minTime ? Math.round(this.maxTime - this.minTime) : 0,
      nodes,
      threads: totals,
      pools,
      stuck,
      stuckTotal,
      deadlocks,
      reason,
      notes: [...this.notes],
    };
    if (this.options.detail === true) result.detail = this.detail(last, keyNonLive, deadlocks);
    return result;
  }

  private pools(): PoolSummary[] {
    const out: PoolSummary[] = [];
    for (const n of this.nodes) {
      for (const p of n.pools.values()) {
        if (p.family === 'generic' && p.tracks.length < 2) continue;
        const perSample = n.rounds.map((r) => {
          let size = 0;
          let idle = 0;
          for (const ti of p.tracks) {
            const c = this.tracks[ti]!.codes[r]!;
            if (c === ABSENT) continue;
            size++;
            if ((c & NATURE_IDLE) !== 0) idle++;
          }
          return { size, busy: size - idle, idle };
        });
        let blocked = 0;
        let progressing = 0;
        let quiet = true;
        for (const ti of p.tracks) {
          const cls = this.tracks[ti]!.cls;
          if (cls === 'blocked') blocked++;
          if (cls === 'progressing') progressing++;
          if (cls === 'progressing' || cls === 'idle') quiet = false;
        }
        const lastSample = perSample[perSample.length - 1] ?? { size: 0, busy: 0, idle: 0 };
        // A pool that creates threads on demand shows only its busy ones; below its declared
        // capacity it still has room, so it is neither saturated nor exhausted.
        const full = (x: { size: number }): boolean => p.declaredSize === undefined || x.size >= p.declaredSize;
        const saturated = perSample.some((s) => s.size > 0 && s.idle === 0 && full(s));
        const everyBusy = perSample.every((s) => s.idle === 0) && full(lastSampleOf(perSample));
        out.push({
          node: n.name,
          pool: p.name,
          size: lastSample.size,
          busy: lastSample.busy,
          idle: lastSample.idle,
          blocked,
          progressing,
          exhausted: lastSample.size > 0 && everyBusy && quiet,
          saturated,
          family: p.family,
          perSample,
          ...(p.queuedLast !== undefined ? { queued: p.queuedLast } : {}),
        });
      }
    }
    // Exhausted first, then saturated, then by size: what a reader needs first.
    out.sort(
      (a, b) =>
        Number(b.exhausted) - Number(a.exhausted) || Number(b.saturated) - Number(a.saturated) || b.size - a.size,
    );
    return out;
  }

  private detail(
    last: { g: WaitGraph<AVertex>; live: Liveness } | undefined,
    keyNonLive: Map<string, number>,
    deadlocks: DeadlockOut[],
  ): AnalysisDetail {
    const threads = this.tracks.map((tr) => ({
      node: this.nodes[tr.node]!.name,
      name: tr.name,
      ...(tr.javaId !== undefined ? { javaId: tr.javaId } : {}),
      ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
      class: tr.cls,
      samples: tr.codes.map((c, r) =>
        c === ABSENT
          ? null
          : {
              state: (['RUNNABLE', 'WAITING', 'BLOCKED', 'NEW'] as const)[c & 3]!,
              idle: (c & NATURE_IDLE) !== 0,
              stack: tr.stacks?.[r] ?? -1,
            },
      ),
    }));
    const vertices: GraphVertexOut[] = [];
    const edges: GraphEdgeOut[] = [];
    let truncated = false;
    if (last !== undefined) {
      const { g, live } = last;
      const inCycle = new Set<string>();
      for (const d of deadlocks)
        for (const s of d.cycle) inCycle.add(`${s.node}/${s.thread ?? s.pool ?? ''}\u0000${s.waitsFor}`);
      const ids = new Map<number, number>();
      const keep = (v: number): number | undefined => {
        let id = ids.get(v);
        if (id !== undefined) return id;
        if (vertices.length >= MAX_GRAPH_VERTICES_OUT) {
          truncated = true;
          return undefined;
        }
        const info = g.vertex(v);
        id = vertices.length;
        ids.set(v, id);
        vertices.push({
          id,
          kind: info.kind,
          node: info.node,
          label: info.label,
          status: info.status,
          live: live.live[v] === 1,
          deadlocked: live.live[v] === 0 && this.deadlocked(g, v, keyNonLive),
          ...(info.pool !== undefined ? { pool: info.pool } : {}),
          ...(info.track !== undefined ? { thread: info.track } : {}),
        });
        return id;
      };
      for (let e = 0; e < g.edgeCount; e++) {
        const from = keep(g.edgeSource(e));
        const to = keep(g.edgeTarget(e));
        if (from === undefined || to === undefined) continue;
        const info = g.edge(e);
        const fv = g.vertex(g.edgeSource(e));
        const tv = g.vertex(g.edgeTarget(e));
        edges.push({
          from,
          to,
          kind: info.kind,
          label: info.label,
          evidence: [...info.evidence],
          inCycle: inCycle.has(`${fv.node}/${fv.label}\u0000${tv.node}/${tv.label}`),
        });
      }
    }
    return { stacks: this.stackFrames, threads, graph: { vertices, edges, truncated } };
  }
}

/** Each distinct frame of a dump once (role rules test frames; stacks repeat). */
function distinctFrames(dump: ProcessDump): Set<Frame> {
  const out = new Set<Frame>();
  for (const t of dump.threads) for (const f of t.frames) out.add(f);
  return out;
}

function rose(prev: number | undefined, now: number | undefined): boolean {
  return prev !== undefined && now !== undefined && now !== prev;
}

function waitingLockAddress(t: ThreadDump): string {
  for (const l of t.locks) {
    if (l.kind === 'waiting-to-lock' || l.kind === 'parking' || l.kind === 'blocked-on' || l.kind === 'waiting-on')
      return l.address;
  }
  return '';
}

function rcSignature(t: ThreadDump): string {
  const w = t.rollcall?.wait;
  const s = t.rollcall?.serving;
  if (w === undefined && s === undefined) return '';
  let sig = '';
  if (w !== undefined) {
    sig = w.kind;
    if (w.kind === 'rpc') sig += `:${w.target}:${w.callId}`;
    else if (w.kind === 'barrier') sig += `:${w.instance}:${w.phase}:${w.missing.length}`;
  }
  if (s !== undefined) sig += `|${s.callerNode}:${s.callId}`;
  return sig;
}

function matchesAnyPeer(n: NodeState, peers: ReadonlySet<string>): boolean {
  for (const peer of peers) {
    const colon = peer.lastIndexOf(':');
    const port = Number(peer.slice(colon + 1));
    const hosts = peer.slice(0, colon).split('/');
    if (hosts.some((h) => n.addrs.has(`${h}:${port}`))) return true;
    if (n.ports.has(port)) return true;
    if (n.name === peer || hosts.includes(n.name)) return true;
  }
  return false;
}

/** Analyzes rounds already in memory: rounds[r] holds one dump per node. */
export function analyze(rounds: Iterable<readonly ProcessDump[]>, options: AnalyzeOptions = {}): AnalysisResult {
  const a = new Analyzer(options);
  for (const round of rounds) a.addRound(round);
  return a.finish();
}

/** Groups dumps by node (in order: the k-th dump of a node is its k-th sample) and analyzes them. */
export function analyzeDumps(dumps: readonly ProcessDump[], options: AnalyzeOptions = {}): AnalysisResult {
  const byNode = new Map<string, ProcessDump[]>();
  for (const d of dumps) {
    const list = byNode.get(d.node);
    if (list === undefined) byNode.set(d.node, [d]);
    else list.push(d);
  }
  const rounds: ProcessDump[][] = [];
  for (const list of byNode.values()) list.forEach((d, k) => (rounds[k] ??= []).push(d));
  return analyze(rounds, options);
}

function lastSampleOf(perSample: readonly { size: number; busy: number; idle: number }[]): {
  size: number;
  busy: number;
  idle: number;
} {
  return perSample[perSample.length - 1] ?? { size: 0, busy: 0, idle: 0 };
}

/** `a, b, c` or, for a long list, the first few and how many more: a reason line stays a line. */
function listNodes(nodes: readonly string[], max = 8): string {
  return nodes.length <= max ? nodes.join(', ') : `${nodes.slice(0, max).join(', ')} and ${nodes.length - max} more`;
}
