// What each waiting thread of a round waits for — the edges of that round's wait-for graph — from
// the evidence, most specific first: a Java monitor or lock and its owner (and the JVM's own
// deadlock sections); rollcall's explicit call links; a blocking call to a service, linked to whoever
// the dumps show serving it (resolved once every sample is in: services.ts); and, for what the dumps
// cannot show, the rule packs (a wait frame and where its target lives).
import type { ProcessDump } from '../dumps/model.js';
import { formatWait } from '../threads/text.js';
import {
  RollcallLinker,
  type EdgeInfo,
  type RcPoolView,
  type RcThreadView,
  type WaitMode,
} from '../waitgraph/index.js';
import { lockEdges, mapJvmDeadlocks } from './locks.js';
import {
  ABSENT,
  MAX_DEADLOCKS,
  MAX_GROUP_THREADS,
  NATURE_IDLE,
  type AnalysisState,
  type NodeState,
  type ServiceCall,
  type WaitSpec,
  type WaitTarget,
} from './model.js';
import type { RulePack, TargetRule } from './rules.js';
import { RMI_SERVICE, siteName, type ServiceDirectory } from './services.js';
import { qualified, type StackFacts } from './stacks.js';
import { busyWaiting, type IngestedDump } from './tracks.js';

/** A round whose dumps are still arriving: its waits so far, and what endRound needs of each dump. */
export interface OpenRoundWaits {
  r: number;
  specs: Map<number, WaitSpec>;
  add: (from: number, mode: WaitMode, targets: WaitTarget[]) => void;
  dumps: RoundDump[];
}

/** What is kept of an ingested dump until its round ends. */
export interface RoundDump {
  node: NodeState;
  trackOf: number[];
  facts: StackFacts[];
  /** Threads whose stacks name a wait or a call: their index and name. */
  named: { i: number; name: string }[];
  /** The dump itself, only when something at the end of the round reads it. */
  dump?: ProcessDump;
}

/** A kept dump whose whole ProcessDump was kept too: it serves wherever an IngestedDump does. */
export const keptWhole = (d: RoundDump): d is RoundDump & IngestedDump => d.dump !== undefined;

/** Serving threads linked one by one; more go through one group vertex per node (edges stay linear). */
const MAX_DIRECT_SERVERS = 16;

export class WaitFinder {
  constructor(
    private readonly state: AnalysisState,
    private readonly packs: readonly RulePack[],
    private readonly directory: ServiceDirectory,
  ) {}

  /** A round's waits as its dumps arrive (dumpWaits), completed by endRound once all are in. */
  openRound(r: number): OpenRoundWaits {
    const state = this.state;
    const specs = new Map<number, WaitSpec>();
    const add = (from: number, mode: WaitMode, targets: WaitTarget[]) => {
      if (targets.length === 0) return;
      state.tracks[from]!.recognizedWait = true;
      const s = specs.get(from);
      if (s === undefined) specs.set(from, { from, mode, targets });
      else s.targets.push(...targets);
    };
    return { r, specs, add, dumps: [] };
  }

  /**
   * What one ingested dump of the open round shows by itself — locks and the JVM's own deadlock
   * sections — and what is kept of it for endRound: the threads whose stacks name a wait or a call,
   * and the whole dump only when it is rollcall's (its links span the round's dumps) or `keepDump`.
   */
  dumpWaits(round: OpenRoundWaits, d: IngestedDump, keepDump: boolean): void {
    const state = this.state;
    const { node, dump, trackOf, facts } = d;
    const rollcall = isRollcall(dump);
    if (!rollcall) {
      for (const e of lockEdges(dump)) {
        const from = trackOf[e.from]!;
        if (!busyWaiting(state.tracks[from]!, round.r)) continue;
        round.add(from, 'any', [
          { to: 'thread', ref: trackOf[e.to]!, edge: { kind: e.kind, label: e.label, evidence: e.evidence } },
        ]);
      }
      this.jvmDeadlocks(node, dump, trackOf, round.add);
    }
    const named: { i: number; name: string }[] = [];
    for (let i = 0; i < dump.threads.length; i++) {
      const f = facts[i]!;
      if (f.waits.length > 0 || f.call !== undefined) named.push({ i, name: dump.threads[i]!.name });
    }
    round.dumps.push({ node, trackOf, facts, named, ...(rollcall || keepDump ? { dump } : {}) });
  }

