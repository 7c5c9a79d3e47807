// From tracks and waits to a verdict. Each thread gets its class over the span — idle, progressing,
// running-stuck, blocked (stuck: evidence says what it waits for should already have happened) or
// waiting (parked on something nothing links to: a queue, a timer, a lifecycle join) — then one
// wait-for graph per round, the liveness fixpoint (src/waitgraph) in two strengths, and the cycles
// among what is non-live in every sample. The verdict: deadlock (a cycle), stuck (a thread blocked
// with evidence for the whole span on something outside the dumps, or a pool exhausted by stuck
// handlers), slow (pools saturated but progressing) or healthy. Waiting threads never decide it.
import { assert } from '../util/assert.js';
import {
  WaitGraph,
  WaitGraphBuilder,
  computeLiveness,
  describeCycle,
  findCycles,
  type Cycle,
  type Liveness,
  type VertexInfo,
  type VertexStatus,
} from '../waitgraph/index.js';
import {
  ABSENT,
  CODE_MASK,
  CODE_N,
  CODE_R,
  MAX_DEADLOCKS,
  NATURE_IDLE,
  NATURE_SLEEPING,
  type AnalysisState,
  type Track,
  type WaitSpec,
} from './model.js';
import type { DeadlockOut, PoolSummary, ThreadClass, Verdict } from './result.js';
import type { WaitFinder } from './waits.js';

export interface RoundGraph {
  g: WaitGraph<VertexInfo>;
  live: Liveness;
  round: number;
}

export interface Proof {
  deadlocks: DeadlockOut[];
  /** The graph shown (the last round's, or the earlier one holding the cycle). */
  shown: RoundGraph | undefined;
  /** Non-live rounds per pool, queue and group vertex key. */
  keyNonLive: Map<string, number>;
}

export class Prover {
  private readonly resolved: (WaitSpec[] | undefined)[] = [];

  constructor(
    private readonly state: AnalysisState,
    private readonly waits: WaitFinder,
  ) {}

  /** Classes every thread, then reads deadlocks off one graph per round. */
  prove(): Proof {
    const state = this.state;
    const rounds = state.roundCount;
    for (const tr of state.tracks) {
      while (tr.codes.length < rounds) tr.codes.push(ABSENT);
      assert(tr.codes.length === rounds, 'a track has one code per round');
      tr.cls = this.classify(tr);
      // Waiting means: nothing linked the wait. Evidence of a wait makes a parked thread blocked.
      assert(tr.cls !== 'waiting' || !tr.recognizedWait, 'a waiting thread has no recognized wait');
    }
    // One graph per round; what is non-live in every round of its node is deadlocked.
    const keyNonLive = new Map<string, number>();
    let last: RoundGraph | undefined;
    for (let r = 0; r < rounds; r++) {
      const g = this.buildGraph(r);
      const live = computeLiveness(g);
      // "Stuck": live only thanks to something outside the dumps (an external target, a runnable
      // thread that never changes). Unrecognized waits inside the dumps keep the benefit of the doubt.
      const strict = computeLiveness(g, { trustUnknown: false, trustUnrecognized: true, adjacency: live.adjacency });
      for (let v = 0; v < g.vertexCount; v++) {
        const info = g.vertex(v);
        if (info.kind === 'thread' && info.ref !== undefined) {
          const tr = state.tracks[info.ref]!;
          if (live.live[v] === 0) tr.nonLive++;
          if (strict.live[v] === 0) tr.strictNonLive++;
        } else if (info.key !== undefined && live.live[v] === 0) {
          keyNonLive.set(info.key, (keyNonLive.get(info.key) ?? 0) + 1);
        }
      }
      if (r === rounds - 1) last = { g, live, round: r };
    }
    // One sample of a node says nothing about how long a wait lasted: there a parked thread is stuck
    // only when nothing it waits for can ever finish (non-live), otherwise it is waiting.
    for (const tr of state.tracks) {
      if (tr.cls === 'blocked' && state.nodes[tr.node]!.rounds.length === 1 && tr.nonLive === 0) tr.cls = 'waiting';
    }
    // Cycles are read off the last round with every node in it (a missing capture would cut a
    // cycle across nodes down to its local part); failing that, the round with the most nodes.
    const presentCount = (r: number) => state.nodes.filter((n) => state.presentIn(n, r)).length;
    const complete = state.nodes.length;
    const order = Array.from({ length: rounds }, (_, r) => ({ r, n: presentCount(r) })).sort(
      (a, b) => b.n - a.n || b.r - a.r,
    );
    let shown = last;
    let found: { cycles: Cycle[]; g: WaitGraph<VertexInfo> } | undefined;
    for (const { r, n } of order) {
      const here = r === rounds - 1 && last !== undefined ? last : this.graphAt(r);
      const cycles = this.cyclesIn(here.g, here.live, keyNonLive);
      if (cycles.length > 0) {
        found = { cycles, g: here.g };
        shown = here;
        break;
      }
      if (n === complete) break;
    }
    return { deadlocks: this.deadlocks(found?.g, found?.cycles ?? []), shown, keyNonLive };
  }