  /** The waits of the open round; blocking calls to services are kept for `resolveCalls` at the end. */
  endRound(round: OpenRoundWaits): { specs: WaitSpec[]; calls: ServiceCall[] } {
    const state = this.state;
    const { r, specs, add } = round;
    const calls: ServiceCall[] = [];

    // rollcall's explicit links.
    const rcDumps = round.dumps.filter(keptWhole).filter((d) => isRollcall(d.dump));
    if (rcDumps.length > 0) this.rollcallWaits(rcDumps, r, add);

    // Blocking calls to services (resolved at the end), and rule packs: calls whose service no
    // dump shows served, barriers, waits named by users.
    for (const { node, trackOf, facts, named } of round.dumps) {
      for (const { i, name } of named) {
        const f = facts[i]!;
        const from = trackOf[i]!;
        if (specs.has(from) || !busyWaiting(state.tracks[from]!, r)) continue;
        let fallback: WaitSpec | undefined;
        for (const w of f.waits) {
          const evidence = [`"${name}" ${w.evidence[0]}`, ...w.evidence.slice(1), `rule: ${w.rule.name}`];
          const { mode, targets } = this.resolveRule(node, w.rule.target, (n) => lastRoundIs(n, r), {
            kind: w.rule.kind === 'lock' ? 'lock' : w.rule.kind,
            label: w.rule.name,
            evidence,
          });
          fallback = { from, mode, targets };
        }
        if (f.call !== undefined) {
          state.tracks[from]!.recognizedWait = true;
          const evidence = [`"${name}" at ${f.top}`];
          for (const line of f.call.evidence) if (line !== f.top) evidence.push(`at ${line}`);
          calls.push({ from, call: f.call, evidence, ...(fallback !== undefined ? { fallback } : {}) });
        } else if (fallback !== undefined) add(from, fallback.mode, fallback.targets);
      }
    }
    return { specs: [...specs.values()], calls };
  }