  /** The waits of round r, service calls resolved. */
  specsOf(r: number): WaitSpec[] {
    let specs = this.resolved[r];
    if (specs === undefined) {
      const round = this.state.rounds[r]!;
      specs = [...round.specs, ...round.calls.map((c) => this.waits.resolveCall(c, r))];
      this.resolved[r] = specs;
    }
    return specs;
  }

  /** Whether a vertex is non-live in every sample of its node. */
  deadlocked(g: WaitGraph<VertexInfo>, v: number, keyNonLive: Map<string, number>): boolean {
    const state = this.state;
    const info = g.vertex(v);
    if (info.kind === 'thread' && info.ref !== undefined) {
      const tr = state.tracks[info.ref]!;
      return tr.nonLive >= state.nodes[tr.node]!.rounds.length;
    }
    if (info.key === undefined || info.kind === 'external') return false;
    const node = state.nodeByName.get(info.node);
    return node !== undefined && (keyNonLive.get(info.key) ?? 0) >= node.rounds.length;
  }

  private graphAt(r: number): RoundGraph {
    const g = this.buildGraph(r);
    return { g, live: computeLiveness(g), round: r };
  }

  private cyclesIn(g: WaitGraph<VertexInfo>, live: Liveness, keyNonLive: Map<string, number>): Cycle[] {
    const include = (v: number) => live.live[v] === 0 && this.deadlocked(g, v, keyNonLive);
    const cycles = findCycles(g, live, { include, maxCycles: MAX_DEADLOCKS });
    // Widest first: the cycle across most nodes is the story; per-queue local loops come after.
    return cycles.sort((a, b) => b.nodes.length - a.nodes.length || b.members.length - a.members.length);
  }

  /**
   * A thread's class over the span. Unchanged and parked, it is blocked only with evidence that
   * what it waits for should already have happened (a lock owner, an outbound call, a barrier, a
   * rule's target); otherwise it is waiting — for a queue, a timer, a lifecycle event.
   */
  classify(tr: Track): ThreadClass {
    const state = this.state;
    const nodeRounds = state.nodes[tr.node]!.rounds.length;
    if (tr.idleRounds === tr.present) return 'idle';
    if (tr.changed || tr.present < nodeRounds) return 'progressing';
    const code = tr.codes[tr.lastRound]! & CODE_MASK;
    // Rising counters are progress for a runnable thread (busy in one place) and for a waiting one
    // whose wait we cannot name. A thread parked in a recognized wait (an RPC, a barrier latch, a
    // lock) that wakes periodically to re-check — HBase's waitForLatch every wake interval — burns
    // a little CPU and bumps its Waited count without getting anywhere.
    if (tr.countersRose && (code === CODE_R || !tr.recognizedWait)) return 'progressing';
    // Sleeping in the same place every time (a backoff loop, slow work simulated by sleeps) is
    // not a wait on anything: it is busy, and it wakes by itself.
    if ((tr.codes[tr.lastRound]! & NATURE_SLEEPING) !== 0) return 'progressing';
    if (code === CODE_R) return nodeRounds >= 2 ? 'running-stuck' : 'progressing';
    if (code === CODE_N) return 'idle';
    return tr.recognizedWait ? 'blocked' : 'waiting';
  }

  private statusOf(tr: Track, r: number): VertexStatus {
    const c = tr.codes[r]!;
    if (c === ABSENT) return 'unknown';
    if ((c & NATURE_IDLE) !== 0 || (c & CODE_MASK) === CODE_N) return 'idle';
    // Asleep: waits on nothing, wakes by itself.
    if ((c & NATURE_SLEEPING) !== 0) return 'progressing';
    if (tr.cls === 'progressing') return 'progressing';
    if ((c & CODE_MASK) === CODE_R) return this.state.roundCount >= 2 ? 'unknown' : 'progressing';
    return 'waiting';
  }

  buildGraph(r: number): WaitGraph<VertexInfo> {
    const state = this.state;
    const g = new WaitGraph<VertexInfo>();
    const builder = new WaitGraphBuilder(g, {
      thread: (ref) => {
        const tr = state.tracks[ref]!;
        return {
          kind: 'thread',
          node: state.nodes[tr.node]!.name,
          label: tr.name,
          thread: tr.name,
          status: this.statusOf(tr, r),
          ...(tr.membership !== undefined ? { pool: tr.membership.pool } : {}),
        };
      },
      handlers: (node, pool) => {
        const p = state.nodeByName.get(node)?.pools.get(pool);
        return p === undefined ? [] : p.tracks.filter((ti) => state.tracks[ti]!.codes[r] !== ABSENT);
      },
      queueOf: (ref) => state.tracks[ref]!.membership?.queue,
      nameOf: (ref) => state.tracks[ref]!.name,
      present: (ref) => state.tracks[ref]!.codes[r] !== ABSENT,
      poolStatus: (node, pool) =>
        state.nodeByName.get(node)?.pools.get(pool)?.unbounded === true ? 'idle' : 'waiting',
    });
    for (const spec of this.specsOf(r)) builder.add(spec);
    return g;
  }

  private deadlocks(g: WaitGraph<VertexInfo> | undefined, cycles: Cycle[]): DeadlockOut[] {
    const state = this.state;
    const out: DeadlockOut[] = [];
    const memberTracks = new Map<number, number>();
    if (g !== undefined) {
      for (const c of cycles) {
        for (const v of c.members) {
          const ref = g.vertex(v).ref;
          if (ref !== undefined) memberTracks.set(ref, out.length);
        }
        out.push(describeCycle(g, c));
      }
    }
    // The JVM's own reports: mark the cycle we found, or report it as the JVM printed it.
    for (const rep of state.jvmReports.values()) {
      const hit = rep.tracks.map((ti) => memberTracks.get(ti)).find((x) => x !== undefined);
      if (hit !== undefined) {
        out[hit]!.jvmReported = true;
        continue;
      }
      // Threads that progressed between samples are not deadlocked whatever one dump said.
      if (rep.tracks.some((ti) => state.tracks[ti]!.cls === 'progressing')) {
        state.notes.add(`a deadlock the JVM reported on ${state.nodes[rep.node]!.name} did not persist across samples`);
        continue;
      }
      const node = state.nodes[rep.node]!.name;
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
}

/** Threads that decide a "stuck" verdict: blocked with evidence, non-live in strict terms throughout. */
export function stuckOutside(state: AnalysisState): number {
  let n = 0;
  if (state.roundCount < 2) return 0;
  for (const tr of state.tracks) {
    if (tr.cls === 'blocked' && tr.strictNonLive >= state.nodes[tr.node]!.rounds.length) n++;
  }
  return n;
}

export function decideVerdict(
  rounds: number,
  deadlocks: readonly DeadlockOut[],
  pools: readonly PoolSummary[],
  stuck: number,
): { verdict: Verdict; reason: string } {
  const exhausted = pools.filter((p) => p.exhausted && p.family !== 'generic');
  // One sample with every handler busy is a moment, not a slow system: most samples must say so.
  const saturated = pools.filter((p) => p.saturated && p.family !== 'generic' && mostlyFull(p));
  if (deadlocks.length > 0) {
    const d = deadlocks[0]!;
    return {
      verdict: 'deadlock',
      reason: `${deadlocks.length} circular wait${deadlocks.length > 1 ? 's' : ''}; the first (${d.kind}) spans ${listNodes(d.nodes)} and never moves in ${rounds} sample${rounds > 1 ? 's' : ''}`,
    };
  }
  if (rounds >= 2 && (exhausted.length > 0 || stuck > 0)) {
    return {
      verdict: 'stuck',
      reason:
        exhausted.length > 0
          ? `${exhausted.length} pool${exhausted.length > 1 ? 's' : ''} exhausted with no progress over the span (${exhausted[0]!.node}/${exhausted[0]!.pool})`
          : `${stuck} thread${stuck > 1 ? 's' : ''} blocked for the whole span on something outside the dumps`,
    };
  }
  if (saturated.length > 0 || exhausted.length > 0) {
    const p = saturated[0] ?? exhausted[0]!;
    const why =
      rounds < 2
        ? ''
        : p.waiting > 0
          ? `; ${p.waiting} of its handlers wait on something nothing in the dumps links to (see --explain)`
          : ', but work progresses';
    return { verdict: 'slow', reason: `pool ${p.node}/${p.pool} had no idle handler${why}` };
  }
  return { verdict: 'healthy', reason: 'no circular wait, no exhausted or saturated pool' };
}

function mostlyFull(p: PoolSummary): boolean {
  const full = p.perSample.filter((s) => s.size > 0 && s.idle === 0).length;
  return full * 2 > p.perSample.length;
}

/** `a, b, c` or, for a long list, the first few and how many more: a reason line stays a line. */
function listNodes(nodes: readonly string[], max = 8): string {
  return nodes.length <= max ? nodes.join(', ') : `${nodes.slice(0, max).join(', ')} and ${nodes.length - max} more`;
}