  private jvmDeadlocks(
    node: NodeState,
    dump: ProcessDump,
    trackOf: number[],
    add: (from: number, mode: WaitMode, targets: WaitTarget[]) => void,
  ): void {
    const state = this.state;
    for (const m of mapJvmDeadlocks(dump)) {
      for (const e of m.edges) {
        add(trackOf[e.from]!, 'any', [
          { to: 'thread', ref: trackOf[e.to]!, edge: { kind: e.kind, label: e.label, evidence: e.evidence } },
        ]);
      }
      const tracks = m.threads.map((i) => (i === undefined ? -1 : trackOf[i]!));
      const key = `${node.index}\u0000${m.section.entries.map((e) => `${e.thread}\u0001${e.lockAddress ?? ''}`).join('\u0002')}`;
      if (m.section.entries.length > 0 && !state.jvmReports.has(key) && state.jvmReports.size < MAX_DEADLOCKS) {
        state.jvmReports.set(key, {
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

  private rollcallWaits(
    rcDumps: IngestedDump[],
    r: number,
    add: (from: number, mode: WaitMode, targets: WaitTarget[]) => void,
  ): void {
    const state = this.state;
    const views: RcThreadView[] = [];
    const pools: RcPoolView[] = [];
    for (const { node, dump, trackOf } of rcDumps) {
      dump.threads.forEach((t, i) => {
        const ti = trackOf[i]!;
        const tr = state.tracks[ti]!;
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
      state.nodes.filter((n) => lastRoundIs(n, r)).map((n) => n.name),
      formatWait,
      state.canon,
    );
    for (const v of views) {
      if (v.wait === undefined) continue;
      const w = linker.waitOf(v);
      if (w === undefined || w.sleeping === true) continue;
      // Every target names a node by the name it has here (the linker canonicalized it).
      for (const x of w.targets) if (x.to !== 'thread' && x.to !== 'external') state.node(x.node);
      add(v.ref, w.mode, w.targets);
    }
  }

  /**
   * Where a blocked call goes, now that every sample has shown who serves what: to the threads
   * serving that method in the same round (one of them may be serving it), and to the bounded pools
   * seen serving that service (it may be queued there). A pool that makes threads on demand never
   * queues a call, so it only counts when no serving thread is visible. Else the rules' service
   * targets, else what the wait rules said, else outside the dumps.
   */
  resolveCall(c: ServiceCall, r: number): WaitSpec {
    const state = this.state;
    const call = c.call;
    const name = siteName(call);
    const fields = { service: call.service, ...(call.method !== undefined ? { method: call.method } : {}) };
    const serving = this.directory.servingIn(r, call);
    const targets: WaitTarget[] = [];
    const byNode = new Map<number, number[]>();
    serving.tracks.forEach((t, k) => {
      if (t === c.from || state.tracks[t]!.codes[r] === ABSENT) return;
      const node = state.tracks[t]!.node;
      let list = byNode.get(node);
      if (list === undefined) byNode.set(node, (list = []));
      list.push(k);
    });
    for (const [node, ks] of byNode) {
      const nodeName = state.nodes[node]!.name;
      if (ks.length <= MAX_DIRECT_SERVERS) {
        for (const k of ks) {
          const t = serving.tracks[k]!;
          const server = state.tracks[t]!.name;
          targets.push({
            to: 'thread',
            ref: t,
            edge: {
              kind: 'rpc',
              ...fields,
              label: `rpc ${name} → ${nodeName} (served by "${server}")`,
              evidence: [
                ...c.evidence,
                `"${server}" on ${nodeName} serves ${name} at ${serving.sites[k]!.evidence[0]}`,
              ],
            },
          });
        }
      } else {
        const refs = ks.slice(0, MAX_GROUP_THREADS * 4).map((k) => serving.tracks[k]!);
        targets.push({
          to: 'group',
          key: `serving\u0000${node}\u0000${name}`,
          node: nodeName,
          label: `${ks.length} threads serving ${name}`,
          mode: 'any',
          refs,
          edge: {
            kind: 'rpc',
            ...fields,
            label: `rpc ${name} → ${nodeName} (${ks.length} threads serving it)`,
            evidence: [...c.evidence, `${ks.length} threads on ${nodeName} serve ${name} in this sample`],
          },
        });
      }
    }
    const visible = targets.length > 0;
    for (const on of this.directory.servedOn(call.service)) {
      const node = state.nodes[on.node]!;
      if (!state.presentIn(node, r)) continue;
      for (const [pool, seen] of on.pools) {
        const p = node.pools.get(pool);
        if (p === undefined || (p.unbounded && visible)) continue;
        targets.push({
          to: 'pool',
          node: node.name,
          pool,
          edge: {
            kind: 'rpc',
            ...fields,
            label: `rpc ${name} → ${node.name}/${pool}${visible ? ' (or queued there)' : ` (no thread serving ${name}; ${pool} serves ${call.service})`}`,
            evidence: [
              ...c.evidence,
              `${pool} on ${node.name} serves ${call.service} (seen dispatching it ${seen}× in the samples)`,
            ],
          },
        });
      }
      if (on.pools.size === 0 && !visible) {
        targets.push({
          to: 'external',
          label: `${name} on ${node.name} (served by threads outside any pool)`,
          edge: { kind: 'rpc', ...fields, label: `rpc ${name} → ${node.name}`, evidence: c.evidence },
        });
      }
    }
    if (targets.length > 0) return { from: c.from, mode: 'any', targets };
    // Nothing in the dumps serves it: what the rules know.
    const from = state.nodes[state.tracks[c.from]!.node]!;
    const edge: EdgeInfo = { kind: 'rpc', ...fields, label: `rpc ${name}`, evidence: c.evidence };
    for (const pack of this.packs) {
      for (const rule of pack.services) {
        if (!rule.service.test(call.service)) continue;
        const resolved = this.resolveRule(from, rule.target, (n) => state.presentIn(n, r), {
          ...edge,
          evidence: [...c.evidence, `rule: ${pack.name} serves ${call.service} as ${describeTarget(rule.target)}`],
        });
        return { from: c.from, ...resolved };
      }
    }
    if (c.fallback !== undefined) return c.fallback;
    const where = call.service === RMI_SERVICE ? `an RMI server` : `${call.service}`;
    return {
      from: c.from,
      mode: 'any',
      targets: [{ to: 'external', label: `${where} (not served in the dumps)`, edge }],
    };
  }

  /** Nodes (present in the round) and what on them a rule's target names. */
  resolveRule(
    from: NodeState,
    target: TargetRule,
    present: (n: NodeState) => boolean,
    edge: EdgeInfo,
  ): { mode: WaitMode; targets: WaitTarget[] } {
    const state = this.state;
    const candidates = state.nodes.filter((n) => {
      if (!present(n)) return false;
      if (target.self === false && n === from) return false;
      if (target.node !== undefined && n.name !== target.node) return false;
      if (target.role !== undefined && !n.roles.has(target.role)) return false;
      if (target.peers === true && from.peers.size > 0 && !matchesAnyPeer(n, from.peers)) return false;
      return true;
    });
    const targets: WaitTarget[] = [];
    for (const n of candidates) {
      const poolNames: string[] = [];
      if (target.pool !== undefined) {
        for (const p of n.pools.values()) if (target.pool.test(p.name)) poolNames.push(p.name);
      }
      if (target.members === true || target.threads !== undefined || target.frames !== undefined) {
        const tracks = target.threads !== undefined || target.frames !== undefined ? this.pick(n, target) : [];
        const label = target.members === true ? `${n.name} (member)` : `${n.name} threads`;
        targets.push({
          to: 'group',
          key: `rule\u0000${n.index}\u0000${label}\u0000${edge.label}`,
          node: n.name,
          label,
          // A member is done when all its threads on the procedure are; "threads" alone: any of them.
          mode: target.members === true ? 'all' : 'any',
          refs: tracks,
          pools: poolNames,
          edge,
        });
      } else {
        for (const p of poolNames) targets.push({ to: 'pool', node: n.name, pool: p, edge });
      }
    }
    const outside = target.describe ?? `${edge.label} (target not in the dumps)`;
    if (targets.length === 0) return { mode: 'any', targets: [{ to: 'external', label: outside, edge }] };
    if (target.members === true) return { mode: 'all', targets };
    // A guessed set of candidates may miss the real target (a server that was not captured): then
    // "somewhere outside the dumps" stays an alternative, and the wait is never proof of a deadlock.
    if (!this.exactTarget(from, target, candidates, present))
      targets.push({ to: 'external', label: `${outside} — or a process not in the dumps`, edge });
    return { mode: 'any', targets };
  }

  /** Busy threads of a node picked by a rule's thread-name or frame pattern (in its last sample). */
  private pick(n: NodeState, target: TargetRule): number[] {
    const state = this.state;
    const r = n.rounds[n.rounds.length - 1]!;
    const tracks: number[] = [];
    const byName = target.threads;
    const byFrame = target.frames;
    for (const ti of n.ids.values()) {
      const tr = state.tracks[ti]!;
      const c = tr.codes[r];
      if (c === undefined || c === ABSENT || (c & NATURE_IDLE) !== 0) continue;
      const picked =
        (byName !== undefined && byName.test(tr.name)) ||
        (byFrame !== undefined && tr.lastFrames.some((f) => byFrame.test(qualified(f))));
      if (!picked) continue;
      tracks.push(ti);
      if (tracks.length >= MAX_GROUP_THREADS) break;
    }
    return tracks;
  }

  /** Whether a rule's candidate nodes are known to include the real target. */
  private exactTarget(
    from: NodeState,
    target: TargetRule,
    candidates: NodeState[],
    present: (n: NodeState) => boolean,
  ): boolean {
    if (target.node !== undefined) return candidates.length > 0;
    // One role, present in the dumps: a cluster's master is the master.
    if (target.role !== undefined) return candidates.length > 0;
    if (target.peers === true && from.peers.size > 0) {
      const here = this.state.nodes.filter(present);
      for (const peer of from.peers) if (!here.some((n) => matchesAnyPeer(n, new Set([peer])))) return false;
      return true;
    }
    return false;
  }
}

export const isRollcall = (dump: ProcessDump): boolean =>
  dump.format === 'rollcall-json' || dump.format === 'rollcall-text';

/** While rounds stream in, a node is in round r when its last sample is. */
const lastRoundIs = (n: NodeState, r: number): boolean => n.rounds[n.rounds.length - 1] === r;

function describeTarget(t: TargetRule): string {
  const parts = [
    t.node !== undefined ? `node ${t.node}` : '',
    t.role !== undefined ? `role ${t.role}` : '',
    t.pool !== undefined ? `pool /${t.pool.source}/` : '',
  ].filter((x) => x.length > 0);
  return parts.length > 0 ? parts.join(', ') : 'any node';
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
